//! Facts → plan: which addons to install, test and update (with the reason for each) and
//! the ordered steps the stage runs. Pure: no I/O, so it is the main unit-test surface.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::addons::{version, AddonGraph, AddonSet};
use crate::config::{AddonSelection, Config, PushMode, Stage};
use crate::context::{Context, Trigger};
use crate::diag::{did_you_mean, DiagKind, Diagnostic};
use crate::guard::{self, GuardFinding, GuardKind};
use crate::odoo::Colour;

/// What the repository looked like at the base of the push or merge request.
#[derive(Debug, Clone, Default)]
pub struct BaseFacts {
    /// The ref or SHA as given.
    pub reference: String,
    pub sha: String,
    /// Normalised version of each addon that existed at the base.
    pub versions: BTreeMap<String, String>,
    /// Changed files of each addon between base and head, relative to the addon folder.
    pub changed_files: BTreeMap<String, Vec<String>>,
    /// Each addon's manifest, relative to the repository root (for annotations).
    pub manifest_paths: BTreeMap<String, String>,
}

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
    /// Names of the environment variables that are set (not their values).
    pub env_names: std::collections::BTreeSet<String>,
    /// Tags an image built from a checkout with no commit: one per checkout folder, so
    /// two checkouts' uncommitted builds never overwrite each other's image.
    pub worktree_tag: String,
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
    /// The repo addons the project runs (`development.install`, with repo dependencies):
    /// staging and production install those their database lacks.
    pub selected: Vec<String>,
    pub install: Vec<String>,
    pub test: Vec<String>,
    pub update: Vec<String>,
    /// Dependencies that come with the base image.
    pub external: Vec<String>,
    pub details: Vec<AddonDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub description: String,
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
    pub steps: Vec<Step>,
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

impl Plan {
    /// What every stage checks before it starts: the variables it needs are set, and the
    /// plan has no problem (a version that went down, a red version-guard finding). Once
    /// only `plan` enforced problems; `test`, `stage` and `deploy` carried on.
    pub fn ready(&self) -> anyhow::Result<()> {
        self.require_variables()?;
        if !self.problems.is_empty() {
            return Err(PlanProblems {
                stage: self.stage,
                problems: self.problems.clone(),
            }
            .into());
        }
        Ok(())
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
    let selected = select(
        config,
        facts.graph,
        &config.file.development.install,
        "development.install",
    )?;
    let mut addons = PlanAddons {
        selected: selected.iter().map(|(n, _)| n.clone()).collect(),
        external: facts.graph.external.iter().cloned().collect(),
        ..PlanAddons::default()
    };
    let mut problems = Vec::new();

    match stage {
        Stage::Development => {
            for (name, reason) in &selected {
                addons.install.push(name.clone());
                addons.details.push(decision(name, Action::Install, reason));
            }
            let tested = match &config.file.development.test {
                Some(sel) => select(config, facts.graph, sel, "development.test")?
                    .into_iter()
                    .filter(|(n, _)| addons.install.contains(n))
                    .map(|(n, _)| (n, "selected in `development.test`".to_string()))
                    .collect(),
                None => selected
                    .iter()
                    .map(|(n, _)| (n.clone(), "installed from the repo".to_string()))
                    .collect::<Vec<_>>(),
            };
            for (name, reason) in tested {
                addons.test.push(name.clone());
                addons.details.push(decision(&name, Action::Test, &reason));
            }
        }
        Stage::Staging | Stage::Production => match &facts.base {
            None => notes.push(
                "no base ref to compare with: nothing is marked for update (pass --base REF, or run on a push or merge request)"
                    .to_string(),
            ),
            Some(base) => {
                for (name, _) in &selected {
                    let Some(addon) = facts.addons.get(name) else { continue };
                    match base.versions.get(name) {
                        None => {
                            addons.install.push(name.clone());
                            addons.details.push(decision(name, Action::Install, &format!("new since {}", short(&base.reference))));
                        }
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
        },
    }

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
    let steps = steps(config, stage, &addons, &image);
    let env = config
        .stage_env(stage)
        .into_iter()
        .map(|(k, v)| {
            let shown = crate::secrets::redact(&k, v.raw());
            (k, shown)
        })
        .collect();
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
    let unset_variables: Vec<UnsetVariable> = config
        .unset_variables(stage, &|v| facts.env_names.contains(v))
        .into_iter()
        .map(|(key, variable)| UnsetVariable { key, variable })
        .collect();
    for u in &unset_variables {
        notes.push(format!(
            "`{}` needs `{}`, which is not set: the stage will refuse to start",
            u.key, u.variable
        ));
    }
    Ok(Plan {
        stage,
        branch: facts.context.branch.clone(),
        commit,
        commit_summary: facts.commit.as_ref().map(|c| c.summary.clone()),
        base: facts.base.as_ref().map(|b| b.sha.clone()),
        series: facts.addons.series.to_string(),
        image,
        addons,
        steps,
        env,
        notes,
        problems,
        guard,
        unset_variables,
    })
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
fn select(
    config: &Config,
    graph: &AddonGraph,
    selection: &AddonSelection,
    key: &str,
) -> Result<Vec<(String, String)>, Diagnostic> {
    match selection {
        AddonSelection::All => Ok(graph
            .install_order
            .iter()
            .map(|n| (n.clone(), format!("repo addon (`{key}: all`)")))
            .collect()),
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

fn step(name: &str, description: impl Into<String>) -> Step {
    Step {
        name: name.to_string(),
        description: description.into(),
    }
}

fn list_or(names: &[String], empty: &str) -> String {
    if names.is_empty() {
        empty.to_string()
    } else {
        names.join(",")
    }
}

fn steps(config: &Config, stage: Stage, addons: &PlanAddons, image: &str) -> Vec<Step> {
    let series = config.file.odoo.series;
    let build = step(
        "build",
        format!(
            "build image `{image}` FROM `{}` (repo Dockerfile when present)",
            config.file.odoo.image
        ),
    );
    match stage {
        Stage::Development => {
            let dev = &config.file.development;
            let tags = dev.test_tags.clone().unwrap_or_else(|| {
                addons
                    .test
                    .iter()
                    .map(|a| format!("/{a}"))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let demo = if series.demo_by_default() {
                ""
            } else {
                " --with-demo"
            };
            let preinstall = if dev.preinstall.is_empty() {
                "base".to_string()
            } else {
                dev.preinstall.join(",")
            };
            vec![
                build,
                step(
                    "database",
                    format!("create a fresh database with demo data from the cached template ({preinstall} preinstalled)"),
                ),
                step(
                    "install-and-test",
                    format!(
                        "odoo -i {} --test-tags {} --stop-after-init --workers 0 --max-cron-threads 0{demo}",
                        list_or(&addons.install, "(nothing)"),
                        if tags.is_empty() { "(none)".to_string() } else { tags }
                    ),
                ),
                step("results", "parse the Odoo log: JUnit, summary, colour"),
                step("report", "report the colour to the Git host"),
            ]
        }
        Stage::Staging => {
            let staging = &config.file.staging;
            let copy = match staging.push {
                PushMode::Fresh => {
                    "copy the production database and filestore into a new staging database"
                }
                PushMode::Update => {
                    "reuse this branch's staging database (copy production on the first push)"
                }
            };
            vec![
                build,
                step("copy", copy),
                step(
                    "neutralize",
                    "odoo neutralize: mail servers, crons, payment providers, fetchmail off",
                ),
                step("verify", "check the copy is neutralized; drop it if not"),
                step(
                    "update",
                    format!(
                        "odoo -u {} -i {} --stop-after-init",
                        list_or(&addons.update, "(nothing)"),
                        list_or(&addons.install, "(nothing)")
                    ),
                ),
                step(
                    "start",
                    match &staging.mail_catcher {
                        Some(c) => {
                            format!("start the staging server, outgoing mail to the catcher {c}")
                        }
                        None => "start the staging server, outgoing mail disabled".to_string(),
                    },
                ),
                step(
                    "health",
                    format!(
                        "GET {} until it answers 200 (timeout {} s)",
                        staging.health_check.path, staging.health_check.timeout_secs
                    ),
                ),
                step("report", "report the colour and URL to the Git host"),
            ]
        }
        Stage::Production => {
            let prod = &config.file.production;
            let demo = if series.demo_by_default() {
                " --without-demo=all"
            } else {
                ""
            };
            vec![
                step(
                    "lock",
                    "take the deploy lock (PostgreSQL advisory lock on the production database)",
                ),
                step(
                    "snapshot",
                    format!(
                        "snapshot the database and filestore (keep {})",
                        prod.snapshots.keep
                    ),
                ),
                build,
                step(
                    "update",
                    format!(
                        "odoo -u {} -i {} --stop-after-init{demo}",
                        list_or(&addons.update, "(nothing)"),
                        list_or(&addons.install, "(nothing)")
                    ),
                ),
                step("start", "start the new release on the idle colour"),
                step(
                    "health",
                    format!(
                        "GET {} until it answers 200 (timeout {} s)",
                        prod.health_check.path, prod.health_check.timeout_secs
                    ),
                ),
                step("switch", "move the traffic alias to the new colour"),
                step("stop-old", "stop the old colour"),
                step("report", "report the deployment to the Git host"),
            ]
        }
    }
}
