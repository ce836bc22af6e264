//! The whole cluster of a managed PostgreSQL server (`postgres.image`), carried between CI
//! jobs in the template cache folder. A fresh job gets a fresh engine: restoring a template
//! dump into a new server costs an `initdb` and then a per-table, per-index `pg_restore`
//! (5–8 s for an Odoo 18 template with `sale_management`); unpacking the server's data
//! directory costs what its bytes cost, and the template is then simply there.
//!
//! Saved online, with the server's own `pg_basebackup` run inside its container (same
//! version, no client needed on the runner, nobody using the server disturbed), rewritten
//! under the image's `PGDATA` and compressed (zstd) to `cluster-<container>/cluster.tar.zst`;
//! `meta.json`, written last through a rename, says which project and which image (by id)
//! it belongs to. Seeded into a new container before its first start, so the image's
//! entrypoint finds a data directory and starts PostgreSQL on it (replaying the WAL the
//! backup carries).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use bollard::Docker;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::ExecError;

/// Bumped when the layout of an entry changes: an older entry is then ignored.
const FORMAT: u32 = 1;
const ARCHIVE: &str = "cluster.tar.zst";
const META: &str = "meta.json";
/// zstd's level for the archive: its fastest useful one (a cluster is mostly pages of
/// indexes and zeros, which compress well at any level).
const LEVEL: i32 = 1;

/// What an entry says of itself.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    /// The project that saved it (see [`crate::names::scope`]).
    project: String,
    image: String,
    /// Which servers may start it (see [`ImageFacts::compatible`]).
    compatible: String,
    /// The cluster's size, unpacked.
    bytes: u64,
    saved_at: String,
}

/// A complete entry, ready to seed a container.
#[derive(Debug)]
pub struct Entry {
    archive: PathBuf,
    pub bytes: u64,
}

/// Where the cluster of the managed container `container` is kept in the folder `cache`.
fn entry_dir(cache: &Path, container: &str) -> PathBuf {
    cache.join(format!("cluster-{container}"))
}

/// The entry for `container`, when `cache` holds a complete one saved by the project
/// `scope` that a server `compatible` with it may start.
pub fn find(cache: &Path, container: &str, scope: &str, compatible: &str) -> Option<Entry> {
    let dir = entry_dir(cache, container);
    let text = std::fs::read_to_string(dir.join(META)).ok()?;
    let meta: Meta = serde_json::from_str(&text).ok()?;
    let usable = meta.format == FORMAT && meta.project == scope && meta.compatible == compatible;
    usable.then(|| Entry {
        archive: dir.join(ARCHIVE),
        bytes: meta.bytes,
    })
}

/// What odoo-ci needs to know of a PostgreSQL image.
pub struct ImageFacts {
    /// Which data directories it starts: those of its PostgreSQL major version on its
    /// architecture (`PG_MAJOR`, as the official images set it: a minor release never
    /// changes the storage format, so `postgres:16` moving to a newer 16.x keeps the saved
    /// cluster), else those of this very image.
    pub compatible: String,
    /// Where its data directory is (`PGDATA`; the official image's default when unset).
    pub pgdata: String,
}

/// The facts of the image `image`, as the engine has it.
pub async fn image_facts(docker: &Docker, image: &str) -> Result<ImageFacts, ExecError> {
    let info = docker.inspect_image(image).await?;
    let env = info.config.and_then(|c| c.env).unwrap_or_default();
    let var = |name: &str| {
        env.iter()
            .find_map(|e| e.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
    };
    let arch = info.architecture.unwrap_or_default();
    let compatible = match var("PG_MAJOR") {
        Some(major) => format!("postgres {major} on {arch}"),
        None => info.id.unwrap_or_default(),
    };
    let pgdata = var("PGDATA").unwrap_or_else(|| "/var/lib/postgresql/data".to_string());
    Ok(ImageFacts { compatible, pgdata })
}

/// What a save wrote.
#[derive(Debug, Clone, Copy)]
pub struct Saved {
    /// The cluster's size, unpacked.
    pub bytes: u64,
    /// The archive's size.
    pub archive_bytes: u64,
}

/// Saves the cluster of the running managed container `container` (of `image`, its
/// superuser `user`) as its entry in `cache`, replacing an older one.
pub fn save(
    docker: &Docker,
    (container, image, user): (&str, &str, &str),
    scope: &str,
    cache: &Path,
) -> Result<Saved, ExecError> {
    let io = |e: std::io::Error| ExecError::Other(format!("{}: {e}", cache.display()));
    let rt = super::docker::runtime()?;
    let ImageFacts { compatible, pgdata } = rt.block_on(image_facts(docker, image))?;
    std::fs::create_dir_all(cache).map_err(io)?;
    let dir = entry_dir(cache, container);
    let partial = cache.join(format!(
        "cluster-{container}.partial-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(io)?;
    let written = write_archive(docker, container, user, &pgdata, &partial.join(ARCHIVE));
    let saved = written.and_then(|saved| {
        let meta = Meta {
            format: FORMAT,
            project: scope.to_string(),
            image: image.to_string(),
            compatible,
            bytes: saved.bytes,
            saved_at: crate::clock::now_rfc3339(),
        };
        let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
        std::fs::write(partial.join(META), text).map_err(io)?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).map_err(io)?;
        prune_others(cache, &dir, scope);
        Ok(saved)
    });
    if saved.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    saved
}

/// Removes the project `scope`'s other clusters in `cache` (of an image it no longer
/// uses): one server per project and image, the current one is `kept`. Another project's
/// entries are never touched.
fn prune_others(cache: &Path, kept: &Path, scope: &str) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for dir in entries.filter_map(Result::ok).map(|e| e.path()) {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if dir == kept || !name.starts_with("cluster-") || name.contains(".partial-") {
            continue;
        }
        let owner = std::fs::read_to_string(dir.join(META))
            .ok()
            .and_then(|text| serde_json::from_str::<Meta>(&text).ok())
            .map(|meta| meta.project);
        if owner.as_deref() == Some(scope) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Streams `pg_basebackup`'s tar out of `container` into `archive`, each entry moved under
/// `pgdata`, compressed.
fn write_archive(
    docker: &Docker,
    container: &str,
    user: &str,
    pgdata: &str,
    archive: &Path,
) -> Result<Saved, ExecError> {
    let file = std::fs::File::create(archive)
        .map_err(|e| ExecError::Other(format!("{}: {e}", archive.display())))?;
    let (sender, chunks) = std::sync::mpsc::sync_channel(16);
    let reader = super::archive::ChunkReader::new(chunks);
    let prefix = PathBuf::from(pgdata.trim_start_matches('/'));
    let writer = std::thread::spawn(move || -> std::io::Result<(u64, u64)> {
        let mut encoder = zstd::Encoder::new(CountingWriter::new(file), LEVEL)?;
        let bytes = rewrite_under(reader, &prefix, &mut encoder)?;
        let mut file = encoder.finish()?;
        file.flush()?;
        Ok((bytes, file.count))
    });
    let cmd = [
        "pg_basebackup",
        "-U",
        user,
        "-D",
        "-",
        "-F",
        "t",
        "-X",
        "fetch",
        "-c",
        "fast",
    ];
    let ran = super::docker::runtime()?.block_on(exec_streaming(docker, container, &cmd, sender));
    let written = writer
        .join()
        .map_err(|_| ExecError::Other("the cluster archive's writer panicked".into()))?;
    ran?;
    let (bytes, archive_bytes) =
        written.map_err(|e| ExecError::Other(format!("writing {}: {e}", archive.display())))?;
    Ok(Saved {
        bytes,
        archive_bytes,
    })
}

/// Runs `cmd` in `container`, its standard output sent to `sink` as it comes; an error
/// with its standard error when it fails.
async fn exec_streaming(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    sink: std::sync::mpsc::SyncSender<Vec<u8>>,
) -> Result<(), ExecError> {
    let exec = docker
        .create_exec(
            container,
            ExecConfig {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                ..ExecConfig::default()
            },
        )
        .await?;
    let mut stderr = Vec::new();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await?
    {
        while let Some(chunk) = output.next().await {
            match chunk? {
                bollard::container::LogOutput::StdOut { message } => {
                    // The writer is gone only when it failed: its error is the one to tell.
                    if sink.send(message.to_vec()).is_err() {
                        break;
                    }
                }
                other => stderr.extend_from_slice(&other.into_bytes()),
            }
        }
    }
    drop(sink);
    let code = docker.inspect_exec(&exec.id).await?.exit_code;
    match code {
        Some(0) => Ok(()),
        _ => Err(ExecError::Other(format!(
            "`{}` in {container} failed (exit {code:?}): {}",
            cmd[0],
            String::from_utf8_lossy(&stderr).trim()
        ))),
    }
}

/// Copies the tar `input` to `out` with every entry moved under `prefix`, the folder
/// `prefix` itself first (private to the owner of the entries, as PostgreSQL requires).
/// Returns the bytes of the files.
fn rewrite_under(input: impl Read, prefix: &Path, out: impl Write) -> std::io::Result<u64> {
    let mut archive = tar::Archive::new(input);
    let mut builder = tar::Builder::new(out);
    let mut bytes = 0;
    let mut first = true;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        if first {
            first = false;
            let mut dir = tar::Header::new_gnu();
            dir.set_entry_type(tar::EntryType::Directory);
            dir.set_mode(0o700);
            dir.set_size(0);
            dir.set_uid(header.uid()?);
            dir.set_gid(header.gid()?);
            dir.set_mtime(header.mtime()?);
            builder.append_data(&mut dir, prefix, std::io::empty())?;
        }
        let path = prefix.join(entry.path()?);
        match header.entry_type() {
            tar::EntryType::Symlink => {
                let target = entry.link_name()?.unwrap_or_default().into_owned();
                builder.append_link(&mut header, &path, target)?;
            }
            kind if kind.is_file() || kind.is_dir() => {
                bytes += header.size()?;
                builder.append_data(&mut header, &path, &mut entry)?;
            }
            kind => {
                return Err(std::io::Error::other(format!(
                    "{}: an entry of kind {kind:?} in the cluster",
                    path.display()
                )))
            }
        }
    }
    builder.into_inner()?.flush()?;
    Ok(bytes)
}

/// Uploads the entry's cluster into the created, not yet started, container `id`.
pub async fn seed(docker: &Docker, id: &str, entry: &Entry) -> Result<(), ExecError> {
    let file = std::fs::File::open(&entry.archive)
        .map_err(|e| ExecError::Other(format!("{}: {e}", entry.archive.display())))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let reader = std::thread::spawn(move || {
        let decoded = zstd::Decoder::new(file).and_then(|mut decoder| loop {
            let mut chunk = vec![0u8; 1 << 20];
            let n = decoder.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            chunk.truncate(n);
            if sender.blocking_send(Ok(chunk.into())).is_err() {
                return Ok(());
            }
        });
        if let Err(e) = decoded {
            let _ = sender.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let options = bollard::query_parameters::UploadToContainerOptionsBuilder::new()
        .path("/")
        .build();
    let uploaded = docker
        .upload_to_container(id, Some(options), bollard::body_try_stream(stream))
        .await;
    let _ = reader.join();
    uploaded.map_err(|e| {
        ExecError::Other(format!(
            "seeding the cluster from {}: {e}",
            entry.archive.display()
        ))
    })
}

/// Sets the password of the server's superuser `user` in `container`, through the local
/// socket (trusted by the official image's `initdb`), the statement on psql's standard input
/// — never on a command line. Fails while the server is not up yet.
pub async fn set_password(
    docker: &Docker,
    container: &str,
    user: &str,
    password: &str,
) -> Result<(), ExecError> {
    use tokio::io::AsyncWriteExt;
    let exec = docker
        .create_exec(
            container,
            ExecConfig {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(
                    [
                        "psql",
                        "-qX",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-U",
                        user,
                        "-d",
                        "postgres",
                    ]
                    .map(String::from)
                    .to_vec(),
                ),
                ..ExecConfig::default()
            },
        )
        .await?;
    let mut said = Vec::new();
    if let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker.start_exec(&exec.id, None).await?
    {
        // psql quits at `\q`: no need for the engine to pass on the end of the input.
        let sql = format!("ALTER ROLE \"{user}\" PASSWORD '{password}';\n\\q\n");
        input
            .write_all(sql.as_bytes())
            .await
            .map_err(|e| ExecError::Other(format!("psql in {container}: {e}")))?;
        while let Some(chunk) = output.next().await {
            said.extend_from_slice(&chunk?.into_bytes());
        }
    }
    match docker.inspect_exec(&exec.id).await?.exit_code {
        Some(0) => Ok(()),
        code => Err(ExecError::Other(format!(
            "setting the password in {container} failed (exit {code:?}): {}",
            String::from_utf8_lossy(&said).trim()
        ))),
    }
}

/// A `Write` that counts what goes through it.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W> CountingWriter<W> {
    fn new(inner: W) -> Self {
        CountingWriter { inner, count: 0 }
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_uid(999);
            header.set_gid(999);
            builder
                .append_data(&mut header, path, *data)
                .expect("append");
        }
        builder.into_inner().expect("tar")
    }

    #[test]
    fn every_entry_goes_under_the_data_dir_which_comes_first_and_private() {
        let input = tar_of(&[("PG_VERSION", b"15\n"), ("base/1/1259", b"pages")]);
        let mut out = Vec::new();
        let bytes = rewrite_under(
            input.as_slice(),
            Path::new("var/lib/postgresql/data"),
            &mut out,
        )
        .expect("rewrite");
        assert_eq!(bytes, 8);
        let mut archive = tar::Archive::new(out.as_slice());
        let seen: Vec<(String, u32, u64)> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let h = e.header();
                let path = e.path().expect("path").display().to_string();
                (path, h.mode().expect("mode"), h.uid().expect("uid"))
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("var/lib/postgresql/data".to_string(), 0o700, 999),
                ("var/lib/postgresql/data/PG_VERSION".to_string(), 0o600, 999),
                (
                    "var/lib/postgresql/data/base/1/1259".to_string(),
                    0o600,
                    999
                ),
            ]
        );
    }

    /// A complete entry of `project` for `container` in `cache`; its folder.
    fn entry(cache: &Path, container: &str, project: &str) -> PathBuf {
        let dir = entry_dir(cache, container);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let meta = Meta {
            format: FORMAT,
            project: project.into(),
            image: "postgres:16".into(),
            compatible: "postgres 16 on amd64".into(),
            bytes: 3,
            saved_at: String::new(),
        };
        std::fs::write(dir.join(META), serde_json::to_string(&meta).expect("json")).expect("write");
        dir
    }

    #[test]
    fn a_save_removes_the_projects_older_clusters_only() {
        let cache = tempfile::tempdir().expect("dir");
        let old = entry(cache.path(), "odoo-ci-postgres-p-1", "p");
        let other = entry(cache.path(), "odoo-ci-postgres-q-1", "q");
        let current = entry(cache.path(), "odoo-ci-postgres-p-2", "p");
        prune_others(cache.path(), &current, "p");
        assert!(!old.exists());
        assert!(other.exists() && current.exists());
    }

    #[test]
    fn an_entry_is_found_only_for_its_project_and_image() {
        let cache = tempfile::tempdir().expect("dir");
        entry(cache.path(), "odoo-ci-postgres-p-1", "p");
        let (on, other) = ("postgres 16 on amd64", "postgres 17 on amd64");
        assert!(find(cache.path(), "odoo-ci-postgres-p-1", "p", on).is_some());
        assert!(find(cache.path(), "odoo-ci-postgres-p-1", "q", on).is_none());
        assert!(find(cache.path(), "odoo-ci-postgres-p-1", "p", other).is_none());
    }
}
