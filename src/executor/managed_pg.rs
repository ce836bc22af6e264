//! A PostgreSQL server odoo-ci runs itself when the project names an image
//! (`postgres.image`, e.g. `postgres:16`) instead of a server: a container with the
//! official image's contract (`POSTGRES_USER`, `POSTGRES_PASSWORD`, port 5432), published
//! on a free loopback port. It is kept running between runs (named after the project and
//! the image), so the template cache it holds keeps working; `docker rm -f
//! odoo-ci-postgres-…` removes it. Each project has its own: a container under that name
//! that is not labelled as this project's managed server is never used.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use sha2::{Digest, Sha256};

use super::docker::runtime;
use super::ExecError;
use crate::db::PgServer;

const USER: &str = "odoo";
pub const LABEL: &str = "odoo-ci.managed";

/// The managed server's container name for the project `scope` and `image`.
pub fn container_name(scope: &str, image: &str) -> String {
    let hash = Sha256::digest(image.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("odoo-ci-postgres-{scope}-{hex}")
}

/// The labels of the managed server of the project `scope`.
fn labels(scope: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL.to_string(), "postgres".to_string()),
        (crate::names::PROJECT_LABEL.to_string(), scope.to_string()),
    ])
}

/// An error unless the container `name`, as inspected, carries `wanted`'s labels.
fn check_owned(
    name: &str,
    info: &bollard::models::ContainerInspectResponse,
    wanted: &HashMap<String, String>,
) -> Result<(), ExecError> {
    let has = info
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    if wanted.iter().all(|(k, v)| has.get(k) == Some(v)) {
        return Ok(());
    }
    let scope = wanted
        .get(crate::names::PROJECT_LABEL)
        .map(String::as_str)
        .unwrap_or_default();
    Err(ExecError::Other(format!(
        "the container `{name}` is not odoo-ci's PostgreSQL for this project (it lacks the labels {LABEL}=postgres and {}={scope}); odoo-ci leaves it alone: remove or rename it, or set `postgres.url`",
        crate::names::PROJECT_LABEL
    )))
}

/// A managed server, ready: how to reach it and which container it is.
#[derive(Debug, Clone)]
pub struct Managed {
    pub server: PgServer,
    pub container: String,
    pub image: String,
    /// Created by this run from a cluster carried in the template cache folder.
    pub seeded: bool,
}

impl Managed {
    /// The superuser odoo-ci's databases are made by.
    pub fn user(&self) -> &str {
        USER
    }
}

/// The managed server of the project `scope` for `image`: reused when it exists (and is
/// labelled as this project's), created otherwise — from the cluster saved in `seed` (the
/// template cache folder) when it holds one of this project and image, so that a fresh CI
/// job starts with its templates in the server. Ready to accept connections (or an error
/// after `timeout`).
pub fn ensure(
    docker: &Docker,
    (scope, image): (&str, &str),
    timeout: Duration,
    seed: Option<&std::path::Path>,
) -> Result<Managed, ExecError> {
    let name = container_name(scope, image);
    let rt = runtime()?;
    let existing = rt.block_on(docker.inspect_container(&name, None)).ok();
    let seeded = match existing {
        Some(info) => {
            check_owned(&name, &info, &labels(scope))?;
            false
        }
        None => rt.block_on(create_seeded(docker, &name, (scope, image), seed, timeout))?,
    };
    let server = rt.block_on(started(docker, &name))?;
    wait_ready(&server, &name, image, timeout)?;
    Ok(Managed {
        server,
        container: name,
        image: image.to_string(),
        seeded,
    })
}

/// Creates the container `name`, seeded from the cluster in `seed` when there is one.
/// Whether it was seeded. A seeded server is made under a name of its own, started, given
/// the container's own password (the cluster holds the password of the server that saved
/// it), and only then renamed: another run never finds, nor starts, a half-seeded server.
async fn create_seeded(
    docker: &Docker,
    name: &str,
    (scope, image): (&str, &str),
    seed: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<bool, ExecError> {
    let compatible = super::pg_cluster::image_facts(docker, image)
        .await?
        .compatible;
    let entry = seed.and_then(|dir| super::pg_cluster::find(dir, name, scope, &compatible));
    let Some(entry) = entry else {
        create_or_found(docker, name, scope, image).await?;
        return Ok(false);
    };
    let now = unix_now();
    remove_left_seedings(docker, name, scope, now).await;
    let seeding = format!("{name}-seeding-{}-{now}", std::process::id());
    let made = async {
        create(docker, &seeding, scope, image).await?;
        seed_and_start(docker, &seeding, &entry, timeout).await
    };
    if let Err(e) = made.await {
        // A cluster that does not start is only a slower start: begin afresh.
        tracing::warn!("the saved cluster was not used ({e}); starting an empty server");
        remove(docker, &seeding).await;
        create_or_found(docker, name, scope, image).await?;
        return Ok(false);
    }
    let options = bollard::query_parameters::RenameContainerOptionsBuilder::new()
        .name(name)
        .build();
    if docker.rename_container(&seeding, options).await.is_err() {
        // Another run's server took the name meanwhile: that one serves.
        remove(docker, &seeding).await;
        return Ok(false);
    }
    tracing::info!(
        "{name}: started on the cluster saved in the template cache ({} bytes)",
        entry.bytes
    );
    Ok(true)
}

/// How long a seeding may take before its container counts as left by a killed run.
const SEEDING_LEFT_AFTER: Duration = Duration::from_secs(600);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Whether the container `other` is a seeding of `name` (`<name>-seeding-<pid>-<secs>`)
/// begun longer than [`SEEDING_LEFT_AFTER`] before `now`: a run killed while seeding.
fn is_left_seeding(name: &str, other: &str, now: u64) -> bool {
    other
        .trim_start_matches('/')
        .strip_prefix(&format!("{name}-seeding-"))
        .and_then(|rest| rest.rsplit_once('-'))
        .and_then(|(_, began)| began.parse::<u64>().ok())
        .is_some_and(|began| now.saturating_sub(began) > SEEDING_LEFT_AFTER.as_secs())
}

/// Removes the seedings of `name` that killed runs of the project `scope` left behind;
/// one in progress is never touched.
async fn remove_left_seedings(docker: &Docker, name: &str, scope: &str, now: u64) {
    let filters = HashMap::from([
        ("name".to_string(), vec![format!("{name}-seeding-")]),
        (
            "label".to_string(),
            vec![
                format!("{LABEL}=postgres"),
                format!("{}={scope}", crate::names::PROJECT_LABEL),
            ],
        ),
    ]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(found) = docker.list_containers(Some(options)).await else {
        return;
    };
    for container in found {
        let names = container.names.unwrap_or_default();
        if let Some(left) = names.iter().find(|n| is_left_seeding(name, n, now)) {
            tracing::info!("removing {left}, a seeding a killed run left");
            remove(docker, left.trim_start_matches('/')).await;
        }
    }
}

/// Uploads the cluster into the created container `name`, starts it, and sets its
/// superuser's password to the container's own once the server answers.
async fn seed_and_start(
    docker: &Docker,
    name: &str,
    entry: &super::pg_cluster::Entry,
    timeout: Duration,
) -> Result<(), ExecError> {
    super::pg_cluster::seed(docker, name, entry).await?;
    let server = started(docker, name).await?;
    let password = server.password.clone().unwrap_or_default();
    let since = Instant::now();
    while let Err(e) = super::pg_cluster::set_password(docker, name, USER, &password).await {
        if since.elapsed() > timeout {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Creates the container `name`, unless another run has just made it (the engine refuses
/// a second container of that name: 409).
async fn create_or_found(
    docker: &Docker,
    name: &str,
    scope: &str,
    image: &str,
) -> Result<(), ExecError> {
    match create(docker, name, scope, image).await {
        Err(ExecError::Docker(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        })) => Ok(()),
        other => other,
    }
}

/// Starts the container `name` when it is not running; the server it is.
async fn started(docker: &Docker, name: &str) -> Result<PgServer, ExecError> {
    let info = docker.inspect_container(name, None).await?;
    if info.state.as_ref().and_then(|s| s.running) != Some(true) {
        docker.start_container(name, None).await?;
    }
    let info = docker.inspect_container(name, None).await?;
    server_of(name, info)
}

/// Removes the container `name` and its anonymous volume (the data directory).
async fn remove(docker: &Docker, name: &str) {
    let options = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let _ = docker.remove_container(name, Some(options)).await;
}

/// Waits until `server` accepts connections, or `timeout`.
fn wait_ready(
    server: &PgServer,
    name: &str,
    image: &str,
    timeout: Duration,
) -> Result<(), ExecError> {
    let started = Instant::now();
    loop {
        match server.connect("postgres") {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() > timeout => {
                return Err(ExecError::Other(format!(
                    "the managed PostgreSQL container {name} ({image}) did not accept connections within {} s: {e}",
                    timeout.as_secs()
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// How the managed server runs: a throwaway server for templates and test databases, so
/// nothing waits for the disk (`fsync`, `synchronous_commit`, `full_page_writes` off, as
/// PostgreSQL's documentation suggests for data that can be recreated). A crash of the
/// engine's host can corrupt it: `docker rm -f` it and the next run builds it again.
/// Passed as the official image's entrypoint passes its arguments to `postgres`.
const THROWAWAY: [&str; 7] = [
    "postgres",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
];

/// Creates the container `name`: its own random password, port 5432 published on
/// 127.0.0.1 only, restarted with the engine, run as a throwaway server.
async fn create(docker: &Docker, name: &str, scope: &str, image: &str) -> Result<(), ExecError> {
    let password = uuid::Uuid::new_v4().simple().to_string();
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(THROWAWAY.iter().map(|s| s.to_string()).collect()),
        env: Some(vec![
            format!("POSTGRES_USER={USER}"),
            format!("POSTGRES_PASSWORD={password}"),
        ]),
        labels: Some(labels(scope)),
        exposed_ports: Some(vec!["5432/tcp".to_string()]),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([(
                "5432/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            restart_policy: Some(bollard::models::RestartPolicy {
                name: Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    docker.create_container(Some(options), body).await?;
    Ok(())
}

/// The server the running container `name` is: its password and published port.
fn server_of(
    name: &str,
    info: bollard::models::ContainerInspectResponse,
) -> Result<PgServer, ExecError> {
    let password = info
        .config
        .and_then(|c| c.env)
        .unwrap_or_default()
        .into_iter()
        .find_map(|e| e.strip_prefix("POSTGRES_PASSWORD=").map(str::to_string))
        .ok_or_else(|| ExecError::Other(format!("container {name} has no POSTGRES_PASSWORD")))?;
    let port = info
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get("5432/tcp").cloned().flatten())
        .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| ExecError::Other(format!("container {name} publishes no port for 5432")))?;
    Ok(PgServer {
        host: "127.0.0.1".into(),
        port,
        user: USER.into(),
        password: Some(password),
        tls: crate::db::tls::Tls {
            mode: crate::db::tls::SslMode::Disable,
            root_cert: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_seeding_older_than_any_seeding_takes_counts_as_left() {
        let name = "odoo-ci-postgres-p-12345678";
        let began = 1_000_000;
        let seeding = format!("/{name}-seeding-42-{began}");
        assert!(!is_left_seeding(name, &seeding, began + 60));
        assert!(is_left_seeding(name, &seeding, began + 601));
        assert!(!is_left_seeding(name, name, began + 601));
        assert!(!is_left_seeding(
            name,
            &format!("{name}-other-42-{began}"),
            began + 601
        ));
    }
}
