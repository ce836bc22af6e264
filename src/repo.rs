//! The Git checkout (git2): refs, commits, files at a commit, changes between commits.

use std::path::{Path, PathBuf};

use git2::{DiffOptions, Oid, Repository};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RepoError {
    #[error("`{path}` is not inside a Git repository")]
    NotARepo {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot resolve `{spec}` to a commit")]
    BadRef {
        spec: String,
        #[source]
        source: git2::Error,
    },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("writing a commit's files: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Repo {
    inner: Repository,
    workdir: PathBuf,
}

/// What HEAD points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The branch name, or `None` when HEAD is detached.
    pub branch: Option<String>,
    pub commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    pub sha: String,
    pub summary: String,
    pub author: String,
}

impl Repo {
    pub fn discover(path: &Path) -> Result<Repo, RepoError> {
        let inner = Repository::discover(path).map_err(|source| RepoError::NotARepo {
            path: path.to_path_buf(),
            source,
        })?;
        let workdir = inner
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| inner.path().to_path_buf());
        let workdir = workdir.canonicalize().unwrap_or(workdir);
        Ok(Repo { inner, workdir })
    }

    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    pub fn head(&self) -> Head {
        let detached = self.inner.head_detached().unwrap_or(false);
        match self.inner.head() {
            Ok(head) => Head {
                branch: if detached {
                    None
                } else {
                    head.shorthand().map(str::to_string)
                },
                commit: head.peel_to_commit().ok().map(|c| c.id().to_string()),
            },
            // An unborn branch: HEAD names a branch with no commit yet.
            Err(_) => Head {
                branch: self.inner.find_reference("HEAD").ok().and_then(|r| {
                    r.symbolic_target()
                        .map(|t| t.trim_start_matches("refs/heads/").to_string())
                }),
                commit: None,
            },
        }
    }

    /// Resolves a branch, tag, SHA or revspec to a commit id.
    pub fn resolve(&self, spec: &str) -> Result<Oid, RepoError> {
        self.inner
            .revparse_single(spec)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|source| RepoError::BadRef {
                spec: spec.to_string(),
                source,
            })
    }

    pub fn commit_info(&self, id: Oid) -> Result<CommitInfo, RepoError> {
        let c = self.inner.find_commit(id)?;
        let author = c.author().name().unwrap_or("").to_string();
        Ok(CommitInfo {
            sha: id.to_string(),
            summary: c.summary().unwrap_or("").to_string(),
            author,
        })
    }

    /// Paths (relative to the repository root, `/`-separated) that differ between two commits.
    pub fn changed_files(&self, base: Oid, head: Oid) -> Result<Vec<String>, RepoError> {
        let base_tree = self.inner.find_commit(base)?.tree()?;
        let head_tree = self.inner.find_commit(head)?.tree()?;
        let mut opts = DiffOptions::new();
        let diff =
            self.inner
                .diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut opts))?;
        let mut files = Vec::new();
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(p) = file.path() {
                    let p = p.to_string_lossy().replace('\\', "/");
                    if !files.contains(&p) {
                        files.push(p);
                    }
                }
            }
        }
        files.sort();
        Ok(files)
    }

    /// The folders directly inside `path` (relative to the repository root, `""` for the
    /// root) at `commit`, sorted; empty when `path` is not a folder there.
    pub fn dirs_at(&self, commit: Oid, path: &str) -> Result<Vec<String>, RepoError> {
        let root = self.inner.find_commit(commit)?.tree()?;
        let tree = if path.is_empty() {
            root
        } else {
            match root.get_path(Path::new(path)) {
                Ok(e) if e.kind() == Some(git2::ObjectType::Tree) => {
                    e.to_object(&self.inner)?.peel_to_tree()?
                }
                Ok(_) => return Ok(Vec::new()),
                Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            }
        };
        let mut out: Vec<String> = tree
            .iter()
            .filter(|e| e.kind() == Some(git2::ObjectType::Tree))
            .filter_map(|e| e.name().map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Writes the files of `commit` into the empty folder `into`, as a checkout of it
    /// would (modes and links kept, submodules left out): what an image is built from
    /// when a commit other than the checkout's is named — never the working tree.
    pub fn export_tree(&self, commit: Oid, into: &Path) -> Result<(), RepoError> {
        let tree = self.inner.find_commit(commit)?.tree()?;
        self.export(&tree, into)
    }

    fn export(&self, tree: &git2::Tree<'_>, into: &Path) -> Result<(), RepoError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(into)?;
        for entry in tree.iter() {
            let Some(name) = entry.name() else { continue };
            let path = into.join(name);
            match entry.kind() {
                Some(git2::ObjectType::Tree) => {
                    let sub = entry.to_object(&self.inner)?.peel_to_tree()?;
                    self.export(&sub, &path)?;
                }
                Some(git2::ObjectType::Blob) => {
                    let blob = entry.to_object(&self.inner)?.peel_to_blob()?;
                    if entry.filemode() == 0o120000 {
                        let target = String::from_utf8_lossy(blob.content()).into_owned();
                        std::os::unix::fs::symlink(target, &path)?;
                    } else {
                        std::fs::write(&path, blob.content())?;
                        let mode = if entry.filemode() == 0o100755 {
                            0o755
                        } else {
                            0o644
                        };
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
                    }
                }
                // A submodule's commit is not in this repository.
                _ => {}
            }
        }
        Ok(())
    }

    /// The content of `path` (relative to the repository root) at `commit`, if it exists there.
    pub fn file_at(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        let tree = self.inner.find_commit(commit)?.tree()?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let object = entry.to_object(&self.inner)?;
        Ok(object.as_blob().map(|b| b.content().to_vec()))
    }

    /// Commits exactly `paths` (relative to the repository root) as they are in the work
    /// tree on top of HEAD, whatever else is staged; the index is updated for those paths.
    pub fn commit_paths(&self, paths: &[&str], message: &str) -> Result<Oid, RepoError> {
        let head = self.inner.head()?.peel_to_commit()?;
        let mut index = git2::Index::new()?;
        index.read_tree(&head.tree()?)?;
        let mut real_index = self.inner.index()?;
        for path in paths {
            let content = std::fs::read(self.workdir.join(path))
                .map_err(|e| git2::Error::from_str(&format!("{path}: {e}")))?;
            let blob = self.inner.blob(&content)?;
            let mut entry = index
                .get_path(Path::new(path), 0)
                .ok_or_else(|| git2::Error::from_str(&format!("{path} is not tracked at HEAD")))?;
            entry.id = blob;
            entry.file_size = content.len() as u32;
            index.add(&entry)?;
            real_index.add_path(Path::new(path))?;
        }
        let tree = self.inner.find_tree(index.write_tree_to(&self.inner)?)?;
        let sig = self
            .inner
            .signature()
            .or_else(|_| git2::Signature::now("odoo-ci", "odoo-ci@localhost"))?;
        let id = self
            .inner
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &[&head])?;
        real_index.write()?;
        Ok(id)
    }

    /// Where `dir` lies in its repository: `odoo/` for a project in a subfolder (an action's
    /// `working-directory`), `""` at the root or outside any repository. Paths the host
    /// shows (annotations, links) are the repository's, so they start with it.
    pub fn prefix_of(dir: &Path) -> String {
        Repo::discover(dir)
            .ok()
            .and_then(|repo| repo.relative(dir))
            .filter(|rel| !rel.is_empty())
            .map(|rel| format!("{rel}/"))
            .unwrap_or_default()
    }

    /// `path` (absolute or relative to the current dir) relative to the repository root.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let abs = path.canonicalize().ok()?;
        let rel = abs.strip_prefix(&self.workdir).ok()?;
        Some(rel.to_string_lossy().replace('\\', "/"))
    }
}
