//! A Docker distribution registry (Debian's `docker-registry`, the CNCF distribution 2.8)
//! on a free loopback port, its storage in a temporary folder: where odoo-ci pushes the
//! commit's image for a swarm's nodes. The engine pushes to it over plain HTTP: Docker
//! trusts registries on 127.0.0.0/8 without TLS.

use std::process::{Child, Command, Stdio};

pub struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    pub address: String,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("registry config");
        let child = Command::new("docker-registry")
            .args(["serve", config.to_str().expect("utf-8 path")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian's docker-registry package)");
        let registry = Registry {
            child,
            _dir: dir,
            address,
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while registry.get("/v2/").is_none() {
            assert!(
                std::time::Instant::now() < until,
                "the registry never answered"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        registry
    }

    /// The body of `GET path`, when it answers 200.
    pub fn get(&self, path: &str) -> Option<String> {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request\ntry: print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())\nexcept Exception: sys.exit(1)",
                &format!("http://{}{path}", self.address),
            ])
            .output()
            .expect("python3");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
