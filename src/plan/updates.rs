//! Which addons a database needs: installed repo addons whose manifest version is higher
//! than the database's `latest_version` are updated (`-u`), selected addons that are not
//! installed are installed (`-i`), and a manifest version lower than the database's is a
//! downgrade, which Odoo cannot do.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::addons::version;
use crate::addons::AddonSet;
use crate::db::InstalledModule;

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
    addons: &AddonSet,
    installed: &BTreeMap<String, InstalledModule>,
    selected: &[String],
) -> ModuleChanges {
    let mut out = ModuleChanges::default();
    for addon in addons.addons.iter() {
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

/// `update_mode: hash`: installed addons whose content differs from the hash stored at the
/// last deploy are updated too, even without a version bump. An addon with no stored hash
/// is not updated for it: updating every addon on the first deploy in this mode re-ran
/// their data files (re-enabling crons an admin had turned off).
pub fn add_content_changes(
    changes: &mut ModuleChanges,
    installed: &BTreeMap<String, InstalledModule>,
    hashes: &BTreeMap<String, String>,
    stored: &BTreeMap<String, String>,
) {
    for (name, hash) in hashes {
        let present = installed.get(name).is_some_and(|m| m.state == "installed");
        let listed = changes.update.iter().any(|c| &c.addon == name);
        // No stored hash (the first deploy in hash mode) is not a change: the deploy
        // stores them, and the next one compares.
        let changed = stored.get(name).is_some_and(|old| old != hash);
        if present && !listed && changed {
            let v = installed
                .get(name)
                .and_then(|m| m.latest_version.clone())
                .unwrap_or_default();
            changes.update.push(VersionChange {
                addon: name.clone(),
                installed: v.clone(),
                manifest: format!("{v} (content changed)"),
            });
        }
    }
}

/// What changed between the plan's database facts and what the database has now: the
/// stage refuses to act on a decision made from facts that no longer hold.
pub fn confirm(planned: &ModuleChanges, now: &ModuleChanges, database: &str) -> Result<(), String> {
    if planned.update_names() == now.update_names() && planned.install == now.install {
        return Ok(());
    }
    Err(format!(
        "`{database}` changed since the plan was made (planned -u [{}] -i [{}], now -u [{}] -i [{}]): another deploy or an admin ran in between; run again",
        planned.update_names().join(","),
        planned.install.join(","),
        now.update_names().join(","),
        now.install.join(",")
    ))
}
