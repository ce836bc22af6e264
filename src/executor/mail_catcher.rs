//! A mail catcher odoo-ci runs beside a branch's staging server (`staging.mail_catcher:
//! {image: axllent/mailpit}`): a container with Mailpit's contract — SMTP on 1025, its web
//! UI and `/api/v1` on 8025 — both published on the engine's loopback. It is kept between
//! runs of the branch (the team reads the mail staging sent), named after the branch's
//! staging server with `-mail`, and removed with the branch (`odoo-ci staging drop
//! --of-branch`). A container of that name that is not this project's catcher is never
//! touched.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig, PortBinding};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;

use super::docker::runtime;
use super::ExecError;

pub const SMTP: &str = "1025/tcp";
pub const HTTP: &str = "8025/tcp";
/// The label every catcher carries; its value is the staging server it serves.
pub const LABEL: &str = "odoo-ci.mail-catcher-of";

/// A catcher, running: where Odoo sends to, where the runner checks it, where people read.
#[derive(Debug, Clone)]
pub struct Catcher {
    pub container: String,
    /// SMTP as Odoo's container reaches it (on `network`).
    pub smtp_host: String,
    pub smtp_port: u16,
    /// SMTP as this runner reaches it: the published loopback port.
    pub check: SocketAddr,
    /// The web UI (and Mailpit's API under `/api/v1`), on the engine's loopback.
    pub ui: String,
    pub ui_port: u16,
}

/// Where a catcher's greeting is heard from: here (the engine's loopback is this
/// machine's), or from a remote engine's host, where its ports are published.
pub enum Greeter {
    Here,
    FromEngineHost(super::host_http::FromEngineHost),
}

impl Greeter {
    /// From here, or — when `remote` — from the engine's host, by helpers of `image` (one
    /// with `python3`: Odoo's) labelled as the project `scope`'s.
    pub fn on(remote: bool, docker: &Docker, image: &str, scope: &str) -> Greeter {
        match remote {
            false => Greeter::Here,
            true => Greeter::FromEngineHost(super::host_http::FromEngineHost {
                docker: docker.clone(),
                image: image.to_string(),
                scope: scope.to_string(),
            }),
        }
    }

    /// Whether `catcher` greets (`220 …`) within `timeout`, retried while it starts.
    pub fn answers(&self, catcher: &Catcher, timeout: Duration) -> Result<(), String> {
        match self {
            Greeter::Here => answers_smtp(catcher.check, timeout),
            Greeter::FromEngineHost(host) => {
                greets_within(&mut || host.greeting(catcher.check.port()), timeout)
            }
        }
    }
}

/// What a catcher is: whose, for which staging server, from which image, on which network,
/// and where its greeting is heard from.
pub struct Spec<'a> {
    pub scope: &'a str,
    pub server: &'a str,
    pub image: &'a str,
    /// The Docker network the staging server runs on.
    pub network: &'a str,
    pub greeter: Greeter,
}

impl Spec<'_> {
    pub fn container(&self) -> String {
        format!("{}-mail", self.server)
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (
                crate::names::PROJECT_LABEL.to_string(),
                self.scope.to_string(),
            ),
            (LABEL.to_string(), self.server.to_string()),
        ])
    }
}

/// The branch's catcher, reused when it runs from `spec.image` (which the engine has),
/// (re)created otherwise, and answering SMTP within `timeout`.
pub fn ensure(docker: &Docker, spec: &Spec<'_>, timeout: Duration) -> Result<Catcher, ExecError> {
    let name = spec.container();
    let rt = runtime()?;
    let existing = rt.block_on(async {
        let found = docker.inspect_container(&name, None).await.ok();
        let current = match &found {
            Some(info) => same_image(docker, info, spec.image).await,
            None => false,
        };
        Ok::<_, ExecError>(found.map(|info| (info, current)))
    })?;
    match existing {
        Some((info, _)) if !is_owned(&info, spec) => return Err(not_ours(&name)),
        Some((_, true)) => {}
        Some((_, false)) => {
            remove_of(docker, spec.scope, spec.server)?;
            rt.block_on(create(docker, spec))?;
        }
        // Another run of the branch may have just made it (the engine answers 409): theirs
        // serves both.
        None => match rt.block_on(create(docker, spec)) {
            Err(ExecError::Docker(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                ..
            })) => {}
            other => other?,
        },
    }
    let info = rt.block_on(started(docker, &name))?;
    let catcher = catcher_of(&name, &info, spec.network)?;
    spec.greeter.answers(&catcher, timeout).map_err(|e| {
        ExecError::Other(format!(
            "the mail catcher {name} ({}) does not answer SMTP on {}: {e}",
            spec.image, catcher.check
        ))
    })?;
    Ok(catcher)
}

/// Removes the catcher of the project `scope`'s staging server `server`, if there is one.
pub fn remove_of(docker: &Docker, scope: &str, server: &str) -> Result<usize, ExecError> {
    let spec = Spec {
        scope,
        server,
        image: "",
        network: "",
        greeter: Greeter::Here,
    };
    super::docker::remove_labelled(docker, &own_filter(&spec))
}

/// Starts the container `name` (already running: the engine answers 304, which changes
/// nothing) and inspects it. One another run is still creating (the engine has reserved its
/// name but does not show it yet) is waited for, a few seconds at most.
async fn started(docker: &Docker, name: &str) -> Result<ContainerInspectResponse, ExecError> {
    let since = Instant::now();
    loop {
        let _ = docker.start_container(name, None).await;
        match docker.inspect_container(name, None).await {
            Ok(info) if info.state.as_ref().and_then(|s| s.running) == Some(true) => {
                return Ok(info)
            }
            Ok(_) | Err(_) if since.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Ok(info) => return Ok(info),
            Err(e) => return Err(e.into()),
        }
    }
}

fn own_filter<'a>(spec: &'a Spec<'a>) -> [(&'a str, &'a str); 2] {
    [
        (crate::names::PROJECT_LABEL, spec.scope),
        (LABEL, spec.server),
    ]
}

fn is_owned(info: &ContainerInspectResponse, spec: &Spec<'_>) -> bool {
    let has = info
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    spec.labels().iter().all(|(k, v)| has.get(k) == Some(v))
}

fn not_ours(name: &str) -> ExecError {
    ExecError::Other(format!(
        "a container named `{name}` exists and is not this project's mail catcher (label {LABEL}): odoo-ci leaves it alone; remove or rename it"
    ))
}

async fn same_image(docker: &Docker, info: &ContainerInspectResponse, image: &str) -> bool {
    let wanted = docker.inspect_image(image).await.ok().and_then(|i| i.id);
    wanted.is_some() && info.image == wanted
}

/// Creates the catcher: both ports published on 127.0.0.1 (a free port each), on the
/// staging server's network unless that is `host`, restarted with the engine.
async fn create(docker: &Docker, spec: &Spec<'_>) -> Result<(), ExecError> {
    let loopback = || {
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new()),
        }])
    };
    let network = (spec.network != "host").then(|| spec.network.to_string());
    let body = ContainerCreateBody {
        image: Some(spec.image.to_string()),
        labels: Some(spec.labels()),
        exposed_ports: Some(vec![SMTP.to_string(), HTTP.to_string()]),
        host_config: Some(HostConfig {
            network_mode: network,
            port_bindings: Some(HashMap::from([
                (SMTP.to_string(), loopback()),
                (HTTP.to_string(), loopback()),
            ])),
            restart_policy: Some(bollard::models::RestartPolicy {
                name: Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let options = CreateContainerOptionsBuilder::new()
        .name(&spec.container())
        .build();
    docker.create_container(Some(options), body).await?;
    Ok(())
}

/// Where the inspected catcher `name` is reached: Odoo on `network` (the host's loopback
/// port on `host`, the container's address on the default bridge, its name on a network
/// of the user's, where Docker resolves it), the runner on the published ports.
fn catcher_of(
    name: &str,
    info: &ContainerInspectResponse,
    network: &str,
) -> Result<Catcher, ExecError> {
    let settings = info.network_settings.as_ref();
    let published = |port: &str| {
        settings
            .and_then(|n| n.ports.as_ref())
            .and_then(|p| p.get(port).cloned().flatten())
            .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| ExecError::Other(format!("the mail catcher {name} publishes no {port}")))
    };
    let (smtp, http) = (published(SMTP)?, published(HTTP)?);
    let (smtp_host, smtp_port) = match network {
        "host" => ("127.0.0.1".to_string(), smtp),
        "bridge" | "default" => {
            let address = settings
                .and_then(|n| n.networks.as_ref())
                .and_then(|n| n.get("bridge"))
                .and_then(|e| e.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    ExecError::Other(format!("the mail catcher {name} has no bridge address"))
                })?;
            (address, 1025)
        }
        _ => (name.to_string(), 1025),
    };
    Ok(Catcher {
        container: name.to_string(),
        smtp_host,
        smtp_port,
        check: SocketAddr::from(([127, 0, 0, 1], smtp)),
        ui: format!("http://127.0.0.1:{http}/"),
        ui_port: http,
    })
}

/// Whether an SMTP server greets (`220 …`) at `at` within `timeout`, retried while it
/// starts.
pub fn answers_smtp(at: SocketAddr, timeout: Duration) -> Result<(), String> {
    greets_within(&mut || greeting(at).map_err(|e| e.to_string()), timeout)
}

/// Whether `greeting` gives an SMTP greeting (`220 …`) within `timeout`, asked again
/// while the server starts.
fn greets_within(
    greeting: &mut dyn FnMut() -> Result<String, String>,
    timeout: Duration,
) -> Result<(), String> {
    let since = Instant::now();
    loop {
        match greeting() {
            Ok(line) if line.starts_with("220") => return Ok(()),
            _ if since.elapsed() < timeout => std::thread::sleep(Duration::from_millis(100)),
            Ok(line) => return Err(format!("it said `{}`", line.trim())),
            Err(e) => return Err(e),
        }
    }
}

fn greeting(at: SocketAddr) -> std::io::Result<String> {
    let stream = TcpStream::connect_timeout(&at, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let _ = std::io::Write::write_all(&mut &stream, b"QUIT\r\n");
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn serve_once(greeting: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                let _ = s.write_all(greeting);
            }
        });
        at
    }

    #[test]
    fn an_smtp_greeting_answers_and_anything_else_does_not() {
        let smtp = serve_once(b"220 mailpit ESMTP\r\n");
        assert_eq!(answers_smtp(smtp, Duration::from_millis(300)), Ok(()));
        let http = serve_once(b"HTTP/1.1 400 Bad Request\r\n");
        let refused = answers_smtp(http, Duration::from_millis(300)).unwrap_err();
        assert!(refused.contains("HTTP/1.1 400"), "{refused}");
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(answers_smtp(closed, Duration::from_millis(200)).is_err());
    }

    #[test]
    fn a_catcher_is_named_after_its_staging_server() {
        let spec = Spec {
            scope: "p",
            server: "odoo-ci-staging-p-feature",
            image: "axllent/mailpit",
            greeter: Greeter::Here,
            network: "host",
        };
        assert_eq!(spec.container(), "odoo-ci-staging-p-feature-mail");
        assert_eq!(spec.labels()[LABEL], "odoo-ci-staging-p-feature");
    }
}
