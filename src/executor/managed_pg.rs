//! A PostgreSQL server odoo-ci runs itself when the project names an image
//! (`postgres.image`, e.g. `postgres:16`) instead of a server: a container with the
//! official image's contract (`POSTGRES_USER`, `POSTGRES_PASSWORD`, port 5432), published
//! on a free loopback port. It is kept running between runs (named after the image), so the
//! template cache it holds keeps working; `docker rm -f odoo-ci-postgres-…` removes it.

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

pub fn container_name(image: &str) -> String {
    let hash = Sha256::digest(image.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("odoo-ci-postgres-{hex}")
}

/// The managed server for `image`: reused when it exists, created otherwise; ready to
/// accept connections (or an error after `timeout`).
pub fn ensure(docker: &Docker, image: &str, timeout: Duration) -> Result<PgServer, ExecError> {
    let name = container_name(image);
    let rt = runtime()?;
    let server = rt.block_on(async {
        if docker.inspect_container(&name, None).await.is_err() {
            let password = uuid::Uuid::new_v4().simple().to_string();
            let body = ContainerCreateBody {
                image: Some(image.to_string()),
                env: Some(vec![
                    format!("POSTGRES_USER={USER}"),
                    format!("POSTGRES_PASSWORD={password}"),
                ]),
                labels: Some(HashMap::from([(LABEL.to_string(), "postgres".to_string())])),
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
            docker
                .create_container(
                    Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                    body,
                )
                .await?;
        }
        let info = docker.inspect_container(&name, None).await?;
        if info.state.as_ref().and_then(|s| s.running) != Some(true) {
            docker.start_container(&name, None).await?;
        }
        let info = docker.inspect_container(&name, None).await?;
        let password = info
            .config
            .and_then(|c| c.env)
            .unwrap_or_default()
            .into_iter()
            .find_map(|e| e.strip_prefix("POSTGRES_PASSWORD=").map(str::to_string))
            .ok_or_else(|| {
                ExecError::Other(format!("container {name} has no POSTGRES_PASSWORD"))
            })?;
        let port = info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get("5432/tcp").cloned().flatten())
            .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| {
                ExecError::Other(format!("container {name} publishes no port for 5432"))
            })?;
        Ok::<PgServer, ExecError>(PgServer {
            host: "127.0.0.1".into(),
            port,
            user: USER.into(),
            password: Some(password),
            tls: crate::db::tls::Tls {
                mode: crate::db::tls::SslMode::Disable,
                root_cert: None,
            },
        })
    })?;
    let started = Instant::now();
    loop {
        match server.connect("postgres") {
            Ok(_) => return Ok(server),
            Err(e) if started.elapsed() > timeout => {
                return Err(ExecError::Other(format!(
                    "the managed PostgreSQL container {name} ({image}) did not accept connections within {} s: {e}",
                    timeout.as_secs()
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}
