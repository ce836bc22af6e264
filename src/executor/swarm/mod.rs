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
/// nodes, that a task on any of them finds what it needs (`placement_problem`).
/// `near` names what a server needs on this manager, when something does (a mail
/// catcher odoo-ci runs is a container here).
pub fn check(
    docker: &Docker,
    settings: &SwarmSection,
    near: Option<&str>,
) -> Result<(), ExecError> {
    let info = runtime()?.block_on(docker.info())?;
    let swarm = info.swarm.clone().unwrap_or_default();
    let active = swarm.local_node_state == Some(bollard::models::LocalNodeState::ACTIVE);
    if !active || swarm.control_available != Some(true) {
        return Err(ExecError::Other(
            "`engine: swarm`, and the Docker engine is not a Swarm manager: run `docker swarm init` there, or point DOCKER_HOST at a manager of the swarm".into(),
        ));
    }
    let here = info.name.unwrap_or_default();
    let manager = Manager {
        nodes: swarm.nodes.unwrap_or(1),
        pinned: pinned_to(settings, &here, &swarm.node_id.unwrap_or_default()),
        name: &here,
    };
    match placement_problem(&manager, settings, near) {
        Some(problem) => Err(ExecError::Other(problem)),
        None => Ok(()),
    }
}

/// The manager odoo-ci drives, as the placement rules see it.
struct Manager<'a> {
    nodes: i64,
    /// The services are pinned to it.
    pinned: bool,
    name: &'a str,
}

/// Why a task placed on another node than the `manager` would not find what it needs:
/// the commit's image (in `swarm.registry`), its data dir (on storage every node sees),
/// or what `near` names, which is on the manager only. `None` on one node, or pinned.
fn placement_problem(
    manager: &Manager<'_>,
    settings: &SwarmSection,
    near: Option<&str>,
) -> Option<String> {
    let Manager { nodes, name, .. } = manager;
    if *nodes < 2 || manager.pinned {
        return None;
    }
    let pin = format!("or pin odoo-ci's services to this manager (`swarm.constraints: [\"node.hostname == {name}\"]`)");
    if settings.registry.is_none() {
        return Some(format!(
            "the swarm has {nodes} nodes, and the commit's image is on this manager ({name}) only: set `swarm.registry` for odoo-ci to push it where every node pulls it, {pin}"
        ));
    }
    if !shares_storage(settings) {
        return Some(format!(
            "the swarm has {nodes} nodes, and a server's filestore would be a `local` volume of whichever node runs it: set `swarm.volume_driver` / `swarm.volume_options` to storage every node sees (NFS), {pin}"
        ));
    }
    near.map(|what| {
        format!(
            "the swarm has {nodes} nodes, and {what} is a container on this manager ({name}), which a server on another node cannot reach: pin odoo-ci's services to this manager (`swarm.constraints: [\"node.hostname == {name}\"]`)"
        )
    })
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
    fn a_task_on_another_node_finds_the_image_the_files_and_the_catcher_or_is_pinned() {
        let manager = |nodes, pinned| Manager {
            nodes,
            pinned,
            name: "m1",
        };
        let shared = SwarmSection {
            registry: Some("r.io/team".into()),
            ..settings(Some("local"), &[("type", "nfs")], &[])
        };
        let catcher = Some("the branch's mail catcher");
        assert_eq!(
            placement_problem(&manager(1, false), &settings(None, &[], &[]), catcher),
            None
        );
        assert_eq!(
            placement_problem(&manager(3, true), &settings(None, &[], &[]), catcher),
            None
        );
        let no_registry = placement_problem(&manager(3, false), &settings(None, &[], &[]), None);
        assert!(no_registry
            .is_some_and(|p| p.contains("`swarm.registry`") && p.contains("node.hostname == m1")));
        let local = SwarmSection {
            registry: Some("r.io/team".into()),
            ..settings(None, &[], &[])
        };
        let no_storage = placement_problem(&manager(3, false), &local, None);
        assert!(no_storage.is_some_and(|p| p.contains("`swarm.volume_driver`")));
        assert_eq!(placement_problem(&manager(3, false), &shared, None), None);
        let far = placement_problem(&manager(3, false), &shared, catcher);
        assert!(far.is_some_and(
            |p| p.contains("the branch's mail catcher is a container on this manager")
        ));
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
