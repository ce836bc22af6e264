//! The shape of the code, checked: things that once went wrong because one decision was
//! written in several places, or two modules leaned on each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            // Unit tests may build anything they like.
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, code)
        })
        .collect()
}

/// `stages/production.rs` → `stages::production`; `plan/mod.rs` → `plan`.
fn module_of(file: &str) -> String {
    let path = file.trim_end_matches(".rs").trim_end_matches("/mod");
    path.replace('/', "::")
}

#[test]
fn the_odoo_command_line_is_built_in_one_place() {
    let builder = "plan/odoo_command.rs";
    // Reads the user's `odoo.command` (its own --addons-path), builds nothing.
    let reader = "executor/command_line.rs";
    for (file, code) in sources() {
        if file == builder || file == reader {
            continue;
        }
        for flag in [
            "\"--stop-after-init",
            "\"--db_host",
            "\"--http-port",
            "\"--with-demo",
            "\"--without-demo",
            "\"--test-tags",
            "\"--addons-path",
        ] {
            assert!(
                !code.contains(flag),
                "{file} writes the Odoo flag {flag}\": build commands with {builder}"
            );
        }
    }
}

#[test]
fn no_module_passes_state_through_the_process_environment() {
    for (file, code) in sources() {
        assert!(
            !code.contains("env::set_var") && !code.contains("env::remove_var"),
            "{file} changes the process environment: pass the value instead"
        );
    }
}

/// The modules each module uses, from its `crate::` and `super::` paths; a module and its
/// own children (and they it) are one piece and not counted.
fn module_uses() -> BTreeMap<String, BTreeSet<String>> {
    let files = sources();
    let modules: BTreeSet<String> = files.iter().map(|(f, _)| module_of(f)).collect();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in &files {
        let me = module_of(file);
        // Doc links (`[`crate::x`]`) are no imports.
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        // `super` of `a::b` (a/b.rs) is `a`; of `a` (a/mod.rs) it is the crate.
        let parent = me.rsplit_once("::").map(|(p, _)| p.to_string());
        for (prefix, base) in [("crate::", None), ("super::", Some(parent.clone()))] {
            for (i, _) in code.match_indices(prefix) {
                if prefix == "super::" && code[..i].ends_with("::") {
                    continue;
                }
                let rest: String = code[i + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path = match &base {
                    Some(Some(parent)) => format!("{parent}::{rest}"),
                    _ => rest,
                };
                // The longest module the path names.
                let parts: Vec<&str> = path.split("::").collect();
                let target = (1..=parts.len())
                    .rev()
                    .map(|n| parts[..n].join("::"))
                    .find(|m| modules.contains(m));
                if let Some(target) = target {
                    let related = target.starts_with(&format!("{me}::"))
                        || me.starts_with(&format!("{target}::"));
                    if target != me && !related {
                        uses.entry(me.clone()).or_default().insert(target);
                    }
                }
            }
        }
    }
    uses
}

/// A cycle through `from`, if the graph has one: the modules along it.
fn cycle_from(
    from: &str,
    uses: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == from) {
        let mut cycle = path[at..].to_vec();
        cycle.push(from.to_string());
        return Some(cycle);
    }
    if done.contains(from) {
        return None;
    }
    path.push(from.to_string());
    for next in uses.get(from).into_iter().flatten() {
        if let Some(cycle) = cycle_from(next, uses, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(from.to_string());
    None
}

#[test]
fn no_modules_import_each_other_through_any_number_of_others() {
    let uses = module_uses();
    let mut done = BTreeSet::new();
    for module in uses.keys() {
        if let Some(cycle) = cycle_from(module, &uses, &mut Vec::new(), &mut done) {
            panic!(
                "an import circle: {} (move what they share below them)",
                cycle.join(" → ")
            );
        }
    }
}

/// The layers, from the top: a module may use its own layer and those below, never one
/// above. A new top-level module goes in the layer it belongs to (`docs/architecture.md`
/// when it exists; `farm-studio look` draws today's floors).
const LAYERS: &[(&str, &[&str])] = &[
    ("entry points", &["main", "commands"]),
    ("stages and hosts", &["stages", "hosts"]),
    (
        "plans, targets, results",
        &[
            "targets",
            "report",
            "snapshots",
            "backups",
            "result",
            "cli",
            "project",
            "filestore",
            "image",
            "plan",
            "executor",
            "guard",
        ],
    ),
    (
        "Odoo, PostgreSQL, config",
        &[
            "odoo",
            "neutralize",
            "config",
            "bump",
            "health",
            "proxy",
            "db",
            "exit",
            "addons",
        ],
    ),
    (
        "foundations",
        &[
            "cancel",
            "names",
            "cachedir",
            "style",
            "secrets",
            "repo_file",
            "requirements",
            "registry_auth",
            "context",
            "repo",
            "diag",
            "base",
            "clock",
            "lib",
        ],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS
        .iter()
        .position(|(_, members)| members.contains(&top))
}

#[test]
fn no_arrow_runs_from_a_lower_layer_up_to_a_higher_one() {
    let mut upward = Vec::new();
    for (from, targets) in module_uses() {
        let Some(low) = layer_of(&from) else {
            panic!("`{from}` is in no layer: add its top-level module to LAYERS");
        };
        for to in targets {
            let high = layer_of(&to).unwrap_or(usize::MAX);
            if high < low {
                upward.push(format!(
                    "{from} ({}) uses {to} ({})",
                    LAYERS[low].0, LAYERS[high].0
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "arrows running back up (move what is shared down): {upward:#?}"
    );
}
