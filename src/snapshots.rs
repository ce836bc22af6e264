//! Pre-deploy snapshots of production: a database on the same server (copied with the
//! read-only dump/restore stream, so the live database is never locked) plus a copy of the
//! filestore, labelled with a JSON record kept as the snapshot database's comment. The
//! comment is where the deployment history lives: no state file of our own.
//!
//! Restoring is `DROP` + `CREATE DATABASE … TEMPLATE <snapshot>` (an idle snapshot makes a
//! fast template) and the filestore copied back. Filestore copies are made on the Docker
//! engine's host ([`EngineFiles`]), whoever owns the files and wherever the engine is.

use std::path::{Path, PathBuf};

use postgres::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{self, copy, DbError, PgServer};
use crate::filestore::{EngineFiles, FilestoreError};

pub const SNAPSHOT_PREFIX: &str = "odoo_ci_snap_";
const MARKER: &str = "odoo-ci snapshot ";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Copy(#[from] copy::CopyError),
    #[error(transparent)]
    Filestore(#[from] FilestoreError),
    #[error("no snapshot or deployment `{0}` (see `odoo-ci snapshots list`)")]
    NotFound(String),
}

/// The record kept on a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// The production database it was taken of.
    pub production: String,
    pub created: String,
    pub commit: Option<String>,
    /// The deployment it was taken for (and that deployment's record), if any.
    pub deployment: Option<serde_json::Value>,
    #[serde(default)]
    pub pinned: bool,
    /// Why it was taken: `pre-deploy`, `pre-rollback`, `manual`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    pub name: String,
    #[serde(flatten)]
    pub record: SnapshotRecord,
}

/// The prefix of `production`'s snapshots: readable, and unique per database name.
pub fn prefix_for(production: &str) -> String {
    let slug = crate::names::slug(production, '_', 16);
    let hash = Sha256::digest(production.as_bytes());
    let hex: String = hash.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{SNAPSHOT_PREFIX}{slug}_{hex}_")
}

/// Production's filestore, where snapshots keep their copies of it, and the engine whose
/// host holds both.
pub struct SnapshotFiles<'a> {
    pub filestore: &'a Path,
    pub snapshots_dir: &'a Path,
    pub engine: &'a EngineFiles,
}

/// Where a snapshot's filestore copy lives.
pub fn filestore_dir(snapshots_dir: &Path, name: &str) -> PathBuf {
    snapshots_dir.join(name)
}

/// `production`'s snapshots, oldest first.
pub fn list(admin: &mut Client, production: &str) -> Result<Vec<Snapshot>, DbError> {
    let mut out = Vec::new();
    for name in db::databases_with_prefix(admin, &prefix_for(production))? {
        let Some(comment) = db::database_comment(admin, &name)? else {
            continue;
        };
        let Some(json) = comment.strip_prefix(MARKER) else {
            continue;
        };
        if let Ok(record) = serde_json::from_str::<SnapshotRecord>(json) {
            if record.production == production {
                out.push(Snapshot { name, record });
            }
        }
    }
    Ok(out)
}

pub fn save_record(admin: &mut Client, name: &str, record: &SnapshotRecord) -> Result<(), DbError> {
    let json = serde_json::to_string(record).unwrap_or_default();
    db::set_database_comment(admin, name, &format!("{MARKER}{json}"))
}

/// Takes a snapshot of `production` (database, and filestore when `files` are known);
/// `streamed` hears how many bytes of the database have been copied, now and then.
pub fn create(
    server: &PgServer,
    production: &str,
    files: Option<&SnapshotFiles<'_>>,
    record: SnapshotRecord,
    streamed: &mut dyn FnMut(u64),
) -> Result<Snapshot, SnapshotError> {
    let mut admin = server.connect("postgres")?;
    let name = new_name(&mut admin, production)?;
    copy::create_empty(&mut admin, &name)?;
    let result = (|| -> Result<(), SnapshotError> {
        copy::dump_restore(server, production, server, &name, streamed)?;
        if let Some(f) = files {
            f.engine
                .copy(f.filestore, &filestore_dir(f.snapshots_dir, &name))?;
        }
        save_record(&mut admin, &name, &record)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = db::drop_database(&mut admin, &name);
        if let Some(f) = files {
            let _ = f.engine.remove(&filestore_dir(f.snapshots_dir, &name));
        }
        return Err(e);
    }
    Ok(Snapshot { name, record })
}

/// The name of a new snapshot of `production`, taken now.
pub fn new_name(admin: &mut Client, production: &str) -> Result<String, DbError> {
    let stamp: String = admin
        .query_one(
            "SELECT to_char(clock_timestamp() at time zone 'UTC', 'YYYYMMDDHH24MISSMS')",
            &[],
        )
        .map_err(DbError::from)?
        .get(0);
    Ok(format!("{}{stamp}", prefix_for(production)))
}

/// Puts `snapshot` back as `production`: the database (other sessions are ended) and the
/// filestore.
pub fn restore(
    server: &PgServer,
    snapshot: &str,
    production: &str,
    files: Option<&SnapshotFiles<'_>>,
) -> Result<(), SnapshotError> {
    let mut admin = server.connect("postgres")?;
    if !db::database_exists(&mut admin, snapshot)? {
        return Err(SnapshotError::NotFound(snapshot.to_string()));
    }
    db::drop_database(&mut admin, production)?;
    db::create_from_template(&mut admin, production, snapshot)?;
    if let Some(f) = files {
        f.engine
            .copy(&filestore_dir(f.snapshots_dir, snapshot), f.filestore)?;
    }
    Ok(())
}

/// Drops all but the newest `keep` unpinned snapshots; returns the dropped names.
pub fn prune(
    server: &PgServer,
    production: &str,
    keep: usize,
    files: Option<&SnapshotFiles<'_>>,
) -> Result<Vec<String>, SnapshotError> {
    let mut admin = server.connect("postgres")?;
    let unpinned: Vec<Snapshot> = list(&mut admin, production)?
        .into_iter()
        .filter(|s| !s.record.pinned)
        .collect();
    let mut dropped = Vec::new();
    if unpinned.len() > keep {
        for s in &unpinned[..unpinned.len() - keep] {
            db::drop_database(&mut admin, &s.name)?;
            if let Some(f) = files {
                f.engine.remove(&filestore_dir(f.snapshots_dir, &s.name))?;
            }
            dropped.push(s.name.clone());
        }
    }
    Ok(dropped)
}

/// A snapshot by name, or the snapshot of a deployment id.
pub fn find(admin: &mut Client, production: &str, key: &str) -> Result<Snapshot, SnapshotError> {
    list(admin, production)?
        .into_iter()
        .find(|s| {
            s.name == key
                || s.record
                    .deployment
                    .as_ref()
                    .and_then(|d| d["id"].as_str())
                    .is_some_and(|id| id == key)
        })
        .ok_or_else(|| SnapshotError::NotFound(key.to_string()))
}
