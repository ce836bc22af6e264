//! The steps of a stage, with every parameter the stage will run them with: from the
//! facts and the addons the plan decided. What is decided here is what runs; a stage
//! reads no configuration of its own.

use crate::config::schema::{BrowserMode, DevBuild, MailCatcherSetting};
use crate::config::{Config, PushMode, Stage};
use crate::plan::odoo_command::{Demo, OdooCommand};
use crate::plan::steps::{self, RestoreSource, Step};
use crate::plan::{DatabaseFacts, ExecutorKind, Facts, PlanAddons};

/// What decides a stage's steps.
pub(super) struct Shape<'a> {
    pub facts: &'a Facts<'a>,
    pub stage: Stage,
    pub addons: &'a PlanAddons,
    pub image: &'a str,
    pub provisional: Option<String>,
}

/// The lock of every production run: deploys and rollbacks alike.
const PRODUCTION_LOCK: &str =
    "one deploy at a time (PostgreSQL advisory lock on the production database)";

impl Shape<'_> {
    /// The steps, in the order the stage runs them, and those that run only on failure.
    pub fn steps(&self) -> (Vec<Step>, Vec<Step>) {
        match self.stage {
            Stage::Development => (self.development(), Vec::new()),
            Stage::Staging => (self.staging(), Vec::new()),
            Stage::Production => (
                self.production(),
                vec![Step::Rollback(steps::Rollback {
                    restore: self.updates_modules(),
                    health: production_health(self.facts.config),
                })],
            ),
        }
    }

    fn build(&self) -> Step {
        let config = self.facts.config;
        let odoo = &config.file.odoo;
        Step::Build(steps::Build {
            image: self.image.to_string(),
            base: odoo.image.clone(),
            keep: odoo.keep_images,
            network: self.network(),
            ignore: self.never_in_image(),
            browser: None,
        })
    }

    /// Why the development image gets a browser, when it does: `development.browser:
    /// always`, or (`auto`) a tested addon whose tests start a tour.
    fn browser(&self) -> Option<String> {
        if self.facts.build_files.dockerfile {
            return None; // the repository's own Dockerfile is built as it is (a plan note)
        }
        match self.facts.config.file.development.browser {
            BrowserMode::Never => None,
            BrowserMode::Always => Some("`development.browser: always`".into()),
            BrowserMode::Auto => self.addons.test.iter().find_map(|name| {
                let file = self.facts.tours.get(name)?;
                Some(format!("{name}'s tests start one ({file})"))
            }),
        }
    }

    /// The network Odoo's containers join: production's own, else `odoo.docker_network`.
    fn network(&self) -> String {
        let config = self.facts.config;
        match self.stage {
            Stage::Production => config.production_network().to_string(),
            _ => config.file.odoo.docker_network.clone(),
        }
    }

    /// The project's folders that never go into an image: odoo-ci's outputs and the
    /// template cache (the job's output and cache folders are added where the stage runs).
    fn never_in_image(&self) -> Vec<String> {
        let config = self.facts.config;
        let cache = config.file.development.template_cache.as_ref();
        ["odoo-ci-output", "target"]
            .into_iter()
            .map(str::to_string)
            .chain(cache.map(|d| d.display().to_string()))
            .collect()
    }

    /// Staging and production: the commit's files in a release volume, run by the base
    /// image or (requirements) by a dependencies image of it; the commit's image when the
    /// repository has its own Dockerfile (it may put anything anywhere).
    /// The commit's release: its image when there is something to build (or `pushed`,
    /// for a swarm's other nodes to pull), else the base image and a release volume.
    fn release(&self, pushed: bool) -> Step {
        let files = self.facts.build_files;
        if files.dockerfile || pushed {
            return self.build();
        }
        let config = self.facts.config;
        Step::Release(steps::Release {
            base: config.file.odoo.image.clone(),
            keep: config.file.odoo.keep_images,
            network: self.network(),
            ignore: self.never_in_image(),
            requirements: files.requirements,
        })
    }

    fn series(&self) -> crate::addons::Series {
        self.facts.addons.series
    }

    /// Development runs Odoo from the base image with the project mounted when there is
    /// nothing to build, and the engine can see the files. A browser for the tours goes
    /// into an image of the base built once, which then runs mounted too.
    fn development_image(&self) -> Step {
        let facts = self.facts;
        let files = facts.build_files;
        let nothing_to_build = !files.dockerfile && !files.requirements;
        let build = facts.config.file.development.build;
        let browser = self.browser();
        // A preview outlives the job: it runs the commit's image, never the checkout.
        let kept = facts.config.file.development.keep.is_some();
        if build == DevBuild::Auto && nothing_to_build && facts.engine_sees_files && !kept {
            return Step::Mount(steps::Mount {
                base: facts.config.file.odoo.image.clone(),
                network: self.network(),
                browser,
            });
        }
        match self.build() {
            Step::Build(build) => Step::Build(steps::Build { browser, ..build }),
            other => other,
        }
    }

    fn development(&self) -> Vec<Step> {
        if self.addons.test.is_empty() {
            return Vec::new();
        }
        let config = self.facts.config;
        let dev = &config.file.development;
        let runs_in = match self.facts.choices.executor {
            ExecutorKind::Docker => self.development_image(),
            ExecutorKind::Local => Step::Local(steps::Local {
                command: config.file.odoo.command.clone(),
            }),
        };
        let tags = dev.test_tags.clone().unwrap_or_else(|| {
            let tags: Vec<String> = self.addons.test.iter().map(|a| format!("/{a}")).collect();
            tags.join(",")
        });
        let command = OdooCommand::on(Stage::Development, self.series(), "")
            .install(&self.addons.install)
            .test_tags(tags)
            .once()
            .demo(Demo::With)
            .screenshots();
        let cache = self.facts.choices.template_cache.as_ref();
        vec![
            runs_in,
            Step::Template(steps::Template {
                preinstall: dev.preinstall.clone(),
                cache: cache
                    .or(dev.template_cache.as_ref())
                    .map(|d| d.display().to_string()),
                keep: dev.keep_templates,
                assets: super::template_assets(self.series(), &self.facts.http_cases),
            }),
            Step::Database(steps::Database),
            Step::InstallAndTest(steps::InstallAndTest {
                command,
                warnings: dev.warnings,
                ignore_warnings: dev.ignore_warnings.clone(),
            }),
        ]
        .into_iter()
        .chain(self.keep())
        .collect()
    }

    /// Where the staging server is opened, when `staging.proxy` routes it.
    fn staging_route(&self) -> Option<steps::Route> {
        let proxy = self.facts.config.file.staging.proxy.as_ref()?;
        let (project, branch) = (&self.facts.project, &self.facts.context.branch);
        Some(steps::Route {
            url: crate::proxy::preview_url(&proxy.url, project, branch),
            caddy: proxy.caddy.clone(),
            server: proxy.server.clone(),
            wake: None,
        })
    }

    /// The preview step when `development.keep` is set (the first shard's build only: a
    /// branch has one preview).
    fn keep(&self) -> Option<Step> {
        let config = self.facts.config;
        let keep = config.file.development.keep?;
        if self.facts.choices.shard.is_some_and(|(index, _)| index > 1) {
            return None;
        }
        let (scope, branch) = (&self.facts.scope, &self.facts.context.branch);
        let previews = &config.file.previews;
        Some(Step::Keep(steps::Keep {
            database: crate::db::previews::database_name(scope, branch),
            container: crate::db::previews::container_name(scope, branch),
            for_secs: keep.secs,
            max_kept: previews.max_kept.max(1),
            max_running: previews.max_running,
            idle_after: previews.idle_after.map(|k| k.secs),
            health: steps::Health {
                path: config.file.staging.health_check.path.clone(),
                timeout_secs: config.file.staging.health_check.timeout_secs,
            },
            route: previews.proxy.as_ref().map(|proxy| steps::Route {
                url: crate::proxy::preview_url(&proxy.url, &self.facts.project, branch),
                caddy: proxy.caddy.clone(),
                server: proxy.server.clone(),
                wake: proxy.wake.clone(),
            }),
            mail_catcher: previews.mail_catcher.as_ref().map(|c| c.image.clone()),
            remote: !self.facts.engine_sees_files,
            swarm: self.swarm(),
        }))
    }

    /// The update; on staging, `neutralize` runs again after it (an update may write back
    /// the mail servers, crons or providers a module's data defines).
    fn update(&self, stage: Stage, neutralize: Option<&str>) -> Step {
        let (update, install) = (&self.addons.update, &self.addons.install);
        let command = (!update.is_empty() || !install.is_empty())
            .then(|| OdooCommand::module_update(stage, self.series(), update, install));
        Step::Update(steps::Update {
            neutralize_after: command.as_ref().and(neutralize).map(str::to_string),
            command,
            provisional: match (&self.facts.choices, stage) {
                (c, Stage::Staging) if c.from_backup.is_some() || c.from_snapshot.is_some() => {
                    let what = match (&c.from_backup, &c.from_snapshot) {
                        (Some(id), _) => format!("backup `{id}`"),
                        (None, Some(name)) => format!("snapshot `{name}`"),
                        (None, None) => String::new(),
                    };
                    Some(format!(
                        "the lists are production's; {what} may hold other versions, so the stage updates what the copy has installed"
                    ))
                }
                _ => self.provisional.clone(),
            },
        })
    }

    /// Where staging's server or a preview runs as a Swarm service (`engine: swarm`).
    fn swarm(&self) -> Option<crate::config::SwarmSection> {
        let file = &self.facts.config.file;
        (file.engine == crate::config::EngineKind::Swarm)
            .then(|| file.swarm.clone().unwrap_or_default())
    }

    fn staging(&self) -> Vec<Step> {
        let staging = &self.facts.config.file.staging;
        let neutralize = if self.series().has_neutralize_command() {
            "odoo neutralize"
        } else {
            "odoo-ci's own neutralization SQL (before 16.0)"
        };
        vec![
            Step::Lock(steps::Lock {
                what: format!(
                    "one staging run of `{}` at a time",
                    self.facts.context.branch
                ),
            }),
            // A swarm's other nodes pull the commit's image from `swarm.registry`: the
            // code must be in it, not in a release volume of this engine.
            self.release(self.swarm().is_some_and(|s| s.registry.is_some())),
            Step::Copy(self.copy()),
            Step::Neutralize(steps::Neutralize {
                command: neutralize.to_string(),
            }),
            Step::Verify(steps::Verify),
            self.update(Stage::Staging, Some(neutralize)),
            Step::Start(steps::Start {
                what: match &staging.mail_catcher {
                    Some(MailCatcherSetting::Address(c)) => {
                        format!("the staging server, outgoing mail to the catcher {c}")
                    }
                    Some(MailCatcherSetting::Run(r)) => format!(
                        "the staging server, outgoing mail to the branch's mail catcher ({}), checked to answer first",
                        r.image
                    ),
                    None => "the staging server, outgoing mail disabled".to_string(),
                },
                route: self.staging_route(),
                swarm: self.swarm(),
            }),
            Step::Health(steps::Health {
                path: staging.health_check.path.clone(),
                timeout_secs: staging.health_check.timeout_secs,
            }),
            Step::Prune(steps::Prune {
                what: "staging databases of this branch".into(),
                keep: staging.keep.max(1),
            }),
        ]
    }

    /// Staging's database: a copy of production, of one of its backups, or the branch's
    /// copy reused (`push: update`).
    fn copy(&self) -> steps::Copy {
        let facts = self.facts;
        let choices = &facts.choices;
        if choices.from_backup.is_some() || choices.from_snapshot.is_some() {
            return steps::Copy {
                push: PushMode::Fresh,
                reuse: None,
                from_backup: choices.from_backup.clone(),
                from_snapshot: choices.from_snapshot.clone(),
            };
        }
        let push = facts.choices.push.unwrap_or(facts.config.file.staging.push);
        steps::Copy {
            push,
            reuse: match &facts.database {
                DatabaseFacts::Read(f) if push == PushMode::Update => f.reuse.clone(),
                _ => None,
            },
            from_backup: None,
            from_snapshot: None,
        }
    }

    /// Whether the deploy changes production's data (it updates or installs modules): then
    /// production is read-only from its snapshot on, and a failure restores that snapshot.
    fn updates_modules(&self) -> bool {
        !self.addons.update.is_empty() || !self.addons.install.is_empty()
    }

    fn production(&self) -> Vec<Step> {
        let prod = &self.facts.config.file.production;
        let mut steps = vec![
            Step::Lock(steps::Lock {
                what: PRODUCTION_LOCK.into(),
            }),
            self.release(false),
        ];
        // As Odoo.sh: a backup before any deploy that changes the data, taken while
        // production still takes writes (the snapshot after it holds those too).
        if let Some(backup) = prod.backup.as_ref().filter(|b| b.before_update) {
            if self.updates_modules() {
                steps.push(Step::Backup(steps::Backup {
                    repository: crate::secrets::redact(
                        "production.backup.repository",
                        &backup.repository.0,
                    ),
                }));
            }
        }
        steps.push(Step::Snapshot(steps::Snapshot {
            keep: prod.snapshots.keep,
            read_only: self.updates_modules(),
        }));
        steps.push(self.update(Stage::Production, None));
        steps.push(Step::Start(steps::Start {
            what: format!(
                "the new release on the idle colour{}",
                colours_on(self.facts.config)
            ),
            route: None,
            swarm: None,
        }));
        steps.extend(serve_production(self.facts.config));
        steps.push(Step::Prune(steps::Prune {
            what: "pre-deploy snapshots (pinned ones are kept)".into(),
            keep: prod.snapshots.keep.max(1),
        }));
        steps
    }
}

fn production_health(config: &Config) -> steps::Health {
    let check = &config.file.production.health_check;
    steps::Health {
        path: check.path.clone(),
        timeout_secs: check.timeout_secs,
    }
}

/// From a started release to the old one stopped: health, switch, settle, stop.
fn serve_production(config: &Config) -> [Step; 4] {
    let prod = &config.file.production;
    [
        Step::Health(production_health(config)),
        Step::Switch(steps::Switch {
            alias: config.production_alias().to_string(),
        }),
        Step::Settle(steps::Settle {
            secs: prod.health_check.settle_secs,
        }),
        Step::StopOld(steps::StopOld),
    ]
}

/// `odoo-ci rollback --to KEY`: production back to a snapshot, served by the image that
/// served then; a failure puts production back as it was before the rollback.
pub fn rollback_steps(config: &Config, from: &RestoreSource) -> (Vec<Step>, Vec<Step>) {
    let mut steps = vec![Step::Lock(steps::Lock {
        what: PRODUCTION_LOCK.into(),
    })];
    if let RestoreSource::Backup(id) = from {
        // Fetched before the maintenance begins: the download does not refuse writes.
        steps.push(Step::Fetch(steps::Fetch { backup: id.clone() }));
    }
    steps.extend([
        Step::Snapshot(steps::Snapshot {
            keep: config.file.production.snapshots.keep,
            read_only: true,
        }),
        Step::Restore(steps::Restore { from: from.clone() }),
        Step::Update(steps::Update {
            command: None,
            provisional: None,
            neutralize_after: None,
        }),
        Step::Start(steps::Start {
            what: match from {
                RestoreSource::Snapshot(_) => "the snapshot's release on the idle colour",
                RestoreSource::Backup(_) => {
                    "the backup's release (the image it records) on the idle colour"
                }
            }
            .to_string()
                + colours_on(config),
            route: None,
            swarm: None,
        }),
    ]);
    steps.extend(serve_production(config));
    let rollback = steps::Rollback {
        restore: true,
        health: production_health(config),
    };
    (steps, vec![Step::Rollback(rollback)])
}

/// Where production's colours run when staging's server is a Swarm service: production
/// keeps its own two colours (docs/architecture.md, "Choices made (issue 27)").
fn colours_on(config: &crate::config::Config) -> &'static str {
    match config.file.engine {
        crate::config::EngineKind::Docker => "",
        crate::config::EngineKind::Swarm => {
            " (a container on the swarm manager's engine: production keeps odoo-ci's two-colour switch, not a Swarm service)"
        }
    }
}
