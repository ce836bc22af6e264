//! An [`OdooCommand`] made runnable for one project: its arguments, the environment Odoo
//! gets (the stage's declared variables, resolved and checked, and the connection's
//! password — never on the command line) and the stage's timeout.

use crate::config::Stage;
use crate::db::PgServer;
use crate::executor::{Executor, Invocation};
use crate::plan::odoo_command::OdooCommand;
use crate::project::Project;

/// What the executor runs for `command`.
pub fn invocation(
    command: &OdooCommand,
    project: &Project,
    server: &PgServer,
    executor: &dyn Executor,
) -> anyhow::Result<Invocation> {
    let mut env = environment(project, server, command.stage())?;
    env.extend(command.extra_env().iter().cloned());
    Ok(Invocation {
        args: command.args(server, executor),
        env,
        timeout: project.config.odoo_timeout(command.stage()),
    })
}

/// The environment of every Odoo run: the stage's variables, resolved, and the
/// connection's secrets (never on the command line). The declared variables may not hold
/// odoo-ci's own credentials, nor outside production production's password. The
/// connection is the stage's own: what its role may reach is the server's business (see
/// SECURITY.md).
fn environment(
    project: &Project,
    server: &PgServer,
    stage: Stage,
) -> anyhow::Result<Vec<(String, String)>> {
    let env = |k: &str| std::env::var(k).ok();
    let mut out = Vec::new();
    for (key, value) in project.config.stage_env(stage) {
        let v = project
            .config
            .resolve(&format!("{}.env.{key}", stage.as_str()), &value, &env)?;
        out.push((key, v));
    }
    refuse_credentials(project, stage != Stage::Production, &out)?;
    if let Some(p) = &server.password {
        out.push(("PGPASSWORD".into(), p.clone()));
    }
    if let Some(cert) = &server.tls.root_cert {
        out.push(("PGSSLROOTCERT".into(), cert.display().to_string()));
    }
    Ok(out)
}

/// The last gate before Odoo starts: whatever the configuration's references were (the
/// plan refused the ones it could name), no value of `env` may hold one of odoo-ci's own
/// credentials, nor, with `not_production`, production's database password.
fn refuse_credentials(
    project: &Project,
    not_production: bool,
    env: &[(String, String)],
) -> Result<(), crate::exit::BadInput> {
    let job = |k: &str| std::env::var(k).ok();
    let mut secrets: Vec<(String, String)> = crate::secrets::OWN_CREDENTIALS
        .iter()
        .filter_map(|k| Some((job(k)?, format!("the value of `{k}`"))))
        .collect();
    if not_production {
        let production = project
            .config
            .file
            .production
            .database
            .as_ref()
            .and_then(|t| t.resolve(&job).ok());
        let conventional = job(crate::secrets::PRODUCTION_URL_VARIABLE);
        for url in production.iter().chain(conventional.iter()) {
            if let Some(pw) = crate::secrets::url_password(url) {
                let what = "production's database password".to_string();
                secrets.push((crate::secrets::percent_decode(pw), what));
            }
        }
    }
    for (key, value) in env {
        let held = secrets
            .iter()
            .find(|(secret, _)| secret.len() >= 6 && value.contains(secret.as_str()));
        if let Some((_, what)) = held {
            return Err(crate::exit::BadInput::new(format!(
                "refusing to start Odoo: its `{key}` would hold {what}"
            ))
            .hint("the code under test never gets odoo-ci's credentials or production's password: give it variables of its own (and a database server of its own)"));
        }
    }
    Ok(())
}
