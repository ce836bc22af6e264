//! `odoo-ci doctor`: each thing a stage needs from this runner, checked the way the stage
//! checks it before it starts (the same `require_*` functions), with what to fix. Nothing
//! is changed: no image is pulled, no database is created.

use std::path::Path;

use crate::config::{Config, Stage};
use crate::context::Provider;
use crate::style::Style;

/// One line of the report: what was checked, and what was found or what to fix.
struct Check {
    name: &'static str,
    outcome: anyhow::Result<String>,
}

pub fn run(config_path: &Path) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let checks = checks(&config);
    let s = Style::for_stdout();
    let mut text = String::new();
    for check in &checks {
        text.push_str(&line(check, s));
    }
    let failed = checks.iter().filter(|c| c.outcome.is_err()).count();
    text.push_str(&match failed {
        0 => format!("{} this runner has what the stages need\n", s.green("ok:")),
        n => format!(
            "{} {n} of {} checks failed\n",
            s.red("not ready:"),
            checks.len()
        ),
    });
    super::print_stdout(&text)?;
    Ok(if failed == 0 {
        crate::exit::OK
    } else {
        crate::exit::BAD_INPUT
    })
}

fn line(check: &Check, s: Style) -> String {
    match &check.outcome {
        Ok(found) => format!("{} {}: {found}\n", s.green("✓"), check.name),
        Err(e) => {
            let mut out = format!("{} {}: {e:#}\n", s.red("✗"), check.name);
            if let Some(hint) = crate::exit::hint(e) {
                out.push_str(&format!("  hint: {hint}\n"));
            }
            out
        }
    }
}

fn checks(config: &Config) -> Vec<Check> {
    let mut checks = vec![
        Check {
            name: "Docker engine",
            outcome: docker(),
        },
        Check {
            name: "base image",
            outcome: base_image(&config.file.odoo.image),
        },
    ];
    if config.file.engine == crate::config::EngineKind::Swarm {
        checks.push(Check {
            name: "Docker Swarm",
            outcome: swarm(config),
        });
    }
    let server = super::require_postgres(config);
    let clients_against = server.as_ref().ok().cloned();
    checks.push(Check {
        name: "PostgreSQL (odoo-ci's databases)",
        outcome: server
            .map_err(anyhow::Error::from)
            .and_then(|s| version_of(&s)),
    });
    if config.file.production.database.is_some() {
        checks.push(Check {
            name: "production database",
            outcome: production(config),
        });
    }
    checks.push(Check {
        name: "PostgreSQL client programs",
        outcome: clients(config, clients_against.as_ref()),
    });
    for stage in [Stage::Development, Stage::Staging, Stage::Production] {
        checks.push(Check {
            name: stage_env_name(stage),
            outcome: super::require_odoo_env(config, stage).map(|env| match env.vars.len() {
                0 => "no variable to resolve".to_string(),
                n => format!("{n} variables resolved"),
            }),
        });
    }
    checks.push(Check {
        name: "Git host",
        outcome: host_token(),
    });
    checks
}

fn stage_env_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Development => "development's variables",
        Stage::Staging => "staging's variables",
        Stage::Production => "production's variables",
    }
}

fn docker() -> anyhow::Result<String> {
    let engine = crate::executor::docker::Engine::from_env();
    super::require_docker(&engine)?;
    Ok(format!("reachable ({:?})", engine.reach()).to_lowercase())
}

/// The engine manages a swarm odoo-ci can place its services on (`engine: swarm`).
fn swarm(config: &Config) -> anyhow::Result<String> {
    let engine = crate::executor::docker::Engine::from_env();
    let file = &config.file;
    let catcher = matches!(
        file.staging.mail_catcher,
        Some(crate::config::MailCatcherSetting::Run(_))
    ) || file.previews.mail_catcher.is_some();
    let settings = file.swarm.clone().unwrap_or_default();
    super::require_swarm(
        &engine,
        &settings,
        catcher.then_some("a mail catcher odoo-ci runs"),
    )?;
    Ok("a manager: staging's servers and previews run as its services".into())
}

/// Whether the engine has the base image already (a build pulls it otherwise).
fn base_image(image: &str) -> anyhow::Result<String> {
    let docker = crate::executor::docker::Engine::from_env().connect()?;
    let rt = crate::executor::docker::runtime()?;
    Ok(match rt.block_on(docker.inspect_image(image)) {
        Ok(_) => format!("`{image}` is on the engine"),
        Err(_) => format!("`{image}` is not on the engine yet: the first build pulls it"),
    })
}

fn version_of(server: &crate::db::PgServer) -> anyhow::Result<String> {
    let mut client = server.connect("postgres")?;
    let row = client.query_one("SHOW server_version", &[])?;
    let version: String = row.get(0);
    Ok(format!(
        "PostgreSQL {version} at {}:{}",
        server.host, server.port
    ))
}

fn production(config: &Config) -> anyhow::Result<String> {
    let (server, database) = crate::targets::production_source(config)?;
    let found = version_of(&server)?;
    Ok(format!("`{database}` on {found}"))
}

/// `pg_dump` and `pg_restore` against odoo-ci's server and production's, when known.
fn clients(config: &Config, own: Option<&crate::db::PgServer>) -> anyhow::Result<String> {
    let production = crate::targets::production_source(config)
        .ok()
        .map(|(s, _)| s);
    let servers: Vec<&crate::db::PgServer> = own.into_iter().chain(production.as_ref()).collect();
    let major = super::require_pg_clients(&servers)?;
    Ok(format!(
        "pg_dump and pg_restore {major}, not older than the servers"
    ))
}

/// The token the Git host reporter uses, by name (never its value).
fn host_token() -> anyhow::Result<String> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
    match Provider::from_env() {
        Provider::Local => Ok("not in CI: nothing is reported".into()),
        Provider::Github => ["ODOO_CI_GITHUB_TOKEN", "GITHUB_TOKEN"]
            .into_iter()
            .find(|k| set(k))
            .map(|k| format!("GitHub Actions, token in `{k}`"))
            .ok_or_else(|| {
                crate::exit::BadInput::new("GitHub Actions without `GITHUB_TOKEN`: no check run or status can be reported")
                    .hint("give the step `env: {GITHUB_TOKEN: ${{ github.token }}}` and `permissions: {checks: write, statuses: write}`")
                    .into()
            }),
        Provider::Gitlab => match set("ODOO_CI_GITLAB_TOKEN") {
            true => Ok("GitLab CI, token in `ODOO_CI_GITLAB_TOKEN`".into()),
            false => Err(crate::exit::BadInput::new("GitLab CI without `ODOO_CI_GITLAB_TOKEN`: no commit status can be reported")
                .hint("add a project access token with the `api` scope as the masked CI/CD variable `ODOO_CI_GITLAB_TOKEN`")
                .into()),
        },
    }
}
