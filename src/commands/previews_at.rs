//! Where the project's previews are, for every `previews` command (and the waker): the
//! development stage's server and engine, the project's scope and data dir, its Caddy.

use std::path::Path;

use crate::stages::previews::{self, Place};

/// What every `previews` command works on: the development stage's server and engine,
/// the project's scope and data dir, its Caddy.
pub struct Previews {
    pub config: crate::config::Config,
    pub server: crate::db::PgServer,
    pub docker: bollard::Docker,
    pub scope: String,
    pub data_dir: std::path::PathBuf,
    pub host: String,
    /// How Caddy's admin API is reached (from the engine's host when it is remote).
    pub reach: std::sync::Arc<dyn crate::proxy::AdminReach>,
}

impl Previews {
    pub fn open(config: &Path) -> anyhow::Result<Previews> {
        let config = crate::config::Config::load(config)?;
        let (server, _) = crate::targets::own_server(&config, None)?;
        let engine = crate::executor::docker::Engine::from_env();
        super::require_docker(&engine)?;
        let docker = engine.connect()?;
        let scope = crate::project::scope_for(&config);
        let image = &config.file.odoo.image;
        let reach = crate::executor::host_http::admin_reach(&engine, &docker, image, &scope);
        Ok(Previews {
            server,
            docker,
            scope,
            data_dir: crate::cachedir::root().join("data"),
            host: previews::reached_at(&engine),
            reach,
            config,
        })
    }

    /// The place of the project's previews, through the connection `admin`.
    pub fn place<'a>(&'a self, admin: &'a mut postgres::Client) -> Place<'a> {
        let proxy = self.config.file.previews.proxy.as_ref();
        Place {
            server: &self.server,
            admin,
            docker: &self.docker,
            scope: &self.scope,
            data_dir: &self.data_dir,
            proxy: proxy
                .map(|p| crate::proxy::Caddy::reached(&p.caddy, &p.server, self.reach.clone())),
            host: self.host.clone(),
            fleet: crate::executor::swarm::fleet(
                &self.docker,
                self.config.file.engine == crate::config::EngineKind::Swarm,
            ),
        }
    }
}
