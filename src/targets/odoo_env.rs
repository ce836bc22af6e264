//! How Odoo runs in one stage, resolved before the stage starts: the stage's declared
//! environment variables (their references resolved, and checked to hold none of odoo-ci's
//! credentials nor, outside production, production's password) and the longest one Odoo
//! run may take. A missing variable is then a setup error before anything runs.

use std::time::Duration;

use crate::config::{Config, Stage};
use crate::exit::BadInput;

/// No `Debug`: the values may be secrets.
#[derive(Clone, Default)]
pub struct OdooEnv {
    /// The stage's variables (`env`, `<stage>.env`), resolved.
    pub vars: Vec<(String, String)>,
    /// The longest one Odoo run may take (`<stage>.timeout_secs`).
    pub timeout: Duration,
}

impl OdooEnv {
    pub fn resolve(config: &Config, stage: Stage) -> anyhow::Result<OdooEnv> {
        let env = |k: &str| std::env::var(k).ok();
        let mut vars = Vec::new();
        for (key, value) in config.stage_env(stage) {
            let v = config.resolve(&format!("{}.env.{key}", stage.as_str()), &value, &env)?;
            vars.push((key, v));
        }
        refuse_credentials(config, stage != Stage::Production, &vars)?;
        Ok(OdooEnv {
            vars,
            timeout: config.odoo_timeout(stage),
        })
    }
}

/// Whatever the configuration's references were (the plan refused the ones it could
/// name), no value of `env` may hold one of odoo-ci's own credentials, nor, with
/// `not_production`, production's database password. The connection is the stage's own:
/// what its role may reach is the server's business (see SECURITY.md).
fn refuse_credentials(
    config: &Config,
    not_production: bool,
    env: &[(String, String)],
) -> Result<(), BadInput> {
    let job = |k: &str| std::env::var(k).ok();
    let mut secrets: Vec<(String, String)> = crate::secrets::OWN_CREDENTIALS
        .iter()
        .filter_map(|k| Some((job(k)?, format!("the value of `{k}`"))))
        .collect();
    if not_production {
        let production = config
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
            return Err(BadInput::new(format!(
                "refusing to start Odoo: its `{key}` would hold {what}"
            ))
            .hint("the code under test never gets odoo-ci's credentials or production's password: give it variables of its own (and a database server of its own)"));
        }
    }
    Ok(())
}
