//! Blue/green on one Docker network: two server containers of one production database,
//! told apart by the `odoo-ci.colour` label; traffic goes to whichever holds the network
//! alias the proxy resolves. Moving the alias is the switch.

use std::collections::HashMap;

use bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{ListContainersOptionsBuilder, RestartContainerOptionsBuilder};
use bollard::Docker;
use serde::Serialize;

use super::docker::runtime;
use super::ExecError;

pub const PRODUCTION_LABEL: &str = "odoo-ci.production";
/// The production database's own identity (its `database.uuid`), whatever server name or
/// project scope a deploy reaches it under.
pub const IDENTITY_LABEL: &str = "odoo-ci.production-uuid";
pub const COLOUR_LABEL: &str = "odoo-ci.colour";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Blue,
    Green,
}

impl Colour {
    pub fn other(self) -> Colour {
        match self {
            Colour::Blue => Colour::Green,
            Colour::Green => Colour::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Green => "green",
        }
    }

    fn parse(text: &str) -> Option<Colour> {
        match text {
            "blue" => Some(Colour::Blue),
            "green" => Some(Colour::Green),
            _ => None,
        }
    }
}

/// A production server container.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub id: String,
    pub name: String,
    pub colour: Colour,
    pub image: String,
    pub running: bool,
    pub labels: HashMap<String, String>,
}

impl Release {
    /// The release volume it runs with, when it runs the base image with one.
    pub fn release_volume(&self) -> Option<String> {
        self.labels.get(super::release_volume::LABEL).cloned()
    }
}

pub use super::docker::Reach;

pub struct BlueGreen<'a> {
    pub docker: &'a Docker,
    pub network: String,
    pub alias: String,
    /// The production database: containers are labelled with it.
    pub production: String,
    /// The project's scope: a release without an identity label is this production's only
    /// when it carries this scope too.
    pub project: String,
    /// The database's `database.uuid`, when it could be read: a release labelled with it
    /// is this production's whichever scope made it (a CI job and a terminal see one
    /// repository under two scopes, and one database must have one serving release).
    pub identity: Option<String>,
    pub reach: Reach,
}

impl BlueGreen<'_> {
    /// Creates the network when it does not exist.
    pub fn ensure_network(&self) -> Result<(), ExecError> {
        runtime()?.block_on(async {
            if self
                .docker
                .inspect_network(&self.network, None)
                .await
                .is_ok()
            {
                return Ok(());
            }
            self.docker
                .create_network(NetworkCreateRequest {
                    name: self.network.clone(),
                    driver: Some("bridge".into()),
                    ..NetworkCreateRequest::default()
                })
                .await?;
            Ok(())
        })
    }

    /// This production's server containers.
    pub fn releases(&self) -> Result<Vec<Release>, ExecError> {
        runtime()?.block_on(async {
            let filters = HashMap::from([(
                "label".to_string(),
                vec![format!("{PRODUCTION_LABEL}={}", self.production)],
            )]);
            let found = self
                .docker
                .list_containers(Some(
                    ListContainersOptionsBuilder::new()
                        .all(true)
                        .filters(&filters)
                        .build(),
                ))
                .await?;
            Ok(found
                .into_iter()
                .filter_map(|c| {
                    let labels = c.labels.unwrap_or_default();
                    if !self.is_ours(&labels) {
                        return None;
                    }
                    let colour = Colour::parse(labels.get(COLOUR_LABEL)?)?;
                    Some(Release {
                        id: c.id?,
                        name: c
                            .names
                            .and_then(|n| n.first().cloned())
                            .unwrap_or_default()
                            .trim_start_matches('/')
                            .to_string(),
                        colour,
                        image: c.image_id.or(c.image).unwrap_or_default(),
                        running: c.state.map(|s| s.to_string() == "running").unwrap_or(false),
                        labels,
                    })
                })
                .collect())
        })
    }

    /// Whether a container of this database's name is a release of this production: same
    /// database identity, or (a release labelled before identities, or a database whose
    /// identity cannot be read) same project scope.
    fn is_ours(&self, labels: &HashMap<String, String>) -> bool {
        match (labels.get(IDENTITY_LABEL), &self.identity) {
            (Some(theirs), Some(ours)) => theirs == ours,
            _ => labels.get(crate::names::PROJECT_LABEL) == Some(&self.project),
        }
    }

    /// The container holding the alias (the one serving), if any.
    pub fn active(&self) -> Result<Option<Release>, ExecError> {
        let releases = self.releases()?;
        for r in &releases {
            if self.has_alias(&r.id)? {
                return Ok(Some(r.clone()));
            }
        }
        Ok(releases.into_iter().find(|r| r.running))
    }

    /// Whether the container holds the alias (serves).
    pub fn has_alias(&self, id: &str) -> Result<bool, ExecError> {
        runtime()?.block_on(async {
            let info = self.docker.inspect_container(id, None).await?;
            Ok(info
                .network_settings
                .and_then(|n| n.networks)
                .and_then(|n| n.get(&self.network).cloned())
                .and_then(|e| e.aliases)
                .is_some_and(|a| a.contains(&self.alias)))
        })
    }

    /// The container's address on the network (reachable from the Docker host).
    pub fn address(&self, id: &str) -> Result<String, ExecError> {
        runtime()?.block_on(async {
            let info = self.docker.inspect_container(id, None).await?;
            info.network_settings
                .and_then(|n| n.networks)
                .and_then(|n| n.get(&self.network).cloned())
                .and_then(|e| e.ip_address)
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    ExecError::Other(format!(
                        "container {id} has no address on network {}",
                        self.network
                    ))
                })
        })
    }

    /// The status of `GET path` on the release's port at its address on the network (where
    /// the proxy reaches it): from here, or from inside the container when the engine is
    /// remote.
    pub fn http_status(&self, id: &str, port: u16, path: &str) -> Result<u16, String> {
        let addr = self.address(id).map_err(|e| e.to_string())?;
        match self.reach {
            Reach::Direct => crate::health::get_status(&addr, port, path),
            Reach::ThroughEngine => {
                let url = format!("http://{addr}:{port}{path}");
                let rt = runtime().map_err(|e| e.to_string())?;
                rt.block_on(super::probe::status_inside(self.docker, id, &url))
            }
        }
    }

    /// Reconnects `id` to the network with or without the alias.
    pub fn set_alias(&self, id: &str, with_alias: bool) -> Result<(), ExecError> {
        runtime()?.block_on(async {
            let _ = self
                .docker
                .disconnect_network(
                    &self.network,
                    NetworkDisconnectRequest {
                        container: id.to_string(),
                        force: Some(true),
                    },
                )
                .await;
            self.docker
                .connect_network(
                    &self.network,
                    NetworkConnectRequest {
                        container: id.to_string(),
                        endpoint_config: Some(EndpointSettings {
                            aliases: with_alias.then(|| vec![self.alias.clone()]),
                            ..EndpointSettings::default()
                        }),
                    },
                )
                .await?;
            Ok(())
        })
    }

    /// Moves traffic: the alias goes to `to`, and leaves `from`.
    pub fn switch(&self, from: Option<&str>, to: &str) -> Result<(), ExecError> {
        self.set_alias(to, true)?;
        if let Some(old) = from {
            self.set_alias(old, false)?;
        }
        Ok(())
    }

    pub fn remove(&self, id: &str) -> Result<(), ExecError> {
        runtime()?.block_on(async {
            self.docker
                .remove_container(id, Some(crate::executor::docker::removal()))
                .await?;
            Ok(())
        })
    }

    pub fn restart(&self, id: &str) -> Result<(), ExecError> {
        runtime()?.block_on(async {
            self.docker
                .restart_container(
                    id,
                    Some(RestartContainerOptionsBuilder::new().t(10).build()),
                )
                .await?;
            Ok(())
        })
    }

    /// Running, and never restarted by the engine since it started.
    pub fn stable(&self, id: &str) -> Result<Result<(), String>, ExecError> {
        runtime()?.block_on(async {
            let info = self.docker.inspect_container(id, None).await?;
            let restarts = info.restart_count.unwrap_or_default();
            let state = info.state.unwrap_or_default();
            Ok(
                if state.running != Some(true) || state.restarting == Some(true) {
                    Err(format!(
                        "the server exited (code {})",
                        state.exit_code.unwrap_or_default()
                    ))
                } else if restarts > 0 {
                    Err(format!(
                        "the server crashed and was restarted {restarts} time(s)"
                    ))
                } else {
                    Ok(())
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_local_socket_is_reached_directly() {
        assert_eq!(Reach::for_docker_host(None), Reach::Direct);
        assert_eq!(
            Reach::for_docker_host(Some("unix:///var/run/docker.sock")),
            Reach::Direct
        );
        for remote in [
            "tcp://10.0.0.5:2376",
            "ssh://deploy@prod",
            "https://prod:2376",
        ] {
            assert_eq!(
                Reach::for_docker_host(Some(remote)),
                Reach::ThroughEngine,
                "{remote}"
            );
        }
    }
}
