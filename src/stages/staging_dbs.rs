//! Dropping a staging database odoo-ci made, with its servers and filestore, checked
//! (the names and listing are `db::staging`'s).

pub use crate::db::staging::*;

use crate::db;

/// What dropping a staging database reached, each part checked after it was done, never
/// assumed: its servers, the database itself, its filestore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    pub name: String,
    /// How many servers were stopped, or why they could not be.
    pub servers: Result<usize, String>,
    /// `Ok` once the database is checked to be gone.
    pub database: Result<(), String>,
    /// `Ok` once the filestore folder is checked to be gone.
    pub filestore: Result<(), String>,
}

impl Discarded {
    pub fn is_complete(&self) -> bool {
        self.servers.is_ok() && self.database.is_ok() && self.filestore.is_ok()
    }

    /// One sentence that states only what was reached, and what is left with the command
    /// that removes it.
    pub fn describe(&self) -> String {
        let name = &self.name;
        if self.is_complete() {
            return format!(
                "the staging database `{name}` was dropped, its server stopped and its filestore removed"
            );
        }
        let mut left = Vec::new();
        if let Err(why) = &self.servers {
            left.push(format!("its server may still run ({why})"));
        }
        match &self.database {
            Err(why) => left.push(format!("`{name}` is still there ({why})")),
            Ok(()) => left.push(format!("`{name}` itself is gone")),
        }
        if let Err(why) = &self.filestore {
            left.push(format!("its filestore is still there ({why})"));
        }
        format!(
            "the staging database could not be fully removed: {}; run `odoo-ci staging drop {name}` to finish",
            left.join("; ")
        )
    }
}

/// Stops this project's servers of the staging database `name`, ends its sessions, drops
/// it and its filestore under `filestores`, then checks each is gone.
pub fn discard(
    admin: &mut postgres::Client,
    docker: Option<&bollard::Docker>,
    scope: &str,
    name: &str,
    filestores: &std::path::Path,
) -> Discarded {
    let ours = [
        (crate::names::PROJECT_LABEL, scope),
        ("odoo-ci.database", name),
    ];
    // Its servers (a swarm's services, then containers, a service's stopped tasks among
    // them), then the volume that was their data dir on a remote engine or a swarm.
    let servers = match docker {
        Some(docker) => crate::executor::swarm::remove_services_labelled_now(docker, &ours)
            .and_then(|services| {
                crate::executor::docker::remove_labelled(docker, &ours).map(|n| n + services)
            })
            .and_then(|n| {
                crate::executor::docker::remove_volumes_labelled(docker, &ours).map(|_| n)
            })
            .map_err(|e| e.to_string()),
        None => Err("the Docker engine cannot be reached".to_string()),
    };
    let dropped = db::drop_database(admin, name).map_err(|e| e.to_string());
    let database = match db::database_exists(admin, name) {
        Ok(false) => Ok(()),
        Ok(true) => Err(dropped.err().unwrap_or_else(|| "still listed".into())),
        Err(e) => Err(format!("could not check: {e}")),
    };
    let filestore = match crate::names::child_of(filestores, name) {
        Some(dir) => {
            let _ = std::fs::remove_dir_all(&dir);
            match dir.exists() {
                false => Ok(()),
                true => Err(format!("{} could not be removed", dir.display())),
            }
        }
        None => Ok(()),
    };
    Discarded {
        name: name.to_string(),
        servers,
        database,
        filestore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discarded(servers: Result<usize, String>, database: Result<(), String>) -> Discarded {
        Discarded {
            name: "odoo_ci_stg_x".into(),
            servers,
            database,
            filestore: Ok(()),
        }
    }

    #[test]
    fn a_discard_claims_only_what_it_reached() {
        let done = discarded(Ok(1), Ok(()));
        assert!(done.describe().contains("`odoo_ci_stg_x` was dropped"));
        let kept = discarded(Ok(1), Err("cannot drop a template database".into()));
        let text = kept.describe();
        assert!(!text.contains("was dropped"), "{text}");
        assert!(text.contains("`odoo_ci_stg_x` is still there (cannot drop a template database)"));
        assert!(
            text.contains("odoo-ci staging drop odoo_ci_stg_x"),
            "{text}"
        );
        let running = discarded(Err("the Docker engine cannot be reached".into()), Ok(()));
        let text = running.describe();
        assert!(text.contains("its server may still run"), "{text}");
        assert!(text.contains("itself is gone"), "{text}");
    }
}
