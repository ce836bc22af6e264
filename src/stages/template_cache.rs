//! Template databases that travel between CI jobs. A GitHub-hosted job gets a new
//! PostgreSQL service every time, so a template kept in the server is always a miss there;
//! a folder that `actions/cache` (or GitLab's `cache:`) carries from job to job is not.
//!
//! After a template is built, it is saved to `<folder>/<key>/`: `database.dump` (pg_dump,
//! custom format), `filestore/` (its attachments) and `meta.json`, written last, through a
//! rename, so a half-written entry never looks complete. On a later miss it is restored
//! instead of built — and only if the database and the filestore agree: every attachment
//! the database stores on disk (`ir_attachment.store_fname`, Odoo's own contract) must be a
//! file of the restored filestore, else the restore is undone and the template is built.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::db::{self, PgServer};

/// Bumped when the layout of an entry changes: an older entry is then a miss.
const FORMAT: u32 = 1;
const DUMP: &str = "database.dump";
const FILES: &str = "filestore";
const META: &str = "meta.json";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{0}")]
    Copy(#[from] db::copy::CopyError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the database and the filestore disagree: {missing} of {stored} stored attachment(s) have no file (first: {first})")]
    Disagree {
        missing: usize,
        stored: usize,
        first: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What an entry says of itself.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    /// The template key: what Odoo ran in, requirements, series, preinstalled addons.
    key: String,
    /// The project that saved it (see [`crate::names::scope`]).
    project: String,
    attachments: usize,
    dump_bytes: u64,
    saved_at: String,
}

/// What a restore or a save did.
#[derive(Debug, Clone, Copy)]
pub struct Moved {
    pub attachments: usize,
    pub bytes: u64,
    pub millis: u128,
}

/// What a restore of the entry `meta` moved, begun at `started`.
fn moved(attachments: usize, meta: &Meta, started: Instant) -> Moved {
    Moved {
        attachments,
        bytes: meta.dump_bytes,
        millis: started.elapsed().as_millis(),
    }
}

/// A folder of saved templates.
pub struct TemplateCache {
    dir: PathBuf,
}

impl TemplateCache {
    pub fn new(dir: PathBuf) -> TemplateCache {
        TemplateCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The entry for `key` saved by the project `scope`, when there is a complete one.
    fn meta(&self, key: &str, scope: &str) -> Option<Meta> {
        let text = std::fs::read_to_string(self.entry(key).join(META)).ok()?;
        let meta: Meta = serde_json::from_str(&text).ok()?;
        (meta.format == FORMAT && meta.key == key && meta.project == scope).then_some(meta)
    }

    /// Restores the entry for `key` as the database `template` (which must not exist) and
    /// its filestore under `data_dir`. `None` when the folder holds no such entry. On an
    /// error the caller drops what was made.
    pub fn restore(
        &self,
        key: &str,
        scope: &str,
        server: &PgServer,
        template: &str,
        data_dir: &Path,
    ) -> Result<Option<Moved>, CacheError> {
        let Some(meta) = self.meta(key, scope) else {
            return Ok(None);
        };
        let started = Instant::now();
        let mut admin = server.connect("postgres")?;
        db::copy::create_empty(&mut admin, template)?;
        db::copy::restore_template_file(server, template, &self.entry(key).join(DUMP))?;
        self.files_of(key, server, template, data_dir)
            .map(|attachments| Some(moved(attachments, &meta, started)))
    }

    /// Restores only the filestore of the entry for `key` under `data_dir`, for the
    /// database `template` the server already has (carried in a saved cluster). `None` when
    /// the folder holds no such entry. On an error the caller removes the files.
    pub fn restore_files(
        &self,
        key: &str,
        scope: &str,
        server: &PgServer,
        template: &str,
        data_dir: &Path,
    ) -> Result<Option<Moved>, CacheError> {
        let Some(meta) = self.meta(key, scope) else {
            return Ok(None);
        };
        let started = Instant::now();
        self.files_of(key, server, template, data_dir)
            .map(|attachments| Some(moved(attachments, &meta, started)))
    }

    /// Copies the entry's filestore to the database `template`'s under `data_dir`, owned
    /// as the data dir is, and checks the two agree; the number of stored attachments.
    fn files_of(
        &self,
        key: &str,
        server: &PgServer,
        template: &str,
        data_dir: &Path,
    ) -> Result<usize, CacheError> {
        let files = data_dir.join("filestore").join(template);
        crate::filestore::copy_local(&self.entry(key).join(FILES), &files).map_err(io(&files))?;
        crate::filestore::own_like(&files, data_dir).map_err(io(&files))?;
        check_agreement(server, template, &files)
    }

    /// Saves the database `template` and its filestore under `data_dir` as the entry for
    /// `key`, replacing an older one. Nothing else may use the template meanwhile (it is
    /// saved before it is marked ready). Never saves a template that disagrees with its
    /// filestore.
    pub fn save(
        &self,
        key: &str,
        scope: &str,
        server: &PgServer,
        template: &str,
        data_dir: &Path,
    ) -> Result<Moved, CacheError> {
        let started = Instant::now();
        let files = data_dir.join("filestore").join(template);
        let attachments = check_agreement(server, template, &files)?;
        crate::filestore::create_dir_owned(&self.dir).map_err(io(&self.dir))?;
        // Marked as a cache, so that no image context ever holds it (see `image`).
        crate::cachedir::tag(&self.dir).map_err(io(&self.dir))?;
        let partial = self
            .dir
            .join(format!("{key}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        let written = self.write_entry(&partial, key, scope, server, template, &files, attachments);
        let moved = written.and_then(|bytes| {
            let entry = self.entry(key);
            let _ = std::fs::remove_dir_all(&entry);
            std::fs::rename(&partial, &entry).map_err(io(&entry))?;
            Ok(Moved {
                attachments,
                bytes,
                millis: started.elapsed().as_millis(),
            })
        });
        if moved.is_err() {
            let _ = std::fs::remove_dir_all(&partial);
        }
        moved
    }

    #[allow(clippy::too_many_arguments)]
    fn write_entry(
        &self,
        partial: &Path,
        key: &str,
        scope: &str,
        server: &PgServer,
        template: &str,
        files: &Path,
        attachments: usize,
    ) -> Result<u64, CacheError> {
        std::fs::create_dir_all(partial).map_err(io(partial))?;
        let dump_bytes = db::copy::dump_to_file(server, template, &partial.join(DUMP))?;
        let into = partial.join(FILES);
        crate::filestore::copy_local(files, &into).map_err(io(&into))?;
        let meta = Meta {
            format: FORMAT,
            key: key.to_string(),
            project: scope.to_string(),
            attachments,
            dump_bytes,
            saved_at: crate::clock::now_rfc3339(),
        };
        let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
        let path = partial.join(META);
        std::fs::write(&path, text).map_err(io(&path))?;
        Ok(dump_bytes)
    }

    /// Removes this project's entries beyond the newest `keep` (never `current`), and
    /// partial entries of runs that died. Another project's entries are never touched.
    pub fn prune(&self, current: &str, scope: &str, keep: usize) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut own: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == current || name.contains(".partial-") {
                continue;
            }
            if self.meta(&name, scope).is_some() {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                own.push((modified, entry.path()));
            }
        }
        own.sort();
        let excess = (own.len() + 1).saturating_sub(keep.max(1));
        for (_, path) in own.into_iter().take(excess) {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Every attachment the database `template` stores on disk is a file under `files`;
/// returns how many it stores. A database without `ir_attachment` stores none.
fn check_agreement(server: &PgServer, template: &str, files: &Path) -> Result<usize, CacheError> {
    let mut conn = server.connect(template)?;
    let has_table = conn
        .query_one(
            "SELECT to_regclass('public.ir_attachment') IS NOT NULL",
            &[],
        )
        .map_err(db::DbError::from)?
        .get::<_, bool>(0);
    if !has_table {
        return Ok(0);
    }
    let rows = conn
        .query(
            "SELECT DISTINCT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL AND store_fname <> ''",
            &[],
        )
        .map_err(db::DbError::from)?;
    let stored: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    let missing: Vec<&String> = stored
        .iter()
        .filter(|f| !stored_file(files, f).is_some_and(|p| p.is_file()))
        .collect();
    match missing.first() {
        None => Ok(stored.len()),
        Some(first) => Err(CacheError::Disagree {
            missing: missing.len(),
            stored: stored.len(),
            first: first.to_string(),
        }),
    }
}

/// Where Odoo keeps the attachment `store_fname` (`ab/abcdef…`) under `files`: each part a
/// plain name, never `..` or absolute.
fn stored_file(files: &Path, store_fname: &str) -> Option<PathBuf> {
    store_fname
        .split('/')
        .try_fold(files.to_path_buf(), |at, part| {
            crate::names::child_of(&at, part)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_name_stays_inside_the_filestore() {
        let files = Path::new("/data/filestore/tpl");
        assert_eq!(
            stored_file(files, "ab/abcdef"),
            Some(PathBuf::from("/data/filestore/tpl/ab/abcdef"))
        );
        assert_eq!(stored_file(files, "../other/ab"), None);
        assert_eq!(stored_file(files, "/etc/passwd"), None);
    }
}
