//! Short-lived helper containers on the engine, for work that must happen where the engine
//! is (its host's files, its host's network): created, given to the caller, and removed
//! whatever happened; or started, waited for, and their output read.

use std::time::{Duration, Instant};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;

use super::ExecError;

/// Creates the container `body`, lets `work` use it, and removes it whatever happened.
pub async fn with_container<T, E: From<bollard::errors::Error>>(
    docker: &Docker,
    body: ContainerCreateBody,
    work: impl AsyncFnOnce(&str) -> Result<T, E>,
) -> Result<T, E> {
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::new().build()), body)
        .await?;
    let result = work(&created.id).await;
    let _ = docker
        .remove_container(&created.id, Some(super::docker::removal()))
        .await;
    result
}

/// Starts the created helper `id` and waits for it to end (stopped at `timeout` or on a
/// cancel); its standard output, or why it failed (its exit code and standard error).
pub async fn start_and_collect(
    docker: &Docker,
    id: &str,
    timeout: Duration,
) -> Result<String, ExecError> {
    docker.start_container(id, None).await?;
    let started = Instant::now();
    let code = loop {
        let info = docker.inspect_container(id, None).await?;
        let state = info.state.unwrap_or_default();
        if state.running != Some(true) {
            break state.exit_code.unwrap_or(-1);
        }
        if crate::cancel::is_cancelled() || started.elapsed() > timeout {
            return Err(ExecError::Other(format!(
                "the helper container was stopped after {} s",
                started.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (stdout, stderr) = output(docker, id).await;
    if code != 0 {
        return Err(ExecError::Other(format!(
            "the helper container exited with code {code}: {}",
            stderr.trim()
        )));
    }
    Ok(stdout)
}

async fn output(docker: &Docker, id: &str) -> (String, String) {
    let mut stream = docker.logs(
        id,
        Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await
    {
        match chunk {
            bollard::container::LogOutput::StdErr { message } => err.extend(message),
            other => out.extend(other.into_bytes()),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}
