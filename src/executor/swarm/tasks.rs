//! What Swarm says of services and their tasks: the tasks it wants running, the node of
//! one, services found and removed by label.

use std::collections::HashMap;

use bollard::models::TaskState;
use bollard::query_parameters::{ListServicesOptionsBuilder, ListTasksOptionsBuilder};
use bollard::Docker;

use crate::executor::docker::runtime;
use crate::executor::ExecError;

/// The service's tasks Swarm wants running, newest first.
pub(super) async fn live_tasks(
    docker: &Docker,
    id: &str,
) -> Result<Vec<bollard::models::Task>, ExecError> {
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
pub(super) async fn node_of(docker: &Docker, id: &str, running: bool) -> Result<String, String> {
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

pub(super) fn state_of(task: &bollard::models::Task) -> Option<TaskState> {
    task.status.as_ref()?.state
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
pub(super) async fn services_labelled(
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
