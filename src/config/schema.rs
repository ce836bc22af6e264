//! The `.odoo-ci.yml` schema: every key, its type and its default.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::template::Templated;
use crate::addons::Series;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// What scopes every name odoo-ci makes (containers, databases, templates, images):
    /// default the repository (`owner/name` in CI), else the project folder's name. Set it
    /// when one project is run from checkouts with different names.
    #[serde(default)]
    pub project: Option<String>,
    pub odoo: OdooSection,
    /// Folders holding addons, relative to the repo root; globs allowed (`vendor/*`).
    #[serde(default = "default_addons_paths")]
    pub addons_paths: Vec<String>,
    /// Ordered rules: the first whose glob matches the branch gives the stage. Unset: see
    /// [`default_branches`].
    #[serde(default)]
    pub branches: Vec<BranchRule>,
    /// Environment variables passed to Odoo in every stage.
    #[serde(default)]
    pub env: BTreeMap<String, Templated>,
    #[serde(default)]
    pub development: DevelopmentSection,
    #[serde(default)]
    pub staging: StagingSection,
    #[serde(default)]
    pub previews: PreviewsSection,
    #[serde(default)]
    pub production: ProductionSection,
    #[serde(default)]
    pub version_guard: VersionGuard,
    /// The PostgreSQL server for test, template and staging databases.
    #[serde(default)]
    pub postgres: PostgresSection,
    /// How the colour reaches the Git host.
    #[serde(default)]
    pub report: ReportSection,
    /// What runs the servers that stay up (staging's): containers on the Docker engine,
    /// or services of the Docker Swarm that engine manages.
    #[serde(default)]
    pub engine: EngineKind,
    /// Where and on what storage Swarm services run (`engine: swarm`).
    #[serde(default)]
    pub swarm: Option<SwarmSection>,
}

/// `engine`: what runs the servers that stay up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Containers on the Docker engine (`DOCKER_HOST`, else this machine's).
    #[default]
    Docker,
    /// Services of the Swarm whose manager is that engine: placed on its nodes, restarted
    /// by it, replaced start-first and rolled back by it when the new one is not healthy.
    Swarm,
}

/// `swarm`: placement and storage of odoo-ci's services.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SwarmSection {
    /// Placement constraints, as `docker service create --constraint` takes them
    /// (`node.labels.odoo == yes`, `node.hostname == odoo-1`).
    #[serde(default)]
    pub constraints: Vec<String>,
    /// The volume driver of a server's data dir (its filestore). On a swarm of more than
    /// one node it must be storage every node sees (an NFS `local` volume through
    /// `volume_options`, or a plugin), unless a constraint pins the services to one node.
    #[serde(default)]
    pub volume_driver: Option<String>,
    /// The driver's options (`type: nfs`, `o: addr=10.0.0.5,rw`, `device: ":/srv/odoo"`).
    #[serde(default)]
    pub volume_options: BTreeMap<String, String>,
    /// Where odoo-ci pushes the commit's image for every node to pull
    /// (`registry.example.com:5000/team`); the code then travels in the image. Unset: the
    /// services are pinned to the manager odoo-ci drives, which has the image.
    #[serde(default)]
    pub registry: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// On GitHub: `auto` (a check run when the token may create one, else a commit
    /// status), `checks`, `statuses` or `both`. One channel by default, so a pull request
    /// shows each stage once and each failure is annotated once.
    #[serde(default)]
    pub github: GithubChannel,
    /// One comment per stage on the pull request (GitHub) or merge request (GitLab), with
    /// the summary, edited in place on every push. Off by default.
    #[serde(default)]
    pub comment: bool,
}

/// Where a stage's colour shows on GitHub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GithubChannel {
    #[default]
    Auto,
    Checks,
    Statuses,
    Both,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSection {
    /// `postgresql://user:password@host:port` (use `${VAR}`); default: the `PG*` variables.
    #[serde(default)]
    pub url: Option<Templated>,
    /// Without `url` or `PG*` variables: run PostgreSQL from this image (the official
    /// `postgres` image's contract), kept between runs.
    #[serde(default)]
    pub image: Option<String>,
}

fn default_addons_paths() -> Vec<String> {
    vec![".".into()]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OdooSection {
    #[serde(deserialize_with = "series")]
    #[serde(serialize_with = "series_out")]
    pub series: Series,
    /// The Odoo base image the generated Dockerfile starts `FROM` (default: the official
    /// `odoo:<series>`).
    #[serde(default)]
    pub image: String,
    /// Run Odoo as a local process with this command instead of in Docker (e.g. `odoo`).
    #[serde(default)]
    pub command: Option<String>,
    /// The Docker network Odoo containers join; `host` reaches a PostgreSQL on the runner.
    #[serde(default = "host_network")]
    pub docker_network: String,
    /// How many of this project's images a build keeps (the newest; in-use ones always).
    #[serde(default = "five")]
    pub keep_images: u32,
    /// Addons paths from outside the repository — the Odoo Enterprise checkout beside it,
    /// say — relative to the project folder or absolute, `${VAR}` allowed. Their addons
    /// are installed when the project's depend on them, never tested; images carry them.
    #[serde(default)]
    pub extra_addons_paths: Vec<Templated>,
}

fn host_network() -> String {
    "host".into()
}

fn series<'de, D: Deserializer<'de>>(d: D) -> Result<Series, D::Error> {
    let text = d.deserialize_any(super::template::ScalarVisitor)?;
    let text = if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    };
    text.parse().map_err(serde::de::Error::custom)
}

fn series_out<S: serde::Serializer>(s: &Series, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&s.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Development,
    Staging,
    Production,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules a config without `branches` gets, as most teams name their branches: with a
/// production database, `main` and `master` deploy to production and `staging*` are
/// staging; every other branch — all of them without a production database — is
/// development, so a minimal config never deploys by surprise.
pub fn default_branches(has_production: bool) -> Vec<BranchRule> {
    let rule = |pattern: &str, stage| BranchRule {
        pattern: pattern.into(),
        stage,
    };
    let mut rules = Vec::new();
    if has_production {
        // One rule: one production branch, whichever of the two the repository uses.
        rules.push(rule("{main,master}", Stage::Production));
        rules.push(rule("staging*", Stage::Staging));
    }
    rules.push(rule("*", Stage::Development));
    rules
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BranchRule {
    #[serde(rename = "match")]
    pub pattern: String,
    pub stage: Stage,
}

/// `all`, or a list of addon names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub enum AddonSelection {
    #[default]
    All,
    Only(Vec<String>),
}

impl<'de> Deserialize<'de> for AddonSelection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AddonSelection;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`all` or a list of addon names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AddonSelection, E> {
                if v == "all" {
                    Ok(AddonSelection::All)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AddonSelection, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<String>()? {
                    names.push(n);
                }
                Ok(AddonSelection::Only(names))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WarningPolicy {
    /// Warnings make the build yellow.
    #[default]
    Yellow,
    /// Warnings make the build red.
    Red,
    /// Warnings are counted but leave the build green.
    Ignore,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DevelopmentSection {
    /// Repo addons to install (their repo dependencies come along).
    #[serde(default)]
    pub install: AddonSelection,
    /// Repo addons whose tests run; default: the installed ones.
    #[serde(default)]
    pub test: Option<AddonSelection>,
    /// Non-repo addons preinstalled (with demo data) in the cached template database.
    #[serde(default)]
    pub preinstall: Vec<String>,
    /// `--test-tags`; default `/addon` for each tested addon.
    #[serde(default)]
    pub test_tags: Option<String>,
    #[serde(default)]
    pub warnings: WarningPolicy,
    /// Regexes matched against `logger: message` of WARNING records to ignore.
    #[serde(default)]
    pub ignore_warnings: Vec<String>,
    /// How many CI jobs split the tests (`--shard K/N`).
    #[serde(default = "one")]
    pub shards: u32,
    /// Template databases kept (the newest); older ones are dropped.
    #[serde(default = "three")]
    pub keep_templates: u32,
    /// The longest an Odoo run may take.
    #[serde(default = "hour")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub env: BTreeMap<String, Templated>,
    /// Whether the development stage builds the commit's image.
    #[serde(default)]
    pub build: DevBuild,
    /// A folder (relative to the project) where template databases travel between jobs:
    /// on a miss, restored from it when it holds this template, else built and saved into
    /// it. Point a CI cache (`actions/cache`, GitLab `cache:`) at it, keyed by
    /// `odoo-ci cache key`.
    #[serde(default)]
    pub template_cache: Option<std::path::PathBuf>,
    /// Whether the development image gets a browser for the tours (`HttpCase` browser
    /// tests), which the official images lack.
    #[serde(default)]
    pub browser: BrowserMode,
    /// How long a green or yellow build stays up as a preview people open (`3d`, `12h`);
    /// unset: nothing stays up once the tests end.
    #[serde(default)]
    pub keep: Option<KeepFor>,
}

/// A duration written as a number and a unit: `3d`, `12h`, `90m`, `45s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct KeepFor {
    pub secs: u64,
}

impl KeepFor {
    pub fn parse(text: &str) -> Option<KeepFor> {
        let text = text.trim();
        let unit = match text.chars().last()? {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = text[..text.len() - 1].parse().ok().filter(|n| *n > 0)?;
        n.checked_mul(unit).map(|secs| KeepFor { secs })
    }
}

impl std::fmt::Display for KeepFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.secs {
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl From<KeepFor> for String {
    fn from(k: KeepFor) -> String {
        k.to_string()
    }
}

impl<'de> Deserialize<'de> for KeepFor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        KeepFor::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration: write a number and a unit, e.g. 3d, 12h or 90m"
            ))
        })
    }
}

/// The builds that stay up (`development.keep`): how many, oldest first out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewsSection {
    /// Previews kept (databases and servers); beyond it the oldest are dropped.
    #[serde(default = "ten")]
    pub max_kept: u32,
    /// Previews running; beyond it the oldest are stopped (their databases kept) until
    /// `odoo-ci previews start`.
    #[serde(default = "three")]
    pub max_running: u32,
    /// A running preview that served no request (health checks aside) for this long is
    /// stopped, its database kept (`2h`); unset: only the budget stops previews.
    #[serde(default)]
    pub idle_after: Option<KeepFor>,
    /// A URL per preview, routed by the Caddy this names.
    #[serde(default)]
    pub proxy: Option<PreviewProxy>,
    /// A mail catcher odoo-ci runs beside each preview (`{image: axllent/mailpit}`): its
    /// mail is sent there (the mail queue's cron kept on), readable in its web UI.
    #[serde(default)]
    pub mail_catcher: Option<RunCatcher>,
}

/// `previews.proxy`: the Caddy whose admin API odoo-ci adds each preview's route to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PreviewProxy {
    /// Caddy's admin endpoint, e.g. `http://127.0.0.1:2019`.
    pub caddy: String,
    /// The Caddy HTTP server (`apps.http.servers.<name>`) the routes join.
    #[serde(default = "srv0")]
    pub server: String,
    /// Each preview's URL: `{branch}` and `{project}` become DNS labels, e.g.
    /// `https://{branch}.previews.example.com` (a wildcard DNS record to Caddy's host).
    pub url: String,
    /// Where `odoo-ci previews wake` listens (`127.0.0.1:2020`, beside Caddy): a stopped
    /// preview's requests go there, which starts it and says so until it serves.
    #[serde(default)]
    pub wake: Option<String>,
}

fn srv0() -> String {
    "srv0".to_string()
}

fn ten() -> u32 {
    10
}

impl Default for PreviewsSection {
    fn default() -> Self {
        PreviewsSection {
            max_kept: 10,
            max_running: 3,
            idle_after: None,
            proxy: None,
            mail_catcher: None,
        }
    }
}

/// Whether the development image gets a browser (Chromium, or Google Chrome on Ubuntu
/// bases) and `websocket-client`, so Odoo runs the tours instead of skipping them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BrowserMode {
    /// When a tested addon's tests start a tour (`start_tour(` or `browser_js(`).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never: the tours are skipped, and the verdict says so.
    Never,
}

/// Whether the development stage builds an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DevBuild {
    /// Build only when there is something to build (a Dockerfile or a requirements.txt) or
    /// the engine cannot see this machine's files; otherwise run the base image with the
    /// project mounted read-only.
    #[default]
    Auto,
    /// Always build the commit's image, as staging and production run it.
    Always,
}

fn hour() -> u64 {
    3600
}

fn one() -> u32 {
    1
}

impl Default for DevelopmentSection {
    fn default() -> Self {
        DevelopmentSection {
            install: AddonSelection::All,
            test: None,
            preinstall: Vec::new(),
            test_tags: None,
            warnings: WarningPolicy::default(),
            ignore_warnings: Vec::new(),
            shards: 1,
            keep_templates: 3,
            timeout_secs: 3600,
            env: BTreeMap::new(),
            build: DevBuild::Auto,
            template_cache: None,
            browser: BrowserMode::Auto,
            keep: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PushMode {
    /// Each push starts from a new neutralized copy of production.
    #[default]
    Fresh,
    /// Keep the branch's staging database and update it.
    Update,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StagingSection {
    #[serde(default)]
    pub push: PushMode,
    /// The longest an Odoo run of the stage (neutralize, update) may take.
    #[serde(default = "hour")]
    pub timeout_secs: u64,
    /// Where staging's outgoing mail goes: an SMTP `host:port` that already runs, or a
    /// catcher odoo-ci runs beside each branch's server (`{image: axllent/mailpit}`).
    #[serde(default)]
    pub mail_catcher: Option<MailCatcherSetting>,
    /// Staging databases kept per branch.
    #[serde(default = "three")]
    pub keep: u32,
    /// Crons (XML ids) left active after neutralization.
    #[serde(default)]
    pub cron_allowlist: Vec<String>,
    /// The port staging's server listens on; 0 picks a free one.
    #[serde(default)]
    pub http_port: u16,
    /// The URL reported for staging (default `http://127.0.0.1:<port>`).
    #[serde(default)]
    pub url: Option<Templated>,
    /// A URL per staging branch, routed by the Caddy this names, as previews' are
    /// (`wake` does not apply: a staging server is not stopped when idle).
    #[serde(default)]
    pub proxy: Option<PreviewProxy>,
    /// Host folder holding staging's filestores (default: the odoo-ci cache's data dir).
    #[serde(default)]
    pub data_dir: Option<Templated>,
    #[serde(default)]
    pub health_check: HealthCheck,
    #[serde(default)]
    pub env: BTreeMap<String, Templated>,
}

/// `staging.mail_catcher`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum MailCatcherSetting {
    /// An SMTP server that already runs, as Odoo's container reaches it: `host:port`.
    Address(String),
    /// A catcher odoo-ci runs per staging branch.
    Run(RunCatcher),
}

/// A mail catcher odoo-ci runs: an image with Mailpit's contract (SMTP on 1025, its web UI
/// and `/api/v1` on 8025).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RunCatcher {
    #[serde(default = "mailpit")]
    pub image: String,
}

fn mailpit() -> String {
    "axllent/mailpit:latest".to_string()
}

fn three() -> u32 {
    3
}

impl Default for StagingSection {
    fn default() -> Self {
        StagingSection {
            push: PushMode::default(),
            timeout_secs: hour(),
            mail_catcher: None,
            keep: 3,
            cron_allowlist: Vec::new(),
            http_port: 0,
            url: None,
            proxy: None,
            data_dir: None,
            health_check: HealthCheck::default(),
            env: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMode {
    /// Update an addon when its manifest version went up.
    #[default]
    Version,
    /// Also update addons whose content changed without a version bump.
    Hash,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(default = "health_path")]
    pub path: String,
    #[serde(default = "health_timeout")]
    pub timeout_secs: u64,
    /// After traffic moves, the new release must stay healthy this long (production).
    #[serde(default = "health_settle")]
    pub settle_secs: u64,
}

fn health_settle() -> u64 {
    5
}

fn health_path() -> String {
    "/web/health".into()
}

fn health_timeout() -> u64 {
    120
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: health_path(),
            timeout_secs: health_timeout(),
            settle_secs: health_settle(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshots {
    #[serde(default = "five")]
    pub keep: u32,
}

fn five() -> u32 {
    5
}

/// Where backups go and how long they stay: a restic repository.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// The restic repository: a folder (`/mnt/backups/acme`), `sftp:user@host:/path`,
    /// `s3:https://host/bucket/path`, … (use `${VAR}` for what differs per machine).
    pub repository: Templated,
    /// The repository's password (use `${VAR}`: a secret; restic reads it from its
    /// environment, never from a command line).
    pub password: Templated,
    /// Grandfather-father-son retention, applied after each backup.
    #[serde(default)]
    pub keep: BackupRetention,
    /// Take a backup before every deploy that updates or installs modules (default on).
    #[serde(default = "yes")]
    pub before_update: bool,
    /// restic's `-o` options (e.g. `sftp.command`, `s3.region`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Variables restic's backends read (`AWS_ACCESS_KEY_ID`, `B2_ACCOUNT_KEY`, …).
    #[serde(default)]
    pub env: BTreeMap<String, Templated>,
}

fn yes() -> bool {
    true
}

/// How many daily, weekly and monthly backups stay (Odoo.sh's 7 / 4 / 3 by default).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackupRetention {
    #[serde(default = "seven")]
    pub daily: u32,
    #[serde(default = "four")]
    pub weekly: u32,
    #[serde(default = "three")]
    pub monthly: u32,
}

fn seven() -> u32 {
    7
}

fn four() -> u32 {
    4
}

impl Default for BackupRetention {
    fn default() -> Self {
        BackupRetention {
            daily: seven(),
            weekly: four(),
            monthly: three(),
        }
    }
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots { keep: 5 }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionSection {
    /// The repo addons production runs (`all`, or names; their repo dependencies come
    /// along): those its database lacks are installed, by staging too. Unset: none — a
    /// deploy only updates what production has, and a development-only addon never lands.
    #[serde(default)]
    pub install: Option<AddonSelection>,
    /// The longest an Odoo run of the stage (the update) may take (default an hour).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Connection URL of the production database (use `${VAR}`).
    #[serde(default)]
    pub database: Option<Templated>,
    /// Host folder that is production's Odoo data dir (its filestore is
    /// `<data_dir>/filestore/<database>`), read by staging copies and snapshots.
    #[serde(default)]
    pub data_dir: Option<Templated>,
    /// Docker host serving production (`unix://`, `tcp://` with TLS, `ssh://`).
    #[serde(default)]
    pub docker_host: Option<Templated>,
    /// The Docker network of the blue and green containers (default `odoo-ci-production`).
    #[serde(default)]
    pub network: Option<String>,
    /// The network alias the proxy resolves; it moves to the new colour (default `odoo`).
    #[serde(default)]
    pub alias: Option<String>,
    /// The database host as Odoo's containers see it (default: the URL's host, with
    /// localhost mapped to the Docker host's gateway).
    #[serde(default)]
    pub db_host: Option<String>,
    #[serde(default)]
    pub health_check: HealthCheck,
    #[serde(default)]
    pub snapshots: Snapshots,
    /// Backups on another machine (restic): `odoo-ci backup`, one before every deploy that
    /// updates modules, restores into staging (`stage --from-backup`) and production
    /// (`rollback --backup`).
    #[serde(default)]
    pub backup: Option<Backup>,
    #[serde(default)]
    pub update_mode: UpdateMode,
    #[serde(default)]
    pub env: BTreeMap<String, Templated>,
}

/// What a changed addon without a version bump does to the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardLevel {
    #[default]
    Yellow,
    Red,
    Off,
}

/// Catches addons that changed without a version bump (production would not update them).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VersionGuard {
    #[serde(default)]
    pub unbumped: GuardLevel,
    /// Globs, relative to the addon folder, of changes that never need an update.
    #[serde(default = "default_guard_ignore")]
    pub ignore: Vec<String>,
}

pub fn default_guard_ignore() -> Vec<String> {
    [
        "tests/**",
        "**/*.md",
        "**/*.rst",
        "readme/**",
        "i18n/*.pot",
        "static/description/**",
    ]
    .map(String::from)
    .to_vec()
}

impl Default for VersionGuard {
    fn default() -> Self {
        VersionGuard {
            unbumped: GuardLevel::Yellow,
            ignore: default_guard_ignore(),
        }
    }
}
