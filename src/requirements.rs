//! The Python requirements of a project as Odoo.sh reads them: the `requirements.txt` at
//! the project root and at the root of each addons path (a submodule's included: OCA
//! repositories ship theirs there), merged in that order into one file that the image
//! installs in one `pip install` — one layer, and one resolution, so no file's pin is
//! silently replaced by a later install of another.

use std::path::{Path, PathBuf};

/// The merged file's name in the build context.
pub const MERGED: &str = ".odoo-ci.requirements.txt";
const FILE: &str = "requirements.txt";

/// `requirements.txt` relative to `root`: the root's, then each addons path's, once each,
/// those that exist.
pub fn files(root: &Path, addons_dirs: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let candidates = std::iter::once(String::new()).chain(addons_dirs.iter().map(|d| {
        d.to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string()
    }));
    for dir in candidates {
        let rel = match dir.as_str() {
            "" | "." => FILE.to_string(),
            d => format!("{d}/{FILE}"),
        };
        let is_file = std::fs::symlink_metadata(root.join(&rel)).is_ok_and(|m| !m.is_dir());
        if is_file && !out.contains(&rel) {
            out.push(rel);
        }
    }
    out
}

/// The merged text of `files` (relative to `root`), each under a comment naming it. A line
/// that includes another file (`-r`, `-c`, `-e` with a path) cannot be followed once
/// merged: it is an error naming the file and line.
pub fn merged(root: &Path, files: &[String]) -> std::io::Result<Option<String>> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut out = String::from(
        "# odoo-ci: the project's requirements.txt and each addons path's, in this order\n",
    );
    for rel in files {
        let Some(text) = crate::repo_file::optional_text(root, rel)? else {
            continue;
        };
        out.push_str(&format!("# --- {rel}\n"));
        for (i, line) in text.lines().enumerate() {
            if includes_a_file(line) {
                return Err(std::io::Error::other(format!(
                    "{rel}:{}: `{}` refers to another file, which odoo-ci cannot follow once the requirements are merged (hint: list the packages in {rel} itself, or build with your own Dockerfile)",
                    i + 1,
                    line.trim()
                )));
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(Some(out))
}

fn includes_a_file(line: &str) -> bool {
    let line = line.trim();
    ["-r", "--requirement", "-c", "--constraint"]
        .iter()
        .any(|flag| line.starts_with(flag))
        || ((line.starts_with("-e") || line.starts_with("--editable")) && line.contains("./"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_first_then_each_addons_path_once_and_includes_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (rel, text) in [
            ("requirements.txt", "requests==2.31\n"),
            ("vendor/oca/requirements.txt", "openupgradelib\n"),
            ("addons/README", "no requirements here\n"),
        ] {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), text).unwrap();
        }
        let dirs = [
            PathBuf::from("addons"),
            PathBuf::from("./vendor/oca/"),
            PathBuf::from("vendor/oca"),
        ];
        let found = files(root, &dirs);
        assert_eq!(found, ["requirements.txt", "vendor/oca/requirements.txt"]);
        let text = merged(root, &found).unwrap().unwrap();
        let (a, b) = (
            text.find("requests").unwrap(),
            text.find("openupgradelib").unwrap(),
        );
        assert!(a < b, "{text}");
        std::fs::write(root.join("vendor/oca/requirements.txt"), "x\n-r base.txt\n").unwrap();
        let err = merged(root, &found).unwrap_err().to_string();
        assert!(err.contains("vendor/oca/requirements.txt:2"), "{err}");
    }
}
