//! Odoo in a Docker container (bollard): the image built for this commit, the host network
//! (so a PostgreSQL on the runner is reachable), the data dir bind-mounted, labels on
//! everything, and the container removed whatever happens.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{ExecError, Executor, Invocation, LineBuffer, Outcome};

/// Where the host data dir is mounted inside the container.
pub const CONTAINER_DATA_DIR: &str = "/var/lib/odoo-ci";

#[derive(Clone)]
pub struct DockerExecutor {
    pub docker: Docker,
    pub image: String,
    /// What Odoo runs in (base image id and the repo's own Dockerfile), for the template
    /// cache key: the repo's addons are not part of it.
    pub environment_id: String,
    pub network: String,
    pub host_data_dir: String,
    /// More `host:container[:ro]` binds (the checkout, when it is mounted, not built in).
    pub extra_binds: Vec<String>,
    pub addons_paths: Vec<String>,
    pub labels: HashMap<String, String>,
    /// The command inside the image (`odoo`).
    pub command: String,
    /// `host:ip` entries for the containers (e.g. `host.docker.internal:host-gateway`).
    pub extra_hosts: Vec<String>,
    /// `uid:gid` Odoo runs as; `None` keeps the image's own user.
    pub user: Option<String>,
    /// The runner's data dir when the engine cannot see it (a remote engine): Odoo then
    /// writes into the image's own data dir, and an invocation's `data_in` / `data_out`
    /// travel between the two (see [`super::mirror`]). One-off runs only.
    pub mirror: Option<std::path::PathBuf>,
    /// The swarm its servers that stay up run on as services (`engine: swarm`); `None`:
    /// they are containers.
    pub swarm: Option<crate::config::SwarmSection>,
}

/// Removes a container whatever its state, with its anonymous volumes: the official Odoo
/// image declares two (`/var/lib/odoo`, `/mnt/extra-addons`), which leak otherwise.
pub fn removal() -> bollard::query_parameters::RemoveContainerOptions {
    RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build()
}

/// `uid:gid` of the owner of `dir` on this machine.
pub fn owner_of(dir: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).ok()?;
    Some(format!("{}:{}", meta.uid(), meta.gid()))
}

/// The identity of a Docker executor whose environment is `environment_id`.
pub fn identity_of(environment_id: &str) -> String {
    format!("docker:{environment_id}")
}

/// The one runtime of the process for bollard's async API (the rest of odoo-ci is
/// synchronous): built on first use, shared by every Docker call after it.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, ExecError> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExecError::Other(format!("cannot start the async runtime: {e}")))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Whether this machine sees what the engine sees: its files, its containers' addresses.
/// A health check then reaches a release's HTTP port directly, or through the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// From this machine to the container's address: the engine runs here.
    Direct,
    /// From inside the container, through the engine's exec API: a remote engine
    /// (`tcp://`, `ssh://`) whose container network this machine cannot reach.
    ThroughEngine,
}

impl Reach {
    /// An unset `DOCKER_HOST` or a `unix://` socket is this machine's engine.
    pub fn for_docker_host(host: Option<&str>) -> Reach {
        match host {
            None => Reach::Direct,
            Some(h) if h.is_empty() || h.starts_with("unix://") => Reach::Direct,
            Some(_) => Reach::ThroughEngine,
        }
    }
}

/// A Docker engine, resolved before a stage runs — `production.docker_host` for
/// production, else `DOCKER_HOST` as the process started with, else the local socket —
/// and passed to what needs it, never read back from the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engine {
    /// `None`: the local socket.
    host: Option<String>,
}

impl Engine {
    /// The engine a `DOCKER_HOST` value names (unset or empty: the local socket).
    pub fn from_docker_host(value: Option<String>) -> Engine {
        Engine {
            host: value.filter(|v| !v.is_empty()),
        }
    }

    /// The engine of this process's `DOCKER_HOST`.
    pub fn from_env() -> Engine {
        Engine::from_docker_host(std::env::var("DOCKER_HOST").ok())
    }

    pub fn at(host: &str) -> Engine {
        Engine::from_docker_host(Some(host.to_string()))
    }

    /// Whether this machine sees the engine's files.
    pub fn reach(&self) -> Reach {
        Reach::for_docker_host(self.host.as_deref())
    }

    /// The name of the remote engine's host (`tcp://h:2376`, `ssh://user@h` → `h`), where
    /// what its containers publish on the host network is reached; `None` for the local
    /// socket.
    pub fn host_name(&self) -> Option<String> {
        let host = self.host.as_deref()?;
        let (scheme, rest) = host.split_once("://")?;
        if scheme == "unix" || scheme == "npipe" {
            return None;
        }
        let authority = rest.split('/').next()?;
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let name = match authority.strip_prefix('[') {
            Some(v6) => format!("[{}]", v6.split(']').next()?),
            None => authority.split(':').next()?.to_string(),
        };
        (!name.is_empty()).then_some(name)
    }

    /// Connects and checks the engine answers.
    pub fn connect(&self) -> Result<Docker, ExecError> {
        match &self.host {
            Some(host) => connect_to(host),
            None => checked(Docker::connect_with_host("unix:///var/run/docker.sock")?),
        }
    }
}

/// The volume that is the data dir of the server container `name` on a remote engine.
pub fn server_data_volume(name: &str) -> String {
    format!("{name}-data")
}

/// Removes the volumes carrying all of `labels` (`key`, `value`): remove the containers
/// using them first (the engine refuses a volume in use). How many were removed.
pub fn remove_volumes_labelled(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<usize, ExecError> {
    let filters = HashMap::from([(
        "label".to_string(),
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    )]);
    runtime()?.block_on(async {
        let options = bollard::query_parameters::ListVolumesOptionsBuilder::new()
            .filters(&filters)
            .build();
        let found = docker.list_volumes(Some(options)).await?;
        let mut removed = 0;
        for volume in found.volumes.unwrap_or_default() {
            docker
                .remove_volume(
                    &volume.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await?;
            removed += 1;
        }
        Ok(removed)
    })
}

/// Connects to the engine of `DOCKER_HOST` (or the local socket) and checks it answers.
pub fn connect() -> Result<Docker, ExecError> {
    Engine::from_env().connect()
}

/// Connects to the engine at `host` (`unix://`, `tcp://`, `https://`, `ssh://`) and checks
/// it answers.
pub fn connect_to(host: &str) -> Result<Docker, ExecError> {
    checked(Docker::connect_with_host(host)?)
}

fn checked(docker: Docker) -> Result<Docker, ExecError> {
    runtime()?
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), docker.ping()).await })
        .map_err(|_| ExecError::Other("the Docker engine did not answer within 10 s".into()))??;
    Ok(docker)
}

impl Executor for DockerExecutor {
    fn run(&self, inv: &Invocation, on_line: &mut dyn FnMut(&[u8])) -> Result<Outcome, ExecError> {
        let rt = runtime()?;
        rt.block_on(self.run_async(inv, on_line))
    }

    fn addons_paths(&self) -> Vec<String> {
        self.addons_paths.clone()
    }

    fn data_dir(&self) -> String {
        match self.mirror {
            Some(_) => super::mirror::IMAGE_DATA_DIR.to_string(),
            None => CONTAINER_DATA_DIR.to_string(),
        }
    }

    fn identity(&self) -> String {
        identity_of(&self.environment_id)
    }

    fn as_docker(&self) -> Option<&DockerExecutor> {
        Some(self)
    }
}

impl DockerExecutor {
    /// The process of an Odoo container: `odoo` itself, as who, with what environment.
    ///
    /// The image's entrypoint is bypassed on purpose. The official one takes the database
    /// connection from its own variables (`DB_HOST`, default `db`) and, in 16.0/17.0,
    /// appends `--db_host … --db_password …` *after* our flags — so they win, and the
    /// password shows in `ps` and `docker top`. Both generations first wait 30 s for that
    /// host. odoo-ci has already reached the server, and gives Odoo the connection itself
    /// (flags, and the password in `PGPASSWORD`).
    ///
    /// Run as a uid the image does not know (the data dir's owner on a runner), Odoo's
    /// `getpass.getuser()` would find no name (`KeyError: getpwuid(): uid not found`):
    /// `LOGNAME` names the user, as a login would.
    fn odoo_process(&self, inv: &Invocation) -> ContainerCreateBody {
        let mut env: Vec<String> = inv.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if self.user.is_some() {
            env.push("LOGNAME=odoo".into());
        }
        ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(vec![self.command.clone()]),
            cmd: Some(inv.args.clone()),
            env: Some(env),
            user: self.user.clone(),
            // Standard input only when there is some: closed once written (`stdin_once`),
            // so `odoo shell` reads to its end.
            open_stdin: Some(inv.stdin.is_some()),
            stdin_once: Some(inv.stdin.is_some()),
            attach_stdin: Some(inv.stdin.is_some()),
            ..ContainerCreateBody::default()
        }
    }

    /// The data dir (unless it is mirrored), and what else is mounted.
    fn binds(&self) -> Vec<String> {
        let own = match self.mirror {
            Some(_) => None,
            None => Some(format!("{}:{CONTAINER_DATA_DIR}", self.host_data_dir)),
        };
        own.into_iter()
            .chain(self.extra_binds.iter().cloned())
            .collect()
    }

    /// A mirrored data dir: a volume of its own at the image's data dir, filled from the
    /// image (the official image's is its user's) and removed with the container.
    fn mounts(&self) -> Option<Vec<bollard::models::Mount>> {
        self.mirror.as_ref().map(|_| {
            vec![bollard::models::Mount {
                target: Some(super::mirror::IMAGE_DATA_DIR.to_string()),
                typ: Some(bollard::models::MountType::VOLUME),
                ..Default::default()
            }]
        })
    }

    async fn run_async(
        &self,
        inv: &Invocation,
        on_line: &mut dyn FnMut(&[u8]),
    ) -> Result<Outcome, ExecError> {
        let body = ContainerCreateBody {
            labels: Some(self.labels.clone()),
            host_config: Some(HostConfig {
                network_mode: Some(self.network.clone()),
                binds: Some(self.binds()),
                mounts: self.mounts(),
                extra_hosts: Some(self.extra_hosts.clone()),
                ..HostConfig::default()
            }),
            ..self.odoo_process(inv)
        };
        let created = self
            .docker
            .create_container(Some(CreateContainerOptionsBuilder::new().build()), body)
            .await?;
        let id = created.id;
        let result = self.run_mirrored(&id, inv, on_line).await;
        // Removed whatever happened: success, failure, timeout or cancel.
        if let Err(e) = self.docker.remove_container(&id, Some(removal())).await {
            tracing::warn!("could not remove container {id}: {e}");
        }
        result
    }

    /// Runs the created container `id`, its mirrored folders carried in before and out
    /// after (whatever the outcome: a failed run's screenshots are what explains it).
    async fn run_mirrored(
        &self,
        id: &str,
        inv: &Invocation,
        on_line: &mut dyn FnMut(&[u8]),
    ) -> Result<Outcome, ExecError> {
        let Some(local) = &self.mirror else {
            return self.attach_and_wait(id, inv, on_line).await;
        };
        super::mirror::carry_in(&self.docker, id, local, &inv.data_in).await?;
        let outcome = self.attach_and_wait(id, inv, on_line).await;
        let carried = super::mirror::carry_out(&self.docker, id, local, &inv.data_out).await;
        let outcome = outcome?;
        carried?;
        Ok(outcome)
    }

    async fn attach_and_wait(
        &self,
        id: &str,
        inv: &Invocation,
        on_line: &mut dyn FnMut(&[u8]),
    ) -> Result<Outcome, ExecError> {
        let input = match &inv.stdin {
            Some(_) => Some(self.stdin_of(id).await?),
            None => None,
        };
        self.docker.start_container(id, None).await?;
        if let (Some(input), Some(text)) = (input, &inv.stdin) {
            write_and_close(input, text).await?;
        }
        let mut outcome = self.follow_logs(id, inv, on_line).await?;
        if outcome.timed_out || outcome.cancelled {
            return Ok(outcome);
        }
        let mut wait = self
            .docker
            .wait_container(id, Some(WaitContainerOptionsBuilder::new().build()));
        outcome.exit_code = match wait.next().await {
            Some(Ok(r)) => Some(r.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(code),
            Some(Err(e)) => return Err(e.into()),
            None => None,
        };
        Ok(outcome)
    }

    /// The standard input of the created container `id`, attached before it starts so
    /// that nothing written is lost (its output is read from its logs, not from here).
    async fn stdin_of(&self, id: &str) -> Result<Pin<Box<dyn AsyncWrite + Send>>, ExecError> {
        let options = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stream(true)
            .build();
        let attached = self.docker.attach_container(id, Some(options)).await?;
        Ok(attached.input)
    }

    /// Hands the container's output to `on_line`, line by line, until it ends — or kills
    /// it at the invocation's timeout or on a cancel, and says which.
    async fn follow_logs(
        &self,
        id: &str,
        inv: &Invocation,
        on_line: &mut dyn FnMut(&[u8]),
    ) -> Result<Outcome, ExecError> {
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = self.docker.logs(id, Some(options));
        let started = Instant::now();
        let mut outcome = Outcome {
            exit_code: None,
            timed_out: false,
            cancelled: false,
        };
        let (mut out, mut err) = (LineBuffer::default(), LineBuffer::default());
        loop {
            match tokio::time::timeout(Duration::from_millis(200), logs.next()).await {
                Ok(Some(Ok(bollard::container::LogOutput::StdErr { message }))) => {
                    err.push(&message, on_line)
                }
                Ok(Some(Ok(other))) => out.push(&other.into_bytes(), on_line),
                Ok(Some(Err(e))) => return Err(e.into()),
                Ok(None) => break,
                Err(_) => {}
            }
            let cancelled = crate::cancel::is_cancelled();
            if cancelled || started.elapsed() > inv.timeout {
                (outcome.cancelled, outcome.timed_out) = (cancelled, !cancelled);
                self.kill(id).await;
                break;
            }
        }
        out.finish(on_line);
        err.finish(on_line);
        Ok(outcome)
    }

    async fn kill(&self, id: &str) {
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        if let Err(e) = self.docker.kill_container(id, Some(options)).await {
            tracing::warn!("could not stop container {id}: {e}");
        }
    }
}

/// A long-running Odoo server container (staging, production colours).
impl DockerExecutor {
    /// Starts `odoo <inv.args>` detached as container `name` (replacing one of that name),
    /// restarting unless stopped. Returns the container id.
    ///
    /// Where the data dir is mirrored (a remote engine), the server's is a volume of the
    /// engine, [`server_data_volume`] (labelled as the server, kept when it is re-created),
    /// and `inv.data_in` is carried into it before the server starts: it outlives the job.
    pub fn start_server(
        &self,
        name: &str,
        inv: &Invocation,
        extra_labels: &HashMap<String, String>,
    ) -> Result<String, ExecError> {
        let rt = runtime()?;
        rt.block_on(async {
            self.remove_own(name).await?;
            let mut labels = self.labels.clone();
            labels.extend(extra_labels.clone());
            let data = match self.mirror {
                Some(_) => Some(self.server_data(name, &labels, extra_labels).await?),
                None => None,
            };
            let body = ContainerCreateBody {
                labels: Some(labels),
                host_config: Some(HostConfig {
                    network_mode: Some(self.network.clone()),
                    binds: Some(self.binds()),
                    mounts: data,
                    extra_hosts: Some(self.extra_hosts.clone()),
                    restart_policy: Some(bollard::models::RestartPolicy {
                        name: Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED),
                        maximum_retry_count: None,
                    }),
                    ..HostConfig::default()
                }),
                ..self.odoo_process(inv)
            };
            let created = self
                .docker
                .create_container(
                    Some(CreateContainerOptionsBuilder::new().name(name).build()),
                    body,
                )
                .await?;
            if let Err(e) = self.carried_and_started(&created.id, inv).await {
                self.remove_named(&created.id).await;
                return Err(e);
            }
            Ok(created.id)
        })
    }

    /// Carries `inv.data_in` into the created server `id` (when the data dir is mirrored),
    /// then starts it.
    async fn carried_and_started(&self, id: &str, inv: &Invocation) -> Result<(), ExecError> {
        if let Some(local) = &self.mirror {
            super::mirror::carry_in(&self.docker, id, local, &inv.data_in).await?;
        }
        self.docker.start_container(id, None).await?;
        Ok(())
    }

    /// The volume `server_data_volume(name)`, created with `labels` when absent, mounted at
    /// the image's data dir (the official image's, owned by its user: a new volume is
    /// filled from it). One of that name that is this project's but serves something else
    /// (`extra` differs: a new staging copy) is replaced; one of another project's is
    /// refused, never removed.
    async fn server_data(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
        extra: &HashMap<String, String>,
    ) -> Result<Vec<bollard::models::Mount>, ExecError> {
        let volume = server_data_volume(name);
        let project = crate::names::PROJECT_LABEL;
        let existing = self.docker.inspect_volume(&volume).await.ok();
        if let Some(v) = &existing {
            if v.labels.get(project) != labels.get(project) {
                return Err(ExecError::Other(format!(
                    "a volume named `{volume}` exists and is not this project's (label {project}): odoo-ci does not remove it"
                )));
            }
        }
        let serves_it = |v: &bollard::models::Volume| {
            extra
                .iter()
                .all(|(k, value)| v.labels.get(k) == Some(value))
        };
        if existing.as_ref().is_some_and(|v| !serves_it(v)) {
            self.docker
                .remove_volume(
                    &volume,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await?;
        }
        if existing.is_none_or(|v| !serves_it(&v)) {
            self.docker
                .create_volume(bollard::models::VolumeCreateRequest {
                    name: Some(volume.clone()),
                    labels: Some(labels.clone()),
                    ..Default::default()
                })
                .await?;
        }
        Ok(vec![bollard::models::Mount {
            target: Some(super::mirror::IMAGE_DATA_DIR.to_string()),
            source: Some(volume),
            typ: Some(bollard::models::MountType::VOLUME),
            ..Default::default()
        }])
    }

    /// Whether the engine is remote: this machine neither sees its files (the data dir is
    /// mirrored) nor reaches its servers' ports.
    pub fn is_remote(&self) -> bool {
        self.mirror.is_some()
    }

    /// The status of `GET path` on the server `id`'s `port` (host network): from here, or
    /// from inside the server when the engine is remote.
    pub fn http_status(&self, id: &str, port: u16, path: &str) -> Result<u16, String> {
        match self.is_remote() {
            false => crate::health::get_status("127.0.0.1", port, path),
            true => {
                let url = format!("http://127.0.0.1:{port}{path}");
                let rt = runtime().map_err(|e| e.to_string())?;
                rt.block_on(super::probe::status_inside(&self.docker, id, &url))
            }
        }
    }

    /// Removes a container by name or id, if it exists.
    pub fn remove(&self, name: &str) -> Result<(), ExecError> {
        runtime()?.block_on(self.remove_named(name));
        Ok(())
    }

    /// Removes this project's containers that serve `database` (a staging server).
    /// Returns how many were removed.
    pub fn remove_servers_of(&self, database: &str) -> Result<usize, ExecError> {
        let label = crate::names::PROJECT_LABEL;
        let Some(project) = self.labels.get(label) else {
            return Ok(0);
        };
        remove_labelled(
            &self.docker,
            &[(label, project.as_str()), ("odoo-ci.database", database)],
        )
    }

    /// Removes the container `name` when it is this project's (its project label is the
    /// one this executor puts on its containers); refuses to touch anyone else's.
    async fn remove_own(&self, name: &str) -> Result<(), ExecError> {
        let Ok(info) = self.docker.inspect_container(name, None).await else {
            return Ok(());
        };
        let label = crate::names::PROJECT_LABEL;
        let theirs = info
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(label).cloned());
        if theirs.is_none() || theirs.as_ref() != self.labels.get(label) {
            return Err(ExecError::Other(format!(
                "a container named `{name}` exists and is not this project's (label {label}={}): odoo-ci does not remove it",
                theirs.as_deref().unwrap_or("none")
            )));
        }
        self.remove_named(name).await;
        Ok(())
    }

    async fn remove_named(&self, name: &str) {
        let _ = self.docker.remove_container(name, Some(removal())).await;
    }

    /// `None` while the container runs; otherwise why it is not running.
    pub fn not_running(&self, id: &str) -> Option<String> {
        let rt = runtime().ok()?;
        match rt.block_on(self.docker.inspect_container(id, None)) {
            Ok(info) => {
                let state = info.state?;
                if state.running == Some(true) && state.restarting != Some(true) {
                    None
                } else {
                    Some(format!(
                        "the server container exited (code {})",
                        state.exit_code.unwrap_or_default()
                    ))
                }
            }
            Err(e) => Some(format!("the server container is gone: {e}")),
        }
    }

    /// Why a server container will never become healthy, if it can be told already: it is
    /// not running, or Odoo logged that its database failed to load (it keeps listening).
    pub fn never_healthy(&self, id: &str) -> Option<String> {
        if let Some(reason) = self.not_running(id) {
            return Some(reason);
        }
        let log = self.logs_tail(id, 400);
        crate::odoo::fatal::fatal_excerpt(&log)
            .map(|excerpt| format!("Odoo could not load the database:\n{excerpt}"))
    }

    /// The last `tail` lines of a container's output.
    pub fn logs_tail(&self, id: &str, tail: usize) -> String {
        let Ok(rt) = runtime() else {
            return String::new();
        };
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        rt.block_on(collected(self.docker.logs(id, Some(options))))
            .unwrap_or_default()
    }
}

/// The text of a log stream (a container's or a service's), read until it ends or stays
/// silent for 5 s; an error of the stream ends it.
pub async fn collected(
    mut stream: impl futures_util::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>>
        + Unpin,
) -> Result<String, ExecError> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        out.extend_from_slice(&chunk?.into_bytes());
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// What the container `id` wrote since `since` (Unix seconds).
pub fn logs_since(docker: &Docker, id: &str, since: i64) -> Result<String, ExecError> {
    runtime()?.block_on(async {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .since(since as i32)
            .build();
        collected(docker.logs(id, Some(options))).await
    })
}

/// Removes every container that carries all of `labels` (e.g. this project's server of a
/// dropped database). Returns how many were removed.
pub fn remove_labelled(docker: &Docker, labels: &[(&str, &str)]) -> Result<usize, ExecError> {
    remove_labelled_where(docker, labels, |_| true)
}

/// [`remove_labelled`], only for the containers whose labels `wanted` accepts.
pub fn remove_labelled_where(
    docker: &Docker,
    labels: &[(&str, &str)],
    wanted: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<usize, ExecError> {
    let rt = runtime()?;
    rt.block_on(async {
        let filters = HashMap::from([(
            "label".to_string(),
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        )]);
        let found = docker
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let mut removed = 0;
        for c in found {
            if let (true, Some(id)) = (wanted(&c.labels.unwrap_or_default()), c.id) {
                match docker.remove_container(&id, Some(removal())).await {
                    Ok(()) => removed += 1,
                    // Gone since it was listed (a Swarm task's container removed by Swarm),
                    // or going: what this was for.
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404 | 409,
                        ..
                    }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(removed)
    })
}

/// Writes `text` to a container's standard input and closes it: the end of Odoo's input.
async fn write_and_close(
    mut input: Pin<Box<dyn AsyncWrite + Send>>,
    text: &str,
) -> Result<(), ExecError> {
    let failed =
        |e: std::io::Error| ExecError::Other(format!("writing Odoo's standard input: {e}"));
    input.write_all(text.as_bytes()).await.map_err(failed)?;
    input.shutdown().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_docker_call_shares_one_runtime() {
        // A new runtime was once built for each of 17 Docker calls.
        let first = runtime().unwrap();
        let second = runtime().unwrap();
        assert!(std::ptr::eq(first, second));
    }

    #[test]
    fn the_engine_is_what_was_resolved_not_the_process_environment() {
        let remote = Engine::at("ssh://deploy@prod.example");
        assert_eq!(remote.reach(), Reach::ThroughEngine);
        assert_eq!(Engine::from_docker_host(None).reach(), Reach::Direct);
        assert_eq!(
            Engine::from_docker_host(Some(String::new())).reach(),
            Reach::Direct
        );
        assert_eq!(
            Engine::at("unix:///run/user/1000/docker.sock").reach(),
            Reach::Direct
        );
    }

    #[test]
    fn a_remote_engine_s_host_is_where_its_published_ports_are() {
        let name = |h: &str| Engine::at(h).host_name();
        assert_eq!(name("tcp://10.0.0.5:2376"), Some("10.0.0.5".into()));
        assert_eq!(
            name("ssh://deploy@previews.example"),
            Some("previews.example".into())
        );
        assert_eq!(
            name("ssh://deploy@previews.example:2222"),
            Some("previews.example".into())
        );
        assert_eq!(
            name("https://docker.example:2376/"),
            Some("docker.example".into())
        );
        assert_eq!(name("tcp://[fd00::5]:2375"), Some("[fd00::5]".into()));
        assert_eq!(name("unix:///var/run/docker.sock"), None);
        assert_eq!(Engine::from_docker_host(None).host_name(), None);
    }
}
