//! `odoo-ci backup` and `odoo-ci backups list`: production's backups (see
//! [`crate::backups`]).

use std::path::Path;

use crate::backups::{self, Backups};
use crate::cli::{BackupArgs, BackupsCommand, Format};
use crate::config::Config;
use crate::context::Overrides;
use crate::exit::{self, BadInput};
use crate::targets::{production_filestore, production_source};

/// The project's backups, or a clear refusal when it has none configured.
pub fn configured(config: &Config, database: &str) -> anyhow::Result<Backups> {
    Backups::configured(config, database, &crate::cachedir::root())?.ok_or_else(|| {
        BadInput::new(format!(
            "{}: `production.backup` is not set: odoo-ci does not know where backups go",
            config.path.display()
        ))
        .hint("add `production: {backup: {repository: \"sftp:backup@nas:/srv/odoo\", password: \"${BACKUP_PASSWORD}\"}}` (any restic repository)")
        .into()
    })
}

pub fn take(config_path: &Path, args: &BackupArgs) -> anyhow::Result<u8> {
    let project = crate::project::load(
        config_path,
        &Overrides {
            branch: Some("backup".into()),
            ..Overrides::default()
        },
    )?;
    let config = &project.config;
    let (server, database) = production_source(config)?;
    super::require_pg_clients(&[&server])?;
    let backups = configured(config, &database)?;
    let filestore = production_filestore(config, &database)?;
    // What serves production says which code the data goes with; a backup without it is
    // still a backup (the engine may be out of reach from here).
    let serving = crate::targets::production::Production::resolve(config)
        .and_then(|production| crate::stages::production::serving_release(&project, &production))
        .unwrap_or_else(|e| {
            tracing::warn!("the serving release is unknown ({e:#}): the backup records no image");
            None
        });
    let files = crate::targets::FilestoreReader::resolve(config)?;
    let source = backups::Source {
        files: &files,
        server: &server,
        filestore: filestore.as_deref(),
        commit: serving
            .as_ref()
            .and_then(|r| r.labels.get("odoo-ci.commit").cloned())
            .filter(|c| !c.is_empty()),
        release_volume: serving.as_ref().and_then(|r| r.release_volume()),
        image: serving.map(|r| r.image),
    };
    let taken = backups::take(&backups, &source, &args.reason)?;
    let text = match args.format {
        Format::Json => super::to_json(&taken)?,
        Format::Text => format!("{}\n", taken.describe()),
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}

pub fn backups(config_path: &Path, cmd: &BackupsCommand) -> anyhow::Result<u8> {
    let config = Config::load(config_path)?;
    let (_, database) = production_source(&config)?;
    let backups = configured(&config, &database)?;
    let BackupsCommand::List { format } = cmd;
    let all = backups.list()?;
    let text = match format {
        Format::Json => super::to_json(&all)?,
        Format::Text => {
            let mut out = String::new();
            for b in &all {
                out.push_str(&format!(
                    "{}  {}  {:<11} {}\n",
                    b.short_id,
                    &b.time[..b.time.len().min(19)],
                    b.tag("reason").unwrap_or("-"),
                    b.tag("commit")
                        .map(|c| &c[..c.len().min(12)])
                        .unwrap_or("-"),
                ));
            }
            if all.is_empty() {
                out.push_str("no backups\n");
            }
            out
        }
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}
