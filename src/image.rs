//! The image for a commit: the repo's own Dockerfile, or a generated one (`FROM` the
//! configured base, Python requirements in their own cached layer, the project copied
//! last), built through the Docker API from a context that honours `.dockerignore`.

use std::collections::HashMap;
use std::path::Path;

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use globset::{Glob, GlobSetBuilder};
use sha2::{Digest, Sha256};

use crate::executor::ExecError;

/// Where the generated Dockerfile puts the project inside the image.
pub const PROJECT_DIR: &str = "/mnt/odoo-ci/project";

const GENERATED: &str = ".odoo-ci.Dockerfile";

/// The generated Dockerfile for `base`; `requirements` when the project has requirements
/// (merged into [`crate::requirements::MERGED`] in the build context).
/// As few steps as possible: with the classic builder every step commits a layer, which
/// costs seconds on slow storage drivers. Requirements install as root; the image then
/// goes back to `base_user`, the user the base image runs Odoo as (`odoo` in the official
/// image). Odoo lives in the system Python of the official images (Debian bookworm, Ubuntu
/// noble), which PEP 668 marks externally managed: a plain `pip install` refuses, a venv
/// would not see Odoo. `PIP_BREAK_SYSTEM_PACKAGES=1` is what pip reads for
/// `--break-system-packages` (pip before 23.0.1, which has no such option, ignores it).
///
/// With `browser`, a browser and `websocket-client` come first (the layer that changes
/// least): see [`BROWSER_LAYER`].
pub fn dockerfile(
    base: &str,
    requirements: bool,
    base_user: Option<&str>,
    browser: bool,
) -> String {
    let mut d = format!("FROM {base}\n");
    if requirements || browser {
        d.push_str("USER root\n");
    }
    if browser {
        d.push_str(BROWSER_LAYER);
    }
    if requirements {
        d.push_str(
            "COPY .odoo-ci.requirements.txt /tmp/odoo-ci-requirements.txt\nRUN PIP_BREAK_SYSTEM_PACKAGES=1 pip3 install --no-cache-dir -r /tmp/odoo-ci-requirements.txt\n",
        );
    }
    if requirements || browser {
        if let Some(user) = base_user.filter(|u| !u.is_empty() && *u != "root" && *u != "0") {
            d.push_str(&format!("USER {user}\n"));
        }
    }
    d.push_str(&format!("COPY . {PROJECT_DIR}\n"));
    d
}

/// A browser Odoo's tours can drive, and `websocket-client` (docs/odoo-facts.md §10): on
/// Debian bases their `chromium` and `python3-websocket` packages; on Ubuntu bases (the
/// official images since 17.0), whose `chromium` is a snap that cannot run in a container,
/// Google's Chrome package, as OCA's CI images install it — amd64 only.
pub const BROWSER_LAYER: &str = r#"RUN set -e; . /etc/os-release; export DEBIAN_FRONTEND=noninteractive; apt-get update; \
    if [ "$ID" = ubuntu ]; then \
      if [ "$(dpkg --print-architecture)" != amd64 ]; then echo "odoo-ci: Ubuntu's chromium is a snap (no use in a container) and Google ships Chrome for amd64 only: install a browser in the repository's Dockerfile" >&2; exit 1; fi; \
      apt-get install -y --no-install-recommends ca-certificates curl python3-websocket; \
      curl -fsSL -o /tmp/google-chrome.deb https://dl.google.com/linux/direct/google-chrome-stable_current_amd64.deb; \
      apt-get install -y --no-install-recommends /tmp/google-chrome.deb; rm -f /tmp/google-chrome.deb; \
    else \
      apt-get install -y --no-install-recommends chromium python3-websocket; \
    fi; \
    rm -rf /var/lib/apt/lists/*
"#;

/// The label that says what an image holds: [`content_key`] of its base and build context.
pub use crate::names::CONTENT_LABEL;

/// The label of an image that is not a commit's: [`BROWSER_KIND`].
pub const KIND_LABEL: &str = "odoo-ci.kind";
/// A base image with a browser for the tours ([`browser_context`]).
pub const BROWSER_KIND: &str = "browser";

/// A build context: the project's files as tar entries and the Dockerfile (the repo's own
/// or the generated one), which goes in last, with the labels, when the tar is made.
pub struct BuildContext {
    files: tar::Builder<Vec<u8>>,
    dockerfile: String,
}

impl BuildContext {
    /// The tar sent to the engine: the files, then the Dockerfile with one `LABEL`
    /// instruction carrying every label. Through the build API's `labels` parameter the
    /// classic builder would commit a layer per label — seconds each on a slow storage
    /// driver; in the Dockerfile they are one step.
    pub fn into_tar(mut self, labels: &HashMap<String, String>) -> std::io::Result<Vec<u8>> {
        let mut text = self.dockerfile;
        if !labels.is_empty() {
            text.push_str(&label_instruction(labels));
        }
        append_text(&mut self.files, GENERATED, &text)?;
        self.files.into_inner()
    }
}

/// Appends a file `name` holding `text` to `tar`, as deterministically as the project's
/// files (fixed time, mode 0644): what odoo-ci writes into a context or a release.
fn append_text(tar: &mut tar::Builder<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(tar::DETERMINISTIC_TIMESTAMP);
    header.set_cksum();
    tar.append_data(&mut header, name, text.as_bytes())
}

/// What an image built from `context` on top of the base image `base_id` holds. The
/// context is deterministic (no times, owners or umask in it), so the same files give the
/// same key in any checkout, on any runner, for any branch or stage. The labels are not
/// part of it: they say what the image holds, they do not change it.
pub fn content_key(base_id: &str, context: &BuildContext) -> String {
    let mut h = Sha256::new();
    h.update(base_id.as_bytes());
    h.update(b"\0");
    h.update(context.dockerfile.as_bytes());
    h.update(b"\0");
    h.update(context.files.get_ref());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One `LABEL` instruction carrying every label (one layer, not one per label), keys and
/// values quoted, in a stable order.
pub fn label_instruction(labels: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = labels.iter().collect();
    pairs.sort();
    let quoted: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    format!("LABEL {}\n", quoted.join(" "))
}

/// `text` as a double-quoted Dockerfile word: no variable expansion, no line break.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where an image holds the extra addons path `index` (`odoo.extra_addons_paths`), and
/// where a mounted run mounts it.
pub fn extra_dir(index: usize) -> String {
    format!("{EXTRA_DIR}/{index}")
}

/// The parent of the extra addons paths inside an image.
pub const EXTRA_DIR: &str = "/mnt/odoo-ci/extra";

/// In a context for the repository's own Dockerfile, the folder holding extra addons path
/// `index`: its Dockerfile copies it to [`extra_dir`].
pub const OWN_DOCKERFILE_EXTRA: &str = ".odoo-ci-extra";

/// A tar of `root` without what `.dockerignore` excludes (and never `.git`), plus the
/// generated Dockerfile when the repo has none, and the extra addons paths `extra`.
/// Entries are written deterministically (fixed time, owner root, 0644/0755), so the tar
/// depends on the files' names, contents and executable bits only.
///
/// With extra addons paths, a generated Dockerfile's context holds the project under
/// `project/` and each extra path under `extra/<i>/`, each copied in its own step (the
/// extra paths first: they change less often, so their layer is reused); a repository's
/// own Dockerfile finds them under `.odoo-ci-extra/<i>/`.
pub fn build_context(
    root: &Path,
    base: &str,
    base_user: Option<&str>,
    browser: bool,
    extra_ignores: &[&str],
    addons_dirs: &[std::path::PathBuf],
    extra: &[std::path::PathBuf],
) -> std::io::Result<BuildContext> {
    let ignore = ignore_set(root, extra_ignores)?;
    let own = crate::repo_file::optional_text(root, "Dockerfile")?;
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    let split = own.is_none() && !extra.is_empty();
    let project_prefix = if split {
        Path::new("project")
    } else {
        Path::new("")
    };
    append_tree(&mut tar, root, project_prefix, &ignore)?;
    let git_only = git_only()?;
    for (i, dir) in extra.iter().enumerate() {
        let prefix = match split {
            true => format!("extra/{i}"),
            false => format!("{OWN_DOCKERFILE_EXTRA}/{i}"),
        };
        append_tree(&mut tar, dir, Path::new(&prefix), &git_only)?;
    }
    // The repo's own Dockerfile, or the generated one; the labels are added when the tar
    // is made (`into_tar`), after the content key is taken.
    let mut text = match own {
        Some(text) => text,
        None => {
            let files = crate::requirements::files(root, addons_dirs);
            let merged = crate::requirements::merged(root, &files)?;
            if let Some(merged) = &merged {
                append_text(&mut tar, crate::requirements::MERGED, merged)?;
            }
            let d = dockerfile(base, merged.is_some(), base_user, browser);
            match split {
                true => d.replace(
                    &format!("COPY . {PROJECT_DIR}\n"),
                    &format!("COPY extra {EXTRA_DIR}\nCOPY project {PROJECT_DIR}\n"),
                ),
                false => d,
            }
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(BuildContext {
        files: tar,
        dockerfile: text,
    })
}

/// The context of a release's dependencies image: `FROM base` with the project's merged
/// requirements installed, and none of its files (its release volume carries those), so
/// a commit that changes code but not requirements builds nothing. `None` without
/// requirements.
pub fn dependencies_context(
    root: &Path,
    base: &str,
    base_user: Option<&str>,
    addons_dirs: &[std::path::PathBuf],
) -> std::io::Result<Option<BuildContext>> {
    let files = crate::requirements::files(root, addons_dirs);
    let Some(merged) = crate::requirements::merged(root, &files)? else {
        return Ok(None);
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    append_text(&mut tar, crate::requirements::MERGED, &merged)?;
    let dockerfile =
        dockerfile(base, true, base_user, false).replace(&format!("COPY . {PROJECT_DIR}\n"), "");
    Ok(Some(BuildContext {
        files: tar,
        dockerfile,
    }))
}

/// The context of the image a mounted project's tours run in: `FROM base` with
/// [`BROWSER_LAYER`] and none of the project's files (they are mounted), so it is built
/// once per base image, not per commit.
pub fn browser_context(base: &str, base_user: Option<&str>) -> std::io::Result<BuildContext> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    let dockerfile =
        dockerfile(base, false, base_user, true).replace(&format!("COPY . {PROJECT_DIR}\n"), "");
    Ok(BuildContext {
        files: tar,
        dockerfile,
    })
}

/// The files of a release carried in a volume (see
/// [`crate::executor::release_volume`]): the project under `project/`, each extra addons
/// path under `extra/<i>/`, so that the volume mounted at its root puts them where a built
/// image has them ([`PROJECT_DIR`], [`extra_dir`]). Deterministic like a build context: the
/// content key is the SHA-256 of the entries.
pub struct ReleaseTree {
    files: tar::Builder<Vec<u8>>,
    content: String,
}

impl crate::executor::release_volume::ReleaseFiles for ReleaseTree {
    fn content(&self) -> &str {
        &self.content
    }

    fn into_tar(mut self, marker: &str) -> std::io::Result<Vec<u8>> {
        append_text(&mut self.files, marker, &self.content)?;
        self.files.into_inner()
    }
}

/// The release tree of `root` (without `.git`, what `.dockerignore` and `extra_ignores`
/// name, cache folders) and of the extra addons paths `extra`.
pub fn release_tree(
    root: &Path,
    extra_ignores: &[&str],
    extra: &[std::path::PathBuf],
) -> std::io::Result<ReleaseTree> {
    let ignore = ignore_set(root, extra_ignores)?;
    let mut files = tar::Builder::new(Vec::new());
    files.follow_symlinks(false);
    files.mode(tar::HeaderMode::Deterministic);
    append_tree(&mut files, root, Path::new("project"), &ignore)?;
    let git_only = git_only()?;
    for (i, dir) in extra.iter().enumerate() {
        append_tree(&mut files, dir, Path::new(&format!("extra/{i}")), &git_only)?;
    }
    let content = Sha256::digest(files.get_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(ReleaseTree { files, content })
}

/// Appends the files under `root` (but what `ignore` matches, relative to `root`, and
/// cache folders) to `tar` under `prefix`, in a stable order.
fn append_tree(
    tar: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    prefix: &Path,
    ignore: &globset::GlobSet,
) -> std::io::Result<()> {
    if !prefix.as_os_str().is_empty() {
        tar.append_dir(prefix, root)?;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel_str = rel.to_string_lossy().replace('\\', "/");
            if ignore.is_match(&rel_str) {
                continue;
            }
            let name = prefix.join(rel);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                // A cache folder (the template cache, wherever a flag put it) is no
                // file of the project, and changes every run.
                if crate::cachedir::is_tagged(&path) {
                    continue;
                }
                tar.append_dir(&name, &path)?;
                stack.push(path);
            } else if kind.is_file() {
                append_file(tar, &path, &name)?;
            } else if kind.is_symlink() {
                tar.append_path_with_name(&path, &name)?;
            }
        }
    }
    Ok(())
}

/// Appends the file at `path` as `name`: deterministic (owner root, 0644/0755), its
/// modification time [`content_time`] of its bytes.
fn append_file(tar: &mut tar::Builder<Vec<u8>>, path: &Path, name: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(path)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&std::fs::metadata(path)?, tar::HeaderMode::Deterministic);
    header.set_size(bytes.len() as u64);
    header.set_mtime(content_time(&bytes));
    tar.append_data(&mut header, name, bytes.as_slice())
}

/// A file's modification time in an image or a release, made of its content: the same
/// bytes have the same time in every checkout (an image or release stays the same), and
/// changed bytes another. Odoo names an asset bundle's version after its files' paths and
/// times, not their bytes (`AssetsBundle.get_checksum`), and serves the attachment it has
/// for that version: one fixed time for every file would serve a changed script's old
/// bundle forever. Between 2001-09-09 and 2033-05-18.
pub fn content_time(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let head = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    1_000_000_000 + u64::from(head) % 1_000_000_000
}

/// `.git`, `extra_ignores` and what `.dockerignore` names, each with what is below it.
/// Any `.git` (a checkout's, a nested one's) and what is below it.
fn git_only() -> std::io::Result<globset::GlobSet> {
    let mut set = GlobSetBuilder::new();
    for p in ["**/.git", "**/.git/**"] {
        set.add(Glob::new(p).map_err(std::io::Error::other)?);
    }
    set.build().map_err(std::io::Error::other)
}

fn ignore_set(root: &Path, extra_ignores: &[&str]) -> std::io::Result<globset::GlobSet> {
    let mut ignore = GlobSetBuilder::new();
    let mut patterns: Vec<String> = vec![".git".into(), ".git/**".into()];
    patterns.extend(extra_ignores.iter().map(|p| p.to_string()));
    if let Some(text) = crate::repo_file::optional_text(root, ".dockerignore")? {
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let p = line
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/');
            patterns.push(p.to_string());
            patterns.push(format!("{p}/**"));
        }
    }
    for p in &patterns {
        if let Ok(g) = Glob::new(p) {
            ignore.add(g);
        }
    }
    ignore.build().map_err(std::io::Error::other)
}

/// The id of an image of the project `scope` that holds `content` (see [`content_key`]),
/// if the engine has one.
pub async fn find_built(docker: &Docker, scope: &str, content: &str) -> Option<String> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("{}={scope}", crate::names::PROJECT_LABEL),
            format!("{CONTENT_LABEL}={content}"),
        ],
    )]);
    let options = bollard::query_parameters::ListImagesOptionsBuilder::new()
        .filters(&filters)
        .build();
    let images = docker.list_images(Some(options)).await.ok()?;
    images.into_iter().max_by_key(|i| i.created).map(|i| i.id)
}

/// Pulls `reference` from its registry.
pub async fn pull(docker: &Docker, reference: &str) -> Result<(), ExecError> {
    let options = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(reference)
        .build();
    // A private image: with the credentials this job's Docker configuration has.
    let found = crate::registry_auth::for_image(reference);
    let hint = match &found {
        Some(c) => format!("with the credentials of `{}` for {}", c.username, c.server),
        None => "with no credentials: for a private image, `docker login` on this runner, or set DOCKER_AUTH_CONFIG (GitLab) or DOCKER_CONFIG".to_string(),
    };
    let credentials = found.map(|c| bollard::auth::DockerCredentials {
        username: Some(c.username),
        password: Some(c.password),
        serveraddress: Some(c.server),
        ..Default::default()
    });
    let mut stream = docker.create_image(Some(options), None, credentials);
    while let Some(item) = stream.next().await {
        item.map_err(|e| ExecError::Other(format!("cannot pull `{reference}` ({hint}): {e}")))?;
    }
    Ok(())
}

/// Pushes `reference` to its registry, with the credentials this job's Docker
/// configuration has for it.
pub async fn push(docker: &Docker, reference: &str) -> Result<(), ExecError> {
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    };
    let options = bollard::query_parameters::PushImageOptionsBuilder::new()
        .tag(tag)
        .build();
    let credentials =
        crate::registry_auth::for_image(reference).map(|c| bollard::auth::DockerCredentials {
            username: Some(c.username),
            password: Some(c.password),
            serveraddress: Some(c.server),
            ..Default::default()
        });
    let cannot = |e: String| ExecError::Other(format!("cannot push `{reference}`: {e}"));
    let mut stream = docker.push_image(repo, Some(options), credentials);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| cannot(e.to_string()))?;
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(cannot(error));
        }
    }
    Ok(())
}

/// Gives the image `id` the name `reference` (`repo:tag`).
pub async fn tag(docker: &Docker, id: &str, reference: &str) -> Result<(), ExecError> {
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    };
    let options = bollard::query_parameters::TagImageOptionsBuilder::new()
        .repo(repo)
        .tag(tag)
        .build();
    docker.tag_image(id, Some(options)).await?;
    Ok(())
}

/// Builds `tag` from `context` with `labels`; each output line goes to `on_line`. Returns
/// the image id.
pub async fn build(
    docker: &Docker,
    context: BuildContext,
    tag: &str,
    labels: &HashMap<String, String>,
    on_line: &mut dyn FnMut(&str),
) -> Result<String, ExecError> {
    let options = BuildImageOptionsBuilder::new()
        .dockerfile(GENERATED)
        .t(tag)
        .rm(true)
        .forcerm(true)
        .build();
    let tar = context
        .into_tar(labels)
        .map_err(|e| ExecError::Other(format!("cannot make the build context: {e}")))?;
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut tail: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(ExecError::Other(format!(
                    "image build failed: {error}\n{}",
                    tail.join("\n")
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(text) = info.stream.as_deref() {
            for line in text
                .lines()
                .map(strip_ansi)
                .filter(|l| !l.trim().is_empty())
            {
                on_line(&line);
                tail.push(line);
                if tail.len() > 30 {
                    tail.remove(0);
                }
            }
        }
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(ExecError::Other(format!(
                "image build failed: {detail}\n{}",
                tail.join("\n")
            )));
        }
    }
    let image = docker.inspect_image(tag).await?;
    image.id.ok_or_else(|| {
        ExecError::Other(format!("the engine built `{tag}` but reports no image id"))
    })
}

/// `line` without terminal escape sequences (colours, cursor moves), which build steps
/// print and which garble a CI log or a check run.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates up to a final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.peek() == Some(&'\\')) {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_comes_first_as_root_and_odoo_runs_as_its_user_again() {
        let d = dockerfile("odoo:18.0", true, Some("odoo"), true);
        let browser = d.find("chromium python3-websocket").unwrap();
        let pip = d.find("pip3 install").unwrap();
        assert!(
            d.starts_with("FROM odoo:18.0\nUSER root\nRUN set -e;"),
            "{d}"
        );
        assert!(browser < pip, "the browser layer changes least: first\n{d}");
        assert!(
            d.contains("google-chrome-stable_current_amd64.deb"),
            "Ubuntu bases get Chrome"
        );
        assert!(
            d.ends_with("USER odoo\nCOPY . /mnt/odoo-ci/project\n"),
            "{d}"
        );
        let no_requirements = dockerfile("odoo:18.0", false, Some("odoo"), true);
        assert!(no_requirements.contains("USER odoo\n") && !no_requirements.contains("pip3"));
    }

    #[test]
    fn build_output_loses_its_terminal_escapes() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m text"), "red text");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}done"), "done");
        assert_eq!(strip_ansi("\u{1b}[2K\u{1b}[1Gprogress 50%"), "progress 50%");
        assert_eq!(strip_ansi("plain é"), "plain é");
    }

    #[test]
    fn requirements_get_their_own_layer_before_the_project() {
        let d = dockerfile("odoo:17.0", true, Some("odoo"), false);
        assert!(
            d.ends_with("USER odoo\nCOPY . /mnt/odoo-ci/project\n"),
            "{d}"
        );
        assert!(!dockerfile("odoo:17.0", true, Some("root"), false)
            .contains(&format!("USER root\nCOPY . {PROJECT_DIR}")));
        assert_eq!(
            dockerfile("odoo:17.0", false, None, false).lines().count(),
            2,
            "FROM and COPY only"
        );
        let req = d.find("requirements.txt").unwrap();
        let project = d.find(&format!("COPY . {PROJECT_DIR}")).unwrap();
        assert!(d.starts_with("FROM odoo:17.0\n") && req < project);
        assert!(!dockerfile("odoo:17.0", false, Some("odoo"), false).contains("pip3"));
    }

    /// The same files make the same image in any checkout: a fresh clone's times and a
    /// runner's uid must not make a commit's image look new; a changed byte must.
    #[test]
    fn the_content_key_follows_the_files_not_their_times_or_owners() {
        use std::os::unix::fs::PermissionsExt;
        let write = |root: &Path| {
            std::fs::create_dir_all(root.join("addons/a")).unwrap();
            std::fs::write(root.join("addons/a/x.py"), "x = 1\n").unwrap();
        };
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        write(one.path());
        std::thread::sleep(std::time::Duration::from_millis(1100));
        write(two.path());
        std::fs::set_permissions(
            two.path().join("addons/a/x.py"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let key = |root: &Path| {
            content_key(
                "sha256:base",
                &build_context(root, "odoo:17.0", None, false, &[], &[], &[]).unwrap(),
            )
        };
        assert_eq!(key(one.path()), key(two.path()));
        assert_ne!(
            key(one.path()),
            content_key(
                "sha256:other",
                &build_context(one.path(), "odoo:17.0", None, false, &[], &[], &[]).unwrap()
            ),
            "another base image is another image"
        );
        std::fs::write(two.path().join("addons/a/x.py"), "x = 2\n").unwrap();
        assert_ne!(key(one.path()), key(two.path()));
    }

    /// Odoo versions an asset bundle by its files' times: in an image, a file's time
    /// follows its bytes, not the checkout's clock.
    #[test]
    fn a_file_s_time_in_the_image_follows_its_bytes() {
        let times = |text: &str| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("a/static")).unwrap();
            std::fs::write(dir.path().join("a/static/x.js"), text).unwrap();
            let tree = release_tree(dir.path(), &[], &[]).unwrap();
            let tar = tree.files.into_inner().unwrap();
            let mut archive = tar::Archive::new(tar.as_slice());
            let entries = archive.entries().unwrap();
            let x = entries
                .map(|e| e.unwrap())
                .find(|e| e.path().unwrap().ends_with("x.js"))
                .unwrap();
            x.header().mtime().unwrap()
        };
        let first = times("const a = 'first';\n");
        assert_eq!(
            first,
            times("const a = 'first';\n"),
            "same bytes, same time"
        );
        assert_ne!(
            first,
            times("const a = 'other';\n"),
            "same size, other bytes"
        );
        assert!((1_000_000_000..2_000_000_000).contains(&first));
    }

    #[test]
    fn a_tagged_cache_folder_is_no_file_of_the_image() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("addons/a")).unwrap();
        std::fs::write(dir.path().join("addons/a/x.py"), "x = 1\n").unwrap();
        let cache = dir.path().join("anywhere/templates");
        std::fs::create_dir_all(cache.join("k1")).unwrap();
        let key = || {
            content_key(
                "sha256:base",
                &build_context(dir.path(), "odoo:17.0", None, false, &[], &[], &[]).unwrap(),
            )
        };
        let untagged = key();
        crate::cachedir::tag(&cache).unwrap();
        let tagged = key();
        assert_ne!(untagged, tagged, "an untagged folder is a project folder");
        std::fs::write(cache.join("k1/database.dump"), "dump").unwrap();
        std::fs::create_dir_all(cache.join("k2")).unwrap();
        assert_eq!(
            key(),
            tagged,
            "what the cache holds never changes the image"
        );
    }

    /// Odoo.sh installs the requirements of every addons path, a submodule's included: the
    /// context once carried only the root's to pip.
    #[test]
    fn every_addons_path_s_requirements_go_to_one_pip_install() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in [
            ("requirements.txt", "requests\n"),
            ("vendor/oca/requirements.txt", "openupgradelib\n"),
            ("vendor/oca/acc/__manifest__.py", "{}"),
        ] {
            std::fs::create_dir_all(dir.path().join(rel).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(rel), text).unwrap();
        }
        let dirs = [std::path::PathBuf::from("vendor/oca")];
        let context = build_context(dir.path(), "base", None, false, &[], &dirs, &[]).unwrap();
        let bytes = context.into_tar(&HashMap::new()).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let (mut merged, mut generated) = (String::new(), String::new());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == crate::requirements::MERGED {
                std::io::Read::read_to_string(&mut entry, &mut merged).unwrap();
            } else if name == GENERATED {
                std::io::Read::read_to_string(&mut entry, &mut generated).unwrap();
            }
        }
        assert!(
            merged.contains("requests") && merged.contains("openupgradelib"),
            "{merged}"
        );
        assert!(
            generated.contains("COPY .odoo-ci.requirements.txt")
                && generated.matches("pip3 install").count() == 1,
            "{generated}"
        );
    }

    /// The names in a context's tar, and the Dockerfile it carries.
    fn contents(context: BuildContext) -> (Vec<String>, String) {
        let bytes = context.into_tar(&HashMap::new()).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let (mut names, mut dockerfile) = (Vec::new(), String::new());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == GENERATED {
                std::io::Read::read_to_string(&mut entry, &mut dockerfile).unwrap();
            }
            names.push(name);
        }
        (names, dockerfile)
    }

    #[test]
    fn extra_addons_paths_go_in_their_own_step_before_the_project_never_twice() {
        let project = tempfile::tempdir().unwrap();
        let enterprise = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(project.path().join("addons/a")).unwrap();
        std::fs::write(project.path().join("addons/a/x.py"), "x").unwrap();
        std::fs::create_dir_all(enterprise.path().join("ent/.git")).unwrap();
        std::fs::write(enterprise.path().join("ent/y.py"), "y").unwrap();
        std::fs::write(enterprise.path().join("ent/.git/HEAD"), "h").unwrap();
        let extra = [enterprise.path().to_path_buf()];
        let context = build_context(project.path(), "base", None, false, &[], &[], &extra).unwrap();
        let (names, dockerfile) = contents(context);
        assert!(
            names.contains(&"project/addons/a/x.py".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"extra/0/ent/y.py".to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n.contains(".git")), "{names:?}");
        assert!(
            dockerfile.ends_with(&format!(
                "COPY extra {EXTRA_DIR}\nCOPY project {PROJECT_DIR}\n"
            )),
            "{dockerfile}"
        );
        // The repository's own Dockerfile finds them beside the project.
        std::fs::write(project.path().join("Dockerfile"), "FROM base\n").unwrap();
        let context = build_context(project.path(), "base", None, false, &[], &[], &extra).unwrap();
        let (names, _) = contents(context);
        assert!(names.contains(&"addons/a/x.py".to_string()), "{names:?}");
        assert!(
            names.contains(&format!("{OWN_DOCKERFILE_EXTRA}/0/ent/y.py")),
            "{names:?}"
        );
    }

    #[test]
    fn context_honours_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("addons/a")).unwrap();
        std::fs::create_dir_all(dir.path().join("secret")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("addons/a/x.py"), "x").unwrap();
        std::fs::write(dir.path().join("secret/key"), "k").unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "h").unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "secret\n*.log\n").unwrap();
        std::fs::write(dir.path().join("debug.log"), "l").unwrap();
        let context = build_context(dir.path(), "base", None, false, &[], &[], &[]).unwrap();
        let labels =
            HashMap::from([("odoo-ci.branch".to_string(), "feat/\"x\" $HOME".to_string())]);
        let bytes = context.into_tar(&labels).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        let mut generated = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == GENERATED {
                std::io::Read::read_to_string(&mut entry, &mut generated).unwrap();
            }
            names.push(name);
        }
        assert_eq!(
            generated,
            format!(
                "{}LABEL \"odoo-ci.branch\"=\"feat/\\\"x\\\" \\$HOME\"\n",
                dockerfile("base", false, None, false)
            ),
            "the labels, quoted, in one instruction at the end"
        );
        assert!(names.iter().any(|n| n == "addons/a/x.py"), "{names:?}");
        assert!(names.iter().any(|n| n == GENERATED));
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("secret") || n.starts_with(".git") || n.ends_with(".log")),
            "{names:?}"
        );
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn a_dockerfile_linked_out_of_the_repository_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("Dockerfile")).unwrap();
        let err = match build_context(dir.path(), "base", None, false, &[], &[], &[]) {
            Ok(_) => panic!("a Dockerfile linked out of the repository was read"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(
            text.contains("Dockerfile") && text.contains("outside the repository"),
            "{text}"
        );
        assert!(!text.contains("PATH="), "{text}");
    }
}

/// Another job of the project may have just built an image it has not started yet: images
/// younger than this are never pruned.
pub const PRUNE_GRACE_SECS: i64 = 30 * 60;

/// Removes this project's images (labelled `odoo-ci.project=<scope>`) beyond the newest
/// `keep`, never `current`, never one younger than `grace_secs` and never one a container
/// uses (no force: the engine refuses those, so a production colour's image stays).
/// Returns how many went.
pub async fn prune_project_images(
    docker: &Docker,
    scope: &str,
    keep: usize,
    current: &str,
    grace_secs: i64,
) -> usize {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={scope}", crate::names::PROJECT_LABEL)],
    )]);
    let options = bollard::query_parameters::ListImagesOptionsBuilder::new()
        .all(false)
        .filters(&filters)
        .build();
    let Ok(mut images) = docker.list_images(Some(options)).await else {
        return 0;
    };
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    // Browser images are their own kind: one per project (the current base image's), never
    // pushed out by commit images; building one removes the others.
    let browser = |i: &bollard::models::ImageSummary| {
        i.labels.get(KIND_LABEL).map(String::as_str) == Some(BROWSER_KIND)
    };
    let current_is_browser = images
        .iter()
        .any(|i| browser(i) && i.repo_tags.iter().any(|t| t == current));
    images.retain(|i| browser(i) == current_is_browser);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let is_current = |i: &bollard::models::ImageSummary| i.repo_tags.iter().any(|t| t == current);
    let mut removed = 0;
    for image in images
        .iter()
        .filter(|i| !is_current(i))
        .skip(keep.saturating_sub(1))
        .filter(|i| now - i.created >= grace_secs)
    {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::new()
            .force(false)
            .build();
        match docker.remove_image(&image.id, Some(options), None).await {
            Ok(_) => removed += 1,
            Err(e) => tracing::info!("kept image {}: {e}", image.id),
        }
    }
    removed
}
