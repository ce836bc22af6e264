//! Test fixtures: projects in temp dirs, real git repos with a fixed author, and a runner
//! for the real `odoo-ci` binary with a clean CI environment.
#![allow(dead_code)]

pub mod caddy;
pub mod github_deployments;
pub mod host_schemas;
pub mod production;
pub mod registry;
pub mod swarm;

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &Project {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
        self
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path().join(rel)).expect("remove");
    }

    pub fn addon(&self, name: &str, version: &str, depends: &[&str]) -> &Project {
        let deps: Vec<String> = depends.iter().map(|d| format!("'{d}'")).collect();
        self.write(
            &format!("addons/{name}/__manifest__.py"),
            &format!(
                "{{\n    'name': '{name}',\n    'version': '{version}',\n    'depends': [{}],\n}}\n",
                deps.join(", ")
            ),
        )
    }

    pub fn config(&self, yaml: &str) -> &Project {
        self.write(".odoo-ci.yml", yaml)
    }

    pub fn git_init(&self) -> git2::Repository {
        let repo = git2::Repository::init(self.path()).expect("git init");
        repo.set_head("refs/heads/main").expect("head");
        repo
    }

    /// Commits every file in the work tree; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        let repo = git2::Repository::open(self.path()).expect("open");
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.update_all(["*"], None).expect("update");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("find tree");
        let sig = git2::Signature::new(
            "Test",
            "test@example.com",
            &git2::Time::new(1_700_000_000, 0),
        )
        .expect("sig");
        let parents: Vec<git2::Commit<'_>> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parent_refs)
            .expect("commit")
            .to_string()
    }

    pub fn checkout_branch(&self, name: &str) {
        let repo = git2::Repository::open(self.path()).expect("open");
        let head = repo.head().expect("head").peel_to_commit().expect("commit");
        repo.branch(name, &head, true).expect("branch");
        repo.set_head(&format!("refs/heads/{name}"))
            .expect("set head");
    }

    pub fn detach(&self) {
        let repo = git2::Repository::open(self.path()).expect("open");
        let id = repo.head().expect("head").target().expect("target");
        repo.set_head_detached(id).expect("detach");
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_in(self.path(), args, &[])
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_odoo-ci"))
}

/// Runs the binary in `dir` with CI variables of the outer environment removed.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_wrapped(&[], dir, args, env)
}

/// Runs the binary as [`run_in`] does, as the last arguments of `wrapper` (e.g. a command
/// that changes what the binary can see).
pub fn run_wrapped(wrapper: &[&str], dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut cmd = Command::new(program);
            cmd.args(rest).arg(bin());
            cmd
        }
        None => Command::new(bin()),
    };
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_") || k.starts_with("GITLAB_") || k.starts_with("CI_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env_remove("ODOO_CI_CONFIG").env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run odoo-ci");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub const BASIC_CONFIG: &str = "odoo:\n  series: \"17.0\"\n  image: odoo:17.0\naddons_paths: [addons]\nbranches:\n  - match: main\n    stage: production\n  - match: \"staging*\"\n    stage: staging\n  - match: \"*\"\n    stage: development\n";

/// The PostgreSQL server `./scripts/test` set up (ODOO_CI_TEST_PG).
pub fn pg_url() -> String {
    std::env::var("ODOO_CI_TEST_PG")
        .expect("ODOO_CI_TEST_PG is not set: run the tests with ./scripts/test")
}

/// The parts of the test server's URL (`postgresql://user:password@host:port/db`).
pub struct PgParts {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: String,
}

pub fn pg_parts() -> PgParts {
    let url = pg_url();
    let rest = url.split_once("://").expect("scheme").1;
    let (auth, server) = rest.rsplit_once('@').expect("@");
    let (user, password) = auth.split_once(':').expect("user:password");
    let hostport = server.split('/').next().expect("host");
    let (host, port) = hostport.split_once(':').expect("port");
    PgParts {
        user: user.to_string(),
        password: password.to_string(),
        host: host.to_string(),
        port: port.to_string(),
    }
}

/// The fake Odoo image `./scripts/test` built (ODOO_CI_TEST_IMAGE).
pub fn image() -> String {
    std::env::var("ODOO_CI_TEST_IMAGE")
        .expect("ODOO_CI_TEST_IMAGE is not set: run the tests with ./scripts/test")
}

/// The URL of database `db` on the test server.
pub fn db_url(db: &str) -> String {
    let url = pg_url();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    format!("{base}/{db}")
}

/// Runs SQL on the test server's `postgres` database; the trimmed output.
pub fn psql(sql: &str) -> String {
    psql_on("postgres", sql)
}

/// Runs SQL on database `db` of the test server; the trimmed output.
pub fn psql_on(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .args([&db_url(db), "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql failed on {db}: {sql}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Installs `modules` into a new database `db` with the fake Odoo run locally (the way a
/// production database comes to be), its data dir at `data_dir`.
pub fn fake_odoo_install(addons: &Path, db: &str, modules: &str, data_dir: &Path) {
    fake_odoo_install_series(addons, db, modules, data_dir, "17.0");
}

/// [`fake_odoo_install`] as Odoo of `series` installs.
pub fn fake_odoo_install_series(
    addons: &Path,
    db: &str,
    modules: &str,
    data_dir: &Path,
    series: &str,
) {
    let PgParts {
        user,
        password,
        host,
        port,
    } = pg_parts();
    let out = Command::new(repo_root().join("tests/fake-odoo/bin/odoo"))
        .env("FAKE_ODOO_SERIES", series)
        .args([
            "-d",
            db,
            "--db_host",
            &host,
            "--db_port",
            &port,
            "-r",
            &user,
        ])
        .arg("--addons-path")
        .arg(addons)
        .arg("-D")
        .arg(data_dir)
        .args(["-i", modules, "--stop-after-init", "--without-demo=all"])
        .env("PGPASSWORD", password)
        .output()
        .expect("fake odoo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A checksum of every table of `db`: equal before and after means untouched.
pub fn checksum(db: &str) -> String {
    let tables = psql_on(
        db,
        "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'",
    );
    let mut all = String::new();
    for t in tables.split(' ') {
        all.push_str(&psql_on(
            db,
            &format!("SELECT '{t}:' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '-') FROM {t} x"),
        ));
    }
    all
}

/// Every file under `dir` (relative path → content), to compare filestores.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("below root");
                let content = std::fs::read_to_string(&path).unwrap_or_default();
                out.insert(rel.to_string_lossy().into_owned(), content);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Serves the local engine's socket on a TCP port, as a remote engine would be reached;
/// counts the connections made through it.
pub fn engine_over_tcp() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(unix) = UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut tcp_r, mut unix_w) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut tcp_r, &mut unix_w);
                let _ = unix_w.shutdown(std::net::Shutdown::Write);
            });
            let (mut unix_r, mut tcp_w) = (unix, tcp);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut unix_r, &mut tcp_w);
                let _ = tcp_w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, count)
}

/// Points `p`'s production at the local engine reached over TCP, as a remote engine would
/// be (`production.docker_host: tcp://…`); returns the count of connections made to it.
pub fn remote_production_engine(p: &Project) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let (port, connections) = engine_over_tcp();
    let config = std::fs::read_to_string(p.path().join(".odoo-ci.yml")).expect("config");
    p.config(&config.replace(
        "production:\n",
        &format!("production:\n  docker_host: tcp://127.0.0.1:{port}\n"),
    ));
    connections
}

/// Whether the tests run as root (else privileged steps go through `sudo`).
pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Gives `dir` to the user Odoo runs as in the fake image (uid 101, as in the official
/// one), as a production host's data dir belongs to it.
pub fn give_to_odoo_user(dir: &Path) {
    let mut cmd = if is_root() {
        Command::new("chown")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("chown");
        sudo
    };
    let status = cmd
        .args(["-R", "101:101"])
        .arg(dir)
        .status()
        .expect("chown");
    assert!(status.success(), "chown {}", dir.display());
}

/// Runs the binary where `hidden` looks empty (a private mount namespace with a tmpfs over
/// it), as a runner sees a remote engine's host: only the engine can reach what is there.
pub fn run_blind_to(hidden: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let script = "mount -t tmpfs odoo-ci-test \"$0\" && test -z \"$(ls -A \"$0\")\" && exec \"$@\"";
    let hidden = hidden.to_str().unwrap();
    let mut wrapper = if is_root() {
        vec![]
    } else {
        vec!["sudo", "-E"]
    };
    wrapper.extend(["unshare", "--mount", "sh", "-c", script, hidden]);
    run_wrapped(&wrapper, dir, args, env)
}

/// Ids of the containers labelled `label` (`key=value`); stopped ones too when `all`.
pub fn containers_labelled(label: &str, all: bool) -> Vec<String> {
    let flags = if all { "-aq" } else { "-q" };
    let out = Command::new("docker")
        .args(["ps", flags, "--filter", &format!("label={label}")])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Names of the volumes labelled `label` (`key=value`).
pub fn volumes_labelled(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", &format!("label={label}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Watches the engine for helper containers being created, by kind
/// (`odoo-ci.helper=<kind>`): what odoo-ci does on the engine's host. It follows the event
/// stream live: the engine keeps only its last few hundred events, which parallel tests
/// push out within seconds.
pub struct HelperWatch(std::process::Child);

impl HelperWatch {
    pub fn start() -> HelperWatch {
        let child = Command::new("docker")
            .args([
                "events",
                "--filter",
                "event=create",
                "--filter",
                "label=odoo-ci.helper",
            ])
            .args([
                "--format",
                "{{index .Actor.Attributes \"odoo-ci.helper\"}} {{index .Actor.Attributes \"odoo-ci.project\"}}",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("docker events");
        // Following before anything is created (it subscribes as it starts).
        std::thread::sleep(std::time::Duration::from_millis(300));
        HelperWatch(child)
    }

    /// How many helpers of each kind were created for the project of the container
    /// `of` (its `odoo-ci.project` label) since it started; it stops watching.
    pub fn stop(mut self, of: &str) -> std::collections::BTreeMap<String, usize> {
        let _ = self.0.kill();
        let out = self.0.wait_with_output().expect("docker events");
        let project = project_of(of);
        let mut kinds = std::collections::BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((kind, of_project)) = line.split_once(' ') {
                if of_project == project {
                    *kinds.entry(kind.to_string()).or_insert(0) += 1;
                }
            }
        }
        kinds
    }
}

/// The project label (`odoo-ci.project`) of the container `of`.
pub fn project_of(of: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{index .Config.Labels \"odoo-ci.project\"}}",
            of,
        ])
        .output()
        .expect("docker inspect");
    let project = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!project.is_empty(), "{of} has no project label");
    project
}

/// Filestore helper containers left on the engine by the project of the container `of`
/// (running or not): a test beside this one may have its own, which are not counted.
pub fn filestore_helpers_of(of: &str) -> usize {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=odoo-ci.helper=filestore"])
        .args([
            "--filter",
            &format!("label=odoo-ci.project={}", project_of(of)),
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

/// The steps of the plan a stage printed before it ran (`  1. build …`), in order.
pub fn printed_steps(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .take_while(|l| !l.starts_with('▸'))
        .filter_map(|l| {
            let rest = l.strip_prefix("  ")?;
            let (number, rest) = rest.split_once(". ")?;
            number.parse::<u32>().ok()?;
            rest.split_whitespace().next().map(str::to_string)
        })
        .collect()
}

/// The plan the stage printed is what it ran: the result records exactly the plan's steps,
/// in its order (a step that runs only on failure, like `rollback`, comes on top).
pub fn assert_ran_as_planned(stderr: &str, result: &serde_json::Value) {
    let planned = printed_steps(stderr);
    // Read as the one result contract the reporters read, not as loose JSON.
    let typed: odoo_ci::result::StageResult = serde_json::from_value(result.clone())
        .unwrap_or_else(|e| panic!("not an odoo-ci result ({e}): {result:#}"));
    assert_eq!(typed.schema_version, odoo_ci::result::SCHEMA_VERSION);
    let ran: Vec<String> = typed
        .steps
        .iter()
        .map(|s| s.name.clone())
        .filter(|name| name != "rollback")
        .collect();
    assert_eq!(
        ran, planned,
        "the result's steps are not the printed plan's:\n{stderr}"
    );
}

/// Compares `text` with `tests/snapshots/<name>.txt`, so a change in what users read shows
/// in review. `ODOO_CI_BLESS=1` writes the file instead. What varies from run to run is
/// redacted: the `project` folder, the repository, commits and worktree hashes.
pub fn assert_snapshot(name: &str, text: &str, project: Option<&Path>) {
    let redacted = redact(text, project);
    let path = repo_root()
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var("ODOO_CI_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &redacted).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run `ODOO_CI_BLESS=1 cargo test` and review it\n{redacted}",
            path.display()
        )
    });
    assert_eq!(
        redacted,
        expected,
        "what users read changed ({}); if meant, re-bless with ODOO_CI_BLESS=1",
        path.display()
    );
}

/// A snapshot name in `folder` for the running test: its function's name, then `-2`, `-3`…
/// for its later snapshots.
pub fn snapshot_name(folder: &str) -> String {
    thread_local!(static TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
    let n = TAKEN.with(|t| {
        t.set(t.get() + 1);
        t.get()
    });
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .rsplit("::")
        .next()
        .unwrap_or("unnamed")
        .to_string();
    match n {
        1 => format!("{folder}/{test}"),
        n => format!("{folder}/{test}-{n}"),
    }
}

fn redact(text: &str, project: Option<&Path>) -> String {
    let mut out = text.replace(&repo_root().display().to_string(), "<repo>");
    if let Some(dir) = project {
        out = out.replace(&dir.display().to_string(), "<project>");
        if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
            out = out.replace(name, "<project-name>");
        }
    }
    let rules = [
        (r"worktree-[0-9a-f]{8}", "worktree-*"),
        (r"(odoo-ci/[a-z0-9_.-]+):[0-9a-f]{12}\b", "$1:<commit>"),
        (r"(?m)\bat [0-9a-f]{12}( \(.*\))?$", "at <commit>"),
        (r"<project-name>-[0-9a-f]{8}", "<project-name>-*"),
    ];
    replace_all(&out, &rules)
}

/// `text` with each regex of `rules` replaced, in order.
pub fn replace_all(text: &str, rules: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&out, *with)
            .into_owned();
    }
    out
}

/// A stage run's stderr as a golden file: its plan, steps and verdict, with what differs
/// between two runs of the same thing redacted — times, ids, ports, generated names,
/// `names` (a test's unique branch or database, with what to show instead; their `-` and
/// `_` spellings too), the tail of Odoo's log an error quotes (Odoo's, not odoo-ci's text) —
/// and the image build's own output left out (it differs with the engine's cache).
pub fn assert_stage_run_snapshot(name: &str, stderr: &str, project: &Path, names: &[(&str, &str)]) {
    let mut text = stderr.to_string();
    for (unique, shown) in names {
        for spelling in [
            unique.to_string(),
            unique.replace('_', "-"),
            unique.replace('-', "_"),
        ] {
            text = text.replace(&spelling, shown);
        }
    }
    if let Some(dir) = project.file_name().and_then(|n| n.to_str()) {
        // The project's name is its folder's, as a slug (lower case, no leading dot).
        let name = dir.trim_start_matches('.');
        text = text.replace(name, "<project-name>");
        text = text.replace(&name.to_lowercase(), "<project-name>");
    }
    let rules = [
        // The build's own lines (`Step 1/4 : …`, ` ---> …`), indented under `build:`.
        (
            r"(?m)^\s+(?:Step \d+/\d+ : |---> |Successfully |Removing intermediate|Running in )[^\n]*\n",
            "",
        ),
        (r"(?m)^  build: [^\n]*\n", ""),
        (
            r"(?s)(--- last lines of \S+ ---\n).*?(  — rolled back)",
            "$1(the log's last lines)\n$2",
        ),
        (r"\(\d+ ms\)", "(N ms)"),
        (r"\| \d+ \|", "| N |"),
        (r"\bin [0-9.]+ ?s\b", "in Ns"),
        (r"\bd-\d{8}-[0-9a-f]{8}\b", "d-<date>-<id>"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", "<time>"),
        (r"\b[0-9a-f]{12,64}\b", "<hex>"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:<port>"),
        (r"\bport \d+\b", "port <port>"),
        (
            r#"odoo_ci_(tpl|test|stg|snap)_[^\s`'";,]+"#,
            "odoo_ci_${1}_*",
        ),
        (
            r#"odoo-ci-(staging|<project-name>)-[^\s`'"]+?(-blue|-green)?( |$)"#,
            "odoo-ci-$1-*$2$3",
        ),
        (r"\b\d+ bytes\b", "N bytes"),
        (r"\b\d+ KiB\b", "N KiB"),
    ];
    let text = replace_all(&text, &rules);
    assert_snapshot(&format!("stage_run/{name}"), &text, Some(project));
}
