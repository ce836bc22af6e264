//! Odoo's asset bundles, made in the development template once instead of in every test
//! database. Before a post-install suite with a browser test, Odoo 16+ makes every JS and
//! CSS bundle the views call (`ir.qweb._pregenerate_assets_bundles`, from
//! `odoo/service/server.py` `preload_registries`) and keeps each as an attachment whose
//! URL carries a hash of the bundle's files; a bundle already in the database is reused
//! (docs/odoo-facts.md, "Asset bundles before the tours"). Made in the template, the test
//! databases copied from it only remake the bundles the tested addons change.

use std::io::Write;
use std::time::Instant;

use thiserror::Error;

use crate::addons::Series;
use crate::config::Stage;
use crate::db::PgServer;
use crate::executor::Executor;
use crate::plan::odoo_command::{OdooCommand, ShellScript};
use crate::result::Reporter;
use crate::targets::odoo_env::OdooEnv;

/// What `odoo shell` runs in the template: the call Odoo makes before browser tests,
/// committed (the shell rolls back what a script leaves uncommitted).
pub const PREGENERATE: ShellScript = ShellScript {
    name: "pregenerate-asset-bundles.py",
    code: "env['ir.qweb']._pregenerate_assets_bundles()\nenv.cr.commit()\n",
};

/// What Odoo 17+ logs for each bundle it makes, not for one it reuses
/// (`odoo/addons/base/models/assetsbundle.py`, `save_attachment`).
const MADE_ONE: &str = "Generating a new asset bundle attachment";

/// The bundles made, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub bundles: usize,
    pub millis: u128,
}

#[derive(Debug, Error)]
pub enum AssetsError {
    #[error("cancelled (Ctrl-C / SIGTERM) while making the template's asset bundles")]
    Cancelled,
    #[error("making the template's asset bundles failed: {0}")]
    Failed(String),
}

/// Makes Odoo's asset bundles in the database `template` (its filestore under the data
/// dir), every line of Odoo's log written to `log` and shown to `reporter`.
pub fn make_in(
    template: &str,
    (server, executor, series): (&PgServer, &dyn Executor, Series),
    odoo: &OdooEnv,
    (log, reporter): (&mut dyn Write, &mut dyn Reporter),
) -> Result<Made, AssetsError> {
    let command = OdooCommand::shell(Stage::Development, series, template, PREGENERATE);
    let mut inv = crate::stages::invocation::invocation(&command, odoo, server, executor);
    // Where the data dir is mirrored, the template's files go in and come back with the
    // bundles added.
    inv.data_in = vec![format!("filestore/{template}")];
    inv.data_out = inv.data_in.clone();
    let started = Instant::now();
    let mut bundles = 0;
    let mut last = String::new();
    let outcome = executor
        .run(&inv, &mut |line| {
            reporter.odoo_line(line);
            let _ = log.write_all(line);
            let _ = log.write_all(b"\n");
            let text = String::from_utf8_lossy(line);
            bundles += usize::from(text.contains(MADE_ONE));
            last = text.into_owned();
        })
        .map_err(|e| AssetsError::Failed(e.to_string()))?;
    if outcome.cancelled {
        return Err(AssetsError::Cancelled);
    }
    match (outcome.timed_out, outcome.exit_code) {
        (false, Some(0)) => Ok(Made {
            bundles,
            millis: started.elapsed().as_millis(),
        }),
        (true, _) => Err(AssetsError::Failed("Odoo ran out of time".into())),
        (false, code) => Err(AssetsError::Failed(format!(
            "`odoo shell` ended with {} ({last})",
            code.map_or("no exit code".to_string(), |c| format!("exit code {c}"))
        ))),
    }
}
