//! Servers as Docker Swarm services (`engine: swarm`): placed on the swarm's nodes by its
//! constraints, restarted by Swarm, health-checked by Swarm, and replaced the way Swarm
//! replaces — `order: start-first`, `failure_action: rollback` — so a new server that
//! never becomes healthy leaves the one before it serving.
//!
//! A server's data dir is a volume of its database (`<database>-data`), of the driver the
//! `swarm` section names (NFS, say). The files the server needs are carried into it from
//! this runner before the service starts, as on a remote engine. On a swarm of more than
//! one node, a task finds the commit's image in `swarm.registry` and its data dir on
//! shared storage, or the services are pinned to the manager odoo-ci drives ([`check`]).
//!
//! `spec` makes a service, `services` runs staging's servers and previews' as services
//! ([`Servers`]), `fleet` manages previews ([`Fleet`]), `tasks` reads what Swarm says.

mod fleet;
mod services;
mod spec;
mod tasks;

use bollard::Docker;

use super::docker::{runtime, DockerExecutor};
use super::servers::{Fleet, Servers};
use super::ExecError;
use crate::config::SwarmSection;
pub use tasks::{remove_services_labelled, remove_services_labelled_now};

/// What odoo-ci requires of the swarm: its engine is a manager; and when it has other
/// nodes, that a task on any of them finds the commit's image (pushed to
/// `swarm.registry`) and the server's data dir (a volume every node sees:
/// `swarm.volume_driver` / `volume_options`) — or that the services are pinned to the
/// manager odoo-ci drives, which has both.
pub fn check(docker: &Docker, settings: &SwarmSection) -> Result<(), ExecError> {
    let info = runtime()?.block_on(docker.info())?;
    let swarm = info.swarm.clone().unwrap_or_default();
    let active = swarm.local_node_state == Some(bollard::models::LocalNodeState::ACTIVE);
    if !active || swarm.control_available != Some(true) {
        return Err(ExecError::Other(
            "`engine: swarm`, and the Docker engine is not a Swarm manager: run `docker swarm init` there, or point DOCKER_HOST at a manager of the swarm".into(),
        ));
    }
    let nodes = swarm.nodes.unwrap_or(1);
    let here = info.name.unwrap_or_default();
    if nodes < 2 || pinned_to(settings, &here, &swarm.node_id.unwrap_or_default()) {
        return Ok(());
    }
    let pin = format!("or pin odoo-ci's services to this manager (`swarm.constraints: [\"node.hostname == {here}\"]`)");
    if settings.registry.is_none() {
        return Err(ExecError::Other(format!(
            "the swarm has {nodes} nodes, and the commit's image is on this manager ({here}) only: set `swarm.registry` for odoo-ci to push it where every node pulls it, {pin}"
        )));
    }
    if !shares_storage(settings) {
        return Err(ExecError::Other(format!(
            "the swarm has {nodes} nodes, and a server's filestore would be a `local` volume of whichever node runs it: set `swarm.volume_driver` / `swarm.volume_options` to storage every node sees (NFS), {pin}"
        )));
    }
    Ok(())
}

/// A volume driver other than `local`, or `local` mounting a remote file system.
fn shares_storage(settings: &SwarmSection) -> bool {
    let driver = settings.volume_driver.as_deref().unwrap_or("local");
    driver != "local" || settings.volume_options.contains_key("type")
}

/// A constraint that pins the services to the node named `hostname` (or of id `id`).
fn pinned_to(settings: &SwarmSection, hostname: &str, id: &str) -> bool {
    settings.constraints.iter().any(|c| {
        let c = c.replace(' ', "");
        c == format!("node.hostname=={hostname}") || c == format!("node.id=={id}")
    })
}

impl DockerExecutor {
    /// The engine its servers that stay up run on: the swarm's services when one was
    /// given, else containers.
    pub fn servers(&self) -> Box<dyn Servers + '_> {
        match &self.swarm {
            Some(settings) => Box::new(services::Services {
                executor: self,
                settings,
            }),
            None => Box::new(super::servers::Containers(self)),
        }
    }
}

/// The fleet of servers of an engine: the swarm's services, or containers.
pub fn fleet(docker: &Docker, swarm: bool) -> Box<dyn Fleet> {
    match swarm {
        true => Box::new(fleet::ServiceFleet(docker.clone())),
        false => Box::new(super::servers::ContainerFleet(docker.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(
        driver: Option<&str>,
        options: &[(&str, &str)],
        constraints: &[&str],
    ) -> SwarmSection {
        SwarmSection {
            constraints: constraints.iter().map(|c| c.to_string()).collect(),
            volume_driver: driver.map(str::to_string),
            volume_options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            registry: None,
        }
    }

    #[test]
    fn storage_is_shared_by_a_driver_or_an_nfs_mount() {
        assert!(!shares_storage(&settings(None, &[], &[])));
        assert!(!shares_storage(&settings(Some("local"), &[], &[])));
        assert!(shares_storage(&settings(
            Some("local"),
            &[("type", "nfs")],
            &[]
        )));
        assert!(shares_storage(&settings(Some("rexray/efs"), &[], &[])));
    }

    #[test]
    fn a_pin_names_this_node() {
        let pin = |c: &str| pinned_to(&settings(None, &[], &[c]), "odoo-1", "abc");
        assert!(pin("node.hostname == odoo-1"));
        assert!(pin("node.id==abc"));
        assert!(!pin("node.hostname == odoo-2"));
        assert!(!pin("node.role == worker"));
        assert!(!pin("node.hostname != odoo-1"));
    }
}
