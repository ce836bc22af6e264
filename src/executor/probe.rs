//! An HTTP probe run inside a container, through the engine's exec API: how odoo-ci asks
//! a server for its health where this machine cannot reach it (a remote engine, whose
//! host and container networks are not this runner's).

use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use bollard::Docker;
use futures_util::StreamExt;

/// Run by `python3` inside the container (every Odoo image has it): prints the HTTP status
/// of `GET argv[1]`, or why there was none.
const PROBE: &str = "import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print('no answer: %s' % e)
";

/// The status of `GET url` asked from inside the container `id`, or why there was none
/// (within 10 s).
pub async fn status_inside(docker: &Docker, id: &str, url: &str) -> Result<u16, String> {
    tokio::time::timeout(std::time::Duration::from_secs(10), probe(docker, id, url))
        .await
        .unwrap_or_else(|_| Err("the health probe did not finish within 10 s".into()))
}

async fn probe(docker: &Docker, id: &str, url: &str) -> Result<u16, String> {
    let config = ExecConfig {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(vec![
            "python3".into(),
            "-c".into(),
            PROBE.into(),
            url.into(),
        ]),
        ..ExecConfig::default()
    };
    let cannot =
        |e: bollard::errors::Error| format!("cannot run the health probe in the container: {e}");
    let exec = docker.create_exec(id, config).await.map_err(cannot)?;
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.map_err(cannot)?
    {
        while let Some(chunk) = output.next().await {
            let chunk = chunk.map_err(|e| format!("the health probe failed: {e}"))?;
            text.push_str(&chunk.to_string());
        }
    }
    parse_probe_output(&text)
}

/// The probe's output → the status code, or the reason there was none.
fn parse_probe_output(text: &str) -> Result<u16, String> {
    let text = text.trim();
    match text.parse() {
        Ok(code) => Ok(code),
        Err(_) if text.is_empty() => Err("the health probe printed nothing".into()),
        Err(_) => Err(text.lines().last().unwrap_or(text).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_output_is_a_status_or_the_reason() {
        assert_eq!(parse_probe_output("200\n"), Ok(200));
        assert_eq!(parse_probe_output("503"), Ok(503));
        assert_eq!(
            parse_probe_output("no answer: [Errno 111] Connection refused\n"),
            Err("no answer: [Errno 111] Connection refused".into())
        );
        assert!(parse_probe_output("")
            .unwrap_err()
            .contains("printed nothing"));
        assert!(
            parse_probe_output("OCI runtime exec failed: python3: not found")
                .unwrap_err()
                .contains("python3")
        );
    }
}
