//! What every stage needs to run Odoo: the PostgreSQL server, the image built for the
//! commit (or the local command), and the flags and environment every Odoo run gets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::db::PgServer;
use crate::executor::bluegreen::Reach;
use crate::executor::docker::{DockerExecutor, Engine};
use crate::executor::Executor;
use crate::plan::odoo_command::OdooCommand;
use crate::plan::{steps, Plan};
use crate::project::Project;
use crate::result::Reporter;
use crate::style::Style;

pub use crate::names::absolute;

/// What stays the same for one commit's files wherever they run: the labels an image
/// carries. Branch, stage and commit go on containers (see [`container_labels`]), so one
/// image serves every stage and branch that has the same files.
fn image_labels(project: &Project, content: &str, browser: bool) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        ("odoo-ci.repo".to_string(), repository(project)),
        (
            crate::names::PROJECT_LABEL.to_string(),
            project.scope.clone(),
        ),
        (crate::image::CONTENT_LABEL.to_string(), content.to_string()),
        (
            "odoo-ci.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    if browser {
        labels.insert(
            crate::image::KIND_LABEL.to_string(),
            crate::image::BROWSER_KIND.to_string(),
        );
    }
    labels.extend(test_labels());
    labels
}

/// The labels of every container a stage starts: what made it, for which commit, branch
/// and stage.
pub fn container_labels(project: &Project, plan: &Plan) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        ("odoo-ci.repo".to_string(), repository(project)),
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
    labels.extend(test_labels());
    labels
}

fn repository(project: &Project) -> String {
    project
        .context
        .repository
        .clone()
        .unwrap_or_else(|| project.project.clone())
}

/// The test command's labels: `odoo-ci.test` (one test's things) and `odoo-ci.test-run`
/// (everything one run makes, removed afterwards).
fn test_labels() -> Vec<(String, String)> {
    [
        ("odoo-ci.test", "ODOO_CI_TEST_LABEL"),
        ("odoo-ci.test-run", "ODOO_CI_TEST_RUN"),
    ]
    .into_iter()
    .filter_map(|(label, var)| std::env::var(var).ok().map(|v| (label.to_string(), v)))
    .collect()
}

/// The base image as the engine has it: its id and the user it runs as.
struct BaseImage {
    id: String,
    user: Option<String>,
}

/// The base image, pulled first when the engine does not have it (a fresh CI runner): its
/// id is part of the template key, which must be the same before and after a pull.
fn inspect_base(
    docker: &bollard::Docker,
    reference: &str,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<BaseImage> {
    let rt = crate::executor::docker::runtime()?;
    let inspected = match rt.block_on(docker.inspect_image(reference)) {
        Ok(image) => image,
        Err(_) => {
            reporter.progress(&format!("pull: {reference} (the engine does not have it)"));
            rt.block_on(crate::image::pull(docker, reference))?;
            rt.block_on(docker.inspect_image(reference))?
        }
    };
    Ok(BaseImage {
        id: inspected
            .id
            .clone()
            .unwrap_or_else(|| reference.to_string()),
        user: inspected.config.and_then(|c| c.user),
    })
}

/// What a Docker executor runs Odoo in from the image `base`, as the template key sees it
/// (see [`DockerExecutor`]'s `identity`): the same for a built and a mounted run.
pub fn docker_identity(
    project: &Project,
    base: &str,
    on: (&Engine, &Path),
) -> anyhow::Result<String> {
    let (engine, cache_dir) = on;
    let docker = connect(engine)?;
    let base = inspect_base(
        &docker,
        base,
        &mut crate::report::terminal::Terminal::stderr(),
    )?;
    let root = files_root(project, cache_dir)?;
    Ok(crate::executor::docker::identity_of(&environment_id(
        &base, &root,
    )?))
}

/// Where a stage's Odoo runs: the engine, this machine's data dir and cache, and the
/// folder the run's outputs go to (never sent to the engine).
pub struct RunsOn<'a> {
    pub engine: &'a Engine,
    pub data_dir: &'a Path,
    pub output: &'a Path,
    pub cache_dir: &'a Path,
}

/// A Docker executor for the plan's image — built from the commit's files, or, when the
/// engine already has an image of this project with the very same content (another stage
/// or branch built it), that image named for this commit without building. Returns the
/// executor and what was done.
pub fn docker_executor(
    project: &Project,
    plan: &Plan,
    build: &steps::Build,
    on: &RunsOn<'_>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(DockerExecutor, String)> {
    let layout = &project.layout;
    let docker = connect(on.engine)?;
    let base = inspect_base(&docker, &build.base, reporter)?;
    let root = files_root(project, on.cache_dir)?;
    let ignores = context_ignores(&layout.root, &build.ignore, on);
    let ignores: Vec<&str> = ignores.iter().map(String::as_str).collect();
    let context = crate::image::build_context(
        &root,
        &build.base,
        base.user.as_deref(),
        build.browser.is_some(),
        &ignores,
        &layout.addons_dirs,
        &layout.extra_dirs,
    )?;
    let content = crate::image::content_key(&base.id, &context);
    let wanted = ImageOf {
        tag: &build.image,
        from: &build.base,
        keep: Keep::Newest(build.keep as usize),
    };
    let done = match built_or_reused(project, &docker, (context, &content), &wanted, reporter)? {
        Built::Reused => format!("image {} (reused, no build)", build.image),
        Built::Now => format!("image {} (built)", build.image),
    };
    let executor = DockerExecutor {
        image: build.image.clone(),
        environment_id: environment_id(&base, &root)?,
        ..base_executor(project, plan, build.network.clone(), docker, on)
    };
    Ok((executor, done))
}

/// A Docker executor that runs the base image itself with the commit's files mounted
/// read-only where an image would have them: nothing to build when the project has no
/// Dockerfile and no requirements.txt (the plan decides, see `Step::Mount`). Needs an
/// engine that sees this machine's files.
pub fn mounted_executor(
    project: &Project,
    plan: &Plan,
    mount: &steps::Mount,
    on: &RunsOn<'_>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(DockerExecutor, String)> {
    let docker = connect(on.engine)?;
    let base = inspect_base(&docker, &mount.base, reporter)?;
    let root = absolute(&files_root(project, on.cache_dir)?);
    let image = match &mount.browser {
        Some(_) => browser_image(project, plan, &docker, (&mount.base, &base), reporter)?,
        None => mount.base.clone(),
    };
    let mut executor = DockerExecutor {
        image: image.clone(),
        environment_id: environment_id(&base, &root)?,
        ..base_executor(project, plan, mount.network.clone(), docker, on)
    };
    executor.extra_binds = vec![format!(
        "{}:{}:ro",
        root.to_string_lossy(),
        crate::image::PROJECT_DIR
    )];
    for (i, dir) in project.layout.extra_dirs.iter().enumerate() {
        let at = crate::image::extra_dir(i);
        executor
            .extra_binds
            .push(format!("{}:{at}:ro", dir.to_string_lossy()));
    }
    let done = format!(
        "{image} with {} mounted read-only (no build)",
        root.display()
    );
    Ok((executor, done))
}

/// A Docker executor that runs the base image with the commit's files carried into the
/// project's release volume of those files (filled now, or found complete on the engine:
/// see [`crate::executor::release_volume`]), mounted read-only where an image would have
/// them. Staging and production, when there is nothing to build; any engine.
pub fn release_executor(
    project: &Project,
    plan: &Plan,
    release: &steps::Release,
    on: &RunsOn<'_>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(DockerExecutor, String)> {
    use crate::executor::release_volume;
    let docker = connect(on.engine)?;
    let base = inspect_base(&docker, &release.base, reporter)?;
    let root = files_root(project, on.cache_dir)?;
    let ignores = context_ignores(&project.layout.root, &release.ignore, on);
    let ignores: Vec<&str> = ignores.iter().map(String::as_str).collect();
    let tree = crate::image::release_tree(&root, &ignores, &project.layout.extra_dirs)?;
    let mut labels: HashMap<String, String> = test_labels().into_iter().collect();
    labels.insert("odoo-ci.repo".into(), repository(project));
    if let Some(commit) = &plan.commit {
        labels.insert("odoo-ci.commit".into(), commit.clone());
    }
    let helper = release_volume::Helper {
        image: &base.id,
        labels: &container_labels(project, plan),
    };
    let carried = release_volume::carry(&docker, &project.scope, &helper, tree, &labels)?;
    let runs_in = match release.requirements {
        true => dependencies_image(
            project,
            plan,
            &docker,
            (&release.base, &base, &root),
            release.keep as usize,
            reporter,
        )?,
        false => release.base.clone(),
    };
    let pruned = release_volume::prune(
        &docker,
        &project.scope,
        release.keep as usize,
        &carried.volume,
    );
    let mut executor = DockerExecutor {
        image: runs_in.clone(),
        environment_id: environment_id(&base, &root)?,
        ..base_executor(project, plan, release.network.clone(), docker, on)
    };
    carry_release(&mut executor, &carried.volume);
    let how = match carried.reused {
        true => "reused: the engine has this project's release of the same files".to_string(),
        false => format!("{} KiB carried", carried.bytes.div_ceil(1024)),
    };
    let pruned = match pruned {
        0 => String::new(),
        n => format!("; {n} older releases removed"),
    };
    Ok((
        executor,
        format!("{runs_in} in `{}` ({how}{pruned})", carried.volume),
    ))
}

/// The image of `base` with the project's requirements (of the files under `root`)
/// installed and no project files: found by its content on the engine, else built; tagged
/// `<project image>:deps-<content>`.
fn dependencies_image(
    project: &Project,
    plan: &Plan,
    docker: &bollard::Docker,
    (reference, base, root): (&str, &BaseImage, &Path),
    keep: usize,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<String> {
    let context = crate::image::dependencies_context(
        root,
        reference,
        base.user.as_deref(),
        &project.layout.addons_dirs,
    )?
    .ok_or_else(|| anyhow::anyhow!("the plan installs requirements, but there are none"))?;
    let content = crate::image::content_key(&base.id, &context);
    let tag = side_image_tag(plan, "deps", &content);
    let from = format!("{reference} with requirements.txt installed");
    let wanted = ImageOf {
        tag: &tag,
        from: &from,
        keep: Keep::Newest(keep),
    };
    built_or_reused(project, docker, (context, &content), &wanted, reporter)?;
    Ok(tag)
}

/// The image of `base` with a browser for the tours and no project files: found by its
/// content on the engine, else built (once per base image); tagged
/// `<project image>:browser-<content>`. Not among the images pruned by count: it is the
/// project's one such image, the ones of older base images removed when it is built.
fn browser_image(
    project: &Project,
    plan: &Plan,
    docker: &bollard::Docker,
    (reference, base): (&str, &BaseImage),
    reporter: &mut dyn Reporter,
) -> anyhow::Result<String> {
    let context = crate::image::browser_context(reference, base.user.as_deref())?;
    let content = crate::image::content_key(&base.id, &context);
    let tag = side_image_tag(plan, "browser", &content);
    let from = format!("{reference} with a browser for the tours");
    let wanted = ImageOf {
        tag: &tag,
        from: &from,
        keep: Keep::OnlyThisBrowser,
    };
    built_or_reused(project, docker, (context, &content), &wanted, reporter)?;
    Ok(tag)
}

/// The tag of an image of the base that is not a commit's: `<project image>:<kind>-<content>`.
fn side_image_tag(plan: &Plan, kind: &str, content: &str) -> String {
    let repository = plan.image.rsplit_once(':').map_or(&*plan.image, |(r, _)| r);
    format!("{repository}:{kind}-{}", &content[..12])
}

/// The image to name `tag`, built `from` a base, and which of the project's others it
/// leaves when it is built.
struct ImageOf<'a> {
    tag: &'a str,
    from: &'a str,
    keep: Keep,
}

/// Which images of the project a new one leaves.
#[derive(Clone, Copy)]
enum Keep {
    /// A commit's (or its dependencies') image: the newest `n` of those.
    Newest(usize),
    /// A browser image of the base ([`browser_image`]): none of the other browser images.
    OnlyThisBrowser,
}

impl Keep {
    /// How many images of its kind stay, the new one among them.
    fn count(self) -> usize {
        match self {
            Keep::Newest(n) => n,
            Keep::OnlyThisBrowser => 1,
        }
    }
}

enum Built {
    Now,
    Reused,
}

/// Names `wanted.tag` the project's image of `context` (whose [`crate::image::content_key`]
/// is `content`): the engine's image of the same content when it has one (another stage,
/// branch or commit built it), else built now, the project's older images beyond `keep`
/// pruned.
fn built_or_reused(
    project: &Project,
    docker: &bollard::Docker,
    (context, content): (crate::image::BuildContext, &str),
    wanted: &ImageOf<'_>,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<Built> {
    let rt = crate::executor::docker::runtime()?;
    let s = Style::for_stderr();
    if let Some(id) = rt.block_on(crate::image::find_built(docker, &project.scope, content)) {
        rt.block_on(crate::image::tag(docker, &id, wanted.tag))?;
        reporter.progress(&format!(
            "{} {} reused: the engine has this project's image of the same files ({})",
            s.bold("build:"),
            wanted.tag,
            short_id(&id)
        ));
        return Ok(Built::Reused);
    }
    let (tag, from) = (wanted.tag, wanted.from);
    reporter.progress(&format!("{} {tag} FROM {from}", s.bold("build:")));
    rt.block_on(crate::image::build(
        docker,
        context,
        tag,
        &image_labels(
            project,
            content,
            matches!(wanted.keep, Keep::OnlyThisBrowser),
        ),
        &mut |line| reporter.progress(&format!("  {}", s.dim(line))),
    ))?;
    prune_images(&project.scope, docker, (tag, wanted.keep.count()), reporter);
    Ok(Built::Now)
}

/// Makes `executor` run the release in `volume`: mounted where the files belong, and
/// named on every container (a rollback finds the volume of the release it restarts).
pub fn carry_release(executor: &mut DockerExecutor, volume: &str) {
    use crate::executor::release_volume;
    executor.extra_binds.push(release_volume::bind(volume));
    executor
        .labels
        .insert(release_volume::LABEL.into(), volume.into());
}

fn connect(engine: &Engine) -> anyhow::Result<bollard::Docker> {
    engine.connect().map_err(|e| {
        anyhow::anyhow!(
            "no Docker engine: {e} (start Docker, set DOCKER_HOST, or use --executor local)"
        )
    })
}

/// What a Docker executor has whatever image it runs.
fn base_executor(
    project: &Project,
    plan: &Plan,
    network: String,
    docker: bollard::Docker,
    on: &RunsOn<'_>,
) -> DockerExecutor {
    DockerExecutor {
        docker,
        image: String::new(),
        environment_id: String::new(),
        network,
        host_data_dir: absolute(on.data_dir).to_string_lossy().into_owned(),
        extra_binds: Vec::new(),
        addons_paths: container_addons_paths(project),
        labels: container_labels(project, plan),
        command: "odoo".into(),
        extra_hosts: Vec::new(),
        user: container_user(on.engine, on.data_dir),
        mirror: None,
        swarm: None,
    }
}

/// Never send our own outputs and caches into the image: they change every run. `planned`
/// are the plan's (relative to `root`); the job's output and cache folders are added when
/// they are inside the project.
fn context_ignores(root: &Path, planned: &[String], on: &RunsOn<'_>) -> Vec<String> {
    let mut ignores = planned.to_vec();
    for dir in [on.output, on.cache_dir] {
        if let Ok(rel) = absolute(dir).strip_prefix(absolute(root)) {
            ignores.push(rel.to_string_lossy().into_owned());
        }
    }
    ignores
        .iter()
        .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_string())
        .flat_map(|p| [format!("{p}/**"), p].into_iter().rev())
        .collect()
}

/// Removes the project's older images beyond what the build step keeps.
fn prune_images(
    scope: &str,
    docker: &bollard::Docker,
    (current, keep): (&str, usize),
    reporter: &mut dyn Reporter,
) {
    let Ok(rt) = crate::executor::docker::runtime() else {
        return;
    };
    let pruned = rt.block_on(crate::image::prune_project_images(
        docker,
        scope,
        keep,
        current,
        crate::image::PRUNE_GRACE_SECS,
    ));
    if pruned > 0 {
        let s = Style::for_stderr();
        reporter.progress(&format!(
            "{} removed {pruned} older images of this project (keep {keep})",
            s.bold("build:")
        ));
    }
}

/// What Odoo runs in, for the template key: the base image and the repo's own Dockerfile
/// (which may add system packages) — not the repo's addons.
fn environment_id(base: &BaseImage, root: &Path) -> anyhow::Result<String> {
    let own_dockerfile = crate::repo_file::optional_text(root, "Dockerfile")?
        .unwrap_or_default()
        .into_bytes();
    Ok(format!("{}:{}", base.id, hex_sha256(&own_dockerfile)))
}

fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// The project folder the stage's files come from: the checkout's, or — when a commit
/// other than the checkout's is named — that commit's files, written once per commit
/// under the cache (a commit never changes, so a later run reuses them).
pub fn files_root(project: &Project, cache_dir: &Path) -> anyhow::Result<PathBuf> {
    let root = &project.layout.root;
    let crate::project::Source::Commit(id) = project.source else {
        return Ok(root.clone());
    };
    let repo = crate::repo::Repo::discover(root)?;
    let inside = repo.relative(root).unwrap_or_else(|| ".".into());
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

/// The addons paths inside an image built by odoo-ci: the repository's, then the extra
/// addons paths' (as Odoo.sh puts the project before Enterprise).
pub fn container_addons_paths(project: &Project) -> Vec<String> {
    let own = project.layout.addons_dirs.iter().map(|d| {
        let rel = d.to_string_lossy();
        let rel = rel.trim_start_matches("./");
        if rel == "." || rel.is_empty() {
            crate::image::PROJECT_DIR.to_string()
        } else {
            format!("{}/{rel}", crate::image::PROJECT_DIR)
        }
    });
    let extra = (0..project.layout.extra_dirs.len()).map(crate::image::extra_dir);
    own.chain(extra).collect()
}

/// Runs one Odoo command to its end, saving its log to `log_path`. An
/// error carries the log's reasons and its last lines when Odoo or its log fails (the
/// exit code alone is not trusted). Returns the log's last lines.
pub fn run_to_end(
    executor: &dyn Executor,
    odoo: &crate::targets::odoo_env::OdooEnv,
    server: &PgServer,
    command: &OdooCommand,
    log_path: &Path,
) -> anyhow::Result<String> {
    let inv = crate::stages::invocation::invocation(command, odoo, server, executor);
    run_invocation_to_end(executor, &inv, command.stage(), log_path)
}

/// [`run_to_end`] of an invocation already made (its data dir folders set).
pub fn run_invocation_to_end(
    executor: &dyn Executor,
    inv: &crate::executor::Invocation,
    stage: crate::config::Stage,
    log_path: &Path,
) -> anyhow::Result<String> {
    let mut analyzer = crate::odoo::Analyzer::new(crate::odoo::Options::default());
    let mut log = Vec::new();
    let outcome = executor.run(inv, &mut |line| {
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
