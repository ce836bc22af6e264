//! The dependency graph of the repository's addons: install order, cycles, external
//! dependencies, and the closures "what this needs" and "what depends on this".

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::discovery::AddonSet;
use crate::diag::{DiagKind, Diagnostic};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonGraph {
    /// Installable repo addons, each after all its repo dependencies (ties by name).
    pub install_order: Vec<String>,
    /// Dependencies that are not repo addons: they come with the base image.
    pub external: BTreeSet<String>,
    /// Each installable repo addon's direct repo dependencies.
    pub depends: BTreeMap<String, BTreeSet<String>>,
}

impl AddonGraph {
    pub fn build(set: &AddonSet) -> Result<AddonGraph, Diagnostic> {
        let installable: HashSet<&str> = set
            .addons
            .iter()
            .filter(|a| a.manifest.installable)
            .map(|a| a.name.as_str())
            .collect();
        let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut external = BTreeSet::new();
        for addon in set.addons.iter().filter(|a| a.manifest.installable) {
            let mut repo_deps = BTreeSet::new();
            for dep in &addon.manifest.depends {
                if installable.contains(dep.as_str()) {
                    repo_deps.insert(dep.clone());
                } else if set.get(dep).is_some() {
                    return Err(Diagnostic::new(
                        DiagKind::UninstallableDependency,
                        format!(
                            "addon `{}` depends on `{dep}`, which is marked not installable",
                            addon.name
                        ),
                    )
                    .in_file(&addon.manifest_file)
                    .hint(format!(
                        "make `{dep}` installable, or mark `{}` not installable too",
                        addon.name
                    )));
                } else {
                    external.insert(dep.clone());
                }
            }
            depends.insert(addon.name.clone(), repo_deps);
        }
        let install_order = topological_order(&depends)?;
        Ok(AddonGraph {
            install_order,
            external,
            depends,
        })
    }

    /// `names` plus every repo addon they need, in install order.
    pub fn with_dependencies<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut wanted = BTreeSet::new();
        let mut stack: Vec<&str> = names.into_iter().collect();
        while let Some(name) = stack.pop() {
            if wanted.insert(name.to_string()) {
                if let Some(deps) = self.depends.get(name) {
                    stack.extend(deps.iter().map(String::as_str));
                }
            }
        }
        self.in_order(&wanted)
    }

    /// `names` plus every repo addon that depends on them, directly or not, in install order.
    pub fn with_dependents<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut wanted: BTreeSet<String> = names.into_iter().map(str::to_string).collect();
        // install_order puts dependencies first, so one pass reaches every dependent.
        for name in &self.install_order {
            if let Some(deps) = self.depends.get(name) {
                if deps.iter().any(|d| wanted.contains(d)) {
                    wanted.insert(name.clone());
                }
            }
        }
        self.in_order(&wanted)
    }

    fn in_order(&self, wanted: &BTreeSet<String>) -> Vec<String> {
        self.install_order
            .iter()
            .filter(|n| wanted.contains(*n))
            .cloned()
            .collect()
    }
}

/// Depth-first topological sort; a cycle is reported with its path.
fn topological_order(
    depends: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<String>, Diagnostic> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    let mut order = Vec::with_capacity(depends.len());
    for root in depends.keys() {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // Iterative DFS: (node, its deps iterator).
        let mut path: Vec<&str> = vec![root.as_str()];
        let mut iters = vec![depends[root].iter()];
        marks.insert(root.as_str(), Mark::Visiting);
        while let Some(it) = iters.last_mut() {
            match it.next() {
                Some(dep) => match marks.get(dep.as_str()) {
                    Some(Mark::Done) => {}
                    Some(Mark::Visiting) => {
                        let start = path.iter().position(|n| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[start..].to_vec();
                        cycle.push(dep.as_str());
                        return Err(Diagnostic::new(
                            DiagKind::DependencyCycle,
                            format!("dependency cycle between addons: {}", cycle.join(" -> ")),
                        )
                        .hint("Odoo cannot install addons that depend on each other: remove one `depends` entry of the cycle"));
                    }
                    None => {
                        marks.insert(dep.as_str(), Mark::Visiting);
                        path.push(dep.as_str());
                        iters.push(depends.get(dep).map(|d| d.iter()).unwrap_or_default());
                    }
                },
                None => {
                    iters.pop();
                    if let Some(done) = path.pop() {
                        marks.insert(done, Mark::Done);
                        order.push(done.to_string());
                    }
                }
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn orders_dependencies_first() {
        let order = topological_order(&deps(&[
            ("c", &["b"]),
            ("b", &["a"]),
            ("a", &[]),
            ("d", &["a"]),
        ]))
        .unwrap();
        assert_eq!(order, vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn names_the_cycle() {
        let err =
            topological_order(&deps(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])).unwrap_err();
        assert_eq!(err.kind, DiagKind::DependencyCycle);
        assert!(err.message.contains("a -> b -> c -> a"), "{}", err.message);
    }

    #[test]
    fn closures() {
        let d = deps(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("x", &[])]);
        let g = AddonGraph {
            install_order: topological_order(&d).unwrap(),
            external: BTreeSet::new(),
            depends: d,
        };
        assert_eq!(g.with_dependents(["a"]), vec!["a", "b", "c"]);
        assert_eq!(g.with_dependencies(["c"]), vec!["a", "b", "c"]);
        assert_eq!(g.with_dependents(["x"]), vec!["x"]);
    }
}
