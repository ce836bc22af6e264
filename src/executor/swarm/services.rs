//! The executor's servers as services of the swarm its engine manages ([`Servers`]).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, Mount, MountType, ServiceUpdateStatusStateEnum, TaskState,
};
use bollard::query_parameters::{
    ListTasksOptionsBuilder, LogsOptionsBuilder, UpdateServiceOptionsBuilder,
};
use bollard::Docker;

use super::spec::{order_after, Spec, PORT_LABEL};
use super::tasks::{live_tasks, node_of, remove_services_labelled, state_of};
use crate::config::SwarmSection;
use crate::executor::docker::{runtime, DockerExecutor};
use crate::executor::servers::{GivenUp, Servers};
use crate::executor::{ExecError, Invocation};
use crate::names::PROJECT_LABEL;

/// Tasks that failed in a row before a new service is given up on.
const FAILED_TASKS: usize = 3;

/// The executor's servers, as services of the swarm its engine manages.
pub struct Services<'a> {
    pub executor: &'a DockerExecutor,
    pub settings: &'a SwarmSection,
}

/// The name of `image` in `registry`: its last path part and tag under the registry's
/// path (`odoo-ci/acme_shop:abc123` → `registry.example.com/team/acme_shop:abc123`).
pub fn in_registry(registry: &str, image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    format!("{}/{name}", registry.trim_end_matches('/'))
}

/// The volume holding `database`'s server data dir.
pub fn data_volume(database: &str) -> String {
    format!("{database}-data")
}

/// The project label of a service: odoo-ci touches only its own project's.
fn project_of(service: &bollard::models::Service) -> Option<&String> {
    service.spec.as_ref()?.labels.as_ref()?.get(PROJECT_LABEL)
}

impl Services<'_> {
    fn docker(&self) -> &Docker {
        &self.executor.docker
    }

    /// How its services are made.
    fn spec(&self) -> Spec<'_> {
        Spec {
            executor: self.executor,
            settings: self.settings,
        }
    }

    /// The service `name` when it exists: refused when it is not this project's.
    async fn own(&self, name: &str) -> Result<Option<bollard::models::Service>, ExecError> {
        let Ok(service) = self.docker().inspect_service(name, None).await else {
            return Ok(None);
        };
        let ours = self.executor.labels.get(PROJECT_LABEL);
        if ours.is_none() || project_of(&service) != ours {
            return Err(ExecError::Other(format!(
                "a Swarm service named `{name}` exists and is not this project's (label {PROJECT_LABEL}): odoo-ci does not touch it"
            )));
        }
        Ok(Some(service))
    }

    /// The database's data volume, made when absent (refused when another project's),
    /// and `inv.data_in` carried into it from this runner's data dir.
    async fn filled_volume(
        &self,
        inv: &Invocation,
        labels: &HashMap<String, String>,
    ) -> Result<String, ExecError> {
        let database = labels
            .get("odoo-ci.database")
            .map(String::as_str)
            .unwrap_or("server");
        let volume = data_volume(database);
        match self.docker().inspect_volume(&volume).await {
            Ok(v) if v.labels.get(PROJECT_LABEL) != labels.get(PROJECT_LABEL) => {
                return Err(ExecError::Other(format!(
                    "a volume named `{volume}` exists and is not this project's (label {PROJECT_LABEL}): odoo-ci does not remove it"
                )))
            }
            Ok(_) => {}
            Err(_) => {
                let driver = self.spec().driver_config();
                self.docker()
                    .create_volume(bollard::models::VolumeCreateRequest {
                        name: Some(volume.clone()),
                        driver: driver.as_ref().and_then(|d| d.name.clone()),
                        driver_opts: driver.and_then(|d| d.options),
                        labels: Some(labels.clone()),
                        ..Default::default()
                    })
                    .await?;
            }
        }
        let local = self
            .executor
            .mirror
            .clone()
            .unwrap_or_else(|| self.executor.host_data_dir.clone().into());
        let helper = ContainerCreateBody {
            image: Some(self.executor.image.clone()),
            labels: Some(self.executor.labels.clone()),
            host_config: Some(bollard::models::HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(crate::executor::mirror::IMAGE_DATA_DIR.to_string()),
                    source: Some(volume.clone()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        crate::executor::helper::with_container(self.docker(), helper, async |id| {
            crate::executor::mirror::carry_in(self.docker(), id, &local, &inv.data_in).await
        })
        .await?;
        Ok(volume)
    }

    /// The commit's image pushed to `swarm.registry`, by its name there, when one is set:
    /// what a task on any node pulls.
    async fn pushed_image(&self) -> Result<Option<String>, ExecError> {
        let Some(registry) = &self.settings.registry else {
            return Ok(None);
        };
        let reference = in_registry(registry, &self.executor.image);
        crate::image::tag(self.docker(), &self.executor.image, &reference).await?;
        crate::image::push(self.docker(), &reference).await?;
        Ok(Some(reference))
    }

    /// Why Swarm will not make the service serve: it rolled the update back, or the
    /// new service's tasks keep failing.
    async fn refused(&self, id: &str) -> Option<String> {
        let service = match self.docker().inspect_service(id, None).await {
            Ok(s) => s,
            Err(e) => return Some(format!("the Swarm service is gone: {e}")),
        };
        let status = service.update_status.as_ref();
        use ServiceUpdateStatusStateEnum as U;
        if let Some(
            state @ (U::ROLLBACK_STARTED | U::ROLLBACK_PAUSED | U::ROLLBACK_COMPLETED | U::PAUSED),
        ) = status.and_then(|s| s.state)
        {
            let message = status.and_then(|s| s.message.clone()).unwrap_or_default();
            return Some(format!("Swarm stopped the update ({state}): {message}"));
        }
        if status.is_some() {
            return None;
        }
        let failed = self.failed_tasks(id).await;
        (failed.len() >= FAILED_TASKS).then(|| {
            let last = failed.first().cloned().unwrap_or_default();
            format!(
                "{} tasks of the Swarm service failed; the last: {last}",
                failed.len()
            )
        })
    }

    /// The errors of the service's failed tasks, newest first.
    async fn failed_tasks(&self, id: &str) -> Vec<String> {
        let filters = HashMap::from([("service".to_string(), vec![id.to_string()])]);
        let options = ListTasksOptionsBuilder::new().filters(&filters).build();
        let mut tasks = self
            .docker()
            .list_tasks(Some(options))
            .await
            .unwrap_or_default();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.version.as_ref().and_then(|v| v.index)));
        tasks
            .iter()
            .filter(|t| matches!(state_of(t), Some(TaskState::FAILED | TaskState::REJECTED)))
            .map(|t| {
                let status = t.status.clone().unwrap_or_default();
                status.err.or(status.message).unwrap_or_default()
            })
            .collect()
    }

    /// Asks Swarm to roll the update of `service` back, unless it is rolling back already.
    async fn rolled_back(
        &self,
        id: &str,
        service: bollard::models::Service,
    ) -> Result<(), ExecError> {
        use ServiceUpdateStatusStateEnum as U;
        let state = service.update_status.as_ref().and_then(|s| s.state);
        if matches!(
            state,
            Some(U::ROLLBACK_STARTED | U::ROLLBACK_PAUSED | U::ROLLBACK_COMPLETED)
        ) {
            return Ok(());
        }
        let version = service.version.and_then(|v| v.index).unwrap_or_default();
        let options = UpdateServiceOptionsBuilder::new()
            .version(version as i32)
            .rollback("previous")
            .build();
        let spec = service.spec.unwrap_or_default();
        self.docker()
            .update_service(id, spec, options, None)
            .await?;
        Ok(())
    }

    /// Whether Swarm finished replacing the service (or made it, for a new one).
    async fn settled(&self, id: &str) -> Result<bool, ExecError> {
        let service = self.docker().inspect_service(id, None).await?;
        let state = service.update_status.and_then(|s| s.state);
        Ok(matches!(
            state,
            None | Some(ServiceUpdateStatusStateEnum::COMPLETED)
        ))
    }
}

impl Servers for Services<'_> {
    fn start(
        &self,
        name: &str,
        inv: &Invocation,
        labels: &HashMap<String, String>,
    ) -> Result<String, ExecError> {
        let mut labels_all = self.executor.labels.clone();
        labels_all.extend(labels.clone());
        if let Some(port) = inv.http_port {
            labels_all.insert(PORT_LABEL.to_string(), port.to_string());
        }
        runtime()?.block_on(async {
            let before = self.own(name).await?;
            let volume = self.filled_volume(inv, &labels_all).await?;
            let order = order_after(before.as_ref().and_then(|s| s.spec.as_ref()), inv.http_port);
            let mut spec = self.spec().service(name, inv, &volume, &labels_all, order);
            if let Some(pushed) = self.pushed_image().await? {
                let task = spec
                    .task_template
                    .as_mut()
                    .and_then(|t| t.container_spec.as_mut());
                if let Some(container) = task {
                    container.image = Some(pushed);
                }
            }
            match before {
                Some(service) => {
                    let version = service.version.and_then(|v| v.index).unwrap_or_default();
                    let options = UpdateServiceOptionsBuilder::new()
                        .version(version as i32)
                        .build();
                    self.docker()
                        .update_service(name, spec, options, None)
                        .await?;
                    Ok(service.id.unwrap_or_else(|| name.to_string()))
                }
                None => {
                    let created = self.docker().create_service(spec, None).await?;
                    Ok(created.id.unwrap_or_else(|| name.to_string()))
                }
            }
        })
    }

    fn http_status(&self, id: &str, port: u16, path: &str) -> Result<u16, String> {
        let rt = runtime().map_err(|e| e.to_string())?;
        if !rt.block_on(self.settled(id)).map_err(|e| e.to_string())? {
            return Err("Swarm is still replacing the server".into());
        }
        let host = rt.block_on(node_of(self.docker(), id, true))?;
        // Asked from here, or from a remote engine's host, as Caddy's admin API is.
        let engine = crate::executor::docker::Engine::from_env();
        let scope = self.executor.labels.get(PROJECT_LABEL);
        let (image, scope) = (&self.executor.image, scope.map_or("", String::as_str));
        let reach = crate::executor::host_http::admin_reach(&engine, self.docker(), image, scope);
        let url = format!("http://{host}:{port}{path}");
        reach.call("GET", &url, None).map(|(status, _)| status)
    }

    /// Swarm gave up on it, or Odoo logged that the database failed to load (it keeps
    /// listening: Swarm would wait out the health check's start period to tell).
    fn never_healthy(&self, id: &str) -> Option<String> {
        let rt = runtime().ok()?;
        if let Some(reason) = rt.block_on(self.refused(id)) {
            return Some(reason);
        }
        let newest = rt
            .block_on(live_tasks(self.docker(), id))
            .ok()?
            .into_iter()
            .next()?;
        let container = newest.status?.container_status?.container_id?;
        let log = self.executor.logs_tail(&container, 400);
        crate::odoo::fatal::fatal_excerpt(&log)
            .map(|excerpt| format!("Odoo could not load the database:\n{excerpt}"))
    }

    fn logs_tail(&self, id: &str, tail: usize) -> String {
        let Ok(rt) = runtime() else {
            return String::new();
        };
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let stream = self.docker().service_logs(id, Some(options));
        rt.block_on(crate::executor::docker::collected(stream))
            .unwrap_or_default()
    }

    /// A new service is removed; a replaced one is rolled back by Swarm (asked to, when it
    /// has not begun on its own), which puts the server before back — waited for, up to
    /// a minute.
    fn give_up(&self, id: &str) -> Result<GivenUp, ExecError> {
        runtime()?.block_on(async {
            let service = self.docker().inspect_service(id, None).await?;
            // A new service has no update status: there is no server before it.
            if service.update_status.is_none() {
                self.docker().delete_service(id).await?;
                return Ok(GivenUp::Removed);
            }
            self.rolled_back(id, service).await?;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let service = self.docker().inspect_service(id, None).await?;
                let state = service.update_status.and_then(|s| s.state);
                if state == Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED) {
                    let database = service.spec.and_then(|s| s.labels?.get("odoo-ci.database").cloned());
                    return Ok(GivenUp::PreviousServes(database.unwrap_or_default()));
                }
                if std::time::Instant::now() > deadline {
                    return Err(ExecError::Other(format!(
                        "Swarm did not finish rolling the service back within a minute (it is {}): see `docker service ps {id}`",
                        state.map(|s| s.to_string()).unwrap_or_default()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    }

    fn remove_serving(&self, database: &str) -> Result<usize, ExecError> {
        let Some(project) = self.executor.labels.get(PROJECT_LABEL) else {
            return Ok(0);
        };
        runtime()?.block_on(remove_services_labelled(
            self.docker(),
            &[(PROJECT_LABEL, project), ("odoo-ci.database", database)],
        ))
    }

    fn host_of(&self, id: &str) -> Option<String> {
        runtime()
            .ok()?
            .block_on(node_of(self.docker(), id, true))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_named_in_the_registry_by_its_last_part_and_tag() {
        assert_eq!(
            in_registry(
                "registry.example.com:5000/team/",
                "odoo-ci/acme_shop:abc123"
            ),
            "registry.example.com:5000/team/acme_shop:abc123"
        );
        assert_eq!(in_registry("r.io", "plain:1"), "r.io/plain:1");
    }
}
