//! The Git checkout (git2): refs, commits, files at a commit, changes between commits.

pub mod submodules;

use std::path::{Path, PathBuf};

use git2::{DiffOptions, Oid, Repository};
use thiserror::Error;

use submodules::{Located, Submodule};

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
    #[error(
        "submodule `{path}` at commit {commit} is not in this checkout (hint: `git submodule update --init --recursive`; GitHub Actions: `actions/checkout` with `submodules: recursive`; GitLab: `GIT_SUBMODULE_STRATEGY: recursive`)"
    )]
    MissingSubmodule { path: String, commit: String },
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

    /// Paths (relative to the repository root, `/`-separated) that differ between two
    /// commits. A submodule bump counts as the files that differ between its two pinned
    /// commits (under the submodule's folder); when its earlier commit is not in the
    /// checkout (a shallow submodule), as every file of the new one.
    pub fn changed_files(&self, base: Oid, head: Oid) -> Result<Vec<String>, RepoError> {
        let base_tree = self.inner.find_commit(base)?.tree()?;
        let head_tree = self.inner.find_commit(head)?.tree()?;
        let mut opts = DiffOptions::new();
        let diff =
            self.inner
                .diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut opts))?;
        let mut files = std::collections::BTreeSet::new();
        let mut bumped = Vec::new();
        for delta in diff.deltas() {
            let (old, new) = (delta.old_file(), delta.new_file());
            if new.mode() == git2::FileMode::Commit && !new.id().is_zero() {
                if let Some(p) = new.path() {
                    let p = p.to_string_lossy().replace('\\', "/");
                    bumped.push((p, (!old.id().is_zero()).then(|| old.id()), new.id()));
                }
                continue;
            }
            for file in [old, new] {
                if let Some(p) = file.path() {
                    files.insert(p.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let subs = self.submodules_at(head)?;
        for (path, old, new) in bumped {
            let sub = subs
                .iter()
                .find(|s| s.path == path)
                .cloned()
                .unwrap_or(Submodule {
                    name: path.clone(),
                    path: path.clone(),
                    commit: new,
                });
            let repo = self.open_submodule(&sub)?;
            for f in repo.files_between(old, new)? {
                files.insert(format!("{path}/{f}"));
            }
        }
        Ok(files.into_iter().collect())
    }

    /// The files that differ between `old` (when it is here) and `new`; every file of
    /// `new` when `old` is unknown or missing.
    fn files_between(&self, old: Option<Oid>, new: Oid) -> Result<Vec<String>, RepoError> {
        if let Some(old) = old.filter(|o| self.inner.find_commit(*o).is_ok()) {
            return self.changed_files(old, new);
        }
        let mut out = Vec::new();
        let tree = self.inner.find_commit(new)?.tree()?;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                out.push(format!("{dir}{}", entry.name().unwrap_or_default()));
            }
            git2::TreeWalkResult::Ok
        })?;
        Ok(out)
    }

    /// The folders directly inside `path` (relative to the repository root, `""` for the
    /// root) at `commit`, sorted; empty when `path` is not a folder there. A path in a
    /// submodule is read at the submodule's pinned commit.
    pub fn dirs_at(&self, commit: Oid, path: &str) -> Result<Vec<String>, RepoError> {
        match self.locate(commit, path)? {
            Located::Here(repo, commit, path) => repo.dirs_here(commit, &path),
            Located::Submodule(repo, commit, path) => repo.dirs_at(commit, &path),
        }
    }

    /// The files directly inside `path` at `commit`, sorted, as [`Repo::dirs_at`] lists
    /// folders.
    pub fn files_at(&self, commit: Oid, path: &str) -> Result<Vec<String>, RepoError> {
        match self.locate(commit, path)? {
            Located::Here(repo, commit, path) => {
                repo.entries_here(commit, &path, git2::ObjectType::Blob)
            }
            Located::Submodule(repo, commit, path) => repo.files_at(commit, &path),
        }
    }

    fn dirs_here(&self, commit: Oid, path: &str) -> Result<Vec<String>, RepoError> {
        self.entries_here(commit, path, git2::ObjectType::Tree)
    }

    fn entries_here(
        &self,
        commit: Oid,
        path: &str,
        kind: git2::ObjectType,
    ) -> Result<Vec<String>, RepoError> {
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
            .filter(|e| e.kind() == Some(kind))
            .filter_map(|e| e.name().map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Writes the files of `commit` into the empty folder `into`, as a recursive checkout
    /// of it would (modes and links kept, each submodule's files at its pinned commit):
    /// what an image is built from when a commit other than the checkout's is named —
    /// never the working tree. A submodule whose commit is not here is an error.
    pub fn export_tree(&self, commit: Oid, into: &Path) -> Result<(), RepoError> {
        let tree = self.inner.find_commit(commit)?.tree()?;
        let subs = self.submodules_at(commit)?;
        self.export(&tree, into, "", &subs)
    }

    fn export(
        &self,
        tree: &git2::Tree<'_>,
        into: &Path,
        prefix: &str,
        subs: &[Submodule],
    ) -> Result<(), RepoError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(into)?;
        for entry in tree.iter() {
            let Some(name) = entry.name() else { continue };
            let path = into.join(name);
            match entry.kind() {
                Some(git2::ObjectType::Tree) => {
                    let sub = entry.to_object(&self.inner)?.peel_to_tree()?;
                    self.export(&sub, &path, &format!("{prefix}{name}/"), subs)?;
                }
                Some(git2::ObjectType::Commit) => {
                    let at = format!("{prefix}{name}");
                    let sub = subs
                        .iter()
                        .find(|s| s.path == at)
                        .cloned()
                        .unwrap_or(Submodule {
                            name: at.clone(),
                            path: at.clone(),
                            commit: entry.id(),
                        });
                    self.open_submodule(&sub)?.export_tree(entry.id(), &path)?;
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
                _ => {}
            }
        }
        Ok(())
    }

    /// The content of `path` (relative to the repository root) at `commit`, if it exists
    /// there; a path in a submodule is read at the submodule's pinned commit.
    pub fn file_at(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        match self.locate(commit, path)? {
            Located::Here(repo, commit, path) => repo.file_here(commit, &path),
            Located::Submodule(repo, commit, path) => repo.file_at(commit, &path),
        }
    }

    /// [`Repo::file_at`] in this repository's own tree only.
    fn file_here(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
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
