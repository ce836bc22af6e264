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
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Say what the stage for this branch would do, and do nothing (the dry run).
    Plan(PlanArgs),
    /// Inspect the repository's addons.
    #[command(subcommand)]
    Addons(AddonsCommand),
    /// Turn an Odoo log into a colour, counts, failures, JUnit and a summary.
    CheckLog(CheckLogArgs),
    /// Flag addons that changed without a version bump (production would not update them).
    Guard(GuardArgs),
    /// Raise addon versions, rewriting only the version string of each manifest.
    Bump(BumpArgs),
}

#[derive(Debug, Args)]
pub struct GuardArgs {
    #[command(flatten)]
    pub target: TargetArgs,
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
    #[arg(long, value_enum, default_value_t)]
    pub part: crate::bump::Part,
    /// Make one commit touching only the manifests.
    #[arg(long)]
    pub commit: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args, Default)]
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

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
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
    /// Map an addon to its folder in the repo for file paths, `ADDON=DIR` (repeatable).
    #[arg(long = "path-map", value_name = "ADDON=DIR")]
    pub path_map: Vec<String>,
}
