//! `backup.json`: what a backup holds and what a restore is checked against.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{io, BackupError};

pub const MANIFEST: &str = "backup.json";
pub const DUMP: &str = "database.dump";
pub const FILESTORE: &str = "filestore";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The layout of the backup folder (this is 1).
    pub format: u32,
    pub production: String,
    pub created: String,
    /// `daily`, `manual`, `pre-deploy`, …
    pub reason: String,
    /// The commit and image that served the database when it was taken.
    pub commit: Option<String>,
    pub image: Option<String>,
    /// The release volume the image served with (the commit's files, nothing built).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_volume: Option<String>,
    pub database: DatabaseFacts,
    pub filestore: Option<FilestoreFacts>,
    pub odoo_ci: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseFacts {
    /// The size and SHA-256 of `database.dump` (custom format).
    pub bytes: u64,
    pub sha256: String,
    /// [`crate::db::fingerprint`] of the dumped data.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FilestoreFacts {
    pub files: u64,
    pub bytes: u64,
}

impl fmt::Display for FilestoreFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} files, {} bytes", self.files, self.bytes)
    }
}

impl FilestoreFacts {
    /// Counts the files under `dir` and their bytes.
    pub fn of(dir: &Path) -> Result<FilestoreFacts, BackupError> {
        let mut facts = FilestoreFacts { files: 0, bytes: 0 };
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && d == dir => break,
                Err(e) => return Err(io(&d)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&d))?;
                let meta = entry.metadata().map_err(io(&entry.path()))?;
                if meta.is_dir() {
                    pending.push(entry.path());
                } else {
                    facts.files += 1;
                    facts.bytes += meta.len();
                }
            }
        }
        Ok(facts)
    }
}

impl Manifest {
    pub fn new(
        production: &str,
        reason: &str,
        commit: Option<String>,
        image: Option<String>,
        database: DatabaseFacts,
        filestore: Option<FilestoreFacts>,
    ) -> Manifest {
        Manifest {
            format: 1,
            production: production.to_string(),
            created: crate::clock::now_rfc3339(),
            reason: reason.to_string(),
            commit,
            image,
            release_volume: None,
            database,
            filestore,
            odoo_ci: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The restic tags `backups list` shows without restoring anything.
    pub fn tags(&self) -> Vec<String> {
        let mut tags = vec!["odoo-ci".to_string(), format!("reason={}", self.reason)];
        if let Some(c) = &self.commit {
            tags.push(format!("commit={c}"));
        }
        tags
    }

    pub fn write(&self, dir: &Path) -> Result<(), BackupError> {
        let path = dir.join(MANIFEST);
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, json).map_err(io(&path))
    }

    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{MANIFEST}: {e}"))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| format!("{MANIFEST}: {e}"))?;
        if manifest.format != 1 {
            return Err(format!(
                "{MANIFEST} has format {} (this odoo-ci reads 1): restore it with a newer odoo-ci",
                manifest.format
            ));
        }
        Ok(manifest)
    }
}

/// The SHA-256 of the file at `path`, in hex.
pub fn sha256_of(path: &Path) -> Result<String, BackupError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
