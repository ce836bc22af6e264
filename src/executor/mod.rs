//! Running Odoo: in Docker (the default) or as a local process. Both stream the same log
//! lines to the same callback, honour a timeout and Ctrl-C, and leave nothing running.

pub mod archive;
pub mod bluegreen;
pub mod command_line;
pub mod docker;
pub mod helper;
pub mod host_http;
pub mod local;
pub mod mail_catcher;
pub mod managed_pg;
pub mod mirror;
pub mod pg_cluster;
pub mod probe;
pub mod release_volume;
pub mod servers;
pub mod swarm;

use std::time::Duration;

use thiserror::Error;

/// One Odoo command to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Arguments after the `odoo` command.
    pub args: Vec<String>,
    /// Extra environment (e.g. `PGPASSWORD`, the stage's variables).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// Folders of the data dir (relative to it) Odoo reads, and those odoo-ci reads after
    /// it: where the engine cannot see the runner's data dir (a remote engine), the first
    /// are carried in before Odoo starts and the second out after it ends.
    pub data_in: Vec<String>,
    pub data_out: Vec<String>,
    /// The port Odoo serves HTTP on, when it is a server.
    pub http_port: Option<u16>,
    /// What Odoo reads on its standard input (`odoo shell` runs it), closed after it;
    /// `None`: no input at all.
    pub stdin: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// `None` when the process was killed (timeout or cancel).
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub cancelled: bool,
}

#[derive(Debug, Error)]
pub enum ExecError {
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error("{0}")]
    Other(String),
}

pub trait Executor {
    /// Runs Odoo; `on_line` gets each output line (stdout and stderr) as it comes.
    fn run(&self, inv: &Invocation, on_line: &mut dyn FnMut(&[u8])) -> Result<Outcome, ExecError>;
    /// The addons paths as Odoo sees them.
    fn addons_paths(&self) -> Vec<String>;
    /// The data dir (`-D`) as Odoo sees it.
    fn data_dir(&self) -> String;
    /// A stable description of what runs Odoo, for the template cache key.
    fn identity(&self) -> String;
    /// The Docker executor this is, when it is one: only it can start a server that
    /// outlives the run.
    fn as_docker(&self) -> Option<&docker::DockerExecutor> {
        None
    }
}

/// Splits a byte stream into lines across chunk boundaries.
#[derive(Default)]
pub struct LineBuffer {
    partial: Vec<u8>,
}

impl LineBuffer {
    pub fn push(&mut self, chunk: &[u8], on_line: &mut dyn FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                on_line(&rest[..i]);
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                on_line(&self.partial);
                self.partial.clear();
            }
            rest = &rest[i + 1..];
        }
        if self.partial.len() < crate::odoo::lines::MAX_LINE {
            self.partial.extend_from_slice(rest);
        }
    }

    pub fn finish(&mut self, on_line: &mut dyn FnMut(&[u8])) {
        if !self.partial.is_empty() {
            on_line(&self.partial);
            self.partial.clear();
        }
    }
}
