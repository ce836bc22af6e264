//! Where a staging run acts, resolved once from the configuration and the environment
//! before anything runs: production (only read), the server the copies go on, their data
//! dir, the mail policy, and the port and URL their server answers on.

use std::path::{Path, PathBuf};

use crate::config::schema::MailCatcherSetting;
use crate::config::Config;
use crate::db::PgServer;
use crate::executor::mail_catcher::Catcher;
use crate::neutralize::{MailCatcher, Policy};

#[derive(Debug, Clone)]
pub struct Staging {
    /// Production's server and database: what is copied.
    pub source: PgServer,
    pub source_db: String,
    /// Production's filestore, when `production.data_dir` says where it is.
    pub source_filestore: Option<PathBuf>,
    /// How that filestore is read from here.
    pub source_files: super::FilestoreReader,
    /// The server the copies go on (`staging.database`, else production's).
    pub server: PgServer,
    /// The copies' Odoo data dir on this machine (`staging.data_dir`, else the cache's).
    pub data_dir: PathBuf,
    /// What neutralization allows: the mail catcher, the crons kept.
    pub policy: Policy,
    /// The mail catcher odoo-ci runs for the branch (`staging.mail_catcher: {image: …}`).
    pub catcher: Option<crate::executor::mail_catcher::Catcher>,
    pub port: u16,
    pub url: String,
}

impl Staging {
    /// Resolves where the staging of `branch` acts; starts the branch's mail catcher when
    /// odoo-ci runs it.
    pub fn resolve(config: &Config, cache_dir: &Path, branch: &str) -> anyhow::Result<Staging> {
        let staging = &config.file.staging;
        let (source, source_db) = super::production_source(config)?;
        let server = super::staging_server(config, &source)?;
        let (catcher, running) = mail_catcher(config, branch)?;
        let port = match staging.http_port {
            0 => crate::health::free_port()?,
            p => p,
        };
        let url = match &staging.url {
            Some(t) => config.resolve("staging.url", t, &|k: &str| std::env::var(k).ok())?,
            // The server's port, on the engine's host (a remote engine's, else here).
            None => {
                let engine = crate::executor::docker::Engine::from_env();
                let host = engine.host_name().unwrap_or_else(|| "127.0.0.1".into());
                format!("http://{host}:{port}")
            }
        };
        Ok(Staging {
            source_filestore: super::production_filestore(config, &source_db)?,
            source_files: super::FilestoreReader::resolve(config)?,
            source,
            source_db,
            server,
            data_dir: super::staging_data_dir(config, cache_dir)?,
            policy: Policy {
                catcher,
                cron_allowlist: staging.cron_allowlist.clone(),
            },
            catcher: running,
            port,
            url,
        })
    }
}

/// Where staging's mail goes (`staging.mail_catcher`): a given `host:port`, or the catcher
/// odoo-ci runs for `branch`, started here and answering SMTP.
fn mail_catcher(
    config: &Config,
    branch: &str,
) -> anyhow::Result<(Option<MailCatcher>, Option<Catcher>)> {
    match &config.file.staging.mail_catcher {
        None => Ok((None, None)),
        Some(MailCatcherSetting::Address(text)) => {
            let address = MailCatcher::parse(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: `staging.mail_catcher` is `{text}`: expected host:port, e.g. mailpit:1025, or {{image: axllent/mailpit}} for a catcher odoo-ci runs",
                    config.path.display()
                )
            })?;
            Ok((Some(address), None))
        }
        Some(MailCatcherSetting::Run(run)) => {
            let running = run_catcher(config, branch, &run.image)?;
            let address = MailCatcher {
                host: running.smtp_host.clone(),
                port: i32::from(running.smtp_port),
            };
            Ok((Some(address), Some(running)))
        }
    }
}

/// The catcher odoo-ci runs for `branch`, answering SMTP. On a remote engine its greeting
/// is heard from that engine's host, and `staging.proxy` must route its web UI: its ports
/// are on that host's loopback.
fn run_catcher(config: &Config, branch: &str, image: &str) -> anyhow::Result<Catcher> {
    let engine = crate::executor::docker::Engine::from_env();
    let remote = engine.host_name().is_some();
    if remote && config.file.staging.proxy.is_none() {
        return Err(config
            .error_at(
                crate::diag::DiagKind::InvalidValue,
                "staging.mail_catcher",
                "a catcher odoo-ci runs publishes its web UI on its engine's loopback, and this engine is remote (`DOCKER_HOST`): without `staging.proxy` nobody could read it",
            )
            .hint("set `staging.proxy` (its UI is then routed at the branch's URL prefixed with `mail-`), or run a catcher yourself and give its address (`staging.mail_catcher: \"mailpit:1025\"`). Nothing ran")
            .into());
    }
    let docker = engine.connect()?;
    super::pulled_when_missing(&docker, image)?;
    if remote {
        // Its greeting is heard by a helper of Odoo's image, on that host.
        super::pulled_when_missing(&docker, &config.file.odoo.image)?;
    }
    let scope = crate::project::scope_for(config);
    let server = crate::db::staging::container_name(&scope, branch);
    let odoo = &config.file.odoo;
    let spec = crate::executor::mail_catcher::Spec {
        scope: &scope,
        server: &server,
        image,
        network: &odoo.docker_network,
        greeter: crate::executor::mail_catcher::Greeter::on(remote, &docker, &odoo.image, &scope),
    };
    Ok(crate::executor::mail_catcher::ensure(
        &docker,
        &spec,
        CATCHER_START,
    )?)
}

/// How long a catcher odoo-ci starts may take to answer SMTP.
const CATCHER_START: std::time::Duration = std::time::Duration::from_secs(15);
