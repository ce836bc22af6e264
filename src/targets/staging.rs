//! Where a staging run acts, resolved once from the configuration and the environment
//! before anything runs: production (only read), the server the copies go on, their data
//! dir, the mail policy, and the port and URL their server answers on.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::db::PgServer;
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
    pub port: u16,
    pub url: String,
}

impl Staging {
    pub fn resolve(config: &Config, cache_dir: &Path) -> anyhow::Result<Staging> {
        let staging = &config.file.staging;
        let (source, source_db) = super::production_source(config)?;
        let server = super::staging_server(config, &source)?;
        let catcher = match &staging.mail_catcher {
            Some(text) => Some(MailCatcher::parse(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: `staging.mail_catcher` is `{text}`: expected host:port, e.g. mailpit:1025",
                    config.path.display()
                )
            })?),
            None => None,
        };
        let port = match staging.http_port {
            0 => crate::health::free_port()?,
            p => p,
        };
        let url = match &staging.url {
            Some(t) => config.resolve("staging.url", t, &|k: &str| std::env::var(k).ok())?,
            None => format!("http://127.0.0.1:{port}"),
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
            port,
            url,
        })
    }
}
