//! The version-bump guard: a repo addon whose files changed since the base but whose
//! normalised version did not go up will not be updated in production (Odoo only updates
//! on `-u`, and we, like Odoo.sh, pass `-u` on a version bump). Flag it before it merges.
//! Pure: the facts come in, findings go out.

use std::cmp::Ordering;

use globset::GlobSet;
use serde::Serialize;

use crate::addons::{version, AddonSet};
use crate::base::BaseFacts;
use crate::bump::{bump_version, Part};
use crate::config::GuardLevel;
use crate::odoo::Colour;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardKind {
    /// Files changed, version did not go up.
    Unbumped,
    /// The version went down: always red.
    Downgrade,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardFinding {
    pub addon: String,
    pub kind: GuardKind,
    pub colour: Colour,
    /// The manifest, relative to the repository root, and the line of its `version`.
    pub file: String,
    pub line: usize,
    pub base_version: String,
    pub version: String,
    /// Changed files that need an update, relative to the addon folder.
    pub changed_files: Vec<String>,
    /// What `odoo-ci bump` would raise the version to (patch part).
    pub suggested_version: Option<String>,
    pub message: String,
}

/// Checks every addon that exists both at the base and now.
pub fn check(
    addons: &AddonSet,
    base: &BaseFacts,
    level: GuardLevel,
    ignore: &GlobSet,
) -> Vec<GuardFinding> {
    let mut findings = Vec::new();
    for addon in addons.addons.iter().filter(|a| a.manifest.installable) {
        let Some(old) = base.versions.get(&addon.name) else {
            continue;
        };
        let file = base
            .manifest_paths
            .get(&addon.name)
            .cloned()
            .unwrap_or_else(|| addon.manifest_file.to_string_lossy().into_owned());
        let line = addon.manifest.version_line;
        match version::compare(&addon.version, old) {
            Ordering::Greater => {}
            Ordering::Less => findings.push(GuardFinding {
                addon: addon.name.clone(),
                kind: GuardKind::Downgrade,
                colour: Colour::Red,
                file,
                line,
                base_version: old.clone(),
                version: addon.version.clone(),
                changed_files: Vec::new(),
                suggested_version: None,
                message: format!(
                    "`{}` went down from {old} to {}: Odoo cannot downgrade a module; give it a version above {old}",
                    addon.name, addon.version
                ),
            }),
            Ordering::Equal => {
                if level == GuardLevel::Off {
                    continue;
                }
                let changed: Vec<String> = base
                    .changed_files
                    .get(&addon.name)
                    .into_iter()
                    .flatten()
                    .filter(|f| !ignore.is_match(f.as_str()) && f.as_str() != "__manifest__.py")
                    .cloned()
                    .collect();
                if changed.is_empty() {
                    continue;
                }
                let suggested = bump_version(&addon.manifest.version, addons.series, Part::Patch).ok();
                let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
                let more = if changed.len() > 5 {
                    format!(" and {} more", changed.len() - 5)
                } else {
                    String::new()
                };
                findings.push(GuardFinding {
                    addon: addon.name.clone(),
                    kind: GuardKind::Unbumped,
                    colour: if level == GuardLevel::Red { Colour::Red } else { Colour::Yellow },
                    file,
                    line,
                    base_version: old.clone(),
                    version: addon.version.clone(),
                    message: format!(
                        "`{}` changed ({}{more}) but its version stayed {}: production will not update it. Run `odoo-ci bump {}`{}",
                        addon.name,
                        shown.join(", "),
                        addon.version,
                        addon.name,
                        suggested.as_deref().map(|s| format!(" (→ {s})")).unwrap_or_default()
                    ),
                    changed_files: changed,
                    suggested_version: suggested,
                });
            }
        }
    }
    findings
}
