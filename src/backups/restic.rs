//! The `restic` program, driven: a repository on another machine (a folder, SFTP, S3 and
//! the rest of restic's backends) that deduplicates, encrypts and checks what it stores.
//!
//! The repository and its password reach restic through its environment
//! (`RESTIC_REPOSITORY`, `RESTIC_PASSWORD`), never a command line, and restic gets no other
//! variable of the job than those it runs on and those `production.backup.env` names.
//! Contract: restic 0.14's `backup --json` summary (`snapshot_id`), `snapshots --json` and
//! `forget --json` (`remove`), as Debian bookworm ships it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::config::schema::BackupRetention;

#[derive(Debug, thiserror::Error)]
pub enum ResticError {
    #[error(
        "`restic` is not installed (hint: `apt-get install restic`, or see https://restic.readthedocs.io/en/stable/020_installation.html)"
    )]
    NotInstalled,
    #[error("cannot run restic: {0}")]
    Spawn(std::io::Error),
    #[error("restic {action} failed: {stderr}")]
    Failed {
        action: &'static str,
        stderr: String,
    },
    #[error("restic {action} answered what odoo-ci cannot read: {detail}")]
    Unreadable {
        action: &'static str,
        detail: String,
    },
}

/// One restic snapshot, as `restic snapshots --json` lists it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    pub time: String,
    pub hostname: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

impl Snapshot {
    /// The value of the tag `name=value`, if the snapshot has one.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .flatten()
            .find_map(|t| t.strip_prefix(name)?.strip_prefix('='))
    }
}

/// A restic repository and what opens it.
pub struct Restic {
    repository: String,
    password: String,
    options: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
}

/// The variables of the job restic needs to run (its cache under HOME, ssh's agent).
const RUNTIME_VARIABLES: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG", "SSH_AUTH_SOCK"];

impl Restic {
    pub fn new(
        repository: String,
        password: String,
        options: BTreeMap<String, String>,
        env: BTreeMap<String, String>,
    ) -> Restic {
        Restic {
            repository,
            password,
            options,
            env,
        }
    }

    /// `restic ARGS` with only the variables it needs.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("restic");
        cmd.env_clear()
            .envs(std::env::vars().filter(|(k, _)| RUNTIME_VARIABLES.contains(&k.as_str())))
            .envs(&self.env)
            .env("RESTIC_REPOSITORY", &self.repository)
            .env("RESTIC_PASSWORD", &self.password)
            .stdin(Stdio::null());
        for (k, v) in &self.options {
            cmd.arg("-o").arg(format!("{k}={v}"));
        }
        cmd.args(args);
        cmd
    }

    /// Runs `restic ARGS` to its end; its stdout, or its stderr as the error.
    fn run(&self, action: &'static str, args: &[&str]) -> Result<String, ResticError> {
        let out = self.command(args).output().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ResticError::NotInstalled,
            _ => ResticError::Spawn(e),
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(ResticError::Failed {
            action,
            stderr: self.masked(stderr.trim()),
        })
    }

    /// `text` without the password, nor the repository's (a `rest:` or `s3:` URL may
    /// carry credentials).
    fn masked(&self, text: &str) -> String {
        let mut out = text.replace(&self.password, "***");
        if let Some(pw) = crate::secrets::url_password(&self.repository) {
            out = out.replace(pw, "***");
        }
        out
    }

    /// Whether the repository exists (a wrong password or an unreachable server is an
    /// error, not a missing repository).
    pub fn exists(&self) -> Result<bool, ResticError> {
        match self.run("cat config", &["cat", "config"]) {
            Ok(_) => Ok(true),
            Err(ResticError::Failed { stderr, .. })
                if stderr.contains("Is there a repository")
                    || stderr.contains("does not exist") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the repository, creating it on first use; `true` when it was created.
    pub fn open_or_init(&self) -> Result<bool, ResticError> {
        if self.exists()? {
            return Ok(false);
        }
        self.run("init", &["init"])?;
        Ok(true)
    }

    /// Backs up the folder `dir` as `host`, with `tags`; returns the new snapshot's id.
    pub fn backup(&self, dir: &Path, host: &str, tags: &[String]) -> Result<String, ResticError> {
        let dir = dir.to_string_lossy();
        let mut args = vec!["backup", "--json", "--host", host];
        for t in tags {
            args.extend(["--tag", t.as_str()]);
        }
        args.push(&dir);
        let out = self.run("backup", &args)?;
        #[derive(Deserialize)]
        struct Summary {
            message_type: String,
            snapshot_id: Option<String>,
        }
        out.lines()
            .filter_map(|l| serde_json::from_str::<Summary>(l).ok())
            .find(|s| s.message_type == "summary")
            .and_then(|s| s.snapshot_id)
            .ok_or_else(|| ResticError::Unreadable {
                action: "backup",
                detail: "no summary with a snapshot id".into(),
            })
    }

    /// The snapshots of `host`, oldest first.
    pub fn snapshots(&self, host: &str) -> Result<Vec<Snapshot>, ResticError> {
        let out = self.run("snapshots", &["snapshots", "--json", "--host", host])?;
        let mut all: Vec<Snapshot> =
            serde_json::from_str(out.trim()).map_err(|e| ResticError::Unreadable {
                action: "snapshots",
                detail: e.to_string(),
            })?;
        all.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(all)
    }

    /// Restores the snapshot `id` under `target` (its paths are recreated there).
    pub fn restore(&self, id: &str, target: &Path) -> Result<(), ResticError> {
        let target = target.to_string_lossy();
        self.run("restore", &["restore", id, "--target", &target])
            .map(|_| ())
    }

    /// Applies `keep` to `host`'s snapshots (one group: whatever folder they were taken
    /// from) and prunes what no snapshot uses any more; returns the removed snapshots' ids.
    pub fn forget(&self, host: &str, keep: &BackupRetention) -> Result<Vec<String>, ResticError> {
        let (daily, weekly, monthly) = (
            keep.daily.to_string(),
            keep.weekly.to_string(),
            keep.monthly.to_string(),
        );
        let out = self.run(
            "forget",
            &[
                "forget",
                "--json",
                "--host",
                host,
                "--group-by",
                "host",
                "--keep-daily",
                &daily,
                "--keep-weekly",
                &weekly,
                "--keep-monthly",
                &monthly,
            ],
        )?;
        #[derive(Deserialize)]
        struct Group {
            remove: Option<Vec<Snapshot>>,
        }
        let groups: Vec<Group> =
            serde_json::from_str(out.trim()).map_err(|e| ResticError::Unreadable {
                action: "forget",
                detail: e.to_string(),
            })?;
        let removed: Vec<String> = groups
            .into_iter()
            .flat_map(|g| g.remove.unwrap_or_default())
            .map(|s| s.short_id)
            .collect();
        if !removed.is_empty() {
            self.run("prune", &["prune"])?;
        }
        Ok(removed)
    }
}
