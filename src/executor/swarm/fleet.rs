//! Previews on the swarm ([`Fleet`]): services listed by label, stopped by scaling them
//! to zero, started by scaling them to one, read, removed.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ServiceSpecMode, ServiceSpecModeReplicated, TaskState};
use bollard::query_parameters::{
    ListTasksOptionsBuilder, LogsOptionsBuilder, UpdateServiceOptionsBuilder,
};
use bollard::Docker;

use super::spec::PORT_LABEL;
use super::tasks::{node_of, remove_services_labelled_now, services_labelled, state_of};
use crate::executor::docker::runtime;
use crate::executor::servers::Fleet;
use crate::executor::ExecError;

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
            crate::executor::docker::collected(self.0.service_logs(id, Some(options))).await
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
        crate::executor::docker::remove_labelled(&self.0, labels)?;
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
