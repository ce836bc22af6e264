//! Where a repository keeps its addons, found by looking: the folders that hold addon
//! folders (one with `__manifest__.py`, or `__openerp__.py` before 10.0), and the series
//! their manifests' versions name. What `odoo-ci init` writes a starting config from.

use std::collections::BTreeMap;
use std::path::Path;

/// How deep below the project folder addons are looked for.
const DEPTH: usize = 4;
/// Folders never looked into: not the project's addons.
const SKIPPED: [&str; 4] = ["node_modules", "odoo-ci-output", "target", "__pycache__"];

/// What was found: each addons path (relative, `/`-separated, `.` for the root) with its
/// addons' names, and the series most manifests name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub paths: BTreeMap<String, Vec<String>>,
    pub series: Option<String>,
}

pub fn find(root: &Path) -> std::io::Result<Layout> {
    let mut layout = Layout::default();
    let mut votes: BTreeMap<String, usize> = BTreeMap::new();
    walk(root, root, 0, &mut layout, &mut votes)?;
    layout.series = votes
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(series, _)| series);
    Ok(layout)
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    layout: &mut Layout,
    votes: &mut BTreeMap<String, usize>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || SKIPPED.contains(&name.as_str()) {
            continue;
        }
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        match manifest_text(&path) {
            Some(text) => {
                let parent = relative(root, dir);
                layout.paths.entry(parent).or_default().push(name);
                if let Some(series) = series_of(&text) {
                    *votes.entry(series).or_default() += 1;
                }
            }
            None if depth + 1 < DEPTH => walk(root, &path, depth + 1, layout, votes)?,
            None => {}
        }
    }
    Ok(())
}

fn manifest_text(dir: &Path) -> Option<String> {
    ["__manifest__.py", "__openerp__.py"]
        .iter()
        .find_map(|m| std::fs::read_to_string(dir.join(m)).ok())
}

fn relative(root: &Path, dir: &Path) -> String {
    match dir
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
    {
        Ok(p) if !p.is_empty() => p,
        _ => ".".to_string(),
    }
}

/// `17.0` of a manifest whose `version` is `17.0.x.y.z`.
fn series_of(manifest: &str) -> Option<String> {
    let at = manifest
        .find("'version'")
        .or_else(|| manifest.find("\"version\""))?;
    let rest = &manifest[at + 9..];
    let start = rest.find(['\'', '"'])? + 1;
    let value = &rest[start..];
    let value = &value[..value.find(['\'', '"'])?];
    let parts: Vec<&str> = value.split('.').collect();
    (parts.len() == 5 && parts.iter().all(|p| p.parse::<u32>().is_ok()))
        .then(|| format!("{}.{}", parts[0], parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_is_read_from_five_part_versions_only() {
        assert_eq!(
            series_of("{'name': 'x', 'version': '17.0.1.2.0'}"),
            Some("17.0".into())
        );
        assert_eq!(
            series_of("{\"version\": \"18.0.1.0.0\"}"),
            Some("18.0".into())
        );
        assert_eq!(series_of("{'version': '1.2.0'}"), None);
        assert_eq!(series_of("{'name': 'x'}"), None);
    }

    #[test]
    fn addons_paths_are_the_folders_holding_addons_never_inside_one() {
        let dir = tempfile::tempdir().unwrap();
        let add = |rel: &str, version: &str| {
            let d = dir.path().join(rel);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("__manifest__.py"),
                format!("{{'version': '{version}'}}"),
            )
            .unwrap();
        };
        add("addons/acc_a", "17.0.1.0.0");
        add("addons/acc_b", "17.0.1.0.0");
        add("addons/acc_b/static/lib/not_an_addon", "16.0.1.0.0");
        add("vendor/oca-tools/tool_x", "16.0.1.0.0");
        add(".git/modules/x/y", "15.0.1.0.0");
        let layout = find(dir.path()).unwrap();
        assert_eq!(
            layout.paths.keys().collect::<Vec<_>>(),
            ["addons", "vendor/oca-tools"]
        );
        assert_eq!(layout.paths["addons"], ["acc_a", "acc_b"]);
        assert_eq!(layout.series.as_deref(), Some("17.0"));
    }
}
