//! Facts → plan: which addons to install, test and update (with the reason for each) and
//! the ordered steps the stage runs. Every decision is made here, once, from facts gathered
//! before (the checkout, the base, the choices on the command line and, when reachable,
//! what the target database has installed); the stages carry the plan out. Pure: no I/O,
//! so it is the main unit-test surface.

pub mod odoo_command;
mod shape;
pub mod shard;
pub mod steps;
pub mod updates;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::addons::{version, AddonGraph, AddonSet};
use crate::config::schema::UpdateMode;
use crate::config::{AddonSelection, Config, PushMode, Stage};
use crate::context::{Context, Trigger};
use crate::diag::{did_you_mean, DiagKind, Diagnostic};
use crate::guard::{self, GuardFinding, GuardKind};
use crate::odoo::Colour;
pub use shape::rollback_steps;
use shape::Shape;
pub use steps::{RestoreSource, Step, StepKind};
use updates::ModuleChanges;

pub use crate::base::BaseFacts;

pub struct Facts<'a> {
    pub config: &'a Config,
    pub context: &'a Context,
    /// The resolved commit being built, when the checkout has one.
    pub commit: Option<crate::repo::CommitInfo>,
    pub addons: &'a AddonSet,
    pub graph: &'a AddonGraph,
    pub base: Option<BaseFacts>,
    /// Used in the image name.
    pub project: String,
    /// What every name odoo-ci makes for this project is scoped by (`Project::scope`).
    pub scope: String,
    /// Names of the environment variables that are set (not their values).
    pub env_names: std::collections::BTreeSet<String>,
    /// The variables set that hold a secret, with why (see [`crate::secrets::why_secret`]).
    pub secret_variables: BTreeMap<String, &'static str>,
    /// Tags an image built from a checkout with no commit: one per checkout folder, so
    /// two checkouts' uncommitted builds never overwrite each other's image.
    pub worktree_tag: String,
    /// What the command line asked for.
    pub choices: Choices,
    /// What the target database has installed, when it was read.
    pub database: DatabaseFacts,
    /// What in the stage's files asks for an image to be built.
    pub build_files: BuildFiles,
    /// Whether the Docker engine sees this machine's files (a local engine): the project
    /// can then be mounted instead of built in.
    pub engine_sees_files: bool,
    /// The project's own addons whose tests start a browser (a tour), each with the first
    /// test file that does (relative to the project root).
    pub tours: BTreeMap<String, String>,
    /// The project's own addons whose tests hold an `HttpCase`, likewise.
    pub http_cases: BTreeMap<String, String>,
}

/// The files of the project that an image build would use beyond the project itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildFiles {
    pub dockerfile: bool,
    pub requirements: bool,
}

/// How Odoo runs in the development stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExecutorKind {
    /// In a container of the image built for the commit.
    #[default]
    Docker,
    /// As `odoo.command` on this machine.
    Local,
}

/// Shard `index` of `count` of a development run (`--shard 2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The command line's choices that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub executor: ExecutorKind,
    /// Test only what the push changed and what depends on it.
    pub changed_only: bool,
    /// Shard `k` of `n`.
    pub shard: Option<(usize, usize)>,
    /// Seconds per addon from a previous run's JUnit, to balance shards.
    pub durations: BTreeMap<String, f64>,
    /// Overrides `staging.push`.
    pub push: Option<PushMode>,
    /// Overrides `production.update_mode`.
    pub update_mode: Option<UpdateMode>,
    /// Overrides `development.template_cache` (`--template-cache`).
    pub template_cache: Option<std::path::PathBuf>,
    /// Staging copies this backup of production (`stage --from-backup`), not production.
    pub from_backup: Option<String>,
    /// Staging copies this snapshot of production (`stage --from-snapshot`).
    pub from_snapshot: Option<String>,
}

/// What the database a stage updates has installed: production's for production, the copy
/// staging will make of it (or the branch's staging database it reuses) for staging.
#[derive(Debug, Clone, Default)]
pub enum DatabaseFacts {
    /// Not looked at (development, or `plan` without access).
    #[default]
    NotRead,
    /// Meant to be read, but it could not be; why.
    Unavailable(String),
    Read(InstalledFacts),
}

#[derive(Debug, Clone, Default)]
pub struct InstalledFacts {
    /// The database read, as the plan names it.
    pub database: String,
    pub modules: BTreeMap<String, crate::db::InstalledModule>,
    /// `update_mode: hash`: the content hash of each addon now, and the one stored at the
    /// last deploy.
    pub hashes: BTreeMap<String, String>,
    pub stored_hashes: BTreeMap<String, String>,
    /// Staging: the branch's staging database to reuse (`push: update`), if any.
    pub reuse: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Install,
    Test,
    Update,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonDecision {
    pub name: String,
    pub action: Action,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PlanAddons {
    /// The repo addons the stage runs, with their repo dependencies: `development.install`
    /// for development, `production.install` for staging and production (which install
    /// those their database lacks).
    pub selected: Vec<String>,
    pub install: Vec<String>,
    pub test: Vec<String>,
    pub update: Vec<String>,
    /// Dependencies that come with the base image.
    pub external: Vec<String>,
    pub details: Vec<AddonDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub stage: Stage,
    pub branch: String,
    pub commit: Option<String>,
    pub commit_summary: Option<String>,
    pub base: Option<String>,
    pub series: String,
    pub image: String,
    pub addons: PlanAddons,
    /// Staging and production: the module changes the update step makes, with versions.
    pub changes: ModuleChanges,
    /// Production: `version`, or `hash` (content changes update too).
    pub update_mode: UpdateMode,
    /// Development: the shard this run tests, if sharded.
    pub shard: Option<Shard>,
    /// The steps, in the order the stage runs them.
    #[serde(serialize_with = "steps::serialize_steps")]
    pub steps: Vec<Step>,
    /// What runs only when a step fails.
    #[serde(serialize_with = "steps::serialize_steps")]
    pub on_failure: Vec<Step>,
    /// Environment passed to Odoo, as written (secrets stay `${VAR}`).
    pub env: BTreeMap<String, String>,
    /// Things the user should know that do not stop the stage.
    pub notes: Vec<String>,
    /// Things that stop the stage (e.g. a version that went down).
    pub problems: Vec<String>,
    /// Addons that changed without a version bump, or went down (see `version_guard`).
    pub guard: Vec<GuardFinding>,
    /// Variables the stage needs that are not set: `plan` warns, every stage refuses to
    /// start (exit 2) before it touches anything.
    pub unset_variables: Vec<UnsetVariable>,
    /// References that would hand a secret to the code the stage runs: `plan` says which
    /// and why, every stage refuses to start (exit 2).
    pub refused_variables: Vec<RefusedVariable>,
}

/// A `${VAR}` the configuration gives the code under test, refused because of what `VAR`
/// holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedVariable {
    /// Where the config uses it (`development.env.X`, `postgres.url`).
    pub key: String,
    pub variable: String,
    pub why: String,
}

/// A `${VAR}` a stage needs, unset in this environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsetVariable {
    /// Where the config uses it (`production.database`).
    pub key: String,
    pub variable: String,
}

/// A plan with problems: the stage must not run.
#[derive(Debug, thiserror::Error)]
#[error("the plan has problems, so {stage} does not run:\n  - {}", problems.join("\n  - "))]
pub struct PlanProblems {
    pub stage: Stage,
    pub problems: Vec<String>,
}

/// Why the development template holds Odoo's asset bundles, when it does: before a
/// post-install suite with an `HttpCase` (a tour is one) Odoo 16+ makes every bundle the
/// views call, unless the database has them. Decided on the whole project (`http_cases`:
/// every own addon whose tests hold one), not on the addons a commit tests, so that one
/// template serves every commit.
pub fn template_assets(
    series: crate::addons::Series,
    http_cases: &BTreeMap<String, String>,
) -> Option<String> {
    if !series.pregenerates_asset_bundles() {
        return None;
    }
    let (name, file) = http_cases.iter().next()?;
    Some(format!("{name}'s tests hold an HttpCase ({file})"))
}

/// What to say about the tours when odoo-ci cannot add the browser itself: the local
/// executor runs Odoo on this machine, and a repository's own Dockerfile is built as it is.
fn browser_note(facts: &Facts<'_>, tested: &[String]) -> Option<String> {
    use crate::config::schema::BrowserMode;
    let mode = facts.config.file.development.browser;
    let touring = tested.iter().find(|a| facts.tours.contains_key(*a));
    let wanted = match mode {
        BrowserMode::Never => return None,
        BrowserMode::Always => true,
        BrowserMode::Auto => touring.is_some(),
    };
    let who = touring
        .map(|a| format!("{a}'s tests start tours; "))
        .unwrap_or_default();
    if !wanted {
        return None;
    }
    if facts.choices.executor == ExecutorKind::Local {
        return Some(format!("{who}the local executor runs Odoo on this machine: install Chromium (or Google Chrome) and websocket-client here, or Odoo skips the tours"));
    }
    facts.build_files.dockerfile.then(|| format!("{who}the repository's Dockerfile is built as it is: install a browser (Chromium or Google Chrome) and websocket-client in it, or Odoo skips the tours"))
}

impl Plan {
    /// The parameters of the plan's first `P` step, when it has one.
    pub fn first<P: steps::Params>(&self) -> Option<&P> {
        self.steps.iter().find_map(P::of)
    }

    /// What every stage checks before it starts: the variables it needs are set, and the
    /// plan has no problem (a version that went down, a red version-guard finding). Once
    /// only `plan` enforced problems; `test`, `stage` and `deploy` carried on.
    pub fn ready(&self) -> anyhow::Result<()> {
        self.require_variables()?;
        self.refuse_secrets()?;
        if !self.problems.is_empty() {
            return Err(PlanProblems {
                stage: self.stage,
                problems: self.problems.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// The bad-input error a stage stops with when its configuration hands a secret to the
    /// code it runs.
    pub fn refuse_secrets(&self) -> Result<(), crate::exit::BadInput> {
        let Some(first) = self.refused_variables.first() else {
            return Ok(());
        };
        let list: Vec<String> = self
            .refused_variables
            .iter()
            .map(|r| format!("`{}` (for `{}`: {})", r.variable, r.key, r.why))
            .collect();
        Err(crate::exit::BadInput::new(format!(
            "{} would hand secrets to the code it runs: {}",
            self.stage,
            list.join(", ")
        ))
        .hint(format!(
            "remove `${{{}}}` from `{}` in .odoo-ci.yml; give the code under test only what it needs, from variables that hold no credential; nothing was started",
            first.variable, first.key
        )))
    }

    /// The bad-input error a stage stops with when a variable it needs is unset.
    pub fn require_variables(&self) -> Result<(), crate::exit::BadInput> {
        if self.unset_variables.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = self
            .unset_variables
            .iter()
            .map(|u| format!("`{}` (for `{}`)", u.variable, u.key))
            .collect();
        Err(crate::exit::BadInput::new(format!(
            "{} needs variables that are not set: {}",
            self.stage,
            list.join(", ")
        ))
        .hint("set them in the CI job's environment (secrets), or give defaults with `${VAR:-default}`; nothing was touched"))
    }
}

/// The plan for the stage the branch maps to.
pub fn make_plan(facts: &Facts<'_>) -> Result<Plan, Diagnostic> {
    make_plan_as(facts, None)
}

/// The plan for `stage`, or for the stage the branch maps to (`odoo-ci test` runs the
/// development stage on any branch).
pub fn make_plan_as(facts: &Facts<'_>, stage: Option<Stage>) -> Result<Plan, Diagnostic> {
    let config = facts.config;
    let mut notes = Vec::new();
    let stage = stage_of(facts, stage, &mut notes)?;
    let Decided {
        addons,
        changes,
        mut problems,
        provisional,
    } = decide(facts, stage, &mut notes)?;

    let (commit, image) = commit_and_image(facts);
    let shape = Shape {
        facts,
        stage,
        addons: &addons,
        image: &image,
        provisional,
    };
    let (steps, on_failure) = shape.steps();
    if stage == Stage::Development && addons.test.is_empty() {
        notes.push("nothing to test: no addon of this shard or change set; the stage is green without running Odoo".into());
    }
    let env = config
        .stage_env(stage)
        .into_iter()
        .map(|(k, v)| {
            let shown = crate::secrets::redact(&k, v.raw());
            (k, shown)
        })
        .collect();
    let guard = guard_findings(facts, &mut problems);
    let unset_variables = unset_variables(facts, stage, &mut notes);
    let refused_variables = refused_variables(facts, stage, &mut notes);
    Ok(Plan {
        stage,
        branch: facts.context.branch.clone(),
        commit,
        commit_summary: facts.commit.as_ref().map(|c| c.summary.clone()),
        base: facts.base.as_ref().map(|b| b.sha.clone()),
        series: facts.addons.series.to_string(),
        image,
        addons,
        changes,
        update_mode: facts
            .choices
            .update_mode
            .unwrap_or(config.file.production.update_mode),
        shard: match stage {
            Stage::Development => facts
                .choices
                .shard
                .map(|(index, count)| Shard { index, count }),
            _ => None,
        },
        steps,
        on_failure,
        env,
        notes,
        problems,
        guard,
        unset_variables,
        refused_variables,
    })
}

/// What a stage decides of the addons, before its steps.
struct Decided {
    addons: PlanAddons,
    changes: ModuleChanges,
    problems: Vec<String>,
    /// Why the lists may still change (the database was not read).
    provisional: Option<String>,
}

/// Which addons the stage installs, tests and updates, each with why: from the selection
/// and, for staging and production, what the database has installed.
fn decide(facts: &Facts<'_>, stage: Stage, notes: &mut Vec<String>) -> Result<Decided, Diagnostic> {
    let config = facts.config;
    let selected = match stage {
        Stage::Development => select(
            facts,
            &config.file.development.install,
            "development.install",
        )?,
        Stage::Staging | Stage::Production => match &config.file.production.install {
            Some(selection) => select(facts, selection, "production.install")?,
            None => Vec::new(),
        },
    };
    let mut addons = PlanAddons {
        selected: selected.iter().map(|(n, _)| n.clone()).collect(),
        external: facts.graph.external.iter().cloned().collect(),
        ..PlanAddons::default()
    };
    let mut problems = Vec::new();
    let mut changes = ModuleChanges::default();
    let mut provisional = None;
    match stage {
        Stage::Development => {
            if facts.choices.executor == ExecutorKind::Local {
                check_local_command(config)?;
                if facts.build_files.requirements {
                    notes.push("the local executor installs no requirements.txt (the project's nor an addons path's): install them in the job before odoo-ci runs, e.g. `pip install -r requirements.txt`, or use the docker executor, which builds them into the image".into());
                }
            }
            plan_tests(facts, &selected, &mut addons, notes)?;
            notes.extend(browser_note(facts, &addons.test));
        }
        Stage::Staging | Stage::Production => match &facts.database {
            DatabaseFacts::Read(installed) => {
                changes = from_database(facts, stage, installed, &mut addons, &mut problems);
                not_for_production(facts, installed, &addons, notes)?;
            }
            unread => {
                let why = match unread {
                    DatabaseFacts::Unavailable(why) => why.clone(),
                    _ => "the database was not read".to_string(),
                };
                provisional = Some(format!(
                    "worked out from git — {why}; the stage runs what the database has installed"
                ));
                from_base(facts, &selected, &mut addons, &mut problems, notes);
            }
        },
    }
    Ok(Decided {
        addons,
        changes,
        problems,
        provisional,
    })
}

/// The commit the stage builds, and the image tag it builds it as.
fn commit_and_image(facts: &Facts<'_>) -> (Option<String>, String) {
    let commit = facts
        .commit
        .as_ref()
        .map(|c| c.sha.clone())
        .or_else(|| facts.context.commit.clone());
    let tag = commit
        .as_deref()
        .map(short)
        .unwrap_or(&facts.worktree_tag)
        .to_string();
    let image = format!("odoo-ci/{}:{tag}", facts.project);
    (commit, image)
}

/// The version guard's findings; a red one is a problem of the plan.
fn guard_findings(facts: &Facts<'_>, problems: &mut Vec<String>) -> Vec<GuardFinding> {
    let config = facts.config;
    let guard = match &facts.base {
        Some(base) => guard::check(
            facts.addons,
            base,
            config.file.version_guard.unbumped,
            &config.guard_ignore,
        ),
        None => Vec::new(),
    };
    for finding in guard
        .iter()
        .filter(|f| f.kind == GuardKind::Unbumped && f.colour == Colour::Red)
    {
        problems.push(finding.message.clone());
    }
    guard
}

/// The variables `stage` needs that are not set, each with a note.
fn unset_variables(facts: &Facts<'_>, stage: Stage, notes: &mut Vec<String>) -> Vec<UnsetVariable> {
    let unset: Vec<UnsetVariable> = facts
        .config
        .unset_variables(stage, &|v| facts.env_names.contains(v))
        .into_iter()
        .map(|(key, variable)| UnsetVariable { key, variable })
        .collect();
    for u in &unset {
        notes.push(format!(
            "`{}` needs `{}`, which is not set: the stage will refuse to start",
            u.key, u.variable
        ));
    }
    unset
}

/// The `${VAR}` references whose values would reach the code the stage runs — its `env:`
/// and its database connection (`postgres.url`, whose password Odoo gets) — that name a
/// secret it must never get: odoo-ci's own credentials and, outside production, the
/// production database URL, always; in a pull request (whose configuration is the pull
/// request's) any variable that holds a secret, but for the URL of the stage's own
/// database server, which Odoo must reach.
fn refused_variables(
    facts: &Facts<'_>,
    stage: Stage,
    notes: &mut Vec<String>,
) -> Vec<RefusedVariable> {
    let config = facts.config;
    let pull_request = facts.context.trigger == Trigger::PullRequest;
    let production_url: Vec<String> = config
        .file
        .production
        .database
        .as_ref()
        .map(|t| t.variables())
        .unwrap_or_default();
    let backup_key = config.backup_variables();
    let reaches_code = |key: &str| {
        key == "postgres.url"
            || key.starts_with("env.")
            || key.starts_with(&format!("{stage}.env."))
    };
    let mut out = Vec::new();
    for (key, value) in config.stage_values(stage) {
        if !reaches_code(&key) {
            continue;
        }
        for variable in value.variables() {
            let own = crate::secrets::OWN_CREDENTIALS.contains(&variable.as_str());
            let production = stage != Stage::Production
                && (production_url.contains(&variable)
                    || variable == crate::secrets::PRODUCTION_URL_VARIABLE);
            let why = if own {
                "one of odoo-ci's own credentials".to_string()
            } else if backup_key.contains(&variable) {
                "a credential of production's backups, which only restic gets".to_string()
            } else if production {
                "the production database URL, which only production's own Odoo gets".to_string()
            } else if let Some(why) = facts
                .secret_variables
                .get(&variable)
                .filter(|_| pull_request && key != "postgres.url")
            {
                format!("{why}; in a pull request the configuration is the pull request's own")
            } else {
                continue;
            };
            out.push(RefusedVariable {
                key: key.clone(),
                variable,
                why,
            });
        }
    }
    for r in &out {
        notes.push(format!(
            "`{}` gives `{}` to the code under test, refused ({}): the stage will refuse to start",
            r.key, r.variable, r.why
        ));
    }
    out
}

/// Where `addon` comes from when it is not one of the project's own: a submodule or an
/// extra addons path (Odoo.sh's "my modules" are neither).
fn origin_of(facts: &Facts<'_>, addon: &str) -> Option<String> {
    let addon = facts.addons.get(addon)?;
    match (&addon.submodule, &addon.extra) {
        (Some(path), _) => Some(format!("submodule `{path}`")),
        (None, Some(dir)) => Some(format!("extra addons path `{dir}`")),
        (None, None) => None,
    }
}

/// Whether `addon` comes from `odoo.extra_addons_paths`: never tested.
fn is_extra(facts: &Facts<'_>, addon: &str) -> bool {
    facts.addons.get(addon).is_some_and(|a| a.extra.is_some())
}

/// Whether `selection` names `addon` itself (not through `all`).
fn names(selection: Option<&AddonSelection>, addon: &str) -> bool {
    matches!(selection, Some(AddonSelection::Only(list)) if list.iter().any(|n| n == addon))
}

/// Development: what to install and test, narrowed to the push's changes (`--changed-only`)
/// and to this shard (`--shard`).
fn plan_tests(
    facts: &Facts<'_>,
    selected: &[(String, String)],
    addons: &mut PlanAddons,
    notes: &mut Vec<String>,
) -> Result<(), Diagnostic> {
    let config = facts.config;
    let mut tested: Vec<(String, String)> = match &config.file.development.test {
        Some(sel) => select(facts, sel, "development.test")?
            .into_iter()
            .filter(|(n, _)| selected.iter().any(|(s, _)| s == n))
            .map(|(n, _)| (n, "selected in `development.test`".to_string()))
            .collect(),
        None => selected
            .iter()
            .map(|(n, _)| (n.clone(), "installed from the repo".to_string()))
            .collect(),
    };
    // A submodule's addons are installed for what depends on them, and tested only when
    // the project names them; an extra addons path's (Enterprise) never are.
    let dev = &config.file.development;
    tested.retain(|(n, _)| {
        !is_extra(facts, n)
            && (origin_of(facts, n).is_none()
                || names(Some(&dev.install), n)
                || names(dev.test.as_ref(), n))
    });
    let all = tested.len();
    let mut narrowed = config.file.development.test.is_some();
    if facts.choices.changed_only {
        only_changed(facts, &mut tested)?;
        narrowed = true;
    }
    if let Some((k, n)) = facts.choices.shard {
        let names: Vec<String> = tested.iter().map(|(n, _)| n.clone()).collect();
        let mine = shard::split(&names, k, n, &facts.choices.durations);
        tested.retain(|(a, _)| mine.contains(a));
        let balanced = if facts.choices.durations.is_empty() {
            ""
        } else {
            ", balanced by the durations given"
        };
        notes.push(format!(
            "shard {k}/{n}: {} of {all} tested addons{balanced}",
            tested.len()
        ));
        narrowed = true;
    }
    let install: Vec<(String, String)> = if narrowed {
        let names = facts
            .graph
            .with_dependencies(tested.iter().map(|(n, _)| n.as_str()));
        names
            .into_iter()
            .map(|n| {
                let reason = selected
                    .iter()
                    .find(|(s, _)| s == &n)
                    .filter(|_| tested.iter().any(|(t, _)| t == &n))
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(|| "a dependency of a tested addon".to_string());
                (n, reason)
            })
            .collect()
    } else {
        selected.to_vec()
    };
    for (name, reason) in install {
        addons.install.push(name.clone());
        addons
            .details
            .push(decision(&name, Action::Install, &reason));
    }
    for (name, reason) in tested {
        addons.test.push(name.clone());
        addons.details.push(decision(&name, Action::Test, &reason));
    }
    Ok(())
}

/// `--executor local` runs `odoo.command`: it must be there, and split into words.
fn check_local_command(config: &Config) -> Result<(), Diagnostic> {
    let Some(command) = &config.file.odoo.command else {
        return Err(Diagnostic::new(
            DiagKind::InvalidValue,
            format!(
                "--executor local runs `odoo.command`, which {} does not set",
                config.path.display()
            ),
        )
        .hint("set `odoo.command` (e.g. `odoo`, or `python3 /src/odoo/odoo-bin`), or use the Docker executor"));
    };
    match crate::executor::command_line::split(command) {
        Ok(words) if !words.is_empty() => Ok(()),
        Ok(_) => Err(config
            .error_at(
                DiagKind::InvalidValue,
                "odoo.command",
                "`odoo.command` is empty",
            )
            .hint("name the Odoo command, e.g. `odoo`")),
        Err(e) => Err(config
            .error_at(DiagKind::InvalidValue, "odoo.command", e.to_string())
            .hint("close the quote; quote a path with spaces as \"/opt/my odoo/odoo-bin\"")),
    }
}

/// `--changed-only`: the tested addons the push changed, and those depending on them.
fn only_changed(facts: &Facts<'_>, tested: &mut Vec<(String, String)>) -> Result<(), Diagnostic> {
    let base = facts.base.as_ref().ok_or_else(|| {
        Diagnostic::new(
            DiagKind::InvalidValue,
            "--changed-only needs a base to compare with".to_string(),
        )
        .hint("pass --base REF, or run on a push or merge request")
    })?;
    let affected = facts
        .graph
        .with_dependents(base.changed_files.keys().map(String::as_str));
    tested.retain(|(a, _)| affected.contains(a));
    for (name, reason) in tested.iter_mut() {
        let why = if base.changed_files.contains_key(name) {
            "changed"
        } else {
            "depends on a changed addon"
        };
        *reason = format!("{why} since {} (--changed-only)", short(&base.reference));
    }
    Ok(())
}

/// Staging and production, with the database read: update what went up against what it
/// has installed, install what it lacks; a version that went down stops the stage.
fn from_database(
    facts: &Facts<'_>,
    stage: Stage,
    installed: &InstalledFacts,
    addons: &mut PlanAddons,
    problems: &mut Vec<String>,
) -> ModuleChanges {
    let mut changes = updates::changes(facts.addons, &installed.modules, &addons.selected);
    let mode = facts
        .choices
        .update_mode
        .unwrap_or(facts.config.file.production.update_mode);
    if stage == Stage::Production && mode == UpdateMode::Hash {
        updates::add_content_changes(
            &mut changes,
            &installed.modules,
            &installed.hashes,
            &installed.stored_hashes,
        );
    }
    let db = &installed.database;
    for d in &changes.downgrade {
        problems.push(format!(
            "addon `{}`: version {} in the repo but {} in `{db}` — Odoo cannot downgrade a module; raise the version instead",
            d.addon, d.manifest, d.installed
        ));
    }
    for c in &changes.update {
        addons.update.push(c.addon.clone());
        let reason = format!("{} → {} (installed in `{db}`)", c.installed, c.manifest);
        addons
            .details
            .push(decision(&c.addon, Action::Update, &reason));
    }
    for name in &changes.install {
        addons.install.push(name.clone());
        let reason = format!("not installed in `{db}`");
        addons
            .details
            .push(decision(name, Action::Install, &reason));
    }
    changes
}

/// Development addons the production database lacks and `production.install` does not
/// name: staging and production leave them out, and the plan says so.
fn not_for_production(
    facts: &Facts<'_>,
    installed: &InstalledFacts,
    addons: &PlanAddons,
    notes: &mut Vec<String>,
) -> Result<(), Diagnostic> {
    let config = facts.config;
    let dev = select(
        facts,
        &config.file.development.install,
        "development.install",
    )?;
    let left_out: Vec<String> = dev
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !addons.selected.contains(name))
        .filter(|name| {
            !installed
                .modules
                .get(name)
                .is_some_and(|m| m.state == "installed" || m.state == "to upgrade")
        })
        .collect();
    if !left_out.is_empty() {
        notes.push(format!(
            "not installed: {} — in `development.install` but not in `production.install`, so `{}` never gets them",
            left_out.join(", "),
            installed.database
        ));
    }
    Ok(())
}

/// Staging and production without the database: what git says changed since the base.
/// Any repo addon whose version went up is updated (if the database has it); one that is
/// new since the base is installed only when `production.install` selects it.
fn from_base(
    facts: &Facts<'_>,
    selected: &[(String, String)],
    addons: &mut PlanAddons,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let Some(base) = &facts.base else {
        notes.push(
            "no base ref to compare with: nothing is marked for update (pass --base REF, or run on a push or merge request)"
                .to_string(),
        );
        return;
    };
    for name in &facts.graph.install_order {
        let Some(addon) = facts.addons.get(name) else {
            continue;
        };
        match base.versions.get(name) {
            None if selected.iter().any(|(s, _)| s == name) => {
                addons.install.push(name.clone());
                addons.details.push(decision(name, Action::Install, &format!("new since {}", short(&base.reference))));
            }
            None => {}
            Some(old) => match version::compare(&addon.version, old) {
                Ordering::Greater => {
                    addons.update.push(name.clone());
                    addons.details.push(decision(name, Action::Update, &format!("version {old} → {}", addon.version)));
                }
                Ordering::Less => problems.push(format!(
                    "addon `{name}`: version went down from {old} to {} — Odoo cannot downgrade a module; raise the version instead",
                    addon.version
                )),
                // Unbumped changes are the version guard's to report.
                Ordering::Equal => {}
            },
        }
    }
}

/// The stage to plan: the one asked for, or the branch's. A pull request (or merge
/// request) never reaches staging or production, whatever its head branch is called: its
/// content is anyone's, and a fork can name its branch `main`.
fn stage_of(
    facts: &Facts<'_>,
    asked: Option<Stage>,
    notes: &mut Vec<String>,
) -> Result<Stage, Diagnostic> {
    let branch = &facts.context.branch;
    let pull_request = facts.context.trigger == Trigger::PullRequest;
    match asked {
        Some(stage @ (Stage::Staging | Stage::Production)) if pull_request => Err(Diagnostic::new(
            DiagKind::InvalidValue,
            format!("refusing to run {stage} for a pull request (head branch `{branch}`)"),
        )
        .hint("pull requests run the development stage; staging and production run on pushes to their branches")),
        Some(stage) => Ok(stage),
        None => {
            let mapped = facts.config.stage_for(branch)?;
            if pull_request && mapped != Stage::Development {
                notes.push(format!(
                    "this is a pull request: it runs development, never {mapped} (its head branch `{branch}` maps to {mapped} only on a push)"
                ));
                return Ok(Stage::Development);
            }
            Ok(mapped)
        }
    }
}

fn decision(name: &str, action: Action, reason: &str) -> AddonDecision {
    AddonDecision {
        name: name.to_string(),
        action,
        reason: reason.to_string(),
    }
}

fn short(sha: &str) -> &str {
    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        &sha[..12]
    } else {
        sha
    }
}

/// The addons a selection names plus their repo dependencies, in install order, with reasons.
/// The addons `selection` names, with their repo dependencies, each with why. `all` is
/// the project's own addons (as Odoo.sh's "my modules"): a submodule's addons come along
/// only as dependencies, or when named.
fn select(
    facts: &Facts<'_>,
    selection: &AddonSelection,
    key: &str,
) -> Result<Vec<(String, String)>, Diagnostic> {
    let (config, graph) = (facts.config, facts.graph);
    match selection {
        AddonSelection::All => {
            let own = graph
                .install_order
                .iter()
                .filter(|n| origin_of(facts, n).is_none())
                .map(String::as_str);
            Ok(graph
                .with_dependencies(own)
                .into_iter()
                .map(|n| {
                    let reason = match origin_of(facts, &n) {
                        Some(origin) => format!("a dependency, from {origin}"),
                        None => format!("repo addon (`{key}: all`)"),
                    };
                    (n, reason)
                })
                .collect())
        }
        AddonSelection::Only(names) => {
            for (i, name) in names.iter().enumerate() {
                if !graph.depends.contains_key(name) {
                    let mut diag = config.error_at(
                        DiagKind::InvalidValue,
                        &format!("{key}.{i}"),
                        format!("`{key}` names `{name}`, which is not an installable addon of this repository"),
                    );
                    diag = match did_you_mean(name, graph.install_order.iter().map(String::as_str))
                    {
                        Some(s) => diag.hint(format!("did you mean `{s}`?")),
                        None => diag.hint(
                            "`odoo-ci addons list` shows the addons found in the addons paths",
                        ),
                    };
                    return Err(diag);
                }
            }
            Ok(graph
                .with_dependencies(names.iter().map(String::as_str))
                .into_iter()
                .map(|n| {
                    let reason = if names.contains(&n) {
                        format!("selected in `{key}`")
                    } else {
                        "a dependency of a selected addon".to_string()
                    };
                    (n, reason)
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests;
