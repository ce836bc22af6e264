//! Which addons a database needs: installed repo addons whose manifest version is higher
//! than the database's `latest_version` are updated (`-u`), selected addons that are not
//! installed are installed (`-i`), and a manifest version lower than the database's is a
//! downgrade, which Odoo cannot do.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::addons::version;
use crate::db::InstalledModule;
use crate::project::Project;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionChange {
    pub addon: String,
    pub installed: String,
    pub manifest: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleChanges {
    pub update: Vec<VersionChange>,
    pub install: Vec<String>,
    pub downgrade: Vec<VersionChange>,
}

impl ModuleChanges {
    pub fn update_names(&self) -> Vec<String> {
        self.update.iter().map(|c| c.addon.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.update.is_empty() && self.install.is_empty()
    }
}

/// Compares the repo's manifests with what the database has installed; `selected` are the
/// repo addons the stage installs.
pub fn changes(
    project: &Project,
    installed: &BTreeMap<String, InstalledModule>,
    selected: &[String],
) -> ModuleChanges {
    let mut out = ModuleChanges::default();
    for addon in project.addons.addons.iter() {
        if !addon.manifest.installable {
            continue;
        }
        let Some(module) = installed.get(&addon.name) else {
            continue;
        };
        if module.state != "installed" && module.state != "to upgrade" {
            continue;
        }
        let db_version = module.latest_version.clone().unwrap_or_default();
        let change = VersionChange {
            addon: addon.name.clone(),
            installed: db_version.clone(),
            manifest: addon.version.clone(),
        };
        match version::compare(&addon.version, &db_version) {
            Ordering::Greater => out.update.push(change),
            Ordering::Less => out.downgrade.push(change),
            Ordering::Equal => {}
        }
    }
    for name in selected {
        let present = installed
            .get(name)
            .is_some_and(|m| m.state == "installed" || m.state == "to upgrade");
        if !present {
            out.install.push(name.clone());
        }
    }
    out
}
