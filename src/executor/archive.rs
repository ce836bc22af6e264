//! Folders moved through the Docker engine's archive API as tar streams: out of a
//! container (running or not, its volumes included) onto this machine, unpacked as they
//! come, never held whole in memory.

use std::path::{Path, PathBuf};

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Docker(#[from] bollard::errors::Error),
    #[error("cancelled (Ctrl-C / SIGTERM)")]
    Cancelled,
    #[error("unpacking the archive failed")]
    Unpacker,
}

impl From<ArchiveError> for super::ExecError {
    fn from(e: ArchiveError) -> Self {
        super::ExecError::Other(e.to_string())
    }
}

/// Replaces `to`, on this machine, with the folder `from` of the container `id` (running or
/// not), streamed as a tar archive through the engine's API; `None` when `from` does not
/// exist there.
pub async fn download_tree(
    docker: &Docker,
    id: &str,
    from: &Path,
    to: &Path,
) -> Result<Option<u64>, ArchiveError> {
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(&from.to_string_lossy())
        .build();
    let mut stream = docker.download_from_container(id, Some(options));
    let first = match stream.next().await {
        Some(Ok(bytes)) => bytes,
        Some(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) => return Ok(None),
        Some(Err(e)) => return Err(e.into()),
        None => return Ok(None),
    };
    let io = |source| ArchiveError::Io {
        path: to.to_path_buf(),
        source,
    };
    match std::fs::remove_dir_all(to) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let (writer, chunks) = std::sync::mpsc::sync_channel(16);
    let target = to.to_path_buf();
    let unpacker = std::thread::spawn(move || unpack_tree(ChunkReader::new(chunks), &target));
    let mut chunk = Some(first);
    let mut failure = None;
    while let Some(bytes) = chunk.take() {
        if writer.send(bytes).is_err() {
            break; // the unpacker stopped: its error says why
        }
        if crate::cancel::is_cancelled() {
            failure = Some(ArchiveError::Cancelled);
            break;
        }
        match stream.next().await {
            Some(Ok(next)) => chunk = Some(next),
            Some(Err(e)) => failure = Some(ArchiveError::Docker(e)),
            None => {}
        }
    }
    drop(writer);
    let unpacked = unpacker
        .join()
        .map_err(|_| ArchiveError::Unpacker)?
        .map_err(io);
    if let Some(e) = failure {
        return Err(e);
    }
    unpacked.map(Some)
}

/// Reads the chunks another thread sends as one byte stream; ends when the sender is gone.
pub struct ChunkReader<T> {
    chunks: std::sync::mpsc::Receiver<T>,
    current: Option<T>,
    pos: usize,
}

impl<T> ChunkReader<T> {
    pub fn new(chunks: std::sync::mpsc::Receiver<T>) -> Self {
        ChunkReader {
            chunks,
            current: None,
            pos: 0,
        }
    }
}

impl<T: AsRef<[u8]>> std::io::Read for ChunkReader<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(chunk) = &self.current {
                let rest = &chunk.as_ref()[self.pos..];
                if !rest.is_empty() {
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            match self.chunks.recv() {
                Ok(next) => {
                    self.current = Some(next);
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
    }
}

/// Unpacks a tar archive of one folder into `to` (the archive's top folder becomes `to`);
/// regular files and folders only, nothing outside `to`. Returns the number of files.
pub fn unpack_tree(reader: impl std::io::Read, to: &Path) -> std::io::Result<u64> {
    use std::path::Component;
    std::fs::create_dir_all(to)?;
    let mut archive = tar::Archive::new(reader);
    let mut files = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let mut parts = path.components();
        parts.next(); // the archived folder's own name
        let rest: PathBuf = parts.clone().collect();
        if rest.as_os_str().is_empty() {
            continue;
        }
        if !parts.all(|c| matches!(c, Component::Normal(_))) {
            return Err(std::io::Error::other(format!(
                "unsafe path `{}` in the archive",
                path.display()
            )));
        }
        let dest = to.join(rest);
        match entry.header().entry_type() {
            tar::EntryType::Directory => std::fs::create_dir_all(&dest)?,
            tar::EntryType::Regular => {
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                entry.unpack(&dest)?;
                files += 1;
            }
            _ => {}
        }
    }
    Ok(files)
}

/// The text of the file `path` of the container `id` (running or not); `None` when it has
/// no such file.
pub async fn file_text(
    docker: &Docker,
    id: &str,
    path: &str,
) -> Result<Option<String>, super::ExecError> {
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(options));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => tar.extend_from_slice(&bytes),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(first_file_text(&tar).unwrap_or_default()))
}

/// The text of the first file in `tar`.
fn first_file_text(tar: &[u8]) -> Option<String> {
    use std::io::Read;
    let mut archive = tar::Archive::new(tar);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let mut text = String::new();
    entry.read_to_string(&mut text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_streamed_in_chunks_unpacks_into_the_target_and_stays_inside() {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in [("db/ab/abcd", "one"), ("db/cd/cdef", "two")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        let archive = builder.into_inner().unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let sender = std::thread::spawn(move || {
            // The reader stops at the end-of-archive marker, before the padding after it.
            for chunk in archive.chunks(100) {
                if tx.send(chunk.to_vec()).is_err() {
                    break;
                }
            }
        });
        let tmp = tempfile::tempdir().unwrap();
        let to = tmp.path().join("copy");
        assert_eq!(unpack_tree(ChunkReader::new(rx), &to).unwrap(), 2);
        sender.join().unwrap();
        assert_eq!(std::fs::read_to_string(to.join("cd/cdef")).unwrap(), "two");

        // A path that climbs out of the target is refused.
        let mut evil = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.as_gnu_mut().unwrap().name[..14].copy_from_slice(b"db/../../evil\0");
        header.set_cksum();
        evil.append(&header, &b"x"[..]).unwrap();
        let bytes = evil.into_inner().unwrap();
        let err = unpack_tree(&bytes[..], &tmp.path().join("evil-copy")).unwrap_err();
        assert!(err.to_string().contains("unsafe path"), "{err}");
        assert!(!tmp.path().join("evil").exists());
    }

    #[test]
    fn a_file_is_read_from_the_engine_s_archive() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(4);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "marker", &b"abc\n"[..])
            .expect("append");
        let bytes = tar.into_inner().expect("tar");
        assert_eq!(first_file_text(&bytes).as_deref(), Some("abc\n"));
        assert_eq!(first_file_text(&[]), None);
    }
}
