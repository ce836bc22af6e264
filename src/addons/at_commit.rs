//! The addons as a commit has them, read from git's objects: `--ref R` (plan, guard,
//! `addons changed`) means the addons and versions of R, never the working tree's.

use std::path::{Path, PathBuf};

use super::discovery::{addon_from, assemble, AddonPlace, MANIFEST, OLD_MANIFEST};
use super::{AddonSet, Series};
use crate::diag::{DiagKind, Diagnostic};
use crate::repo::Repo;

/// Discovers the addons directly inside each of `addons_dirs` (relative to `root`, as in
/// the config) in the tree of `commit`. Manifests are git blobs: a committed link is a
/// blob holding its target's path, never the file it points to.
pub fn discover_at_commit(
    repo: &Repo,
    commit: git2::Oid,
    root: &Path,
    addons_dirs: &[PathBuf],
    series: Option<Series>,
) -> Result<AddonSet, Diagnostic> {
    let allow_old = series.is_none_or(|s| s.reads_openerp_manifest());
    let git_error = |e: crate::repo::RepoError| {
        Diagnostic::new(DiagKind::Io, format!("reading commit {commit}: {e}"))
            .hint("fetch the commit into the checkout (fetch-depth: 0)")
    };
    let mut addons = Vec::new();
    for dir in addons_dirs {
        let on_disk = root.join(dir);
        let Some(in_repo) = repo.relative(&on_disk) else {
            continue;
        };
        let in_repo = if in_repo == "." {
            String::new()
        } else {
            in_repo
        };
        let rel_base = dir.to_string_lossy().replace('\\', "/");
        let rel_base = rel_base.trim_start_matches("./").trim_end_matches('/');
        for name in repo.dirs_at(commit, &in_repo).map_err(git_error)? {
            if name.starts_with('.') {
                continue;
            }
            let manifests = [MANIFEST, OLD_MANIFEST];
            for file_name in manifests.iter().take(if allow_old { 2 } else { 1 }) {
                let path = if in_repo.is_empty() {
                    format!("{name}/{file_name}")
                } else {
                    format!("{in_repo}/{name}/{file_name}")
                };
                let Some(bytes) = repo.file_at(commit, &path).map_err(git_error)? else {
                    continue;
                };
                let rel_dir = if rel_base.is_empty() || rel_base == "." {
                    name.clone()
                } else {
                    format!("{rel_base}/{name}")
                };
                let place = AddonPlace {
                    dir: on_disk.join(&name),
                    name: name.clone(),
                    rel_dir,
                };
                let file = place.dir.join(file_name);
                addons.push(addon_from(place, file, bytes, series)?);
                break;
            }
        }
    }
    assemble(addons, series)
}
