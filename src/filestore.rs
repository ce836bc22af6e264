//! Copying and removing Odoo filestores. Production's filestore belongs to the user Odoo
//! runs as and lives on the Docker engine's host, which may not be this machine
//! (`DOCKER_HOST=ssh://…`): so its copies (snapshots, restores, prunes) are made there, by
//! a short-lived helper container running as root, whatever owns the files and wherever
//! the engine is. Folders odoo-ci makes itself (staging, development) are copied here.
//!
//! Copies use hard links where the file system allows: Odoo's filestore is content
//! addressed (a file is named by its checksum and never rewritten), so a linked copy is a
//! true copy that costs no space.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::Docker;

use crate::executor::docker::runtime;
use crate::executor::helper;

/// The longest a helper container may take (a plain copy of a very large filestore).
const ENGINE_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum FilestoreError {
    #[error("filestore {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("filestore on the Docker engine: {0}")]
    Engine(String),
}

impl From<crate::executor::ExecError> for FilestoreError {
    fn from(e: crate::executor::ExecError) -> Self {
        FilestoreError::Engine(e.to_string())
    }
}

impl From<crate::executor::archive::ArchiveError> for FilestoreError {
    fn from(e: crate::executor::archive::ArchiveError) -> Self {
        match e {
            crate::executor::archive::ArchiveError::Io { path, source } => {
                FilestoreError::Io { path, source }
            }
            other => FilestoreError::Engine(other.to_string()),
        }
    }
}

impl From<bollard::errors::Error> for FilestoreError {
    fn from(e: bollard::errors::Error) -> Self {
        FilestoreError::Engine(e.to_string())
    }
}

/// Copies the tree `from` into `to` on this machine, hard-linking files where it can; a
/// missing `from` gives an empty `to` (a database without attachments has no folder).
/// Folders keep their owner where this process may set it (as root): Odoo, running as
/// that owner, must be able to write into them.
pub fn copy_local(from: &Path, to: &Path) -> std::io::Result<u64> {
    create_dir_owned(to)?;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(0);
    };
    if let Ok(meta) = std::fs::metadata(from) {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::chown(to, Some(meta.uid()), Some(meta.gid()));
    }
    let mut files = 0;
    for entry in entries {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            files += copy_local(&entry.path(), &target)?;
        } else {
            if std::fs::hard_link(entry.path(), &target).is_err() {
                std::fs::copy(entry.path(), &target)?;
            }
            files += 1;
        }
    }
    Ok(files)
}

/// `create_dir_all`, the new folders owned like the folder they are made in (where this
/// process may set owners, as root).
pub fn create_dir_owned(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.exists()).collect();
    let owner = dir
        .ancestors()
        .find(|a| a.exists())
        .and_then(|a| std::fs::metadata(a).ok());
    std::fs::create_dir_all(dir)?;
    if let Some(meta) = owner {
        for made in missing {
            let _ = std::os::unix::fs::chown(made, Some(meta.uid()), Some(meta.gid()));
        }
    }
    Ok(())
}

/// Filestore work done by a helper container on the engine: `image` only needs `sh`, `cp`
/// and `find` (any Debian-based Odoo image has them). Paths are the engine host's, mounted
/// at the same place inside the helper, which carries the project's label (`scope`), so
/// one left behind is known as this project's.
pub struct EngineFiles {
    pub docker: Docker,
    pub image: String,
    pub scope: String,
}

const COPY_SCRIPT: &str = r#"set -e
from=$1 to=$2
if [ ! -d "$from" ]; then
  echo missing
  exit 0
fi
rm -rf "$to"
mkdir -p "$(dirname "$to")"
# -a keeps owners and modes, of the folder itself too: Odoo must still write into it.
if ! cp -al "$from" "$to" 2>/dev/null; then
  rm -rf "$to" && cp -a "$from" "$to"
fi
find "$to" -type f | wc -l
"#;

const REMOVE_SCRIPT: &str = r#"set -e
rm -rf "$1"
"#;

impl EngineFiles {
    /// Replaces `to` with a copy of `from` (hard links where the file system allows) and
    /// returns the number of files; when `from` does not exist, leaves `to` as it is and
    /// returns `None`.
    pub fn copy(&self, from: &Path, to: &Path) -> Result<Option<u64>, FilestoreError> {
        let out = self.run(COPY_SCRIPT, &[from, to])?;
        match out.trim() {
            "missing" => Ok(None),
            count => count.parse().map(Some).map_err(|_| {
                FilestoreError::Engine(format!("unexpected output of the copy: `{count}`"))
            }),
        }
    }

    /// Removes `dir` and everything in it; a missing folder is not an error.
    pub fn remove(&self, dir: &Path) -> Result<(), FilestoreError> {
        self.run(REMOVE_SCRIPT, &[dir]).map(|_| ())
    }

    /// Replaces `to`, on this machine, with a copy of `from` on the engine's host, streamed
    /// as a tar archive through the engine's API (from a helper container that is created,
    /// never started, and removed); `None` when `from` does not exist there.
    pub fn fetch(&self, from: &Path, to: &Path) -> Result<Option<u64>, FilestoreError> {
        let mount = mount_of(from)?;
        let body = self.helper(vec!["true".into()], vec![format!("{mount}:{mount}:ro")]);
        runtime()?.block_on(helper::with_container(&self.docker, body, async |id| {
            Ok(crate::executor::archive::download_tree(&self.docker, id, from, to).await?)
        }))
    }

    /// Runs `script` with `paths` as arguments in a helper container that sees each path's
    /// parent folder at the same place; returns its standard output.
    fn run(&self, script: &str, paths: &[&Path]) -> Result<String, FilestoreError> {
        let mut args = Vec::new();
        let mut mounts = BTreeSet::new();
        for path in paths {
            mounts.insert(mount_of(path)?);
            args.push(path.to_string_lossy().into_owned());
        }
        let mut entrypoint = vec![
            "sh".to_string(),
            "-c".into(),
            script.into(),
            "odoo-ci-filestore".into(),
        ];
        entrypoint.extend(args);
        let binds = mounts.iter().map(|m| format!("{m}:{m}")).collect();
        let body = self.helper(entrypoint, binds);
        runtime()?.block_on(helper::with_container(&self.docker, body, async |id| {
            Ok(helper::start_and_collect(&self.docker, id, ENGINE_TIMEOUT).await?)
        }))
    }

    /// A helper container: `entrypoint` as root, no network, `binds`, labelled as a
    /// filestore helper of this project.
    fn helper(&self, entrypoint: Vec<String>, binds: Vec<String>) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(entrypoint),
            cmd: Some(Vec::new()),
            user: Some("0".into()),
            labels: Some(HashMap::from([
                ("odoo-ci.helper".to_string(), "filestore".to_string()),
                (crate::names::PROJECT_LABEL.to_string(), self.scope.clone()),
            ])),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                binds: Some(binds),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        }
    }
}

/// The folder a helper mounts to reach `path`: its parent, which must not be `/`.
fn mount_of(path: &Path) -> Result<String, FilestoreError> {
    path.parent()
        .filter(|p| p.is_absolute() && p.parent().is_some())
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| {
            FilestoreError::Engine(format!(
                "`{}` must be an absolute path below a folder on the engine's host",
                path.display()
            ))
        })
}

/// Gives `path` the owner and group of `like`, when they differ (only root can; anyone
/// else creates what it owns anyway).
pub fn own_like(path: &Path, like: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (want, have) = (std::fs::metadata(like)?, std::fs::metadata(path)?);
    if (want.uid(), want.gid()) == (have.uid(), have.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(want.uid()), Some(want.gid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_local_copy_links_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("from"), tmp.path().join("to"));
        write(&from.join("ab/abcd"), "attachment");
        assert_eq!(copy_local(&from, &to).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(to.join("ab/abcd")).unwrap(),
            "attachment"
        );
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(
            ino(&from.join("ab/abcd")),
            ino(&to.join("ab/abcd")),
            "hard link"
        );
        assert_eq!(
            copy_local(&tmp.path().join("missing"), &tmp.path().join("empty")).unwrap(),
            0
        );
        assert!(tmp.path().join("empty").is_dir());
    }

    #[test]
    fn engine_paths_must_be_absolute_below_a_folder() {
        // Refused before any request: the client is never used.
        let engine = EngineFiles {
            docker: Docker::connect_with_local_defaults().expect("a client"),
            image: "unused".into(),
            scope: "unused".into(),
        };
        for bad in ["relative/dir", "/", "/top-level"] {
            let err = engine.remove(Path::new(bad)).unwrap_err().to_string();
            assert!(err.contains("absolute path"), "{bad}: {err}");
        }
    }
}
