//! Reading the files a repository holds, as Odoo does: regular files only, never through a
//! link that leads out of the repository, and never more than a size cap. A pull request
//! can commit `__manifest__.py -> /proc/self/environ`; such a file is refused by name and
//! its content is never read, so no error can quote it.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Manifests are a few KB; OCA's largest is under 10 KB.
pub const MANIFEST_LIMIT: u64 = 1024 * 1024;
/// `.odoo-ci.yml` is a page; a larger one is a mistake or an attack.
pub const CONFIG_LIMIT: u64 = 1024 * 1024;

#[derive(Debug, Error)]
pub enum RepoFileError {
    #[error(
        "`{path}` is a link to a file outside the repository; odoo-ci reads only files inside it"
    )]
    Outside { path: PathBuf },
    #[error(
        "`{path}` is not a regular file ({kind}); odoo-ci, like Odoo, reads only regular files"
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("`{path}` is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RepoFileError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, RepoFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    pub fn hint(&self) -> &'static str {
        match self {
            RepoFileError::Outside { .. } => {
                "commit the file itself instead of a link, or remove the link"
            }
            RepoFileError::NotRegular { .. } => "replace it with a regular file, or remove it",
            RepoFileError::TooLarge { .. } => "is this the right file? keep it small",
            RepoFileError::Io { .. } => "check the file's permissions",
        }
    }
}

/// The folder a repository's files must resolve into, resolved once.
#[derive(Debug, Clone)]
pub struct Boundary {
    real: PathBuf,
}

impl Boundary {
    pub fn new(root: &Path) -> std::io::Result<Boundary> {
        Ok(Boundary {
            real: root.canonicalize()?,
        })
    }

    /// Whether `other` lies inside this boundary.
    pub fn contains(&self, other: &Boundary) -> bool {
        other.real.starts_with(&self.real)
    }

    /// Reads `path` (a file under the boundary as named, possibly through links) when it
    /// is a regular file that resolves inside the boundary and is at most `limit` bytes.
    pub fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>, RepoFileError> {
        let io = |source| RepoFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let real = path.canonicalize().map_err(io)?;
        if !real.starts_with(&self.real) {
            return Err(RepoFileError::Outside {
                path: path.to_path_buf(),
            });
        }
        // Checked before opening: opening a FIFO would block.
        let meta = std::fs::metadata(&real).map_err(io)?;
        check_regular(path, &meta)?;
        let file = std::fs::File::open(&real).map_err(io)?;
        check_regular(path, &file.metadata().map_err(io)?)?;
        let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize + 1);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(RepoFileError::TooLarge {
                path: path.to_path_buf(),
                limit,
            });
        }
        Ok(bytes)
    }

    /// [`Boundary::read`] as UTF-8 text (lossy: the caller's parser reports bad bytes).
    pub fn read_text(&self, path: &Path, limit: u64) -> Result<String, RepoFileError> {
        let bytes = self.read(path, limit)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

fn check_regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), RepoFileError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(RepoFileError::NotRegular {
        path: path.to_path_buf(),
        kind,
    })
}

/// Build inputs (`Dockerfile`, `.dockerignore`, `requirements.txt`) are small.
pub const BUILD_FILE_LIMIT: u64 = 1024 * 1024;

/// The text of the optional file `name` at the project `root`: `None` when there is none,
/// an error (naming the file, never quoting it) when it is a link out of the repository,
/// not a regular file, or too large.
pub fn optional_text(root: &Path, name: &str) -> std::io::Result<Option<String>> {
    match read_inside(root, &root.join(name), BUILD_FILE_LIMIT) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(std::io::Error::other(format!("{e} ({})", e.hint()))),
    }
}

/// Reads `path` inside `root` (see [`Boundary::read`]).
pub fn read_inside(root: &Path, path: &Path, limit: u64) -> Result<Vec<u8>, RepoFileError> {
    let boundary = Boundary::new(root).map_err(|source| RepoFileError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    boundary.read(path, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_inside_are_read_and_the_rest_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "hello").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink("../a.txt", root.join("sub/link")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("out")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
        let b = Boundary::new(root).unwrap();
        assert_eq!(b.read(&root.join("a.txt"), 10).unwrap(), b"hello");
        assert_eq!(b.read(&root.join("sub/link"), 10).unwrap(), b"hello");
        assert!(matches!(
            b.read(&root.join("out"), 10),
            Err(RepoFileError::Outside { .. })
        ));
        assert!(matches!(
            b.read(&root.join("zero"), 10),
            Err(RepoFileError::Outside { .. })
        ));
        assert!(matches!(
            b.read(&root.join("sub"), 10),
            Err(RepoFileError::NotRegular { .. })
        ));
        assert!(matches!(
            b.read(&root.join("a.txt"), 4),
            Err(RepoFileError::TooLarge { .. })
        ));
        assert!(b.read(&root.join("missing"), 4).unwrap_err().is_not_found());
    }
}
