//! An HTTP request made from a remote engine's host: a helper container of an image that
//! has `python3` (every Odoo image), on the host's network, asks and prints the answer.
//! How odoo-ci reaches what listens on that host's loopback — Caddy's admin API beside
//! the previews — from a runner that only reaches the engine (`DOCKER_HOST`). The request
//! body is a route (no secret): it may be an argument.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::Docker;

use super::docker::runtime;
use super::helper;

/// Prints the status of the request, then the answer's text.
const REQUEST: &str = "import sys, urllib.request, urllib.error
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
data = body.encode() if body else None
headers = {'Content-Type': 'application/json'} if data else {}
request = urllib.request.Request(url, data=data, method=method, headers=headers)
try:
    answer = urllib.request.urlopen(request, timeout=10)
    print(answer.status)
    print(answer.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
    print(e.read().decode())
";

/// Requests made from the engine's host by helpers of `image`, labelled as the project's.
pub struct FromEngineHost {
    pub docker: Docker,
    pub image: String,
    pub scope: String,
}

/// Prints the first line a server on the host's loopback port `argv[1]` says (an SMTP
/// server's greeting), or fails.
const GREETING: &str = "import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
print(s.makefile().readline().strip())
s.sendall(b'QUIT\\r\\n')
";

impl FromEngineHost {
    /// What the server on the engine host's loopback `port` says first.
    pub fn greeting(&self, port: u16) -> Result<String, String> {
        let container = self.helper(("smtp", GREETING), vec![port.to_string()]);
        let rt = runtime().map_err(|e| e.to_string())?;
        rt.block_on(helper::with_container(
            &self.docker,
            container,
            async |id| helper::start_and_collect(&self.docker, id, Duration::from_secs(15)).await,
        ))
        .map(|line| line.trim().to_string())
        .map_err(|e| format!("from the engine's host: {e}"))
    }

    /// A helper running the Python `script` with `args`, on the host's network, labelled
    /// `odoo-ci.helper=<kind>`.
    fn helper(&self, (kind, script): (&str, &str), args: Vec<String>) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(vec!["python3".into(), "-c".into(), script.into()]),
            cmd: Some(args),
            labels: Some(HashMap::from([
                ("odoo-ci.helper".to_string(), kind.to_string()),
                (crate::names::PROJECT_LABEL.to_string(), self.scope.clone()),
            ])),
            host_config: Some(HostConfig {
                network_mode: Some("host".into()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        }
    }
}

impl crate::proxy::AdminReach for FromEngineHost {
    fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), String> {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let container = self.helper(("http", REQUEST), vec![method.into(), url.into(), text]);
        let rt = runtime().map_err(|e| e.to_string())?;
        let printed = rt
            .block_on(helper::with_container(
                &self.docker,
                container,
                async |id| {
                    helper::start_and_collect(&self.docker, id, Duration::from_secs(30)).await
                },
            ))
            .map_err(|e| format!("from the engine's host: {e}"))?;
        let (status, answer) = printed.split_once('\n').unwrap_or((printed.as_str(), ""));
        let status = status
            .trim()
            .parse()
            .map_err(|_| format!("from the engine's host: {}", printed.trim()))?;
        Ok((status, answer.trim_end().to_string()))
    }
}

/// How Caddy's admin API is reached: from here, or — on a remote engine, whose host
/// Caddy runs on beside the servers — from that host, by helpers of `image`.
pub fn admin_reach(
    engine: &super::docker::Engine,
    docker: &Docker,
    image: &str,
    scope: &str,
) -> std::sync::Arc<dyn crate::proxy::AdminReach> {
    match engine.host_name() {
        None => std::sync::Arc::new(crate::proxy::FromHere),
        Some(_) => std::sync::Arc::new(FromEngineHost {
            docker: docker.clone(),
            image: image.to_string(),
            scope: scope.to_string(),
        }),
    }
}
