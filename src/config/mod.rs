//! `.odoo-ci.yml`: loading, validation with file:line:column errors, branch → stage.

mod limits;
mod positions;
pub mod schema;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use regex::Regex;

pub use positions::Positions;
pub use schema::*;
pub use template::Templated;

use crate::diag::{did_you_mean, DiagKind, Diagnostic};

pub const DEFAULT_FILE: &str = ".odoo-ci.yml";

/// The project root of a config file: the folder holding it.
fn root_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A loaded and validated config.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    /// The config file, as given.
    pub path: PathBuf,
    /// The project root: the folder holding the config file.
    pub root: PathBuf,
    pub source: String,
    pub positions: Positions,
    /// `addons_paths` expanded to folders, relative to `root`, in config order.
    pub addons_dirs: Vec<PathBuf>,
    /// Compiled `development.ignore_warnings`.
    pub ignore_warnings: Vec<Regex>,
    /// Compiled `version_guard.ignore`.
    pub guard_ignore: globset::GlobSet,
    branch_matchers: Vec<GlobMatcher>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, Diagnostic> {
        let root = root_of(path);
        let source = crate::repo_file::read_inside(&root, path, crate::repo_file::CONFIG_LIMIT)
            .map_err(|e| {
                if e.is_not_found() {
                    Diagnostic::new(DiagKind::Io, format!("cannot read config `{}`: no such file", path.display()))
                        .hint("create .odoo-ci.yml at the repository root (see the README), or pass --config")
                } else {
                    Diagnostic::new(DiagKind::Io, format!("config: {e}")).hint(e.hint())
                }
            })?;
        let source = String::from_utf8(source).map_err(|_| {
            Diagnostic::new(
                DiagKind::Io,
                format!("config `{}` is not UTF-8 text", path.display()),
            )
            .hint("save .odoo-ci.yml as UTF-8")
        })?;
        Config::from_source(path, source)
    }

    pub fn from_source(path: &Path, source: String) -> Result<Config, Diagnostic> {
        limits::check(path, &source)?;
        let positions = Positions::index(&source);
        let mut file: ConfigFile =
            serde_norway::from_str(&source).map_err(|e| yaml_error(path, &source, &e))?;
        if file.odoo.image.is_empty() {
            file.odoo.image = format!("odoo:{}", file.odoo.series);
        }
        if file.branches.is_empty() {
            file.branches = schema::default_branches(file.production.database.is_some());
        }
        let root = root_of(path);
        let mut config = Config {
            file,
            path: path.to_path_buf(),
            root,
            source,
            positions,
            addons_dirs: Vec::new(),
            ignore_warnings: Vec::new(),
            guard_ignore: globset::GlobSet::empty(),
            branch_matchers: Vec::new(),
        };
        config.validate()?;
        Ok(config)
    }

    /// A diagnostic pointing at the node at `key_path` (e.g. `branches.1.stage`).
    pub fn error_at(
        &self,
        kind: DiagKind,
        key_path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let diag = Diagnostic::new(kind, message);
        match self.positions.get(key_path) {
            Some((line, col)) => diag.at(&self.path, &self.source, line, col),
            None => diag.in_file(&self.path),
        }
    }

    fn validate(&mut self) -> Result<(), Diagnostic> {
        self.validate_branches()?;
        self.validate_addons_paths()?;
        self.validate_ignores()?;
        if self.file.development.shards == 0 {
            return Err(self
                .error_at(
                    DiagKind::InvalidValue,
                    "development.shards",
                    "`development.shards` must be at least 1",
                )
                .hint("use 1 to run every test in one job"));
        }
        if self
            .file
            .staging
            .proxy
            .as_ref()
            .is_some_and(|p| p.wake.is_some())
        {
            return Err(self
                .error_at(
                    DiagKind::InvalidValue,
                    "staging.proxy.wake",
                    "a staging server is never stopped when idle: there is nothing to wake",
                )
                .hint("remove `staging.proxy.wake` (`previews.proxy.wake` wakes previews)"));
        }
        self.validate_env_names()?;
        self.validate_swarm()?;
        Ok(())
    }

    /// `swarm` says where Swarm services run: it means nothing on another engine.
    fn validate_swarm(&self) -> Result<(), Diagnostic> {
        if self.file.swarm.is_some() && self.file.engine != EngineKind::Swarm {
            return Err(self
                .error_at(
                    DiagKind::InvalidValue,
                    "swarm",
                    "`swarm` is set while `engine` is not `swarm`: its servers would run as containers, where none of it applies",
                )
                .hint("add `engine: swarm`, or remove the `swarm` section"));
        }
        Ok(())
    }

    /// Branch globs compile, and one rule at most maps to production.
    fn validate_branches(&mut self) -> Result<(), Diagnostic> {
        let mut production: Option<usize> = None;
        for (i, rule) in self.file.branches.iter().enumerate() {
            let glob = Glob::new(&rule.pattern).map_err(|e| {
                self.error_at(
                    DiagKind::InvalidGlob,
                    &format!("branches.{i}.match"),
                    format!(
                        "invalid branch glob `{}` in `{}`: {}",
                        rule.pattern,
                        self.path.display(),
                        e.kind()
                    ),
                )
                .hint("use `*`, `?`, `[abc]` and `{a,b}`; quote globs that start with `*`")
            })?;
            self.branch_matchers.push(glob.compile_matcher());
            if rule.stage == Stage::Production {
                if let Some(first) = production {
                    let first_line = self
                        .positions
                        .get(&format!("branches.{first}"))
                        .map(|p| p.0)
                        .unwrap_or(0);
                    return Err(self
                        .error_at(
                            DiagKind::TwoProductionRules,
                            &format!("branches.{i}.stage"),
                            format!(
                                "two branch rules map to `production` in `{}` (the first is on line {first_line})",
                                self.path.display()
                            ),
                        )
                        .hint("exactly one branch is production: map this rule to `staging` or remove it"));
                }
                production = Some(i);
            }
        }
        Ok(())
    }

    /// Addons paths are folders inside the project, and each matches one at least.
    fn validate_addons_paths(&mut self) -> Result<(), Diagnostic> {
        for (i, pattern) in self.file.addons_paths.iter().enumerate() {
            let outside = if pattern.starts_with('/') || pattern.starts_with('\\') {
                Some("is absolute")
            } else if pattern.split(['/', '\\']).any(|part| part == "..") {
                Some("leaves the project root (`..`)")
            } else {
                None
            };
            if let Some(why) = outside {
                return Err(self
                    .error_at(
                        DiagKind::InvalidValue,
                        &format!("addons_paths.{i}"),
                        format!("addons path `{pattern}` {why}: addons paths are folders inside the project"),
                    )
                    .hint("write it relative to the folder holding .odoo-ci.yml, or move .odoo-ci.yml up to a folder that holds every addons path"));
            }
            let found = expand_dir_glob(&self.root, pattern);
            if found.is_empty() {
                return Err(self
                    .error_at(
                        DiagKind::MissingAddonsPath,
                        &format!("addons_paths.{i}"),
                        format!(
                            "addons path `{pattern}` matches no folder under `{}`",
                            self.root.display()
                        ),
                    )
                    .hint("addons paths are relative to the folder holding .odoo-ci.yml; fix the path or create the folder"));
            }
            for dir in found {
                if !self.addons_dirs.contains(&dir) {
                    self.addons_dirs.push(dir);
                }
            }
        }
        Ok(())
    }

    /// The warning patterns and the version guard's ignore globs compile.
    fn validate_ignores(&mut self) -> Result<(), Diagnostic> {
        for (i, pattern) in self.file.development.ignore_warnings.iter().enumerate() {
            let re = Regex::new(pattern).map_err(|e| {
                self.error_at(
                    DiagKind::InvalidRegex,
                    &format!("development.ignore_warnings.{i}"),
                    format!("invalid regex in `development.ignore_warnings`: {e}"),
                )
                .hint("ignore patterns are Rust regexes; escape `.`, `(` and `[` with `\\`")
            })?;
            self.ignore_warnings.push(re);
        }
        let mut guard = globset::GlobSetBuilder::new();
        for (i, pattern) in self.file.version_guard.ignore.iter().enumerate() {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    self.error_at(
                        DiagKind::InvalidGlob,
                        &format!("version_guard.ignore.{i}"),
                        format!(
                            "invalid glob `{pattern}` in `version_guard.ignore`: {}",
                            e.kind()
                        ),
                    )
                    .hint("globs are relative to the addon folder, e.g. `tests/**` or `**/*.md`")
                })?;
            guard.add(glob);
        }
        self.guard_ignore = guard.build().map_err(|e| {
            self.error_at(
                DiagKind::InvalidGlob,
                "version_guard.ignore",
                format!("invalid `version_guard.ignore`: {e}"),
            )
            .hint("globs are relative to the addon folder, e.g. `tests/**`")
        })?;
        Ok(())
    }

    /// Every `env` key is an environment variable name.
    fn validate_env_names(&self) -> Result<(), Diagnostic> {
        let env_sections = [
            ("env", &self.file.env),
            ("development.env", &self.file.development.env),
            ("staging.env", &self.file.staging.env),
            ("production.env", &self.file.production.env),
        ];
        for (section, env) in env_sections {
            for key in env.keys() {
                let valid = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                    && key
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if !valid {
                    return Err(self
                        .error_at(
                            DiagKind::InvalidValue,
                            &format!("{section}.{key}"),
                            format!("`{key}` in `{section}` is not an environment variable name"),
                        )
                        .hint(
                            "use upper-case letters, digits and underscores, e.g. `LIMIT_TIME_CPU`",
                        ));
                }
            }
        }
        Ok(())
    }

    /// The stage of `branch`: the first rule that matches.
    pub fn stage_for(&self, branch: &str) -> Result<Stage, Diagnostic> {
        self.branch_matchers
            .iter()
            .zip(&self.file.branches)
            .find(|(m, _)| m.is_match(branch))
            .map(|(_, rule)| rule.stage)
            .ok_or_else(|| {
                let rules: Vec<String> = self
                    .file
                    .branches
                    .iter()
                    .map(|r| format!("`{}`", r.pattern))
                    .collect();
                self.error_at(
                    DiagKind::NoBranchRule,
                    "branches",
                    format!(
                        "branch `{branch}` matches no rule in `{}` (rules: {})",
                        self.path.display(),
                        if rules.is_empty() {
                            "none".to_string()
                        } else {
                            rules.join(", ")
                        }
                    ),
                )
                .hint("add a catch-all rule last, e.g. `- match: \"*\"` with `stage: development`")
            })
    }

    /// The environment variables of `stage` as written (templates unresolved).
    pub fn stage_env(&self, stage: Stage) -> BTreeMap<String, Templated> {
        let own = match stage {
            Stage::Development => &self.file.development.env,
            Stage::Staging => &self.file.staging.env,
            Stage::Production => &self.file.production.env,
        };
        let mut env = self.file.env.clone();
        env.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    /// The longest one Odoo run of `stage` may take.
    pub fn odoo_timeout(&self, stage: Stage) -> std::time::Duration {
        let secs = match stage {
            Stage::Development => self.file.development.timeout_secs,
            Stage::Staging => self.file.staging.timeout_secs,
            Stage::Production => self.file.production.timeout_secs.unwrap_or(3600),
        };
        std::time::Duration::from_secs(secs)
    }

    /// Every templated value `stage` resolves, by key path: what the stage needs from the
    /// environment.
    pub fn stage_values(&self, stage: Stage) -> Vec<(String, &Templated)> {
        let f = &self.file;
        let own_env = match stage {
            Stage::Development => &f.development.env,
            Stage::Staging => &f.staging.env,
            Stage::Production => &f.production.env,
        };
        let production = [
            ("production.database", f.production.database.as_ref()),
            ("production.data_dir", f.production.data_dir.as_ref()),
            ("production.docker_host", f.production.docker_host.as_ref()),
        ];
        let staging = [
            ("staging.url", f.staging.url.as_ref()),
            ("staging.data_dir", f.staging.data_dir.as_ref()),
        ];
        let mut keys = vec![("postgres.url", f.postgres.url.as_ref())];
        match stage {
            Stage::Development => {}
            Stage::Staging => keys.extend(production.into_iter().chain(staging)),
            Stage::Production => keys.extend(production),
        }
        let mut out: Vec<(String, &Templated)> = keys
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect();
        if let (Stage::Production, Some(b)) = (stage, &f.production.backup) {
            out.extend(backup_values(b));
        }
        for (k, v) in &f.env {
            out.push((format!("env.{k}"), v));
        }
        for (k, v) in own_env {
            out.push((format!("{stage}.env.{k}"), v));
        }
        out
    }

    /// The variables of `production.backup`: restic's alone, never the code's.
    pub fn backup_variables(&self) -> Vec<String> {
        let Some(b) = &self.file.production.backup else {
            return Vec::new();
        };
        backup_values(b)
            .into_iter()
            .flat_map(|(_, v)| v.variables())
            .collect()
    }

    /// `(key path, variable)` for each variable `stage` needs that `is_set` says is unset.
    pub fn unset_variables(
        &self,
        stage: Stage,
        is_set: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, value) in self.stage_values(stage) {
            for var in value.required_variables() {
                if !is_set(&var) {
                    out.push((key.clone(), var));
                }
            }
        }
        out
    }

    /// `odoo.extra_addons_paths`, resolved against the environment and the project folder:
    /// absolute folders that exist. Each error names the entry's line and what to do.
    pub fn extra_addons_dirs(&self) -> Result<Vec<PathBuf>, Diagnostic> {
        let env = |k: &str| std::env::var(k).ok();
        let mut dirs = Vec::new();
        for (i, t) in self.file.odoo.extra_addons_paths.iter().enumerate() {
            let key = format!("odoo.extra_addons_paths.{i}");
            let given = self.resolve(&key, t, &env)?;
            let dir = crate::names::absolute(&self.root.join(&given));
            if !dir.is_dir() {
                return Err(self
                    .error_at(
                        DiagKind::MissingAddonsPath,
                        &key,
                        format!("extra addons path `{given}` is not a folder ({})", dir.display()),
                    )
                    .hint("check it out there first (GitHub Actions: a second `actions/checkout` of odoo/enterprise with `path:` and a deploy key; GitLab: a `git clone` in `before_script`), or fix the path"));
            }
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        Ok(dirs)
    }

    /// The network alias production's proxy resolves (`production.alias`, default `odoo`):
    /// the plan's switch step and the blue/green pair name the same one.
    pub fn production_alias(&self) -> &str {
        self.file.production.alias.as_deref().unwrap_or("odoo")
    }

    /// The network production's releases join (`production.network`, default
    /// `odoo-ci-production`).
    pub fn production_network(&self) -> &str {
        self.file
            .production
            .network
            .as_deref()
            .unwrap_or(DEFAULT_PRODUCTION_NETWORK)
    }

    /// Resolves a templated value found at `key_path`, naming the key when a variable is missing.
    pub fn resolve(
        &self,
        key_path: &str,
        value: &Templated,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, Diagnostic> {
        value.resolve(env).map_err(|e| {
            self.error_at(DiagKind::MissingEnvVar, key_path, format!("cannot resolve `{key_path}`: {e}"))
                .hint("set the variable in the CI job's environment (a secret), or give a default with `${VAR:-default}`")
        })
    }
}

fn backup_values(b: &schema::Backup) -> Vec<(String, &Templated)> {
    let mut out = vec![
        ("production.backup.repository".to_string(), &b.repository),
        ("production.backup.password".to_string(), &b.password),
    ];
    for (k, v) in &b.env {
        out.push((format!("production.backup.env.{k}"), v));
    }
    out
}

/// The network production's releases join when `production.network` is not set.
pub const DEFAULT_PRODUCTION_NETWORK: &str = "odoo-ci-production";

/// Folders under `root` matching a `/`-separated glob, sorted.
fn expand_dir_glob(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let has_meta = part.contains(['*', '?', '[', '{']);
        let mut next = Vec::new();
        for base in &current {
            if !has_meta {
                let candidate = base.join(part);
                if root.join(&candidate).is_dir() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(glob) = Glob::new(part) else { continue };
            let matcher = glob.compile_matcher();
            let Ok(entries) = std::fs::read_dir(root.join(base)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && matcher.is_match(n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        current = next;
    }
    if pattern.split('/').all(|p| p.is_empty() || p == ".") && root.is_dir() {
        return vec![PathBuf::from(".")];
    }
    current
}

/// Turns a YAML or schema error into a diagnostic with location and a suggestion.
fn yaml_error(path: &Path, source: &str, err: &serde_norway::Error) -> Diagnostic {
    let full = err.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let (kind, hint) = if let Some(rest) = message.split("unknown field `").nth(1) {
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let hint = match did_you_mean(field, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "known keys here: {}",
                expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        (DiagKind::UnknownKey, hint)
    } else if let Some(rest) = message.split("unknown variant `").nth(1) {
        let value = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let hint = match did_you_mean(value, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "use one of: {}",
                expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        (DiagKind::InvalidValue, hint)
    } else if message.contains("invalid type") || message.contains("invalid value") {
        (
            DiagKind::WrongType,
            "give the key a value of the type the README's config reference shows".to_string(),
        )
    } else if message.contains("missing field") {
        (
            DiagKind::InvalidValue,
            "add the key; the README's config reference shows a full example".to_string(),
        )
    } else if message.contains("not a supported Odoo series") {
        (
            DiagKind::InvalidValue,
            "write the series as a quoted string, e.g. `series: \"17.0\"`".to_string(),
        )
    } else {
        (DiagKind::YamlSyntax, "fix the YAML at the caret (indentation, a missing `:` or an unclosed quote are common)".to_string())
    };
    let diag = Diagnostic::new(kind, format!("invalid `{}`: {message}", path.display())).hint(hint);
    match err.location() {
        Some(loc) => diag.at(path, source, loc.line(), loc.column()),
        None => diag.in_file(path),
    }
}
