//! A deploy that died — SIGKILL after a cancel's grace time, a lost runner — leaves what it
//! had reached: production in maintenance, an update container still running, a new
//! release beside the old one. The next deploy or rollback finds it under the deploy lock,
//! before it touches anything, and settles it:
//!
//! - in maintenance (the dead deploy was updating modules): its containers are stopped, its
//!   pre-deploy snapshot restored (no write was accepted since it was taken) and the
//!   previous release serves again — the pre-deploy state, whatever step it reached;
//! - a release that does not serve beside one that does (a code-only deploy killed before
//!   its switch, or after it but before the old one was stopped) is removed: what serves
//!   stays.

use bollard::Docker;

use crate::executor::bluegreen::{BlueGreen, Release, COLOUR_LABEL};
use crate::snapshots;

use super::maintenance;
use super::target::{engine_files, Target};

/// Settles what an interrupted deployment left; says what it found and did, or `None`
/// when nothing was left.
pub fn settle_interrupted(
    target: &mut Target<'_>,
    docker: &Docker,
) -> anyhow::Result<Option<String>> {
    let bg = target.blue_green(docker);
    let mut admin = target.server.connect("postgres")?;
    let Some(id) = maintenance::interrupted(&mut admin, &target.database)? else {
        remove_release_helpers(docker, &target.project.scope)?;
        return remove_idle_releases(&bg);
    };
    let stopped = remove_leftover_runs(docker, &target.project.scope)?;
    for release in bg.releases()? {
        if release.labels.get("odoo-ci.deployment") == Some(&id) {
            bg.remove(&release.id)?;
        }
    }
    let serving = bg.active()?;
    let snapshot = snapshots::find(&mut admin, &target.database, &id).ok();
    let mut did = vec![format!("stopped {stopped} container(s) it left running")];
    if let Some(snap) = &snapshot {
        let image = match &serving {
            Some(r) => r.image.clone(),
            None => target.base_image.clone(),
        };
        target.engine = Some(engine_files(docker, &image, &target.project.scope));
        target.restore(&snap.name)?;
        did.push(format!("restored its pre-deploy snapshot `{}`", snap.name));
    }
    maintenance::reset(&mut admin, &target.database)?;
    did.push("production takes writes again".into());
    if let Some(old) = serving {
        put_back(&bg, &old, snapshot.is_some())?;
        did.push(format!("{} ({}) serves", old.name, old.colour.as_str()));
    }
    tracing::warn!("deployment {id} was interrupted: {}", did.join(", "));
    Ok(Some(format!(
        "deployment {id} was interrupted in maintenance and is undone: {}",
        did.join(", ")
    )))
}

/// The release that serves again: restarted after a restore (its sessions were ended),
/// holding the alias.
fn put_back(bg: &BlueGreen<'_>, old: &Release, restored: bool) -> anyhow::Result<()> {
    if restored {
        bg.restart(&old.id)?;
    }
    if !bg.has_alias(&old.id)? {
        bg.set_alias(&old.id, true)?;
    }
    Ok(())
}

/// Releases that do not serve while another does: left by a deploy that died before its
/// switch or before it stopped the old release.
fn remove_idle_releases(bg: &BlueGreen<'_>) -> anyhow::Result<Option<String>> {
    let releases = bg.releases()?;
    let mut serving = Vec::new();
    for r in &releases {
        if bg.has_alias(&r.id)? {
            serving.push(r.id.clone());
        }
    }
    if serving.is_empty() {
        return Ok(None);
    }
    let mut removed = Vec::new();
    for r in releases.iter().filter(|r| !serving.contains(&r.id)) {
        bg.remove(&r.id)?;
        removed.push(format!("{} ({})", r.name, r.colour.as_str()));
    }
    Ok((!removed.is_empty()).then(|| {
        format!(
            "removed what an interrupted deploy left beside the serving release: {}",
            removed.join(", ")
        )
    }))
}

/// The helpers a deploy killed while it carried its release left (created, never started):
/// under the deploy lock, no other deploy is carrying one.
fn remove_release_helpers(docker: &Docker, scope: &str) -> anyhow::Result<usize> {
    let labels = [
        (crate::names::PROJECT_LABEL, scope),
        ("odoo-ci.stage", "production"),
        ("odoo-ci.helper", "release"),
    ];
    Ok(crate::executor::docker::remove_labelled(docker, &labels)?)
}

/// This project's production containers that are not releases (an update, a helper) —
/// under the deploy lock, only a dead deploy can have left them.
fn remove_leftover_runs(docker: &Docker, scope: &str) -> anyhow::Result<usize> {
    let labels = [
        (crate::names::PROJECT_LABEL, scope),
        ("odoo-ci.stage", "production"),
    ];
    Ok(crate::executor::docker::remove_labelled_where(
        docker,
        &labels,
        |l| !l.contains_key(COLOUR_LABEL),
    )?)
}
