//! Backups of production on another machine: the database (a `pg_dump` and its
//! fingerprint, taken in one transaction's snapshot), the filestore, and what served them
//! (commit, image), kept in a restic repository with grandfather-father-son retention.
//!
//! Why restic rather than a client of our own (or a storage library such as `opendal`):
//! it already deduplicates between backups (a daily backup of a filestore that grew by a
//! few files stores those files), encrypts before anything leaves the machine, checks every
//! blob it restores against its SHA-256, speaks folders, SFTP, S3 and a dozen more, and
//! implements `forget --keep-daily/weekly/monthly`. Odoo integrators already run it, and a
//! backup odoo-ci made can be listed and restored by hand with restic alone.
//!
//! A backup is one folder — `backup.json` (the [`Manifest`]), `database.dump`,
//! `filestore/` — backed up as the restic host `odoo-ci-<database>`: that host is what
//! odoo-ci lists, restores and prunes, and nothing else in the repository.

pub mod manifest;
pub mod restic;

use std::path::{Path, PathBuf};

use crate::config::schema::BackupRetention;
use crate::config::Config;
use crate::db::{self, copy, PgServer};
pub use manifest::Manifest;
use restic::Restic;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Restic(#[from] restic::ResticError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Copy(#[from] copy::CopyError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no backup `{id}` of `{production}` (see `odoo-ci backups list`)")]
    NotFound { id: String, production: String },
    #[error("backup `{id}` is not one odoo-ci can restore: {why}")]
    Unreadable { id: String, why: String },
    #[error(
        "backup `{id}`: the restored {what} does not match the backup (expected {expected}, got {got}); nothing restored is kept"
    )]
    Mismatch {
        id: String,
        what: &'static str,
        expected: String,
        got: String,
    },
    #[error("the filestore: {0}")]
    Filestore(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Production's backups: where they go, what restic calls them, how long they stay.
pub struct Backups {
    pub restic: Restic,
    /// The production database they are of.
    pub production: String,
    /// restic's host name for them.
    pub host: String,
    pub keep: BackupRetention,
    pub before_update: bool,
    /// Where backups are assembled and restored on this machine.
    pub work_dir: PathBuf,
}

/// restic's host name for `production`'s backups: readable, unique per database name.
pub fn host_for(production: &str) -> String {
    format!(
        "odoo-ci-{}-{}",
        crate::names::slug(production, '-', 24),
        crate::names::short_hash(&[production])
    )
}

impl Backups {
    /// `production.backup` resolved, or `None` when the project has no backups.
    pub fn configured(
        config: &Config,
        production: &str,
        cache_dir: &Path,
    ) -> anyhow::Result<Option<Backups>> {
        let Some(b) = &config.file.production.backup else {
            return Ok(None);
        };
        let env = |k: &str| std::env::var(k).ok();
        let repository = config.resolve("production.backup.repository", &b.repository, &env)?;
        let password = config.resolve("production.backup.password", &b.password, &env)?;
        crate::secrets::mask_secret(&password);
        let mut vars = std::collections::BTreeMap::new();
        for (k, v) in &b.env {
            let value = config.resolve(&format!("production.backup.env.{k}"), v, &env)?;
            crate::secrets::mask_secret(&value);
            vars.insert(k.clone(), value);
        }
        let host = host_for(production);
        Ok(Some(Backups {
            restic: Restic::new(repository, password, b.options.clone(), vars),
            production: production.to_string(),
            work_dir: crate::names::absolute(&cache_dir.join("backups").join(&host)),
            host,
            keep: b.keep.clone(),
            before_update: b.before_update,
        }))
    }

    /// This production's backups, oldest first (none before the first backup made the
    /// repository).
    pub fn list(&self) -> Result<Vec<restic::Snapshot>, BackupError> {
        if !self.restic.exists()? {
            return Ok(Vec::new());
        }
        Ok(self.restic.snapshots(&self.host)?)
    }

    /// The backup `id` (a restic id or its prefix) of this production.
    pub fn find(&self, id: &str) -> Result<restic::Snapshot, BackupError> {
        let mut found: Vec<restic::Snapshot> = self
            .list()?
            .into_iter()
            .filter(|s| !id.is_empty() && s.id.starts_with(id))
            .collect();
        match (found.pop(), found.is_empty()) {
            (Some(one), true) => Ok(one),
            (Some(_), false) => Err(BackupError::Unreadable {
                id: id.into(),
                why: "more than one backup starts with it: give more of the id".into(),
            }),
            (None, _) => Err(BackupError::NotFound {
                id: id.into(),
                production: self.production.clone(),
            }),
        }
    }
}

/// Production as a backup reads it.
pub struct Source<'a> {
    /// How production's filestore is read from here.
    pub files: &'a crate::targets::FilestoreReader,
    pub server: &'a PgServer,
    /// Production's filestore on the engine's host, when known.
    pub filestore: Option<&'a Path>,
    /// The commit and image that serve it, when known.
    pub commit: Option<String>,
    pub image: Option<String>,
    /// The release volume the image serves with, when it has one.
    pub release_volume: Option<String>,
}

/// What one backup did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Taken {
    pub id: String,
    pub manifest: Manifest,
    /// Backups the retention removed afterwards.
    pub forgotten: Vec<String>,
}

impl Taken {
    pub fn describe(&self) -> String {
        let m = &self.manifest;
        format!(
            "backup {} of `{}` ({} bytes of database, {} files); {} older removed by retention",
            self.id,
            m.production,
            m.database.bytes,
            m.filestore.as_ref().map(|f| f.files).unwrap_or(0),
            self.forgotten.len()
        )
    }
}

/// Takes a backup of production and applies the retention.
pub fn take(backups: &Backups, source: &Source<'_>, reason: &str) -> anyhow::Result<Taken> {
    // Per run: a scheduled backup and a deploy's may run at once.
    let out = backups.work_dir.join(format!("out-{}", std::process::id()));
    reset_dir(&out)?;
    let result = (|| -> anyhow::Result<Taken> {
        let database = dump_with_fingerprint(source.server, &backups.production, &out)?;
        let filestore = match source.filestore {
            Some(from) => {
                let to = out.join(manifest::FILESTORE);
                source.files.fetch(from, &to)?;
                Some(manifest::FilestoreFacts::of(&to)?)
            }
            None => None,
        };
        let mut manifest = Manifest::new(
            &backups.production,
            reason,
            source.commit.clone(),
            source.image.clone(),
            database,
            filestore,
        );
        manifest.release_volume = source.release_volume.clone();
        manifest.write(&out)?;
        backups.restic.open_or_init()?;
        let id = backups
            .restic
            .backup(&out, &backups.host, &manifest.tags())?;
        let forgotten = backups.restic.forget(&backups.host, &backups.keep)?;
        Ok(Taken {
            id: id.chars().take(8).collect(),
            manifest,
            forgotten,
        })
    })();
    let _ = std::fs::remove_dir_all(&out);
    result
}

/// `pg_dump` of `database` into `dir`, with the fingerprint of exactly what was dumped
/// (both read in one exported snapshot: users may go on writing meanwhile).
fn dump_with_fingerprint(
    server: &PgServer,
    database: &str,
    dir: &Path,
) -> Result<manifest::DatabaseFacts, BackupError> {
    let mut conn = server.connect(database)?;
    let mut tx = conn
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(db::DbError::from)?;
    let snapshot: String = tx
        .query_one("SELECT pg_export_snapshot()", &[])
        .map_err(db::DbError::from)?
        .get(0);
    let path = dir.join(manifest::DUMP);
    let bytes = copy::dump_to_file_as_of(server, database, &path, Some(&snapshot))?;
    let fingerprint = db::fingerprint::of(&mut tx)?;
    tx.commit().map_err(db::DbError::from)?;
    Ok(manifest::DatabaseFacts {
        bytes,
        sha256: manifest::sha256_of(&path)?,
        fingerprint,
    })
}

/// A backup restored on this machine, checked against its manifest.
pub struct Restored {
    pub id: String,
    /// Where restic restored it (removed by [`Restored::clean`]).
    dir: PathBuf,
    /// The backed-up folder inside it.
    manifest_dir: PathBuf,
    pub manifest: Manifest,
}

/// Restores the backup `id` into the work folder and checks the dump's checksum.
pub fn fetch(backups: &Backups, id: &str) -> Result<Restored, BackupError> {
    let snapshot = backups.find(id)?;
    let target = backups.work_dir.join(format!("in-{}", std::process::id()));
    reset_dir(&target)?;
    let restored = restore_checked(backups, &snapshot, id, &target);
    if restored.is_err() {
        let _ = std::fs::remove_dir_all(&target);
    }
    restored
}

/// [`fetch`]'s restore into `target` and its checks.
fn restore_checked(
    backups: &Backups,
    snapshot: &restic::Snapshot,
    id: &str,
    target: &Path,
) -> Result<Restored, BackupError> {
    backups.restic.restore(&snapshot.id, target)?;
    let taken_from = snapshot
        .paths
        .first()
        .ok_or_else(|| BackupError::Unreadable {
            id: id.into(),
            why: "it records no folder".into(),
        })?;
    let dir = target.join(taken_from.trim_start_matches('/'));
    let manifest =
        Manifest::read(&dir).map_err(|why| BackupError::Unreadable { id: id.into(), why })?;
    let sha = manifest::sha256_of(&dir.join(manifest::DUMP))?;
    if sha != manifest.database.sha256 {
        return Err(BackupError::Mismatch {
            id: id.into(),
            what: "dump's SHA-256",
            expected: manifest.database.sha256.clone(),
            got: sha,
        });
    }
    Ok(Restored {
        id: snapshot.short_id.clone(),
        dir: target.to_path_buf(),
        manifest_dir: dir,
        manifest,
    })
}

impl Restored {
    /// Restores the database into the new database `name` on `server` and checks its
    /// fingerprint; on any failure `name` is dropped.
    pub fn into_database(&self, server: &PgServer, name: &str) -> Result<(), BackupError> {
        let mut admin = server.connect("postgres")?;
        copy::create_empty(&mut admin, name)?;
        let result = (|| -> Result<(), BackupError> {
            copy::restore_file(server, name, &self.manifest_dir.join(manifest::DUMP))?;
            let got = db::fingerprint::of(&mut server.connect(name)?)?;
            if got != self.manifest.database.fingerprint {
                return Err(BackupError::Mismatch {
                    id: self.id.clone(),
                    what: "database's fingerprint",
                    expected: self.manifest.database.fingerprint.clone(),
                    got,
                });
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = db::drop_database(&mut admin, name);
        }
        result
    }

    /// The restored filestore, checked against the manifest (`None`: the backup has none).
    pub fn filestore(&self) -> Result<Option<PathBuf>, BackupError> {
        let Some(expected) = &self.manifest.filestore else {
            return Ok(None);
        };
        let dir = self.manifest_dir.join(manifest::FILESTORE);
        let got = manifest::FilestoreFacts::of(&dir)?;
        if &got != expected {
            return Err(BackupError::Mismatch {
                id: self.id.clone(),
                what: "filestore",
                expected: expected.to_string(),
                got: got.to_string(),
            });
        }
        Ok(Some(dir))
    }

    /// Removes the restored files.
    pub fn clean(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn reset_dir(dir: &Path) -> Result<(), BackupError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(dir)(e)),
        _ => {}
    }
    std::fs::create_dir_all(dir).map_err(io(dir))
}
