//! A real Caddy for the tests that route servers through it.

use std::process::Command;

/// A real Caddy (Debian's package) on loopback: its admin API and one HTTP server `srv0`
/// with no route yet, as a user's Caddy in front of previews. Stopped when dropped.
pub struct Caddy {
    child: std::process::Child,
    pub admin: u16,
    pub http: u16,
    _dir: tempfile::TempDir,
}

impl Caddy {
    pub fn start() -> Caddy {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (admin, http) = (port(), port());
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::json!({
            "admin": {"listen": format!("127.0.0.1:{admin}"), "config": {"persist": false}},
            "apps": {"http": {"servers": {"srv0": {
                "listen": [format!("127.0.0.1:{http}")],
                "automatic_https": {"disable": true},
                "routes": []
            }}}}
        });
        let file = dir.path().join("caddy.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let child = Command::new("caddy")
            .args(["run", "--config"])
            .arg(&file)
            .env("XDG_CONFIG_HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("caddy (Debian's package) on PATH: ./scripts/test installs it");
        let caddy = Caddy {
            child,
            admin,
            http,
            _dir: dir,
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", admin)).is_err() {
            assert!(std::time::Instant::now() < until, "caddy did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        caddy
    }

    /// What Caddy answers to `GET /web/health` for the host `host`.
    pub fn get(&self, host: &str) -> String {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request\nr = urllib.request.Request(sys.argv[1], headers={'Host': sys.argv[2]})\ntry: print(urllib.request.urlopen(r, timeout=5).read().decode())\nexcept Exception as e: print(e)",
                &format!("http://127.0.0.1:{}/web/health", self.http),
                host,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Caddy {
    /// What Caddy answers to `GET /web/login` for the host `host`: its status and body.
    pub fn page(&self, host: &str) -> (u16, String) {
        self.fetch(host, "/web/login")
    }

    /// What Caddy answers to `GET path` for the host `host`: its status and body.
    pub fn fetch(&self, host: &str, path: &str) -> (u16, String) {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request, urllib.error\nr = urllib.request.Request(sys.argv[1], headers={'Host': sys.argv[2]})\ntry:\n    x = urllib.request.urlopen(r, timeout=5)\n    print(x.status, x.read().decode())\nexcept urllib.error.HTTPError as e: print(e.code, e.read().decode())\nexcept Exception as e: print(0, e)",
                &format!("http://127.0.0.1:{}{path}", self.http),
                host,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (code, body) = text.split_once(' ').unwrap_or((&text, ""));
        (code.parse().unwrap_or(0), body.to_string())
    }

    /// Caddy's configuration at `path` (under `/config/`), as JSON text.
    pub fn config(&self, path: &str) -> String {
        let url = format!("http://127.0.0.1:{}/config/{path}", self.admin);
        let out = Command::new("python3")
            .args(["-c", "import sys, urllib.request\nprint(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())", &url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
