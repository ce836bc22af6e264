//! `install.sh`: the one-line install of a released binary, against a stand-in for the
//! release downloads (GitHub serves `releases/download/<tag>/<asset>`).

use crate::common;

use std::path::Path;
use std::process::Command;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A release archive as the release workflow makes it: `odoo-ci` at its root.
fn archive(dir: &Path, program: &str) -> Vec<u8> {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("odoo-ci"), program).unwrap();
    let out = dir.join("a.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&out)
        .arg("-C")
        .arg(&stage)
        .arg("odoo-ci")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

fn sha256(bytes: &[u8], dir: &Path) -> String {
    std::fs::write(dir.join("sum-me"), bytes).unwrap();
    let out = Command::new("sha256sum")
        .arg(dir.join("sum-me"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn install(server: &str, dest: &Path) -> std::process::Output {
    Command::new("sh")
        .arg(common::repo_root().join("install.sh"))
        .arg("v9.9.9")
        .arg(dest)
        .env("ODOO_CI_RELEASES", server)
        .output()
        .unwrap()
}

#[test]
fn installs_the_release_binary_only_when_its_checksum_matches() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = archive(dir.path(), "#!/bin/sh\necho odoo-ci 9.9.9\n");
    let target = match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    };
    let asset = format!("odoo-ci-{target}.tar.gz");
    let sums = format!("{}  {asset}\n", sha256(&good, dir.path()));

    let serve = |body: Vec<u8>| {
        let server = rt.block_on(MockServer::start());
        rt.block_on(
            Mock::given(method("GET"))
                .and(path(format!("/v9.9.9/{asset}")))
                .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
                .mount(&server),
        );
        rt.block_on(
            Mock::given(method("GET"))
                .and(path("/v9.9.9/SHA256SUMS"))
                .respond_with(ResponseTemplate::new(200).set_body_string(sums.clone()))
                .mount(&server),
        );
        server
    };

    let server = serve(good.clone());
    let dest = dir.path().join("bin");
    let out = install(&server.uri(), &dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = Command::new(dest.join("odoo-ci")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "odoo-ci 9.9.9\n");

    // An archive the checksums do not name: refused, nothing installed.
    let tampered = archive(dir.path(), "#!/bin/sh\necho evil\n");
    let server = serve(tampered);
    let dest = dir.path().join("bin2");
    let out = install(&server.uri(), &dest);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match the release's SHA256SUMS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dest.join("odoo-ci").exists(),
        "a tampered binary was installed"
    );
}
