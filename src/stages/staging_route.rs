//! A staging branch's own URL (the plan's `start` step, from `staging.proxy`): its server
//! routed on Caddy by the branch's host once it is healthy — the route of that branch
//! replaced, so a new copy's server takes the URL over — and removed with the branch
//! (`staging drop --of-branch`). Caddy is reached as previews reach it: from here, or from
//! a remote engine's host.

use bollard::Docker;

/// Where the branch's route lives: the Caddy, the branch of the project, the engine.
pub struct Routed<'a> {
    /// Caddy's admin endpoint and the HTTP server the route joins.
    pub caddy: &'a str,
    pub server: &'a str,
    pub scope: &'a str,
    pub branch: &'a str,
    pub docker: &'a Docker,
    /// An image with `python3`, for the requests made from a remote engine's host.
    pub image: &'a str,
}

impl Routed<'_> {
    /// Routes `url` (its host) to the branch's server at `upstream` (`host:port`: the
    /// engine host's loopback, or the swarm node that runs it).
    pub fn route(&self, url: &str, upstream: &str) -> anyhow::Result<()> {
        let host = crate::proxy::host_of(url)
            .ok_or_else(|| anyhow::anyhow!("`{url}` (`staging.proxy.url`) has no host"))?;
        self.caddy().route(&self.id(), host, upstream)?;
        Ok(())
    }

    /// Routes the branch's catcher's web UI, on the engine host's loopback `port`, at
    /// `url` prefixed with `mail-`; returns that URL.
    pub fn route_mail(&self, url: &str, port: u16) -> anyhow::Result<String> {
        let url = crate::proxy::prefixed(url, "mail-");
        let host = crate::proxy::host_of(&url)
            .ok_or_else(|| anyhow::anyhow!("`{url}` (`staging.proxy.url`) has no host"))?;
        let upstream = format!("127.0.0.1:{port}");
        self.caddy()
            .route(&format!("{}-mail", self.id()), host, &upstream)?;
        Ok(url)
    }

    /// Removes the branch's routes (its server's, its catcher's); those not there are fine.
    pub fn unroute(&self) -> anyhow::Result<()> {
        let caddy = self.caddy();
        caddy.unroute(&self.id())?;
        Ok(caddy.unroute(&format!("{}-mail", self.id()))?)
    }

    fn caddy(&self) -> crate::proxy::Caddy {
        let engine = crate::executor::docker::Engine::from_env();
        let reach =
            crate::executor::host_http::admin_reach(&engine, self.docker, self.image, self.scope);
        crate::proxy::Caddy::reached(self.caddy, self.server, reach)
    }

    /// Scoped by project and branch: the branch's server's name.
    fn id(&self) -> String {
        format!(
            "odoo-ci-{}",
            crate::db::staging::container_name(self.scope, self.branch)
        )
    }
}
