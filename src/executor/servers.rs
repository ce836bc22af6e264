//! The engine behind the servers that stay up (staging's): what a stage asks of one, and
//! the two that answer — containers on the Docker engine, services of its Swarm. A stage
//! starts, checks, reads, gives up on and removes a server only through [`Servers`], so a
//! further engine (Kubernetes' Deployment and Service) is one more implementation.

use std::collections::HashMap;

use super::docker::DockerExecutor;
use super::{ExecError, Invocation};

/// What became of a server that never got healthy, once given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GivenUp {
    /// It is gone, and nothing serves under its name.
    Removed,
    /// The engine put back the server that ran before under that name: it still serves.
    PreviousServes(String),
}

pub trait Servers {
    /// Starts `odoo <inv.args>` as the server `name` (replacing the one of that name, as
    /// the engine replaces: the container at once, a service start-first), labelled with
    /// `labels` too. Returns its id.
    fn start(
        &self,
        name: &str,
        inv: &Invocation,
        labels: &HashMap<String, String>,
    ) -> Result<String, ExecError>;
    /// The status of `GET path` on the server's `port`, once it is the one serving.
    fn http_status(&self, id: &str, port: u16, path: &str) -> Result<u16, String>;
    /// Why the server will never become healthy, when that can be told already.
    fn never_healthy(&self, id: &str) -> Option<String>;
    /// The last `tail` lines of its output.
    fn logs_tail(&self, id: &str, tail: usize) -> String;
    /// Gives up on a server that did not become healthy.
    fn give_up(&self, id: &str) -> Result<GivenUp, ExecError>;
    /// Removes this project's servers of `database`; how many.
    fn remove_serving(&self, database: &str) -> Result<usize, ExecError>;
    /// The host its port is opened on (a Swarm node's address); `None`: the engine's.
    fn host_of(&self, id: &str) -> Option<String>;
}

/// Containers on the executor's engine: a server is replaced at once, and one that does
/// not become healthy is removed.
pub struct Containers<'a>(pub &'a DockerExecutor);

impl Servers for Containers<'_> {
    fn start(
        &self,
        name: &str,
        inv: &Invocation,
        labels: &HashMap<String, String>,
    ) -> Result<String, ExecError> {
        self.0.start_server(name, inv, labels)
    }

    fn http_status(&self, id: &str, port: u16, path: &str) -> Result<u16, String> {
        self.0.http_status(id, port, path)
    }

    fn never_healthy(&self, id: &str) -> Option<String> {
        self.0.never_healthy(id)
    }

    fn logs_tail(&self, id: &str, tail: usize) -> String {
        self.0.logs_tail(id, tail)
    }

    fn give_up(&self, id: &str) -> Result<GivenUp, ExecError> {
        self.0.remove(id)?;
        Ok(GivenUp::Removed)
    }

    fn remove_serving(&self, database: &str) -> Result<usize, ExecError> {
        self.0.remove_servers_of(database)
    }

    fn host_of(&self, _id: &str) -> Option<String> {
        None
    }
}

/// A project's servers found by their labels: listed with whether each runs, stopped and
/// started again (their data kept: scale to zero), read, removed. What previews are
/// managed with, from a run or from `odoo-ci previews`.
pub trait Fleet {
    /// The servers carrying every one of `labels` (`key`, `value`), with whether each runs.
    fn labelled(&self, labels: &[(&str, &str)]) -> Result<Vec<(String, bool)>, ExecError>;
    /// Starts or stops the server `id`.
    fn set_running(&self, id: &str, run: bool) -> Result<(), ExecError>;
    /// What the server `id` wrote since `since` (Unix seconds).
    fn logs_since(&self, id: &str, since: i64) -> Result<String, ExecError>;
    /// Removes the servers carrying every one of `labels`; how many.
    fn remove_labelled(&self, labels: &[(&str, &str)]) -> Result<usize, ExecError>;
    /// `host:port` where the server `id` answers, when it is not the engine host's
    /// loopback: a swarm's node, which may change each time it starts.
    fn answers_at(&self, _id: &str) -> Option<String> {
        None
    }
}

/// Containers of the engine: stopped and started as they are.
pub struct ContainerFleet(pub bollard::Docker);

impl Fleet for ContainerFleet {
    fn labelled(&self, labels: &[(&str, &str)]) -> Result<Vec<(String, bool)>, ExecError> {
        let filters = HashMap::from([(
            "label".to_string(),
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        )]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let found = super::docker::runtime()?.block_on(self.0.list_containers(Some(options)))?;
        Ok(found
            .into_iter()
            .filter_map(|c| {
                let running = c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING);
                Some((c.id?, running))
            })
            .collect())
    }

    fn set_running(&self, id: &str, run: bool) -> Result<(), ExecError> {
        let rt = super::docker::runtime()?;
        match run {
            true => rt.block_on(self.0.start_container(id, None))?,
            false => rt.block_on(self.0.stop_container(id, None))?,
        }
        Ok(())
    }

    fn logs_since(&self, id: &str, since: i64) -> Result<String, ExecError> {
        super::docker::logs_since(&self.0, id, since)
    }

    fn remove_labelled(&self, labels: &[(&str, &str)]) -> Result<usize, ExecError> {
        super::docker::remove_labelled(&self.0, labels)
    }
}
