//! What every stage needs to run Odoo: the PostgreSQL server, the image built for the
//! commit (or the local command), and the flags and environment every Odoo run gets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::db::PgServer;
use crate::executor::bluegreen::Reach;
use crate::executor::docker::{DockerExecutor, Engine};
use crate::executor::Executor;
use crate::plan::Plan;
use crate::project::Project;
use crate::stages::odoo_command::OdooCommand;
use crate::style::Style;

pub fn absolute(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

pub fn docker_executor(
    project: &Project,
    plan: &Plan,
    engine: &Engine,
    data_dir: &Path,
    output: &Path,
    cache_dir: &Path,
) -> anyhow::Result<DockerExecutor> {
    let config = &project.config;
    let docker = engine.connect().map_err(|e| {
        anyhow::anyhow!(
            "no Docker engine: {e} (start Docker, set DOCKER_HOST, or use --executor local)"
        )
    })?;
    let mut labels = HashMap::from([
        (
            "odoo-ci.repo".to_string(),
            project
                .context
                .repository
                .clone()
                .unwrap_or_else(|| project.project.clone()),
        ),
        (
            "odoo-ci.commit".to_string(),
            plan.commit.clone().unwrap_or_default(),
        ),
        ("odoo-ci.branch".to_string(), plan.branch.clone()),
        (
            crate::names::PROJECT_LABEL.to_string(),
            project.scope.clone(),
        ),
        ("odoo-ci.stage".to_string(), plan.stage.as_str().to_string()),
        (
            "odoo-ci.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    if let Ok(v) = std::env::var("ODOO_CI_TEST_LABEL") {
        labels.insert("odoo-ci.test".into(), v);
    }
    // The test command labels everything one run makes, to remove it afterwards.
    if let Ok(v) = std::env::var("ODOO_CI_TEST_RUN") {
        labels.insert("odoo-ci.test-run".into(), v);
    }
    // Never send our own outputs and caches into the image: they change every run.
    let mut ignores: Vec<String> = ["odoo-ci-output", "target"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for dir in [output, cache_dir] {
        if let Ok(rel) = absolute(dir).strip_prefix(absolute(&config.root)) {
            ignores.push(rel.to_string_lossy().into_owned());
        }
    }
    let ignores: Vec<String> = ignores
        .iter()
        .flat_map(|p| [p.clone(), format!("{p}/**")])
        .collect();
    let ignores: Vec<&str> = ignores.iter().map(String::as_str).collect();
    let rt = crate::executor::docker::runtime()?;
    let base_user = rt
        .block_on(docker.inspect_image(&config.file.odoo.image))
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.user);
    let root = files_root(project, cache_dir)?;
    let (context, dockerfile) = crate::image::build_context(
        &root,
        &config.file.odoo.image,
        base_user.as_deref(),
        &ignores,
        &labels,
    )?;
    let s = Style::for_stderr();
    eprintln!(
        "{} {} FROM {}",
        s.bold("build:"),
        plan.image,
        config.file.odoo.image
    );
    rt.block_on(crate::image::build(
        &docker,
        context,
        &dockerfile,
        &plan.image,
        &mut |line| {
            eprintln!("  {}", s.dim(line));
        },
    ))?;
    let keep = config.file.odoo.keep_images as usize;
    let pruned = rt.block_on(crate::image::prune_project_images(
        &docker,
        &project.scope,
        keep,
        &plan.image,
        crate::image::PRUNE_GRACE_SECS,
    ));
    if pruned > 0 {
        eprintln!(
            "{} removed {pruned} older images of this project (keep {keep})",
            s.bold("build:")
        );
    }
    // The template depends on what Odoo runs in, not on the repo's addons: key it on the
    // base image (and the repo's own Dockerfile, which may add system packages).
    let base_id = rt
        .block_on(docker.inspect_image(&config.file.odoo.image))
        .ok()
        .and_then(|i| i.id)
        .unwrap_or_else(|| config.file.odoo.image.clone());
    let own_dockerfile = crate::repo_file::optional_text(&root, "Dockerfile")?
        .unwrap_or_default()
        .into_bytes();
    let environment_id = format!("{base_id}:{}", hex_sha256(&own_dockerfile));
    Ok(DockerExecutor {
        docker,
        image: plan.image.clone(),
        environment_id,
        network: config.file.odoo.docker_network.clone(),
        host_data_dir: absolute(data_dir).to_string_lossy().into_owned(),
        addons_paths: container_addons_paths(project),
        labels,
        command: "odoo".into(),
        extra_hosts: Vec::new(),
        user: container_user(engine, data_dir),
    })
}

/// The project folder the stage's files come from: the checkout's, or — when a commit
/// other than the checkout's is named — that commit's files, written once per commit
/// under the cache (a commit never changes, so a later run reuses them).
pub fn files_root(project: &Project, cache_dir: &Path) -> anyhow::Result<PathBuf> {
    let config = &project.config;
    let crate::project::Source::Commit(id) = project.source else {
        return Ok(config.root.clone());
    };
    let repo = crate::repo::Repo::discover(&config.root)?;
    let inside = repo.relative(&config.root).unwrap_or_else(|| ".".into());
    let tree = cache_dir.join("sources").join(id.to_string());
    if !tree.is_dir() {
        let partial = cache_dir
            .join("sources")
            .join(format!("{id}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        repo.export_tree(id, &partial)?;
        if let Err(e) = std::fs::rename(&partial, &tree) {
            // Another job wrote it first: theirs is the same commit.
            let _ = std::fs::remove_dir_all(&partial);
            if !tree.is_dir() {
                return Err(e.into());
            }
        }
    }
    Ok(if inside == "." {
        tree
    } else {
        tree.join(inside)
    })
}

/// Who Odoo runs as: on a local engine, the owner of the data dir it writes into (so the
/// files are theirs to clean up, and their folders are writable to it — the official
/// image's `odoo` user could do neither with a runner's folder); on a remote engine, the
/// image's own user.
pub fn container_user(engine: &Engine, data_dir: &Path) -> Option<String> {
    match engine.reach() {
        Reach::Direct => crate::executor::docker::owner_of(data_dir),
        Reach::ThroughEngine => None,
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The addons paths inside an image built by odoo-ci.
pub fn container_addons_paths(project: &Project) -> Vec<String> {
    project
        .config
        .addons_dirs
        .iter()
        .map(|d| {
            let rel = d.to_string_lossy();
            let rel = rel.trim_start_matches("./");
            if rel == "." || rel.is_empty() {
                crate::image::PROJECT_DIR.to_string()
            } else {
                format!("{}/{rel}", crate::image::PROJECT_DIR)
            }
        })
        .collect()
}

/// Runs one Odoo command to its end, saving its log to `log_path`. An
/// error carries the log's reasons and its last lines when Odoo or its log fails (the
/// exit code alone is not trusted). Returns the log's last lines.
pub fn run_to_end(
    executor: &dyn Executor,
    project: &Project,
    server: &PgServer,
    command: &OdooCommand,
    log_path: &Path,
) -> anyhow::Result<String> {
    let inv = command.invocation(project, server, executor)?;
    let stage = command.stage();
    let mut analyzer = crate::odoo::Analyzer::new(crate::odoo::Options::default());
    let mut log = Vec::new();
    let outcome = executor.run(&inv, &mut |line| {
        log.extend_from_slice(line);
        log.push(b'\n');
        analyzer.feed_line(line);
    })?;
    std::fs::write(log_path, &log)?;
    let result = analyzer.finish_with_exit(outcome.exit_code.map(|c| c as i32));
    let tail = tail_lines(&String::from_utf8_lossy(&log), 20);
    if outcome.cancelled {
        anyhow::bail!("cancelled (Ctrl-C / SIGTERM)");
    }
    if outcome.timed_out {
        anyhow::bail!(
            "Odoo did not finish within {} s (`{stage}.timeout_secs`)",
            inv.timeout.as_secs()
        );
    }
    if result.colour == crate::odoo::Colour::Red {
        anyhow::bail!(
            "{}\n--- last lines of {} ---\n{tail}",
            result.reasons.join("; "),
            log_path.display()
        );
    }
    Ok(tail)
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
