//! The steps a stage runs, typed, with what each needs to know. The plan lists them; the
//! stage walks them in that order (see [`crate::stages::runner`]); their `Display` is the
//! text of `odoo-ci plan`.

use std::fmt;

use serde::Serialize;

use crate::config::PushMode;

/// What kind of step: how a stage names the step it is about to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Lock,
    Build,
    Backup,
    Mount,
    Local,
    Template,
    Database,
    InstallAndTest,
    Copy,
    Neutralize,
    Verify,
    Snapshot,
    Fetch,
    Restore,
    Update,
    Start,
    Health,
    Switch,
    Settle,
    StopOld,
    Prune,
    Rollback,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Lock => "lock",
            StepKind::Build => "build",
            StepKind::Backup => "backup",
            StepKind::Mount => "mount",
            StepKind::Local => "local",
            StepKind::Template => "template",
            StepKind::Database => "database",
            StepKind::InstallAndTest => "install-and-test",
            StepKind::Copy => "copy",
            StepKind::Neutralize => "neutralize",
            StepKind::Verify => "verify",
            StepKind::Snapshot => "snapshot",
            StepKind::Fetch => "fetch",
            StepKind::Restore => "restore",
            StepKind::Update => "update",
            StepKind::Start => "start",
            StepKind::Health => "health",
            StepKind::Switch => "switch",
            StepKind::Settle => "settle",
            StepKind::StopOld => "stop-old",
            StepKind::Prune => "prune",
            StepKind::Rollback => "rollback",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rollback puts back: a snapshot on production's server, or a backup from the
/// backup repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum RestoreSource {
    /// A snapshot's name or a deployment id (`rollback --to`).
    Snapshot(String),
    /// A backup id (`rollback --backup`).
    Backup(String),
}

/// One step of a plan, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Step {
    /// One run at a time of what the lock names.
    Lock {
        what: String,
    },
    /// Build the commit's image from the base image.
    Build {
        image: String,
        base: String,
    },
    /// No build: the base image runs with the project mounted read-only (the project has
    /// no Dockerfile and no requirements.txt, and the engine sees this machine's files).
    Mount {
        base: String,
    },
    /// No image: the local executor runs `odoo.command` on this machine.
    Local {
        command: String,
    },
    /// The cached template database (demo data, `preinstall` installed).
    Template {
        preinstall: Vec<String>,
        /// The folder templates travel in between jobs (`development.template_cache`).
        cache: Option<String>,
    },
    /// A fresh test database from the template.
    Database,
    /// Install the addons with their tests, reading the log as it streams.
    InstallAndTest {
        command: String,
    },
    /// Production's database and filestore into a new staging database, or (`push:
    /// update`) the branch's staging database reused.
    Copy {
        push: PushMode,
        reuse: Option<String>,
        /// `stage --from-backup`: this backup of production, not production as it is.
        from_backup: Option<String>,
    },
    Neutralize {
        command: String,
    },
    /// Prove the copy is neutralized (fail closed: drop it if not).
    Verify,
    /// A backup of production to the backup repository (`production.backup`).
    Backup {
        repository: String,
    },
    Snapshot {
        keep: u32,
        /// Production refuses writes from the snapshot until the new release has settled
        /// (the deploy changes data: a rollback restores the snapshot).
        read_only: bool,
    },
    /// A backup from the backup repository, checked and kept as a snapshot of production.
    Fetch {
        backup: String,
    },
    Restore {
        from: RestoreSource,
    },
    /// Update and install modules; `command` is `None` when there is nothing to do.
    Update {
        command: Option<String>,
        /// Why the lists may still change (they come from git, not from the database).
        provisional: Option<String>,
        /// Staging: the neutralization run again after the update, before the verification
        /// (an update writes back what its modules' data defines: mail servers, crons).
        neutralize_after: Option<String>,
    },
    Start {
        what: String,
    },
    Health {
        path: String,
        timeout_secs: u64,
    },
    Switch {
        alias: String,
    },
    /// Watch the new release for a while after the switch.
    Settle {
        secs: u64,
    },
    StopOld,
    /// Keep the newest `keep` of what `what` names.
    Prune {
        what: String,
        keep: u32,
    },
    /// Only on failure: put the previous release back, and the snapshot when the deploy
    /// changed data (`restore`).
    Rollback {
        restore: bool,
    },
}

impl Step {
    pub fn kind(&self) -> StepKind {
        match self {
            Step::Lock { .. } => StepKind::Lock,
            Step::Build { .. } => StepKind::Build,
            Step::Mount { .. } => StepKind::Mount,
            Step::Local { .. } => StepKind::Local,
            Step::Template { .. } => StepKind::Template,
            Step::Database => StepKind::Database,
            Step::InstallAndTest { .. } => StepKind::InstallAndTest,
            Step::Copy { .. } => StepKind::Copy,
            Step::Neutralize { .. } => StepKind::Neutralize,
            Step::Verify => StepKind::Verify,
            Step::Backup { .. } => StepKind::Backup,
            Step::Snapshot { .. } => StepKind::Snapshot,
            Step::Fetch { .. } => StepKind::Fetch,
            Step::Restore { .. } => StepKind::Restore,
            Step::Update { .. } => StepKind::Update,
            Step::Start { .. } => StepKind::Start,
            Step::Health { .. } => StepKind::Health,
            Step::Switch { .. } => StepKind::Switch,
            Step::Settle { .. } => StepKind::Settle,
            Step::StopOld => StepKind::StopOld,
            Step::Prune { .. } => StepKind::Prune,
            Step::Rollback { .. } => StepKind::Rollback,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Lock { what } => write!(f, "take the lock: {what}"),
            Step::Build { image, base } => write!(
                f,
                "build image `{image}` FROM `{base}` (repo Dockerfile when present)"
            ),
            Step::Mount { base } => write!(
                f,
                "run `{base}` with the project mounted read-only (no Dockerfile, no requirements.txt: nothing to build)"
            ),
            Step::Local { command } => {
                write!(f, "run `{command}` on this machine (local executor: no image)")
            }
            Step::Template { preinstall, cache } => {
                let preinstalled = if preinstall.is_empty() {
                    "base".to_string()
                } else {
                    preinstall.join(",")
                };
                match cache {
                    None => write!(
                        f,
                        "the cached template database with demo data ({preinstalled} preinstalled; built on a miss)"
                    ),
                    Some(dir) => write!(
                        f,
                        "the cached template database with demo data ({preinstalled} preinstalled; on a miss restored from `{dir}`, or built and saved there)"
                    ),
                }
            }
            Step::Database => write!(f, "create a fresh test database from the template"),
            Step::InstallAndTest { command } => {
                write!(f, "{command} — the log becomes JUnit, summary and colour")
            }
            Step::Copy {
                from_backup: Some(id),
                ..
            } => write!(
                f,
                "restore backup `{id}` of production (database and filestore, its checksum and fingerprint checked) into a new staging database"
            ),
            Step::Copy { push, reuse, .. } => match (push, reuse) {
                (PushMode::Update, Some(db)) => write!(f, "reuse `{db}` (push: update)"),
                (PushMode::Update, None) => write!(
                    f,
                    "reuse this branch's staging database (copy production on the first push)"
                ),
                (PushMode::Fresh, _) => write!(
                    f,
                    "copy the production database and filestore into a new staging database"
                ),
            },
            Step::Neutralize { command } => write!(
                f,
                "{command}: mail servers, crons, payment providers, webhooks off (a new copy only)"
            ),
            Step::Verify => write!(
                f,
                "check the copy is neutralized (fail closed: drop it if not), again after the update"
            ),
            Step::Backup { repository } => write!(
                f,
                "back production up to `{repository}` before it changes (restic: database, filestore, the serving image; production still takes writes)"
            ),
            Step::Snapshot { keep, read_only } => {
                if *read_only {
                    write!(f, "production refuses writes from here until the new release has settled; ")?;
                }
                write!(f, "snapshot the database and filestore (keep {keep})")
            }
            Step::Restore {
                from: RestoreSource::Snapshot(snapshot),
            } => write!(f, "restore the database and filestore of `{snapshot}`"),
            Step::Fetch { backup } => write!(
                f,
                "fetch backup `{backup}` from the backup repository, check its checksum and fingerprint, keep it as a snapshot"
            ),
            Step::Restore {
                from: RestoreSource::Backup(id),
            } => write!(f, "restore the database and filestore of backup `{id}`"),
            Step::Update {
                command,
                provisional,
                neutralize_after,
            } => {
                match command {
                    Some(c) => write!(f, "{c}")?,
                    None => write!(f, "nothing to update or install")?,
                }
                if let Some(n) = neutralize_after {
                    write!(
                        f,
                        ", with no server on the copy; then {n} again and the check again"
                    )?;
                }
                match provisional {
                    Some(why) => write!(f, " (provisional: {why})"),
                    None => Ok(()),
                }
            }
            Step::Start { what } => write!(f, "start {what}"),
            Step::Health { path, timeout_secs } => write!(
                f,
                "GET {path} until it answers 200 (timeout {timeout_secs} s)"
            ),
            Step::Switch { alias } => {
                write!(f, "move the network alias `{alias}` to the new release")
            }
            Step::Settle { secs } => write!(
                f,
                "watch the new release for {secs} s after the switch, then check it again"
            ),
            Step::StopOld => write!(f, "stop the old release"),
            Step::Prune { what, keep } => write!(f, "keep the newest {keep} {what}"),
            Step::Rollback { restore: true } => write!(
                f,
                "only on failure: restore the snapshot and put the previous release back"
            ),
            Step::Rollback { restore: false } => write!(
                f,
                "only on failure: put the previous release back (no module is updated, so the data is never restored: no write is lost)"
            ),
        }
    }
}

/// A step as the plan's JSON shows it: its name and parameters, and the sentence.
pub fn serialize_steps<S: serde::Serializer>(steps: &[Step], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(steps.len()))?;
    for step in steps {
        let mut value = serde_json::to_value(step).map_err(serde::ser::Error::custom)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("description".into(), step.to_string().into());
        }
        seq.serialize_element(&value)?;
    }
    seq.end()
}
