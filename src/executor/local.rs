//! Odoo as a local process (`odoo.command`): for CI jobs that already run in an Odoo image.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{ExecError, Executor, Invocation, LineBuffer, Outcome};

pub struct LocalExecutor {
    /// The command and its leading arguments, e.g. `["python3", "odoo-bin"]`.
    pub command: Vec<String>,
    pub addons_paths: Vec<String>,
    pub data_dir: String,
}

impl Executor for LocalExecutor {
    fn run(&self, inv: &Invocation, on_line: &mut dyn FnMut(&[u8])) -> Result<Outcome, ExecError> {
        let (program, lead) = self
            .command
            .split_first()
            .ok_or_else(|| ExecError::Other("`odoo.command` is empty".into()))?;
        let mut child = Command::new(program)
            .args(lead)
            .args(&inv.args)
            .env_clear()
            .envs(runtime_environment(std::env::vars()))
            .envs(inv.env.iter().map(|(k, v)| (k, v)))
            .stdin(match inv.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ExecError::Spawn {
                command: self.command.join(" "),
                source,
            })?;
        if let (Some(input), Some(text)) = (child.stdin.take(), inv.stdin.clone()) {
            spawn_writer(input, text);
        }
        let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(spawn_reader(out, 0, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(spawn_reader(err, 1, tx.clone()));
        }
        drop(tx);
        let started = Instant::now();
        // One buffer per stream, so a line split across reads never mixes with the other stream.
        let mut lines = [LineBuffer::default(), LineBuffer::default()];
        let mut outcome = Outcome {
            exit_code: None,
            timed_out: false,
            cancelled: false,
        };
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((stream, chunk)) => lines[stream].push(&chunk, on_line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let cancelled = crate::cancel::is_cancelled();
            if cancelled || started.elapsed() > inv.timeout {
                outcome.cancelled = cancelled;
                outcome.timed_out = !cancelled;
                let _ = child.kill();
                break;
            }
        }
        for l in &mut lines {
            l.finish(on_line);
        }
        let status = child
            .wait()
            .map_err(|e| ExecError::Other(format!("waiting for Odoo: {e}")))?;
        for r in readers {
            let _ = r.join();
        }
        if !outcome.timed_out && !outcome.cancelled {
            outcome.exit_code = status.code().map(i64::from);
        }
        Ok(outcome)
    }

    fn addons_paths(&self) -> Vec<String> {
        self.addons_paths.clone()
    }

    fn data_dir(&self) -> String {
        self.data_dir.clone()
    }

    fn identity(&self) -> String {
        format!("local:{}", self.command.join(" "))
    }
}

/// What a local Odoo process needs from the job's environment to start, and nothing else:
/// the code it runs never sees the job's tokens or passwords. The rest of its environment
/// is the stage's declared `env:` and its database connection (the [`Invocation`]).
const RUNTIME_VARIABLES: &[&str] = &[
    "PATH",
    "HOME",
    "LOGNAME",
    "USER",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
];

fn runtime_environment(
    vars: impl Iterator<Item = (String, String)>,
) -> impl Iterator<Item = (String, String)> {
    vars.filter(|(k, _)| RUNTIME_VARIABLES.contains(&k.as_str()) || k.starts_with("LC_"))
}

/// Writes `text` to the child's standard input, then closes it (end of input), on a
/// thread of its own: a child that writes a lot before it reads cannot block the run.
fn spawn_writer(mut input: std::process::ChildStdin, text: String) {
    std::thread::spawn(move || {
        if let Err(e) = std::io::Write::write_all(&mut input, text.as_bytes()) {
            tracing::warn!("could not write Odoo's standard input: {e}");
        }
    });
}

/// Reads a pipe in chunks (stdout and stderr interleave at chunk granularity, as a terminal shows them).
fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    stream: usize,
    tx: mpsc::Sender<(usize, Vec<u8>)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send((stream, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_odoo_needs_to_start_comes_from_the_job() {
        let job = [
            ("PATH", "/usr/bin"),
            ("LC_ALL", "C.UTF-8"),
            ("GITHUB_TOKEN", "ghs_x"),
            ("PRODUCTION_DB_URL", "postgresql://u:p@h/d"),
            ("MY_API_SECRET", "s"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let kept: Vec<String> = runtime_environment(job.into_iter())
            .map(|(k, _)| k)
            .collect();
        assert_eq!(kept, ["PATH", "LC_ALL"]);
    }
}
