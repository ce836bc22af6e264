//! Gathers the facts a plan needs: config, checkout, context, addons, graph, base versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::addons::at_commit::discover_at_commit;
use crate::addons::{self, manifest::parse_manifest, version::adapt_version, AddonGraph, AddonSet};
use crate::config::Config;
use crate::context::{self, Context, Overrides};
use crate::exit::BadInput;
use crate::plan::{BaseFacts, BuildFiles, Choices, DatabaseFacts, Facts};
use crate::repo::{CommitInfo, Repo};

/// Everything read from the checkout and the environment.
pub struct Project {
    pub config: Config,
    pub context: Context,
    pub commit: Option<CommitInfo>,
    pub addons: AddonSet,
    pub graph: AddonGraph,
    pub base: Option<BaseFacts>,
    /// Readable name, used in image names.
    pub project: String,
    /// What every name odoo-ci makes for this project is scoped by (see [`crate::names::scope`]).
    pub scope: String,
    /// Where the stage's files come from: the checkout, or a commit other than its HEAD.
    pub source: Source,
    /// Where its files are: what a stage reads of the project's layout.
    pub layout: Layout,
    /// [`Project::test_kinds`], read once: a stage's facts are gathered twice (before and
    /// after the database is read), and reading every addon's tests twice costs on big repos.
    tests: std::sync::OnceLock<TestKinds>,
}

/// The project's own addons whose tests need more than a database, each with the first
/// test file that shows it (relative to the project root).
#[derive(Debug, Clone, Default)]
struct TestKinds {
    /// Tests that start a browser (a tour).
    tours: BTreeMap<String, String>,
    /// Tests with an `HttpCase`: before them Odoo makes its asset bundles.
    http_cases: BTreeMap<String, String>,
}

/// Where a project's files are, resolved from the configuration once: the stages read
/// this, never the configuration.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The folder `.odoo-ci.yml` is in.
    pub root: PathBuf,
    /// The repository's addons folders, relative to `root`.
    pub addons_dirs: Vec<PathBuf>,
    /// `odoo.extra_addons_paths`, resolved: absolute folders outside the repository.
    pub extra_dirs: Vec<PathBuf>,
}

/// Where a stage's files (addons, the image's content) come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The checkout as it is.
    WorkingTree,
    /// A commit other than the checkout's (`--ref`, `--sha`, `--tag`, a local `--branch`):
    /// read from git's objects, never from the working tree.
    Commit(git2::Oid),
}

impl Project {
    /// The facts of the checkout alone: no choices, no database read.
    pub fn facts(&self) -> Facts<'_> {
        self.facts_with(Choices::default(), DatabaseFacts::NotRead)
    }

    pub fn facts_with(&self, choices: Choices, database: DatabaseFacts) -> Facts<'_> {
        Facts {
            choices,
            database,
            config: &self.config,
            context: &self.context,
            commit: self.commit.clone(),
            addons: &self.addons,
            graph: &self.graph,
            base: self.base.clone(),
            project: self.project.clone(),
            scope: self.scope.clone(),
            env_names: std::env::vars()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, _)| k)
                .collect(),
            secret_variables: crate::secrets::secret_variables(std::env::vars()),
            build_files: self.build_files(),
            tours: self.tour_files().clone(),
            http_cases: self.http_case_files().clone(),
            engine_sees_files: crate::executor::docker::Engine::from_env().reach()
                == crate::executor::docker::Reach::Direct,
            worktree_tag: format!(
                "worktree-{}",
                crate::names::short_hash(&[&self
                    .config
                    .root
                    .canonicalize()
                    .unwrap_or_else(|_| self.config.root.clone())
                    .to_string_lossy()])
            ),
        }
    }
}

impl Project {
    /// The project's own addons whose tests start a browser, each with the first such file.
    pub fn tour_files(&self) -> &BTreeMap<String, String> {
        &self.tests.get_or_init(|| self.test_kinds()).tours
    }

    /// The project's own addons whose tests hold an `HttpCase`, each with the first such file.
    pub fn http_case_files(&self) -> &BTreeMap<String, String> {
        &self.tests.get_or_init(|| self.test_kinds()).http_cases
    }

    /// What the project's own addons' tests need (the stage's files: the checkout's, or the
    /// named commit's), each test folder read once.
    fn test_kinds(&self) -> TestKinds {
        use crate::addons::tours::{holds_an_http_case, starts_a_browser};
        let own = self.addons.addons.iter();
        let own = own.filter(|a| a.submodule.is_none() && a.extra.is_none());
        let mut kinds = TestKinds::default();
        for addon in own {
            let sources = self.test_sources(&format!("{}/tests", addon.rel_dir));
            let first = |test: fn(&str) -> bool| {
                let (file, _) = sources.iter().find(|(_, text)| test(text))?;
                Some((addon.name.clone(), file.clone()))
            };
            kinds.tours.extend(first(starts_a_browser));
            kinds.http_cases.extend(first(holds_an_http_case));
        }
        kinds
    }

    /// The Python files directly in `dir` (relative to the project root), with their text.
    fn test_sources(&self, dir: &str) -> Vec<(String, String)> {
        let python = |name: &str| name.ends_with(".py");
        let root = &self.layout.root;
        let names: Vec<String> = match self.source {
            Source::WorkingTree => std::fs::read_dir(root.join(dir))
                .map(|entries| {
                    let names = entries.filter_map(|e| e.ok()?.file_name().into_string().ok());
                    let mut names: Vec<String> = names.filter(|n| python(n)).collect();
                    names.sort();
                    names
                })
                .unwrap_or_default(),
            Source::Commit(id) => self
                .at_commit(id, dir, |repo, id, path| {
                    repo.files_at(id, path)
                        .ok()
                        .map(|names| names.into_iter().filter(|n| python(n)).collect::<Vec<_>>())
                })
                .unwrap_or_default(),
        };
        names
            .into_iter()
            .filter_map(|name| {
                let rel = format!("{dir}/{name}");
                let text = match self.source {
                    Source::WorkingTree => std::fs::read_to_string(root.join(&rel)).ok()?,
                    Source::Commit(id) => self.at_commit(id, &rel, |repo, id, path| {
                        let bytes = repo.file_at(id, path).ok()??;
                        String::from_utf8(bytes).ok()
                    })?,
                };
                Some((rel, text))
            })
            .collect()
    }

    /// `read` applied to `path` (relative to the project root) at commit `id`, in the
    /// repository's terms.
    fn at_commit<T>(
        &self,
        id: git2::Oid,
        path: &str,
        read: impl FnOnce(&Repo, git2::Oid, &str) -> Option<T>,
    ) -> Option<T> {
        let root = &self.layout.root;
        let repo = Repo::discover(root).ok()?;
        let inside = repo.relative(root)?;
        let path = match inside.as_str() {
            "." | "" => path.to_string(),
            dir => format!("{dir}/{path}"),
        };
        read(&repo, id, &path)
    }

    /// Whether the stage's files have a Dockerfile or a requirements.txt — at the root or
    /// at the root of an addons path (the checkout's, or the named commit's).
    fn build_files(&self) -> BuildFiles {
        let has = |name: &str| match self.source {
            Source::WorkingTree => std::fs::symlink_metadata(self.config.root.join(name)).is_ok(),
            Source::Commit(id) => Repo::discover(&self.config.root)
                .ok()
                .and_then(|repo| {
                    let inside = repo.relative(&self.config.root)?;
                    let path = match inside.as_str() {
                        "." | "" => name.to_string(),
                        dir => format!("{dir}/{name}"),
                    };
                    repo.file_at(id, &path).ok().flatten()
                })
                .is_some(),
        };
        let requirements = std::iter::once(String::new())
            .chain(self.config.addons_dirs.iter().map(|d| {
                d.to_string_lossy()
                    .trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_string()
            }))
            .any(|dir| match dir.as_str() {
                "" | "." => has("requirements.txt"),
                d => has(&format!("{d}/requirements.txt")),
            });
        BuildFiles {
            dockerfile: has("Dockerfile"),
            requirements,
        }
    }
}

/// Reads the project at `config_path` in the current environment.
pub fn load(config_path: &Path, overrides: &Overrides) -> anyhow::Result<Project> {
    let config = Config::load(config_path)?;
    let repo = Repo::discover(&config.root).ok();
    let head = match repo.as_ref().map(|r| r.head().branch) {
        Some(Some(branch)) => context::Head::Branch(branch),
        Some(None) => context::Head::Detached,
        None => context::Head::NoRepository,
    };
    let env = |k: &str| std::env::var(k).ok();
    let context = context::detect(&env, &|p| std::fs::read_to_string(p), head, overrides)
        .map_err(|e| BadInput::new(e.to_string()).hint(e.hint()))?;
    let mut context = context;
    if let Some(repo) = &repo {
        name_local_branch(repo, &mut context, overrides);
    }
    let head = match &repo {
        Some(repo) => head_commit(repo, &context)?,
        None => None,
    };
    let series = Some(config.file.odoo.series);
    // A commit other than the checkout's: its addons and versions, and the image's
    // content, are that commit's, never the working tree's.
    let source = match (&repo, head) {
        (Some(repo), Some(id)) if repo.resolve("HEAD").ok() != Some(id) => Source::Commit(id),
        _ => Source::WorkingTree,
    };
    let submodules = match (&repo, head.or_else(|| repo.as_ref()?.resolve("HEAD").ok())) {
        (Some(repo), Some(id)) => repo.submodules_at(id)?,
        _ => Vec::new(),
    };
    if let (Some(repo), Source::WorkingTree) = (&repo, source) {
        check_checked_out(repo, &config, &submodules)?;
    }
    let mut addons = match (&repo, source) {
        (Some(repo), Source::Commit(id)) => {
            discover_at_commit(repo, id, &config.root, &config.addons_dirs, series)?
        }
        _ => addons::discover(&config.root, &config.addons_dirs, series)?,
    };
    if let Some(repo) = &repo {
        mark_submodule_addons(repo, &config, &submodules, &mut addons);
    }
    let extra_dirs = config.extra_addons_dirs()?;
    if !extra_dirs.is_empty() {
        let extra = addons::discover(&config.root, &extra_dirs, series)?;
        add_extra_addons(&mut addons, extra, &extra_dirs)?;
    }
    let graph = AddonGraph::build(&addons)?;

    let (commit, base) = match (&repo, head) {
        (Some(repo), Some(id)) => commit_and_base(repo, id, &context, &addons)?,
        _ => (None, None),
    };
    let project = project_name(&config, &context);
    let scope = crate::names::scope(&identity(&config, context.repository.as_deref()));
    let layout = Layout {
        root: config.root.clone(),
        addons_dirs: config.addons_dirs.clone(),
        extra_dirs,
    };
    Ok(Project {
        config,
        context,
        commit,
        addons,
        graph,
        base,
        project,
        scope,
        source,
        layout,
        tests: std::sync::OnceLock::new(),
    })
}

/// The commit `id`'s facts and, when the context names a base to compare with, the base's.
fn commit_and_base(
    repo: &Repo,
    id: git2::Oid,
    context: &Context,
    addons: &AddonSet,
) -> anyhow::Result<(Option<CommitInfo>, Option<BaseFacts>)> {
    let commit = Some(repo.commit_info(id)?);
    let Some(base_spec) = &context.base else {
        return Ok((commit, None));
    };
    let base_id = repo.resolve(base_spec).map_err(|e| {
        BadInput::new(format!("cannot resolve the base to compare with, `{base_spec}`: {e}")).hint(
            "fetch more history (`fetch-depth: 0` in actions/checkout, `GIT_DEPTH: 0` in GitLab CI) or check --base",
        )
    })?;
    Ok((
        commit,
        Some(base_facts(repo, addons, base_spec, base_id, id)?),
    ))
}

/// The addons of the extra addons paths, each marked with its folder, among the
/// repository's: one name in both is refused (which one Odoo loads would depend on the
/// order of the addons path).
fn add_extra_addons(
    addons: &mut AddonSet,
    extra: AddonSet,
    dirs: &[std::path::PathBuf],
) -> Result<(), crate::diag::Diagnostic> {
    for mut addon in extra.addons {
        if let Some(own) = addons.get(&addon.name) {
            return Err(crate::diag::Diagnostic::new(
                crate::diag::DiagKind::DuplicateAddon,
                format!(
                    "addon `{}` is both in the repository ({}) and in an extra addons path ({})",
                    addon.name,
                    own.dir.display(),
                    addon.dir.display()
                ),
            )
            .hint(
                "remove one of them, or leave that extra path out of `odoo.extra_addons_paths`",
            ));
        }
        addon.extra = dirs
            .iter()
            .find(|d| addon.dir.starts_with(d))
            .map(|d| d.display().to_string());
        addons.addons.push(addon);
    }
    addons.addons.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// Each addon that comes with a submodule is marked with that submodule's folder.
fn mark_submodule_addons(
    repo: &Repo,
    config: &Config,
    subs: &[crate::repo::submodules::Submodule],
    addons: &mut AddonSet,
) {
    if subs.is_empty() {
        return;
    }
    for addon in &mut addons.addons {
        let in_repo = in_repo(repo, config, &addon.rel_dir);
        addon.submodule = subs
            .iter()
            .find(|s| in_repo == s.path || in_repo.starts_with(&format!("{}/", s.path)))
            .map(|s| s.path.clone());
    }
}

/// `rel` (relative to the project folder) relative to the repository root, `/`-separated.
fn in_repo(repo: &Repo, config: &Config, rel: &str) -> String {
    let rel = rel.trim_start_matches("./").trim_end_matches('/');
    match repo.relative(&config.root).unwrap_or_default().as_str() {
        "" | "." => rel.to_string(),
        dir => format!("{dir}/{rel}"),
    }
}

/// A submodule in the way of an addons path (the path itself, inside it, or inside the
/// path) must be checked out: an empty folder would make its addons silently "from the
/// base image".
fn check_checked_out(
    repo: &Repo,
    config: &Config,
    subs: &[crate::repo::submodules::Submodule],
) -> Result<(), BadInput> {
    for dir in &config.addons_dirs {
        let path = in_repo(repo, config, &dir.to_string_lossy());
        for sub in subs {
            let related = path == sub.path
                || path.starts_with(&format!("{}/", sub.path))
                || sub.path.starts_with(&format!("{path}/"));
            let folder = repo.workdir().join(&sub.path);
            let empty = std::fs::read_dir(&folder).map_or(true, |mut d| d.next().is_none());
            if related && empty {
                return Err(BadInput::new(format!(
                    "submodule `{}` (addons path `{}`) is not checked out: its folder is empty, so its addons would be missing",
                    sub.path,
                    dir.display()
                ))
                .hint("run `git submodule update --init --recursive` (GitHub Actions: `actions/checkout` with `submodules: recursive`; GitLab: `GIT_SUBMODULE_STRATEGY: recursive`)"));
            }
        }
    }
    Ok(())
}

/// On a terminal, `--branch X` without `--ref` means X as the repository has it: when a
/// local branch X exists at another commit than HEAD, its commit is the one planned and
/// built. In CI the commit comes from the CI, whatever `--branch` says.
fn name_local_branch(repo: &Repo, context: &mut Context, overrides: &Overrides) {
    let (Some(branch), None, None) = (&overrides.branch, &overrides.git_ref, &context.commit)
    else {
        return;
    };
    if context.provider != crate::context::Provider::Local {
        return;
    }
    let named = format!("refs/heads/{branch}");
    if let (Ok(id), Ok(head)) = (repo.resolve(&named), repo.resolve("HEAD")) {
        if id != head {
            context.commit = Some(named);
        }
    }
}

/// The scope of the project of `config` when no branch context is needed (`staging list`):
/// the repository comes from the CI's variables, as [`crate::context::detect`] reads them.
pub fn scope_for(config: &Config) -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let repository = if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        var("GITHUB_REPOSITORY")
    } else if var("GITLAB_CI").as_deref() == Some("true") {
        var("CI_PROJECT_PATH")
    } else {
        None
    };
    crate::names::scope(&identity(config, repository.as_deref()))
}

/// The name of the project folder (the one holding the config).
fn folder_name(config: &Config) -> Option<String> {
    let root = config.root.canonicalize().ok()?;
    root.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Who the project is: `project:` in the config, else the CI's repository (`owner/name`),
/// else the project folder's name.
fn identity(config: &Config, repository: Option<&str>) -> String {
    config
        .file
        .project
        .clone()
        .or_else(|| repository.map(str::to_string))
        .or_else(|| folder_name(config))
        .unwrap_or_else(|| "project".to_string())
}

/// The commit to build: the one the context names (an error when it cannot be resolved),
/// else HEAD's (none in a repository without commits).
fn head_commit(repo: &Repo, context: &Context) -> anyhow::Result<Option<git2::Oid>> {
    let spec = context.commit.clone().unwrap_or_else(|| "HEAD".to_string());
    match (repo.resolve(&spec), &context.commit) {
        (Ok(id), _) => Ok(Some(id)),
        (Err(e), Some(_)) => Err(BadInput::new(format!(
            "cannot resolve the commit to build, `{spec}`: {e}"
        ))
        .hint("check --ref, or fetch the commit into the checkout")
        .into()),
        (Err(_), None) => Ok(None),
    }
}

/// Versions of the addons at `base_id`, and which addons changed since then.
pub fn base_facts(
    repo: &Repo,
    addons: &AddonSet,
    reference: &str,
    base_id: git2::Oid,
    head_id: git2::Oid,
) -> anyhow::Result<BaseFacts> {
    let mut versions = BTreeMap::new();
    let all_changed = repo.changed_files(base_id, head_id)?;
    let mut changed_files = BTreeMap::new();
    let mut manifest_paths = BTreeMap::new();
    for addon in &addons.addons {
        let Some(rel_dir) = repo.relative(&addon.dir) else {
            continue;
        };
        let prefix = format!("{rel_dir}/");
        let inside: Vec<String> = all_changed
            .iter()
            .filter_map(|f| f.strip_prefix(&prefix).map(str::to_string))
            .collect();
        if !inside.is_empty() {
            changed_files.insert(addon.name.clone(), inside);
        }
        let Some(file_name) = addon.manifest_file.file_name() else {
            continue;
        };
        let path = format!("{prefix}{}", file_name.to_string_lossy());
        manifest_paths.insert(addon.name.clone(), path.clone());
        // A submodule's earlier commit may be missing from a shallow checkout: its version
        // then is unknown, not an error (its files count as changed).
        let bytes = match repo.file_at(base_id, &path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) | Err(crate::repo::RepoError::MissingSubmodule { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let text = String::from_utf8_lossy(&bytes);
        let display = format!("{path} at {}", &base_id.to_string()[..12]);
        let manifest = parse_manifest(Path::new(&display), &text)?;
        let version = adapt_version(addons.series, &manifest.version).unwrap_or(manifest.version);
        versions.insert(addon.name.clone(), version);
    }
    Ok(BaseFacts {
        reference: reference.to_string(),
        sha: base_id.to_string(),
        versions,
        changed_files,
        manifest_paths,
    })
}

fn project_name(config: &Config, context: &Context) -> String {
    let raw = config
        .file
        .project
        .as_deref()
        .or(context.repository.as_deref())
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_string)
        .or_else(|| folder_name(config))
        .unwrap_or_else(|| "project".to_string());
    let clean: String = raw
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if clean.is_empty() {
        "project".to_string()
    } else {
        clean
    }
}
