//! Servers as Docker Swarm services (`engine: swarm`): placed on the swarm's nodes by its
//! constraints, restarted by Swarm, health-checked by Swarm, and replaced the way Swarm
//! replaces — `order: start-first`, `failure_action: rollback` — so a new server that
//! never becomes healthy leaves the one before it serving.
//!
//! A server's data dir is a volume of its database (`<database>-data`), of the driver the
//! `swarm` section names (NFS, say). The files the server needs are carried into it from
//! this runner before the service starts, as on a remote engine. On a swarm of more than
//! one node the services are pinned to the manager odoo-ci drives ([`check`]): the
//! commit's image and release are there only.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, HealthConfig, Mount, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatusStateEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecPlacement, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{
    ListServicesOptionsBuilder, ListTasksOptionsBuilder, LogsOptionsBuilder,
    UpdateServiceOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::docker::{runtime, DockerExecutor};
use super::servers::{Fleet, GivenUp, Servers};
use super::{ExecError, Invocation};
use crate::config::SwarmSection;
use crate::names::PROJECT_LABEL;

const NANOS: i64 = 1_000_000_000;
/// Tasks that failed in a row before a new service is given up on.
const FAILED_TASKS: usize = 3;

/// The executor's servers, as services of the swarm its engine manages.
pub struct Services<'a> {
    pub executor: &'a DockerExecutor,
    pub settings: &'a SwarmSection,
}

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

/// Run by the task's health check: exits 0 when `GET argv[1]` answers 200.
const HEALTHY: &str = "import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
";

impl Services<'_> {
    fn docker(&self) -> &Docker {
        &self.executor.docker
    }

    /// The task's container: the executor's Odoo process, its data dir the volume.
    fn container_spec(
        &self,
        inv: &Invocation,
        volume: &str,
        labels: &HashMap<String, String>,
        health: HealthConfig,
    ) -> TaskSpecContainerSpec {
        let mut env: Vec<String> = inv.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if self.executor.user.is_some() {
            env.push("LOGNAME=odoo".into());
        }
        TaskSpecContainerSpec {
            image: Some(self.executor.image.clone()),
            command: Some(vec![self.executor.command.clone()]),
            args: Some(inv.args.clone()),
            env: Some(env),
            user: self.executor.user.clone(),
            mounts: Some(
                std::iter::once(Mount {
                    target: Some(super::mirror::IMAGE_DATA_DIR.to_string()),
                    source: Some(volume.to_string()),
                    typ: Some(MountType::VOLUME),
                    volume_options: Some(MountVolumeOptions {
                        driver_config: self.driver_config(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .chain(self.executor.extra_binds.iter().filter_map(|b| mount_of(b)))
                .collect(),
            ),
            health_check: Some(health),
            // Its tasks' containers are the project's too: what drops a database finds
            // the stopped ones Swarm keeps, which hold its volume.
            labels: Some(labels.clone()),
            ..Default::default()
        }
    }

    fn driver_config(&self) -> Option<MountVolumeOptionsDriverConfig> {
        let s = self.settings;
        (s.volume_driver.is_some() || !s.volume_options.is_empty()).then(|| {
            MountVolumeOptionsDriverConfig {
                name: s.volume_driver.clone(),
                options: Some(s.volume_options.clone().into_iter().collect()),
            }
        })
    }

    /// The service: one replica, restarted by Swarm, replaced start-first (stop-first
    /// when its port is fixed: two tasks of one node cannot share it) and rolled back
    /// when the new task fails its health check.
    fn spec(
        &self,
        name: &str,
        inv: &Invocation,
        volume: &str,
        labels: &HashMap<String, String>,
        order: ServiceSpecUpdateConfigOrderEnum,
    ) -> ServiceSpec {
        let port = inv.http_port.unwrap_or(8069);
        let health = HealthConfig {
            test: Some(vec![
                "CMD".into(),
                "python3".into(),
                "-c".into(),
                HEALTHY.into(),
                format!("http://127.0.0.1:{port}/web/health"),
            ]),
            interval: Some(2 * NANOS),
            timeout: Some(6 * NANOS),
            retries: Some(3),
            start_period: Some(120 * NANOS),
            ..Default::default()
        };
        ServiceSpec {
            name: Some(name.to_string()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(self.container_spec(inv, volume, labels, health)),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                    delay: Some(2 * NANOS),
                    ..Default::default()
                }),
                placement: Some(TaskSpecPlacement {
                    constraints: Some(self.settings.constraints.clone()),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(self.executor.network.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(1),
                failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
                monitor: Some(2 * NANOS),
                order: Some(order),
                ..Default::default()
            }),
            rollback_config: Some(ServiceSpecRollbackConfig {
                parallelism: Some(1),
                order: Some(match order {
                    ServiceSpecUpdateConfigOrderEnum::START_FIRST => {
                        ServiceSpecRollbackConfigOrderEnum::START_FIRST
                    }
                    _ => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// A `source:target[:ro]` bind of the executor (the commit's release volume, a mounted
/// checkout) as a service mount: a volume by name, a bind by absolute path.
fn mount_of(bind: &str) -> Option<Mount> {
    let mut parts = bind.splitn(3, ':');
    let (source, target) = (parts.next()?, parts.next()?);
    let typ = match source.starts_with('/') {
        true => MountType::BIND,
        false => MountType::VOLUME,
    };
    Some(Mount {
        target: Some(target.to_string()),
        source: Some(source.to_string()),
        typ: Some(typ),
        read_only: Some(parts.next() == Some("ro")),
        ..Default::default()
    })
}

/// The label carrying the port a service's server listens on.
const PORT_LABEL: &str = "odoo-ci.http-port";

/// Start-first, unless the service before listens on the same port (a fixed
/// `http_port`): two tasks on one node cannot both bind it, so that one stops first.
fn order_after(
    before: Option<&ServiceSpec>,
    port: Option<u16>,
) -> ServiceSpecUpdateConfigOrderEnum {
    let port_before = before.and_then(|s| s.labels.as_ref()?.get(PORT_LABEL)?.parse::<u16>().ok());
    match port_before.is_some() && port_before == port {
        true => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        false => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
    }
}

/// The project label of a service: odoo-ci touches only its own project's.
fn project_of(service: &bollard::models::Service) -> Option<&String> {
    service.spec.as_ref()?.labels.as_ref()?.get(PROJECT_LABEL)
}

impl Services<'_> {
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
                let driver = self.driver_config();
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
                    target: Some(super::mirror::IMAGE_DATA_DIR.to_string()),
                    source: Some(volume.clone()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        super::helper::with_container(self.docker(), helper, async |id| {
            super::mirror::carry_in(self.docker(), id, &local, &inv.data_in).await
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

/// The service's tasks Swarm wants running, newest first.
async fn live_tasks(docker: &Docker, id: &str) -> Result<Vec<bollard::models::Task>, ExecError> {
    let filters = HashMap::from([
        ("service".to_string(), vec![id.to_string()]),
        ("desired-state".to_string(), vec!["running".to_string()]),
    ]);
    let options = ListTasksOptionsBuilder::new().filters(&filters).build();
    let mut tasks = docker.list_tasks(Some(options)).await?;
    tasks.sort_by_key(|t| std::cmp::Reverse(t.version.as_ref().and_then(|v| v.index)));
    Ok(tasks)
}

/// The address of the node of the service's newest task Swarm wants running: one that
/// runs already (`running`), or any that was given a node.
async fn node_of(docker: &Docker, id: &str, running: bool) -> Result<String, String> {
    let tasks = live_tasks(docker, id).await.map_err(|e| e.to_string())?;
    let task = tasks
        .iter()
        .find(|t| !running || state_of(t) == Some(TaskState::RUNNING))
        .ok_or("no task of the service runs yet")?;
    let node = task.node_id.as_deref().ok_or("the task has no node yet")?;
    let node = docker.inspect_node(node).await.map_err(|e| e.to_string())?;
    node.status
        .and_then(|s| s.addr)
        .ok_or_else(|| "the node has no address".to_string())
}

fn state_of(task: &bollard::models::Task) -> Option<TaskState> {
    task.status.as_ref()?.state
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
            let mut spec = self.spec(name, inv, &volume, &labels_all, order);
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
        let engine = super::docker::Engine::from_env();
        match engine.host_name() {
            None => crate::health::get_status(&host, port, path),
            Some(_) => {
                let reach = super::host_http::FromEngineHost {
                    docker: self.docker().clone(),
                    image: self.executor.image.clone(),
                    scope: self
                        .executor
                        .labels
                        .get(PROJECT_LABEL)
                        .cloned()
                        .unwrap_or_default(),
                };
                let url = format!("http://{host}:{port}{path}");
                crate::proxy::AdminReach::call(&reach, "GET", &url, None).map(|(status, _)| status)
            }
        }
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
        rt.block_on(async {
            let options = LogsOptionsBuilder::new()
                .stdout(true)
                .stderr(true)
                .tail(&tail.to_string())
                .build();
            let mut stream = self.docker().service_logs(id, Some(options));
            let mut out = Vec::new();
            while let Ok(Some(Ok(chunk))) =
                tokio::time::timeout(Duration::from_secs(5), stream.next()).await
            {
                out.extend_from_slice(&chunk.into_bytes());
            }
            String::from_utf8_lossy(&out).into_owned()
        })
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

/// [`remove_services_labelled`], from outside the runtime.
pub fn remove_services_labelled_now(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<usize, ExecError> {
    runtime()?.block_on(remove_services_labelled(docker, labels))
}

/// The services carrying every one of `labels`. An engine that is not a swarm manager
/// has none.
async fn services_labelled(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<bollard::models::Service>, ExecError> {
    let filters = HashMap::from([(
        "label".to_string(),
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
    )]);
    let options = ListServicesOptionsBuilder::new().filters(&filters).build();
    match docker.list_services(Some(options)).await {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 503, ..
        }) => Ok(Vec::new()),
        found => Ok(found?),
    }
}

/// Removes the services carrying every one of `labels`; how many.
pub async fn remove_services_labelled(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<usize, ExecError> {
    let found = services_labelled(docker, labels).await?;
    let mut removed = 0;
    for service in found {
        if let Some(id) = service.id {
            docker.delete_service(&id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

impl DockerExecutor {
    /// The engine its servers that stay up run on: the swarm's services when one was
    /// given, else containers.
    pub fn servers(&self) -> Box<dyn Servers + '_> {
        match &self.swarm {
            Some(settings) => Box::new(Services {
                executor: self,
                settings,
            }),
            None => Box::new(super::servers::Containers(self)),
        }
    }
}

/// The services of the swarm: stopped by scaling to zero replicas (no task, no CPU; the
/// volume and database kept), started by scaling to one.
pub struct ServiceFleet(pub Docker);

impl Fleet for ServiceFleet {
    fn labelled(&self, labels: &[(&str, &str)]) -> Result<Vec<(String, bool)>, ExecError> {
        let found = runtime()?.block_on(services_labelled(&self.0, labels))?;
        Ok(found
            .into_iter()
            .filter_map(|s| {
                let replicas = s
                    .spec
                    .as_ref()?
                    .mode
                    .as_ref()?
                    .replicated
                    .as_ref()?
                    .replicas;
                Some((s.id?, replicas.unwrap_or(0) > 0))
            })
            .collect())
    }

    fn set_running(&self, id: &str, run: bool) -> Result<(), ExecError> {
        runtime()?.block_on(async {
            let service = self.0.inspect_service(id, None).await?;
            let version = service.version.and_then(|v| v.index).unwrap_or_default();
            let mut spec = service.spec.unwrap_or_default();
            spec.mode = Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(i64::from(run)),
                }),
                ..Default::default()
            });
            let options = UpdateServiceOptionsBuilder::new()
                .version(version as i32)
                .build();
            self.0.update_service(id, spec, options, None).await?;
            match run {
                true => Ok(()),
                false => self.stopped(id).await,
            }
        })
    }

    fn logs_since(&self, id: &str, since: i64) -> Result<String, ExecError> {
        runtime()?.block_on(async {
            let options = LogsOptionsBuilder::new()
                .stdout(true)
                .stderr(true)
                .since(since as i32)
                .build();
            let mut stream = self.0.service_logs(id, Some(options));
            let mut out = Vec::new();
            while let Ok(Some(chunk)) =
                tokio::time::timeout(Duration::from_secs(5), stream.next()).await
            {
                out.extend_from_slice(&chunk?.into_bytes());
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        })
    }

    /// The node Swarm gave the service's task (it may move between starts; waited for up
    /// to 10 s) and the service's port.
    fn answers_at(&self, id: &str) -> Option<String> {
        runtime().ok()?.block_on(async {
            let service = self.0.inspect_service(id, None).await.ok()?;
            let labels = service.spec?.labels?;
            let port = labels.get(PORT_LABEL)?.clone();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                match node_of(&self.0, id, false).await {
                    Ok(address) => return Some(format!("{address}:{port}")),
                    Err(_) if std::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    Err(_) => return None,
                }
            }
        })
    }

    /// The services, then their tasks' containers Swarm keeps (they hold the volumes).
    fn remove_labelled(&self, labels: &[(&str, &str)]) -> Result<usize, ExecError> {
        let services = remove_services_labelled_now(&self.0, labels)?;
        super::docker::remove_labelled(&self.0, labels)?;
        Ok(services)
    }
}

impl ServiceFleet {
    /// Waits (up to 30 s) until no task of the service `id` runs: a stopped server is one
    /// that serves nothing and costs nothing, not one Swarm was asked to stop.
    async fn stopped(&self, id: &str) -> Result<(), ExecError> {
        let filters = HashMap::from([("service".to_string(), vec![id.to_string()])]);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let options = ListTasksOptionsBuilder::new().filters(&filters).build();
            let tasks = self.0.list_tasks(Some(options)).await?;
            let running = tasks.iter().any(|t| {
                matches!(
                    state_of(t),
                    Some(TaskState::RUNNING | TaskState::STARTING | TaskState::PREPARING)
                )
            });
            if !running {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(ExecError::Other(format!(
                    "a task of the Swarm service {id} still runs 30 s after it was scaled to zero"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The fleet of servers of an engine: the swarm's services, or containers.
pub fn fleet(docker: &Docker, swarm: bool) -> Box<dyn Fleet> {
    match swarm {
        true => Box::new(ServiceFleet(docker.clone())),
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

    #[test]
    fn a_pin_names_this_node() {
        let pin = |c: &str| pinned_to(&settings(None, &[], &[c]), "odoo-1", "abc");
        assert!(pin("node.hostname == odoo-1"));
        assert!(pin("node.id==abc"));
        assert!(!pin("node.hostname == odoo-2"));
        assert!(!pin("node.role == worker"));
        assert!(!pin("node.hostname != odoo-1"));
    }

    #[test]
    fn binds_become_mounts_of_volumes_or_host_paths() {
        let release = mount_of("odoo-ci-rel-abc:/opt/odoo-ci/release:ro").unwrap();
        assert_eq!(release.typ, Some(MountType::VOLUME));
        assert_eq!(release.source.as_deref(), Some("odoo-ci-rel-abc"));
        assert_eq!(release.target.as_deref(), Some("/opt/odoo-ci/release"));
        assert_eq!(release.read_only, Some(true));
        let checkout = mount_of("/home/runner/work/p:/mnt/project").unwrap();
        assert_eq!(checkout.typ, Some(MountType::BIND));
        assert_eq!(checkout.read_only, Some(false));
        assert!(mount_of("nonsense").is_none());
    }

    #[test]
    fn a_fixed_port_stops_the_server_before_its_replacement_starts() {
        let spec = |port: &str| ServiceSpec {
            labels: Some(HashMap::from([(PORT_LABEL.to_string(), port.to_string())])),
            ..Default::default()
        };
        use ServiceSpecUpdateConfigOrderEnum::*;
        assert_eq!(order_after(Some(&spec("8069")), Some(8069)), STOP_FIRST);
        assert_eq!(order_after(Some(&spec("8069")), Some(40001)), START_FIRST);
        assert_eq!(order_after(None, Some(8069)), START_FIRST);
    }
}
