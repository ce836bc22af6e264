//! Git submodules as a commit has them: `.gitmodules` names each one's path (and name,
//! the folder of its own git data under `.git/modules/`), the tree holds a gitlink (mode
//! 160000) with the submodule's commit. A submodule's files are read from that commit in
//! its own repository, which a checkout with submodules (`git submodule update --init`,
//! `actions/checkout` with `submodules: recursive`, GitLab's `GIT_SUBMODULE_STRATEGY`)
//! has under `.git/modules/<name>`.

use std::path::Path;

use git2::{Oid, Repository};

use super::{Repo, RepoError};

/// One submodule of a commit: where it is, and the commit it is pinned at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submodule {
    /// Its folder, relative to the repository root, `/`-separated.
    pub path: String,
    /// Its name in `.gitmodules` (the folder of its git data under `.git/modules/`).
    pub name: String,
    pub commit: Oid,
}

/// `(name, path)` of each `[submodule "name"]` section of a `.gitmodules` file.
pub fn parse_gitmodules(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[') {
            name = section
                .strip_prefix("submodule")
                .map(str::trim)
                .and_then(|s| s.strip_suffix(']'))
                .map(|s| s.trim().trim_matches('"').to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "path" {
            if let Some(n) = &name {
                out.push((n.clone(), value.trim().trim_end_matches('/').to_string()));
            }
        }
    }
    out
}

impl Repo {
    /// The submodules of `commit`: those `.gitmodules` names whose path is a gitlink in
    /// the commit's tree.
    pub fn submodules_at(&self, commit: Oid) -> Result<Vec<Submodule>, RepoError> {
        let Some(bytes) = self.file_here(commit, ".gitmodules")? else {
            return Ok(Vec::new());
        };
        let tree = self.inner.find_commit(commit)?.tree()?;
        let mut out = Vec::new();
        for (name, path) in parse_gitmodules(&String::from_utf8_lossy(&bytes)) {
            let Ok(entry) = tree.get_path(Path::new(&path)) else {
                continue;
            };
            if entry.kind() == Some(git2::ObjectType::Commit) {
                out.push(Submodule {
                    path,
                    name,
                    commit: entry.id(),
                });
            }
        }
        Ok(out)
    }

    /// The submodule's own repository, holding its pinned commit; an error naming the
    /// submodule and what to run when it is not there.
    pub fn open_submodule(&self, sub: &Submodule) -> Result<Repo, RepoError> {
        let candidates = [
            self.inner.path().join("modules").join(&sub.name),
            self.workdir.join(&sub.path),
        ];
        for dir in candidates {
            let Ok(inner) = Repository::open(&dir) else {
                continue;
            };
            if inner.find_commit(sub.commit).is_ok() {
                return Ok(Repo {
                    inner,
                    workdir: self.workdir.join(&sub.path),
                });
            }
        }
        Err(RepoError::MissingSubmodule {
            path: sub.path.clone(),
            commit: sub.commit.to_string(),
        })
    }

    /// The repository and commit that hold `path` at `commit`, and the rest of the path
    /// inside it: `path` itself here, or, past a submodule's folder, the rest of it in the
    /// submodule's repository at its pinned commit.
    pub fn locate(&self, commit: Oid, path: &str) -> Result<Located<'_>, RepoError> {
        for sub in self.submodules_at(commit)? {
            let inside = if path == sub.path {
                Some("")
            } else {
                path.strip_prefix(&format!("{}/", sub.path))
            };
            if let Some(rest) = inside {
                let repo = self.open_submodule(&sub)?;
                return Ok(Located::Submodule(Box::new(repo), sub.commit, rest.into()));
            }
        }
        Ok(Located::Here(self, commit, path.into()))
    }
}

/// Where a path of a commit is: in this repository, or in a submodule's.
pub enum Located<'a> {
    Here(&'a Repo, Oid, String),
    Submodule(Box<Repo>, Oid, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitmodules_paths_and_names() {
        let text = "[submodule \"oca-tools\"]\n\tpath = vendor/oca-tools\n\turl = https://github.com/OCA/server-tools\n[submodule \"web\"]\n  url = ../web.git\n  path = vendor/web/\n";
        assert_eq!(
            parse_gitmodules(text),
            vec![
                ("oca-tools".to_string(), "vendor/oca-tools".to_string()),
                ("web".to_string(), "vendor/web".to_string())
            ]
        );
    }
}
