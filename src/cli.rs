//! Command-line interface: the command names and flags are part of the contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "odoo-ci", version, about = "The Odoo.sh pipeline inside your own CI", long_about = None)]
pub struct Cli {
    /// The config file (its folder is the project root).
    #[arg(
        long,
        global = true,
        default_value = ".odoo-ci.yml",
        env = "ODOO_CI_CONFIG"
    )]
    pub config: PathBuf,
    /// More log output on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour: `auto` on a terminal and in GitHub Actions and GitLab CI logs (not with
    /// `NO_COLOR`), `always`, or `never`.
    #[arg(long, global = true, value_enum, default_value_t)]
    pub color: crate::style::ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starting `.odoo-ci.yml` from the addons found here: the series of their
    /// manifests and the folders that hold them.
    Init(InitArgs),
    /// Print the JSON Schema of `.odoo-ci.yml`, for editors (`odoo-ci schema >
    /// .odoo-ci.schema.json`, then `# yaml-language-server: $schema=.odoo-ci.schema.json`).
    Schema,
    /// Say what the stage for this branch would do, and do nothing (the dry run).
    Plan(PlanArgs),
    /// Inspect the repository's addons.
    #[command(subcommand)]
    Addons(AddonsCommand),
    /// Turn an Odoo log into a colour, counts, failures, JUnit and a summary.
    CheckLog(CheckLogArgs),
    /// Run the development stage: image, fresh demo database, install and test the addons.
    Test(TestArgs),
    /// Run the staging stage: a neutralized copy of production, updated, started, checked.
    Stage(StageArgs),
    /// List or drop staging databases.
    #[command(subcommand)]
    Staging(StagingCommand),
    /// Development builds kept as previews (`development.keep`): list, stop, start, drop,
    /// drop those past their time or beyond the budget (`gc`), wake the stopped (`wake`).
    #[command(subcommand)]
    Previews(PreviewsCommand),
    /// Neutralize a database (no mail out, crons off, payments in test mode) and verify it.
    Neutralize(NeutralizeArgs),
    /// Deploy to production: snapshot, update bumped addons, blue/green, health check,
    /// automatic rollback.
    Deploy(DeployArgs),
    /// Put production back to a snapshot (or a deployment's pre-deploy snapshot).
    Rollback(RollbackArgs),
    /// Production's deployment history.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Production's snapshots.
    #[command(subcommand)]
    Snapshots(SnapshotsCommand),
    /// Back production up to `production.backup`'s repository (database, filestore, the
    /// serving commit and image), then apply the retention.
    Backup(BackupArgs),
    /// Production's backups.
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// Send a stored result to the Git host again (for a separate reporting job).
    Report(ReportArgs),
    /// Map the branch to its stage and run that stage (what a CI job calls).
    Run(RunArgs),
    /// The template cache's key, for CI caches (`odoo-ci cache key`).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Flag addons that changed without a version bump (production would not update them).
    Guard(GuardArgs),
    /// Raise addon versions, rewriting only the version string of each manifest.
    Bump(BumpArgs),
    /// Check this runner for what the stages need (Docker, the base image, PostgreSQL and
    /// its client programs, production, each stage's variables, the Git host's token) and
    /// say what to fix; exit 2 when something is missing.
    Doctor,
}

#[derive(Debug, Args)]
pub struct GuardArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Addons folders (repeatable or comma-separated): run on any OCA-style repository,
    /// without a .odoo-ci.yml (the guard's defaults apply).
    #[arg(long = "addons-path", value_delimiter = ',')]
    pub addons_paths: Vec<PathBuf>,
    /// The Odoo series with --addons-path (default: inferred from the manifests).
    #[arg(long)]
    pub series: Option<String>,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exit 1 on yellow findings too.
    #[arg(long)]
    pub fail_on_warning: bool,
}

#[derive(Debug, Args)]
pub struct BumpArgs {
    /// Addons to bump (default with --changed: those the guard flags).
    pub addons: Vec<String>,
    /// Bump the addons that changed since --since without a version bump.
    #[arg(long, requires = "since")]
    pub changed: bool,
    /// The ref to compare with for --changed.
    #[arg(long)]
    pub since: Option<String>,
    /// Which part of `<series>.x.y.z` to raise: `major` (x), `minor` (y) or `patch` (z).
    #[arg(long, value_enum, default_value_t)]
    pub part: crate::bump::Part,
    /// Make one commit touching only the manifests.
    #[arg(long)]
    pub commit: bool,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// The branch (overrides CI detection; needed on a detached HEAD).
    #[arg(long)]
    pub branch: Option<String>,
    /// The commit to build: a SHA, tag or branch (default: HEAD or the CI's commit).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// What to compare with for "what changed" and "what to update" (default: from CI).
    #[arg(long)]
    pub base: Option<String>,
}

impl TargetArgs {
    /// What these flags override of what the CI says.
    pub fn overrides(&self) -> crate::context::Overrides {
        crate::context::Overrides {
            branch: self.branch.clone(),
            git_ref: self.git_ref.clone(),
            base: self.base.clone(),
        }
    }
}

/// What shapes the development plan: `odoo-ci plan` takes them too, so the dry run shows
/// what `odoo-ci test` with the same flags runs.
#[derive(Debug, Clone, Args)]
pub struct DevChoiceArgs {
    /// Run Odoo in Docker (default) or as the local `odoo.command`.
    #[arg(long, value_enum, default_value = "docker")]
    pub executor: crate::plan::ExecutorKind,
    /// Test only the addons the push touched and the repo addons that depend on them.
    #[arg(long)]
    pub changed_only: bool,
    /// Run shard K of N (`--shard 2/4`).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// JUnit of a previous run, to balance shards by recorded durations.
    #[arg(long, value_name = "JUNIT")]
    pub durations: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The Odoo series, when the manifests do not say (`17.0`).
    #[arg(long)]
    pub series: Option<String>,
    /// Replace an existing config file.
    #[arg(long)]
    pub force: bool,
    /// Print the config instead of writing it.
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub choices: DevChoiceArgs,
    /// Staging: plan as with this `staging.push`.
    #[arg(long, value_enum)]
    pub push: Option<crate::config::schema::PushMode>,
    /// Production: plan as with this `production.update_mode`.
    #[arg(long, value_enum)]
    pub update_mode: Option<crate::config::schema::UpdateMode>,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum AddonsCommand {
    /// List the addons found in the addons paths.
    List(AddonsListArgs),
    /// Show the dependency graph: install order, repo dependencies, external ones.
    Graph(AddonsSourceArgs),
    /// List the addons changed since a ref, and the repo addons that depend on them.
    Changed(AddonsChangedArgs),
}

#[derive(Debug, Args)]
pub struct AddonsSourceArgs {
    /// Addons folders (repeatable or comma-separated); without it, from the config.
    #[arg(long = "addons-path", value_delimiter = ',')]
    pub addons_paths: Vec<PathBuf>,
    /// The Odoo series (default: the config's, else inferred from the manifests).
    #[arg(long)]
    pub series: Option<String>,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct AddonsListArgs {
    #[command(flatten)]
    pub source: AddonsSourceArgs,
}

#[derive(Debug, Args)]
pub struct AddonsChangedArgs {
    /// The ref to compare with.
    #[arg(long)]
    pub since: String,
    /// The commit to compare (default: HEAD).
    #[arg(long = "ref", default_value = "HEAD")]
    pub git_ref: String,
    #[command(flatten)]
    pub source: AddonsSourceArgs,
}

#[derive(Debug, Args)]
pub struct CheckLogArgs {
    /// The Odoo log file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub file: String,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the Markdown summary here (e.g. "$GITHUB_STEP_SUMMARY").
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Ignore WARNING records whose `logger: message` matches this regex (repeatable).
    #[arg(long)]
    pub ignore: Vec<String>,
    /// Exit 1 on yellow too.
    #[arg(long)]
    pub fail_on_warning: bool,
    /// The Odoo process's exit code; non-zero makes the build red.
    #[arg(long)]
    pub exit_code: Option<i32>,
    /// Red when the log has no test summary line (tests were asked for).
    #[arg(long)]
    pub tests_expected: bool,
    /// A log that ends while a test runs is not red (the unfinished test is still not
    /// counted as passed).
    #[arg(long)]
    pub allow_truncated: bool,
    /// Map an addon to its folder in the repo for file paths, `ADDON=DIR` (repeatable).
    #[arg(long = "path-map", value_name = "ADDON=DIR")]
    pub path_map: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where results go: odoo-ci-result.json, junit.xml, summary.md, install.log.
    #[arg(long, default_value = "odoo-ci-output")]
    pub output: PathBuf,
    #[command(flatten)]
    pub choices: DevChoiceArgs,
    /// Rebuild the template database even when a matching one exists.
    #[arg(long)]
    pub no_cache: bool,
    /// Keep the test database for debugging.
    #[arg(long)]
    pub keep: bool,
    /// Exit 1 on yellow too.
    #[arg(long)]
    pub fail_on_warning: bool,
    /// Where template databases travel between jobs (overrides
    /// `development.template_cache`): restored from it on a miss, saved to it after a build.
    #[arg(long, value_name = "DIR")]
    pub template_cache: Option<PathBuf>,
}

/// `odoo-ci cache …`: what a CI cache needs to carry templates between jobs.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the template key of the development stage: key a CI cache of the template
    /// folder (`development.template_cache`) on it. With the Docker executor it reads the
    /// base image's id, pulling the image when the engine does not have it.
    Key(CacheKeyArgs),
}

#[derive(Debug, Args)]
pub struct CacheKeyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Run Odoo in Docker (default) or as the local `odoo.command`.
    #[arg(long, value_enum, default_value = "docker")]
    pub executor: crate::plan::ExecutorKind,
}

/// `odoo-ci run`: the stage the branch maps to, with any stage's flags (those of the other
/// stages are ignored, so one `args:` line serves every branch of a workflow).
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub test: TestArgs,
    /// Staging: overrides `staging.push`.
    #[arg(long, value_enum)]
    pub push: Option<crate::config::schema::PushMode>,
    /// Production: fail at once when another deploy holds the lock.
    #[arg(long)]
    pub no_wait: bool,
    /// Production: overrides `production.update_mode`.
    #[arg(long, value_enum)]
    pub update_mode: Option<crate::config::schema::UpdateMode>,
}

#[derive(Debug, Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where results go: odoo-ci-result.json, summary.md, neutralize.log, update.log.
    #[arg(long, default_value = "odoo-ci-output")]
    pub output: PathBuf,
    /// Overrides `staging.push`: a new copy per push, or update the branch's copy.
    #[arg(long, value_enum)]
    pub push: Option<crate::config::schema::PushMode>,
    /// Copy this backup of production (see `odoo-ci backups list`) instead of production
    /// as it is now: always a new staging database.
    #[arg(long, value_name = "ID", conflicts_with = "push")]
    pub from_backup: Option<String>,
    /// Copy this snapshot of production (a name or a deployment id, see `odoo-ci snapshots
    /// list`) instead of production as it is now: cloned with `CREATE DATABASE … TEMPLATE`
    /// when staging uses production's server, its filestore hard-linked.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["push", "from_backup"])]
    pub from_snapshot: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StagingCommand {
    /// Staging databases made by odoo-ci, oldest first.
    List {
        /// Output: `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Drop staging databases (and stop their server): by name, or all of a branch.
    Drop {
        /// Database names.
        names: Vec<String>,
        /// Every staging database of this branch.
        #[arg(long = "of-branch", value_name = "BRANCH")]
        of_branch: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PreviewsCommand {
    /// This project's previews, oldest first: branch, state, URL, age, size.
    List {
        /// Output: `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Stop a branch's preview server; its database stays (no CPU until started).
    Stop { branch: String },
    /// Start a branch's stopped preview server again.
    Start { branch: String },
    /// Drop a branch's preview: its server, database and filestore (a deleted branch or a
    /// closed pull request).
    Drop { branch: String },
    /// Drop previews past their time (`development.keep`) or beyond `previews.max_kept`,
    /// stop those beyond `previews.max_running` (oldest first).
    Gc,
    /// Serve, until stopped, the requests Caddy could not (`previews.proxy.wake`): a
    /// stopped preview's first request starts it, and a page says so until it serves.
    Wake {
        /// Where to listen; default `previews.proxy.wake`.
        #[arg(long)]
        listen: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct NeutralizeArgs {
    /// The database: postgresql://user:password@host:port/dbname.
    #[arg(long, env = "ODOO_CI_NEUTRALIZE_DATABASE")]
    pub database: String,
    /// Print the SQL that would run and the checks as they stand; change nothing.
    #[arg(long, conflicts_with = "verify_only")]
    pub dry_run: bool,
    /// Only check; change nothing.
    #[arg(long)]
    pub verify_only: bool,
    /// Route outgoing mail to this SMTP host:port (the only active server afterwards).
    #[arg(long, value_name = "HOST:PORT")]
    pub mail_catcher: Option<String>,
    /// A cron (XML id, `module.name`) allowed to stay active (repeatable).
    #[arg(long = "allow-cron", value_name = "XMLID")]
    pub allow_cron: Vec<String>,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Deploy this commit (a manual deploy).
    #[arg(long, conflicts_with_all = ["tag", "git_ref"])]
    pub sha: Option<String>,
    /// Deploy this tag (a manual deploy).
    #[arg(long, conflicts_with = "git_ref")]
    pub tag: Option<String>,
    /// Fail at once when another deploy holds the lock, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Overrides `production.update_mode`.
    #[arg(long, value_enum)]
    pub update_mode: Option<crate::config::schema::UpdateMode>,
    /// Where results go: odoo-ci-result.json, summary.md and the logs.
    #[arg(long, default_value = "odoo-ci-output")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Why it is taken, kept with it (`daily` for the scheduled job).
    #[arg(long, default_value = "manual")]
    pub reason: String,
    /// Output: `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// Oldest first.
    List {
        /// Output: `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["to", "backup"])))]
pub struct RollbackArgs {
    /// A deployment id or a snapshot name (see `odoo-ci deployments list`).
    #[arg(long)]
    pub to: Option<String>,
    /// A backup id (see `odoo-ci backups list`): production's database and filestore as
    /// the backup holds them, served by the image it records.
    #[arg(long)]
    pub backup: Option<String>,
    /// Fail at once when another deploy holds the lock, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Where results go: odoo-ci-result.json, summary.md and the logs.
    #[arg(long, default_value = "odoo-ci-output")]
    pub output: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// Newest first.
    List {
        /// How many to show, newest first.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output: `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// Oldest first.
    List {
        /// Output: `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Take a snapshot now (database and filestore).
    Create {
        /// Keep it through pruning.
        #[arg(long)]
        pin: bool,
    },
    /// Keep a snapshot through pruning (`--unpin` to release it).
    Pin {
        name: String,
        /// Remove the pin instead (pruning may drop it again).
        #[arg(long)]
        unpin: bool,
    },
    /// Drop all but the newest N unpinned snapshots (default `production.snapshots.keep`).
    Prune {
        /// How many unpinned snapshots to keep (default: `production.snapshots.keep`).
        #[arg(long)]
        keep: Option<usize>,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The stored `odoo-ci-result.json` (the summary is rendered from it).
    #[arg(long, default_value = "odoo-ci-output/odoo-ci-result.json")]
    pub result: PathBuf,
    /// The commit to report on (default: the result's own commit, else the CI
    /// environment's — in a `workflow_run` job, the run's head commit).
    #[arg(long)]
    pub sha: Option<String>,
    /// On GitHub: check runs, statuses or both (default: `report.github` of
    /// `.odoo-ci.yml` when there is one, else `auto`).
    #[arg(long, value_enum)]
    pub channel: Option<crate::config::GithubChannel>,
}
