//! A single-node Docker Swarm on this machine's engine, for the tests of `engine: swarm`.
//! It is made when the engine is in none (`docker swarm init`); `scripts/test` leaves it
//! again after the run when it made it, so the engine is left as it was found.

use std::process::Command;
use std::sync::Mutex;

static INIT: Mutex<()> = Mutex::new(());

fn state() -> String {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.Swarm.LocalNodeState}}"])
        .output()
        .expect("docker info");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes this engine a swarm manager when it is in no swarm.
pub fn manager() {
    let _one = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if state() == "active" {
        return;
    }
    let out = Command::new("docker")
        .args(["swarm", "init"])
        .output()
        .expect("docker swarm init");
    assert!(
        out.status.success() || state() == "active",
        "docker swarm init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docker service inspect -f format name`, or `None` when there is no such service.
pub fn service(name: &str, format: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["service", "inspect", "-f", format, name])
        .output()
        .expect("docker service inspect");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The address this engine's node has in the swarm.
pub fn node_address() -> String {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.Swarm.NodeAddr}}"])
        .output()
        .expect("docker info");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The ids of the services carrying `label` (`key=value`), as `docker service ls` lists them.
pub fn services_labelled(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["service", "ls", "-q", "--filter", &format!("label={label}")])
        .output()
        .expect("docker service ls");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
