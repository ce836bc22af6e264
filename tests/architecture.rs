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

#[test]
fn no_two_modules_import_each_other() {
    let files = sources();
    let modules: BTreeSet<String> = files.iter().map(|(f, _)| module_of(f)).collect();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in &files {
        let me = module_of(file);
        for (i, _) in code.match_indices("crate::") {
            let path: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // The longest module the path names.
            let parts: Vec<&str> = path.split("::").collect();
            let target = (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|m| modules.contains(m));
            if let Some(target) = target {
                // A module may use its own children (and they it) freely.
                let related = target.starts_with(&format!("{me}::"))
                    || me.starts_with(&format!("{target}::"));
                if target != me && !related {
                    uses.entry(me.clone()).or_default().insert(target);
                }
            }
        }
    }
    let mut cycles = Vec::new();
    for (a, targets) in &uses {
        for b in targets {
            if a < b && uses.get(b).is_some_and(|t| t.contains(a)) {
                cycles.push(format!("{a} ↔ {b}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import each other: {cycles:?}"
    );
}
