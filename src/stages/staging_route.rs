//! A staging branch's own URL (`staging.proxy`): its server routed on Caddy by the
//! branch's host once it is healthy — the route of that branch replaced, so a new copy's
//! server takes the URL over — and removed with the branch (`staging drop --of-branch`).
//! Caddy is reached as previews reach it: from here, or from a remote engine's host.

use bollard::Docker;

use crate::config::schema::PreviewProxy;

/// What is routed: the branch of the project, on which engine, with which image.
pub struct Routed<'a> {
    pub proxy: &'a PreviewProxy,
    /// The project's name, `{project}` in the URL.
    pub project: &'a str,
    pub scope: &'a str,
    pub branch: &'a str,
    pub docker: &'a Docker,
    /// An image with `python3`, for the requests made from a remote engine's host.
    pub image: &'a str,
}

impl Routed<'_> {
    /// The branch's URL.
    pub fn url(&self) -> String {
        crate::proxy::preview_url(&self.proxy.url, self.project, self.branch)
    }

    /// Routes the branch's URL to its server on `port` of the engine's host.
    pub fn route(&self, port: u16) -> anyhow::Result<String> {
        let url = self.url();
        let host = crate::proxy::host_of(&url)
            .ok_or_else(|| anyhow::anyhow!("`{url}` (`staging.proxy.url`) has no host"))?;
        self.caddy()
            .route(&self.id(), host, &format!("127.0.0.1:{port}"))?;
        Ok(url)
    }

    /// Removes the branch's route; one that is not there is fine.
    pub fn unroute(&self) -> anyhow::Result<()> {
        Ok(self.caddy().unroute(&self.id())?)
    }

    fn caddy(&self) -> crate::proxy::Caddy {
        let engine = crate::executor::docker::Engine::from_env();
        let reach =
            crate::executor::host_http::admin_reach(&engine, self.docker, self.image, self.scope);
        crate::proxy::Caddy::reached(&self.proxy.caddy, &self.proxy.server, reach)
    }

    /// Scoped by project and branch: the branch's server's name.
    fn id(&self) -> String {
        format!(
            "odoo-ci-{}",
            crate::db::staging::container_name(self.scope, self.branch)
        )
    }
}
