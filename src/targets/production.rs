//! Production as every production command acts on it, resolved once from the
//! configuration and the environment before anything runs: its server and database, the
//! engine its releases run on, its filestore, and the network and alias they serve on.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::db::PgServer;
use crate::executor::bluegreen::Reach;
use crate::executor::docker::Engine;
use crate::exit::BadInput;

#[derive(Debug, Clone)]
pub struct Production {
    pub server: PgServer,
    pub database: String,
    /// The engine its releases run on (`production.docker_host`, else this job's).
    pub engine: Engine,
    /// Its filestore's folder, as the engine's host sees it (`production.data_dir`).
    pub filestore: Option<PathBuf>,
    /// The server as Odoo's containers reach it (`production.db_host`).
    pub container_server: PgServer,
    pub network: String,
    pub alias: String,
    /// What helpers run from when no release serves (`odoo.image`).
    pub base_image: String,
}

impl Production {
    /// Resolves production; an engine that is remote needs `production.data_dir` as a path
    /// on its host, or the containers would mount an empty folder and rollbacks would miss
    /// the filestore.
    pub fn resolve(config: &Config) -> anyhow::Result<Production> {
        let (server, database) = super::production_source(config)?;
        let engine = super::production_engine(config)?;
        let filestore = super::production_filestore(config, &database)?;
        if engine.reach() == Reach::ThroughEngine && !data_dir_on_engine(config)? {
            return Err(BadInput::new(
                "production's Docker engine is remote, and `production.data_dir` is not an absolute path",
            )
            .hint("set it to production's Odoo data dir as a path on the engine's host, e.g. /srv/odoo/data; snapshots and rollbacks copy its filestore there")
            .into());
        }
        let prod = &config.file.production;
        let mut container_server = server.clone();
        container_server.host = match &prod.db_host {
            Some(h) => h.clone(),
            None if matches!(server.host.as_str(), "127.0.0.1" | "localhost" | "::1") => {
                "host.docker.internal".into()
            }
            None => server.host.clone(),
        };
        Ok(Production {
            server,
            database,
            engine,
            filestore,
            container_server,
            network: config.production_network().to_string(),
            alias: config.production_alias().to_string(),
            base_image: config.file.odoo.image.clone(),
        })
    }

    /// Odoo's data dir as the engine's host sees it: the filestore's, else the cache's.
    pub fn data_dir(&self, cache_dir: &Path) -> PathBuf {
        match self.filestore.as_ref().and_then(|f| f.parent()?.parent()) {
            Some(dir) => dir.to_path_buf(),
            None => crate::names::absolute(&cache_dir.join("data")),
        }
    }
}

/// Whether `production.data_dir` is an absolute path (a path on a remote engine's host).
fn data_dir_on_engine(config: &Config) -> anyhow::Result<bool> {
    Ok(match &config.file.production.data_dir {
        Some(t) => {
            let dir = config.resolve("production.data_dir", t, &|k: &str| std::env::var(k).ok())?;
            Path::new(&dir).is_absolute()
        }
        None => false,
    })
}
