//! The steps a stage runs, typed, with everything each needs to know: the plan lists them;
//! the stage runs them in that order, taking each one's parameters from the plan (see
//! [`crate::stages::runner`]), so what `odoo-ci plan` shows is what runs. Their `Display`
//! is the text of `odoo-ci plan`.

use std::fmt;

use serde::Serialize;

use crate::config::schema::WarningPolicy;
use crate::config::PushMode;
use crate::plan::odoo_command::OdooCommand;

/// What kind of step: how a stage names the step it is about to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Lock,
    Build,
    Release,
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
    Keep,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Lock => "lock",
            StepKind::Build => "build",
            StepKind::Release => "release",
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
            StepKind::Keep => "keep",
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
    Lock(Lock),
    Build(Build),
    Release(Release),
    Mount(Mount),
    Local(Local),
    Template(Template),
    Database(Database),
    InstallAndTest(InstallAndTest),
    Copy(Copy),
    Neutralize(Neutralize),
    Verify(Verify),
    Backup(Backup),
    Snapshot(Snapshot),
    Fetch(Fetch),
    Restore(Restore),
    Update(Update),
    Start(Start),
    Health(Health),
    Switch(Switch),
    Settle(Settle),
    StopOld(StopOld),
    Prune(Prune),
    Rollback(Rollback),
    Keep(Keep),
}

/// One run at a time of what the lock names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lock {
    pub what: String,
}

/// Build the commit's image from the base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    pub image: String,
    pub base: String,
    /// How many of the project's images the engine keeps (`odoo.keep_images`).
    pub keep: u32,
    /// The Docker network Odoo's containers join (`odoo.docker_network`; production's
    /// own network on production).
    pub network: String,
    /// Folders of the project that never go into the image (odoo-ci's own outputs and
    /// caches: they change every run), relative to the project's root.
    pub ignore: Vec<String>,
    /// Why the image gets a browser for the tours (`development.browser`), when it does.
    pub browser: Option<String>,
}

/// No build: the base image runs with the project mounted read-only (the project has no
/// Dockerfile and no requirements.txt, and the engine sees this machine's files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub base: String,
    /// The Docker network Odoo's containers join (`odoo.docker_network`).
    pub network: String,
    /// Why the base image gets a browser for the tours, when it does: built once per base
    /// image into an image of its own, which then runs every commit mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
}

/// No build: the commit's files carried into a release volume of the project, named by
/// their content, and mounted read-only into the base image (the project has no
/// Dockerfile and no requirements.txt). What staging and production run; the volume
/// stays as long as a release uses it, and for a rollback to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub base: String,
    /// How many of the project's releases the engine keeps (`odoo.keep_images`).
    pub keep: u32,
    /// The Docker network Odoo's containers join.
    pub network: String,
    /// Folders of the project that never go into a release (as [`Build::ignore`]).
    pub ignore: Vec<String>,
    /// The project has requirements: they go into a dependencies image built once per
    /// their content (`FROM base`, no project files), which runs the release.
    pub requirements: bool,
}

/// No image: the local executor runs `odoo.command` on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Local {
    /// `None` when `odoo.command` is not set (the plan says so; the stage refuses).
    pub command: Option<String>,
}

/// The cached template database (demo data, `preinstall` installed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub preinstall: Vec<String>,
    /// The folder templates travel in between jobs (`development.template_cache`).
    pub cache: Option<String>,
    /// How many of the project's templates are kept (`development.keep_templates`).
    pub keep: u32,
    /// Why the template holds Odoo's asset bundles, when it does: the tests start a browser,
    /// and Odoo would otherwise make every bundle before the first one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<String>,
}

/// A fresh test database from the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Database;

/// Install the addons with their tests, reading the log as it streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallAndTest {
    /// The command, on no database yet: the stage names the test database it makes.
    pub command: OdooCommand,
    /// What a warning in the log does to the colour (`development.warnings`).
    pub warnings: WarningPolicy,
    /// Warnings that do not count, as regular expressions (`development.ignore_warnings`).
    pub ignore_warnings: Vec<String>,
}

/// Production's database and filestore into a new staging database, or (`push: update`)
/// the branch's staging database reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub push: PushMode,
    pub reuse: Option<String>,
    /// `stage --from-backup`: this backup of production, not production as it is.
    pub from_backup: Option<String>,
    /// `stage --from-snapshot`: this snapshot of production (a name or deployment id).
    pub from_snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neutralize {
    pub command: String,
}

/// Prove the copy is neutralized (fail closed: drop it if not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verify;

/// A backup of production to the backup repository (`production.backup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    pub repository: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub keep: u32,
    /// Production refuses writes from the snapshot until the new release has settled (the
    /// deploy changes data: a rollback restores the snapshot).
    pub read_only: bool,
}

/// A backup from the backup repository, checked and kept as a snapshot of production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fetch {
    pub backup: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restore {
    pub from: RestoreSource,
}

/// Update and install modules; `command` is `None` when there is nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    /// On no database yet: the stage names the one it updates.
    pub command: Option<OdooCommand>,
    /// Why the lists may still change (they come from git, not from the database).
    pub provisional: Option<String>,
    /// Staging: the neutralization run again after the update, before the verification (an
    /// update writes back what its modules' data defines: mail servers, crons).
    pub neutralize_after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Start {
    pub what: String,
    /// The URL the server is routed at on Caddy once healthy (`staging.proxy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// The swarm the server runs on as a service (`engine: swarm`): placed by its
    /// constraints, its data dir a volume of its driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<crate::config::SwarmSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub path: String,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Switch {
    pub alias: String,
}

/// Watch the new release for a while after the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settle {
    pub secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopOld;

/// Keep the newest `keep` of what `what` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prune {
    pub what: String,
    pub keep: u32,
}

/// Only on failure: put the previous release back, and the snapshot when the deploy
/// changed data (`restore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    pub restore: bool,
    /// The check the previous release must pass once it serves again.
    pub health: Health,
}

/// Development: a green or yellow build stays up as the branch's preview — its tested
/// database renamed to the branch's preview, served by the commit's image — replacing the
/// branch's older one; then the project's previews are kept within their budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Keep {
    pub database: String,
    pub container: String,
    /// How long it stays up (`development.keep`).
    pub for_secs: u64,
    /// The project's previews kept and running at most (`previews.max_kept`,
    /// `previews.max_running`), oldest out first.
    pub max_kept: u32,
    pub max_running: u32,
    /// Running previews idle this long are stopped (`previews.idle_after`).
    pub idle_after: Option<u64>,
    /// The check its server must pass.
    pub health: Health,
    /// Its URL, routed by Caddy (`previews.proxy`); else its server's own port.
    pub route: Option<Route>,
    /// The image of the mail catcher that receives its mail (`previews.mail_catcher`).
    pub mail_catcher: Option<String>,
    /// It lives on a remote engine (`DOCKER_HOST`), its filestore in a volume there; else
    /// on this machine's engine, its filestore in the data dir.
    pub remote: bool,
    /// The swarm it runs on as a service (`engine: swarm`), its filestore in a volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<crate::config::SwarmSection>,
}

/// A preview's route on Caddy: its URL, and the admin endpoint and server it is added to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub url: String,
    pub caddy: String,
    pub server: String,
    /// Where Caddy sends the requests of a stopped preview (`previews.proxy.wake`).
    pub wake: Option<String>,
}

/// The parameters of one kind of step: a stage names the step it runs next by them, and
/// the runner hands over the plan's (see [`crate::stages::runner::Runner::step`]).
pub trait Params: Sized + Clone {
    const KIND: StepKind;
    fn of(step: &Step) -> Option<&Self>;
}

macro_rules! params {
    ($($variant:ident),* $(,)?) => {
        $(impl Params for $variant {
            const KIND: StepKind = StepKind::$variant;
            fn of(step: &Step) -> Option<&Self> {
                match step {
                    Step::$variant(params) => Some(params),
                    _ => None,
                }
            }
        })*

        impl Step {
            pub fn kind(&self) -> StepKind {
                match self {
                    $(Step::$variant(_) => StepKind::$variant,)*
                }
            }
        }

        impl fmt::Display for Step {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Step::$variant(params) => params.fmt(f),)*
                }
            }
        }
    };
}

params!(
    Lock,
    Build,
    Release,
    Mount,
    Local,
    Template,
    Database,
    InstallAndTest,
    Copy,
    Neutralize,
    Verify,
    Backup,
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
    Keep,
);

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = crate::config::schema::KeepFor {
            secs: self.for_secs,
        };
        write!(
            f,
            "when green or yellow, keep the tested database as `{}` and serve it ({}) for {days} as the branch's preview, replacing its older one; the project keeps {} previews, {} running (oldest out first); a red build is not kept",
            self.database, self.container, self.max_kept, self.max_running
        )?;
        match (self.remote, self.swarm.is_some()) {
            (_, true) => write!(f, "; it lives on the swarm as a service (scaled to zero when stopped), its filestore in a volume there")?,
            (true, false) => write!(f, "; it lives on the remote Docker engine (`DOCKER_HOST`), its filestore in a volume there")?,
            (false, false) => write!(f, "; it lives on this machine's Docker engine")?,
        }
        if let Some(secs) = self.idle_after {
            let idle = crate::config::schema::KeepFor { secs };
            write!(f, "; a preview idle for {idle} is stopped")?;
        }
        if let Some(route) = &self.route {
            write!(f, "; at {} (a route on Caddy, {})", route.url, route.caddy)?;
            if let Some(wake) = &route.wake {
                write!(
                    f,
                    ", woken on its first request when stopped (`odoo-ci previews wake` at {wake})"
                )?;
            }
        }
        match &self.mail_catcher {
            Some(image) => write!(f, "; neutralized, its mail to a catcher ({image})")?,
            None => write!(f, "; neutralized, its mail going nowhere")?,
        }
        Ok(())
    }
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "take the lock: {}", self.what)
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Build {
            image,
            base,
            keep,
            network,
            ignore: _,
            browser,
        } = self;
        write!(
            f,
            "build image `{image}` FROM `{base}` (repo Dockerfile when present; the project's newest {keep} images kept)"
        )?;
        if let Some(why) = browser {
            write!(f, "; with a browser for the tours: {why}")?;
        }
        on_network(f, network)
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "run `{}` with the project mounted read-only (no Dockerfile, no requirements.txt: nothing to build)",
            self.base
        )?;
        if let Some(why) = &self.browser {
            write!(
                f,
                "; with a browser for the tours: {why}, built once into an image of `{}`",
                self.base
            )?;
        }
        on_network(f, &self.network)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.requirements {
            false => write!(
                f,
                "carry the commit's files into a release volume and run `{}` with it mounted read-only (no Dockerfile, no requirements.txt: nothing to build; the project's newest {} releases kept)",
                self.base, self.keep
            )?,
            true => write!(
                f,
                "carry the commit's files into a release volume and run them read-only in a dependencies image: `{}` with requirements.txt installed, built once per requirements (no Dockerfile; the project's newest {} releases kept)",
                self.base, self.keep
            )?,
        }
        on_network(f, &self.network)
    }
}

/// Names the network Odoo's containers join.
fn on_network(f: &mut fmt::Formatter<'_>, network: &str) -> fmt::Result {
    write!(f, "; Odoo runs on network `{network}`")
}

impl fmt::Display for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = self
            .command
            .as_deref()
            .unwrap_or("(odoo.command is not set)");
        write!(
            f,
            "run `{command}` on this machine (local executor: no image)"
        )
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let preinstalled = match self.preinstall.is_empty() {
            true => "base".to_string(),
            false => self.preinstall.join(","),
        };
        write!(
            f,
            "the cached template database with demo data ({preinstalled} preinstalled; "
        )?;
        match &self.cache {
            None => f.write_str("built on a miss")?,
            Some(dir) => write!(
                f,
                "on a miss restored from `{dir}`, or built and saved there"
            )?,
        }
        write!(f, "; the newest {} kept)", self.keep)?;
        if let Some(why) = &self.assets {
            write!(f, "; Odoo's asset bundles made in it: {why}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("create a fresh test database from the template")
    }
}

impl fmt::Display for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "check the copy is neutralized (fail closed: drop it if not), again after the update",
        )
    }
}

impl fmt::Display for StopOld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stop the old release")
    }
}

impl fmt::Display for InstallAndTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warnings = match self.warnings {
            WarningPolicy::Yellow => "a warning makes it yellow",
            WarningPolicy::Red => "a warning makes it red",
            WarningPolicy::Ignore => "warnings are counted, the colour ignores them",
        };
        write!(
            f,
            "{} — the log becomes JUnit, summary and colour ({warnings})",
            self.command.describe()
        )
    }
}

impl fmt::Display for Copy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.from_backup {
            return write!(
                f,
                "restore backup `{id}` of production (database and filestore, its checksum and fingerprint checked) into a new staging database"
            );
        }
        if let Some(key) = &self.from_snapshot {
            return write!(
                f,
                "clone production's snapshot `{key}` into a new staging database (CREATE DATABASE … TEMPLATE on production's server, else dump and restore; its filestore hard-linked where possible)"
            );
        }
        match (self.push, &self.reuse) {
            (PushMode::Update, Some(db)) => write!(f, "reuse `{db}` (push: update)"),
            (PushMode::Update, None) => f.write_str(
                "reuse this branch's staging database (copy production on the first push)",
            ),
            (PushMode::Fresh, _) => f.write_str(
                "copy the production database and filestore into a new staging database",
            ),
        }
    }
}

impl fmt::Display for Neutralize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: mail servers, crons, payment providers, webhooks off (a new copy only)",
            self.command
        )
    }
}

impl fmt::Display for Backup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "back production up to `{}` before it changes (restic: database, filestore, the serving image; production still takes writes)",
            self.repository
        )
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.read_only {
            f.write_str("production refuses writes from here until the new release has settled; ")?;
        }
        write!(
            f,
            "snapshot the database and filestore (keep {})",
            self.keep
        )
    }
}

impl fmt::Display for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fetch backup `{}` from the backup repository, check its checksum and fingerprint, keep it as a snapshot",
            self.backup
        )
    }
}

impl fmt::Display for Restore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            RestoreSource::Snapshot(snapshot) => {
                write!(f, "restore the database and filestore of `{snapshot}`")
            }
            RestoreSource::Backup(id) => {
                write!(f, "restore the database and filestore of backup `{id}`")
            }
        }
    }
}

impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.command {
            Some(c) => f.write_str(&c.describe())?,
            None => f.write_str("nothing to update or install")?,
        }
        if let Some(n) = &self.neutralize_after {
            write!(
                f,
                ", with no server on the copy; then {n} again and the check again"
            )?;
        }
        match &self.provisional {
            Some(why) => write!(f, " (provisional: {why})"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "start {}", self.what)?;
        if self.swarm.is_some() {
            write!(
                f,
                "; as a Swarm service, replaced start-first (the branch's server before serves until this one is healthy; Swarm rolls back one that is not)"
            )?;
        }
        if let Some(route) = &self.route {
            write!(
                f,
                "; at {} once healthy (a route on Caddy, {})",
                route.url, route.caddy
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Health { path, timeout_secs } = self;
        write!(
            f,
            "GET {path} until it answers 200 (timeout {timeout_secs} s)"
        )
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "move the network alias `{}` to the new release",
            self.alias
        )
    }
}

impl fmt::Display for Settle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "watch the new release for {} s after the switch, then check it again",
            self.secs
        )
    }
}

impl fmt::Display for Prune {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keep the newest {} {}", self.keep, self.what)
    }
}

impl fmt::Display for Rollback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.health.path;
        match self.restore {
            true => write!(
                f,
                "only on failure: restore the snapshot, put the previous release back and wait for {path} to answer 200"
            ),
            false => write!(
                f,
                "only on failure: put the previous release back and wait for {path} to answer 200 (no module is updated, so the data is never restored: no write is lost)"
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
