//! A backup brought back onto production's server as a snapshot: the rollback to a backup
//! is then the rollback to a snapshot, with the same safety snapshot, maintenance and
//! undo.

use crate::backups::{self, Backups, Manifest};
use crate::db;
use crate::executor::bluegreen::Reach;
use crate::snapshots::{self, SnapshotRecord};

use super::target::Target;

/// Fetches the backup `id`, checks it, and keeps its database and filestore as a new
/// snapshot of production; returns the snapshot's name and the backup's manifest. Nothing
/// of it is left when any part fails.
pub fn fetch_as_snapshot(
    target: &Target<'_>,
    backups: &Backups,
    id: &str,
) -> anyhow::Result<(String, Manifest)> {
    if target.filestore.is_some() && target.docker_engine.reach() != Reach::Direct {
        anyhow::bail!(
            "production's engine is remote: restoring a backup's filestore onto its host is not supported yet; nothing was touched (hint: run `odoo-ci rollback --backup {id}` on the engine's host)"
        );
    }
    let restored = backups::fetch(backups, id)?;
    let mut admin = target.server.connect("postgres")?;
    let name = snapshots::new_name(&mut admin, &target.database)?;
    let kept = (|| -> anyhow::Result<()> {
        restored.into_database(&target.server, &name)?;
        if let (Some(files), Some(live)) = (restored.filestore()?, &target.filestore) {
            let dir = snapshots::filestore_dir(&target.snapshots_dir, &name);
            crate::filestore::copy_local(&files, &dir)?;
            // Odoo writes into the filestore as its owner: the copy must be its too.
            if live.exists() {
                own_tree_like(&dir, live)?;
            }
        }
        let record = SnapshotRecord {
            production: target.database.clone(),
            created: restored.manifest.created.clone(),
            commit: restored.manifest.commit.clone(),
            deployment: None,
            pinned: false,
            reason: format!("backup {}", restored.id),
        };
        snapshots::save_record(&mut admin, &name, &record)?;
        Ok(())
    })();
    let manifest = restored.manifest.clone();
    restored.clean();
    if let Err(e) = kept {
        let _ = db::drop_database(&mut admin, &name);
        let _ = std::fs::remove_dir_all(snapshots::filestore_dir(&target.snapshots_dir, &name));
        return Err(e);
    }
    Ok((name, manifest))
}

/// Gives every file and folder under `dir` the owner of `like`.
fn own_tree_like(dir: &std::path::Path, like: &std::path::Path) -> std::io::Result<()> {
    crate::filestore::own_like(dir, like)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            own_tree_like(&path, like)?;
        } else {
            crate::filestore::own_like(&path, like)?;
        }
    }
    Ok(())
}
