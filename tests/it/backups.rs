//! Backups end to end, with the real restic: to a folder and to a real SSH server on
//! loopback (Debian's openssh-server), restored into production (`rollback --backup`) and
//! into staging (`stage --from-backup`), each checked against the database and filestore
//! as they were when the backup was taken — by this test's own checksum, not odoo-ci's.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::production::*;
use common::{checksum, files_under, image, psql, psql_on, run_in, unique, Output, Project};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

/// A production project whose backups go to `${BACKUP_REPO}`, with `extra` under
/// `production.backup`.
fn backed_up_project(network: &str, extra: &str) -> Project {
    let p = Project::new();
    p.addon("prod_a", "17.0.1.0.0", &["mail"])
        .write("addons/prod_a/__init__.py", "");
    p.config(&format!(
        "odoo:\n  series: \"17.0\"\n  image: {}\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\n  - match: staging\n    stage: staging\n  - match: \"*\"\n    stage: development\nproduction:\n  database: ${{PROD_URL}}\n  data_dir: ${{PROD_DATA}}\n  network: {network}\n  health_check:\n    timeout_secs: 20\n    settle_secs: 2\n  snapshots:\n    keep: 3\n  backup:\n    repository: ${{BACKUP_REPO}}\n    password: ${{BACKUP_PASSWORD}}\n{extra}staging:\n  mail_catcher: \"127.0.0.1:1025\"\n  health_check:\n    timeout_secs: 30\n",
        image()
    ));
    p.git_init();
    p.commit("a production project");
    p
}

struct Backed {
    p: Project,
    prod: Production,
    repo: String,
}

impl Backed {
    fn new(extra: &str, repo: impl FnOnce(&Path) -> String) -> Backed {
        let net = unique("odoo-ci-test-net");
        let p = backed_up_project(&net, extra);
        let prod = production(&p, &net);
        let repo = repo(p.path());
        let backed = Backed { p, prod, repo };
        let (out, r) = backed.deploy();
        assert_eq!(out.code, 0, "{}\n{r:#}", out.stderr);
        backed
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let cache = self.p.path().join(".cache");
        let mut env = env(&self.prod, cache.to_str().unwrap());
        env.push(("BACKUP_REPO", self.repo.clone()));
        env.push(("BACKUP_PASSWORD", PASSWORD.to_string()));
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_in(self.p.path(), args, &env)
    }

    fn deploy(&self) -> (Output, Value) {
        let out = self.run(&["deploy", "--branch", "main", "--output", "out"]);
        (out, self.result("out"))
    }

    fn result(&self, dir: &str) -> Value {
        let text = std::fs::read_to_string(self.p.path().join(dir).join("odoo-ci-result.json"))
            .unwrap_or_else(|e| panic!("no result in {dir}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn backups(&self) -> Vec<Value> {
        let out = self.run(&["backups", "list", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn backup(&self) -> String {
        let out = self.run(&["backup", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD));
        let taken: Value = serde_json::from_str(&out.stdout).unwrap();
        taken["id"].as_str().unwrap().to_string()
    }

    fn filestore(&self) -> PathBuf {
        self.prod.data_dir.join("filestore").join(&self.prod.db)
    }

    /// What users write after a backup: a row, and an attachment file.
    fn write_after_backup(&self) {
        psql_on(
            &self.prod.db,
            "INSERT INTO ir_config_parameter (key, value) VALUES ('after.backup', 'new')",
        );
        let dir = self.filestore().join("zz");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("written-after-the-backup"), "x").unwrap();
    }
}

fn folder_repo(root: &Path) -> String {
    root.join("backups-elsewhere")
        .to_string_lossy()
        .into_owned()
}

/// restic itself, on the test's repository.
fn restic(repo: &str, args: &[&str]) -> std::process::Output {
    Command::new("restic")
        .args(args)
        .env("RESTIC_REPOSITORY", repo)
        .env("RESTIC_PASSWORD", PASSWORD)
        .output()
        .expect("restic runs")
}

#[test]
fn a_backup_in_a_folder_puts_production_back_exactly_and_is_listed_with_its_commit() {
    let b = Backed::new("", folder_repo);
    let before = checksum(&b.prod.db);
    let files_before = files_under(&b.filestore());
    assert!(!files_before.is_empty(), "the fake Odoo wrote attachments");
    let id = b.backup();
    let listed = b.backups();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert!(listed[0]["id"].as_str().unwrap().starts_with(&id));
    let tags: Vec<&str> = listed[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"reason=manual"), "{tags:?}");
    assert!(
        tags.iter().any(|t| t.starts_with("commit=")),
        "the serving release's commit: {tags:?}"
    );

    b.write_after_backup();
    assert_ne!(checksum(&b.prod.db), before);
    let back = b.run(&["rollback", "--backup", &id, "--output", "out-rb"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(checksum(&b.prod.db), before, "the database as backed up");
    assert_eq!(
        files_under(&b.filestore()),
        files_before,
        "the filestore as backed up"
    );
    let r = b.result("out-rb");
    assert_eq!(r["trigger"], "rollback");
    let fetch = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "fetch")
        .expect("a fetch step");
    assert_eq!(fetch["status"], "completed", "{r:#}");
    let (_, ip) = serving(&b.prod).expect("a release serves the restored database");
    assert!(healthy(&ip));
    // The backup was taken of the same production: the rollback's own safety snapshot
    // still holds what users wrote after it.
    let snaps = b.run(&["snapshots", "list"]);
    assert!(snaps.stdout.contains("backup "), "{}", snaps.stdout);
}

#[test]
fn a_backup_restored_into_staging_is_a_neutralized_copy_of_the_backed_up_data() {
    let b = Backed::new("", folder_repo);
    let id = b.backup();
    b.write_after_backup();
    let out = b.run(&[
        "stage",
        "--branch",
        "staging",
        "--from-backup",
        &id,
        "--output",
        "out-stg",
    ]);
    let r = b.result("out-stg");
    let staged = r["database"].as_str().map(str::to_string);
    let cleanup = || {
        let _ = b.run(&["staging", "drop", "--of-branch", "staging"]);
    };
    if out.code != 0 {
        cleanup();
        panic!("{}\n{r:#}", out.stderr);
    }
    let staged = staged.expect("a staging database");
    let from_backup = psql_on(
        &staged,
        "SELECT count(*) FROM ir_config_parameter WHERE key = 'customer.data'",
    );
    let after = psql_on(
        &staged,
        "SELECT count(*) FROM ir_config_parameter WHERE key = 'after.backup'",
    );
    // Odoo's neutralization leaves its own autovacuum on (`base/data/neutralize.sql`).
    let active_crons = psql_on(
        &staged,
        "SELECT count(*) FROM ir_cron WHERE active AND id NOT IN (SELECT res_id FROM ir_model_data WHERE name = 'autovacuum_job')",
    );
    let marked = psql_on(
        &staged,
        "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'",
    );
    let copy_method = r["copy"]["method"].clone();
    cleanup();
    assert_eq!(from_backup, "1", "the backed-up data is there");
    assert_eq!(after, "0", "what was written after the backup is not");
    assert_eq!(active_crons, "0");
    assert_eq!(marked, "true");
    assert_eq!(copy_method, "backup", "{r:#}");
}

#[test]
fn a_deploy_that_updates_modules_backs_up_first_and_a_code_only_one_does_not() {
    let b = Backed::new("", folder_repo);
    assert!(
        b.backups().is_empty(),
        "a first deploy installs nothing new"
    );
    b.p.write("addons/prod_a/models.py", "# code only\n");
    b.p.commit("code only");
    let (out, r) = b.deploy();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "backup"),
        "a code-only deploy changes no data: {r:#}"
    );
    assert!(b.backups().is_empty());

    let before = checksum(&b.prod.db);
    b.p.addon("prod_a", "17.0.1.1.0", &["mail"]);
    b.p.commit("bump");
    let (out, r) = b.deploy();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let names: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let at = |n: &str| names.iter().position(|s| *s == n).unwrap();
    assert!(at("backup") < at("snapshot"), "{names:?}");
    let listed = b.backups();
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "reason=pre-deploy"));
    // The backup holds production as it was before the update.
    let id = listed[0]["short_id"].as_str().unwrap();
    let back = b.run(&["rollback", "--backup", id, "--output", "out-rb"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(checksum(&b.prod.db), before);
}

#[test]
fn retention_keeps_seven_daily_four_weekly_three_monthly_of_this_production_only() {
    let b = Backed::new("", folder_repo);
    b.backup();
    let host = b.backups()[0]["hostname"].as_str().unwrap().to_string();
    let src = b.p.path().join("old");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    let src = src.to_string_lossy().into_owned();
    // One backup a day for 90 days, as a daily job would have made them.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for day in 1..=90u64 {
        let when = time_of(now - day * 86_400);
        let out = restic(&b.repo, &["backup", "--host", &host, "--time", &when, &src]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Another machine's backup in the same repository: not odoo-ci's to prune.
    let foreign = time_of(now - 200 * 86_400);
    let out = restic(
        &b.repo,
        &["backup", "--host", "someone-else", "--time", &foreign, &src],
    );
    assert!(out.status.success());

    b.backup();
    let kept = b.backups();
    let days: Vec<u64> = kept
        .iter()
        .map(|s| (now.saturating_sub(epoch_of(s["time"].as_str().unwrap()))) / 86_400)
        .collect();
    // 7 daily (today and the 6 days before), then the last of each of 4 weeks and of each
    // of 3 calendar months, overlapping: at most 14, the oldest the last day of the month
    // two months back.
    assert!(kept.len() <= 14 && kept.len() >= 9, "{days:?}");
    for d in 1..=6u64 {
        assert!(days.contains(&d), "day {d} kept: {days:?}");
    }
    let today = epoch_of(&time_of(now)[..10]);
    let end_of_month_before_last = epoch_of(&format!("{}-01 -1 month -1 day", &time_of(now)[..7]));
    let expected = (today - end_of_month_before_last) / 86_400;
    assert_eq!(days.iter().max(), Some(&expected), "{days:?}");
    let all = restic(&b.repo, &["snapshots", "--json", "--host", "someone-else"]);
    let foreign: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(
        foreign.as_array().unwrap().len(),
        1,
        "another host's backup stays"
    );
}

#[test]
fn a_backup_whose_data_does_not_match_its_record_is_refused_and_production_untouched() {
    let b = Backed::new("", folder_repo);
    let id = b.backup();
    let host = b.backups()[0]["hostname"].as_str().unwrap().to_string();
    // A backup of this production whose recorded fingerprint is not its dump's.
    let out_dir = b.p.path().join("restored");
    let r = restic(
        &b.repo,
        &["restore", &id, "--target", out_dir.to_str().unwrap()],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let manifest = walk_find(&out_dir, "backup.json").expect("backup.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["database"]["fingerprint"] = Value::from("1:0000");
    std::fs::write(&manifest, serde_json::to_string(&m).unwrap()).unwrap();
    let dir = manifest.parent().unwrap().to_str().unwrap().to_string();
    let r = restic(&b.repo, &["backup", "--json", "--host", &host, &dir]);
    assert!(r.status.success());
    let bad = b.backups().last().unwrap()["short_id"]
        .as_str()
        .unwrap()
        .to_string();

    let before = checksum(&b.prod.db);
    let back = b.run(&["rollback", "--backup", &bad, "--output", "out-rb"]);
    assert_eq!(back.code, 1, "{}", back.stderr);
    let r = b.result("out-rb");
    assert_eq!(r["failed_step"], "fetch", "{r:#}");
    assert!(
        r["reasons"][0]
            .as_str()
            .unwrap()
            .contains("does not match the backup"),
        "{r:#}"
    );
    assert_eq!(checksum(&b.prod.db), before, "production untouched");
    let leftovers = psql(&format!(
        "SELECT count(*) FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE '%backup {bad}%'"
    ));
    assert_eq!(leftovers, "0", "no half-restored snapshot is left");
}

#[test]
fn a_wrong_password_fails_with_restic_s_reason_and_never_prints_it() {
    let b = Backed::new("", folder_repo);
    b.backup();
    let env = b.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.retain(|(k, _)| *k != "BACKUP_PASSWORD");
    env.push(("BACKUP_PASSWORD", "not-the-password-42"));
    let out = run_in(b.p.path(), &["backup"], &env);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("restic"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("not-the-password-42"),
        "{}",
        out.stderr
    );
}

/// An SSH server on loopback that lets `key` in as the current user.
struct Sshd {
    child: std::process::Child,
    port: u16,
    key: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd(dir: &Path) -> Sshd {
    let keygen = |path: &Path| {
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    let (host_key, key) = (dir.join("host_key"), dir.join("client_key"));
    keygen(&host_key);
    keygen(&key);
    let authorized = dir.join("authorized_keys");
    std::fs::copy(dir.join("client_key.pub"), &authorized).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all("/run/sshd").ok();
    // A configuration of its own: the system's (another port, another sftp) stays unread.
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n",
            host_key.display(),
            authorized.display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd starts");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Sshd { child, port, key }
}

#[test]
fn a_backup_over_sftp_to_a_real_ssh_server_round_trips() {
    let keys = tempfile::tempdir().unwrap();
    let server = sshd(keys.path());
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let remote_dir = keys.path().join("remote-repo");
    let command = format!(
        "ssh -p {} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes {user}@127.0.0.1 -s sftp",
        server.port,
        server.key.display()
    );
    let extra = format!("    options:\n      sftp.command: \"{command}\"\n");
    let b = Backed::new(&extra, |_| {
        format!("sftp:{user}@127.0.0.1:{}", remote_dir.display())
    });
    let before = checksum(&b.prod.db);
    let files_before = files_under(&b.filestore());
    let id = b.backup();
    assert!(
        remote_dir.join("config").is_file(),
        "the repository is on the SSH side"
    );
    b.write_after_backup();
    let back = b.run(&["rollback", "--backup", &id, "--output", "out-rb"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(checksum(&b.prod.db), before);
    assert_eq!(files_under(&b.filestore()), files_before);
}

fn walk_find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir() {
            if let Some(found) = walk_find(&path, name) {
                return Some(found);
            }
        }
    }
    None
}

/// `secs` since the epoch as restic's `--time` reads it (UTC).
fn time_of(secs: u64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// restic's RFC 3339 time as seconds since the epoch.
fn epoch_of(time: &str) -> u64 {
    let out = Command::new("date")
        .args(["-u", "-d", time, "+%s"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
