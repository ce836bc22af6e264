//! `odoo-ci previews list|stop|start|drop|gc`: the development builds kept as previews
//! (`development.keep`), on the development stage's server and engine.

use std::path::Path;

use serde::Serialize;

use super::previews_at::Previews;
use crate::cli::{Format, PreviewsCommand};
use crate::db::previews::Preview;
use crate::exit::{self, BadInput};
use crate::stages::previews::{self, Place};

/// A preview as listed: what its marker says, whether its server runs, its size.
#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    preview: Preview,
    running: bool,
    bytes: i64,
}

pub fn run(config: &Path, cmd: &PreviewsCommand) -> anyhow::Result<u8> {
    let previews = Previews::open(config)?;
    if let PreviewsCommand::Wake { listen } = cmd {
        return super::waker::serve(previews, listen.as_deref());
    }
    let mut admin = previews.server.connect("postgres")?;
    let mut place = previews.place(&mut admin);
    let config = &previews.config;
    match cmd {
        PreviewsCommand::List { format } => list(&mut place, *format),
        PreviewsCommand::Stop { branch } => running(&mut place, branch, false),
        PreviewsCommand::Start { branch } => running(&mut place, branch, true),
        PreviewsCommand::Drop { branch } => {
            // A deleted branch that never had a preview: nothing to do, and that is fine.
            let all = crate::db::previews::list(place.admin, place.scope)?;
            let Some(found) = all.into_iter().find(|p| &p.marker.branch == branch) else {
                println!("`{branch}` has no preview of this project: nothing to drop");
                return Ok(exit::OK);
            };
            previews::discard(&mut place, &found.database)?;
            println!("dropped the preview of `{branch}` (`{}`)", found.database);
            let host = crate::hosts::HostEnv::of_process();
            if host.provider == crate::context::Provider::Github {
                let environment = crate::hosts::deployments::preview_environment(branch);
                crate::hosts::deployments::environment_gone(
                    &host,
                    &environment,
                    "its preview was dropped",
                );
            }
            Ok(exit::OK)
        }
        PreviewsCommand::Gc => {
            let set = &config.file.previews;
            let budget = previews::Budget {
                max_kept: set.max_kept,
                max_running: set.max_running,
                idle_after: set.idle_after.map(|k| k.secs),
            };
            let done = previews::within_budget(&mut place, crate::clock::now_secs(), budget)?;
            for database in &done.dropped {
                println!("dropped {database}");
            }
            for database in &done.stopped {
                println!("stopped {database}");
            }
            Ok(exit::OK)
        }
        PreviewsCommand::Wake { .. } => Ok(exit::OK),
    }
}

/// The preview database of `branch`, or bad input naming what exists.
fn of_branch(place: &mut Place<'_>, branch: &str) -> anyhow::Result<String> {
    let all = crate::db::previews::list(place.admin, place.scope)?;
    match all.into_iter().find(|p| p.marker.branch == branch) {
        Some(p) => Ok(p.database),
        None => Err(
            BadInput::new(format!("`{branch}` has no preview of this project"))
                .hint("see `odoo-ci previews list`")
                .into(),
        ),
    }
}

fn running(place: &mut Place<'_>, branch: &str, run: bool) -> anyhow::Result<u8> {
    let database = of_branch(place, branch)?;
    if previews::set_running(place, &database, run)? == 0 {
        return Err(BadInput::new(format!(
            "the preview of `{branch}` has no server any more (`{database}` is kept)"
        ))
        .hint(format!(
            "push the branch again to serve it, or `odoo-ci previews drop {branch}`"
        ))
        .into());
    }
    let done = if run {
        "started"
    } else {
        "stopped (its database is kept)"
    };
    println!("the preview of `{branch}` {done}");
    Ok(exit::OK)
}

fn list(place: &mut Place<'_>, format: Format) -> anyhow::Result<u8> {
    let mut listed = Vec::new();
    for preview in crate::db::previews::list(place.admin, place.scope)? {
        let running = previews::is_running(place, &preview.database);
        let bytes = place
            .admin
            .query_one("SELECT pg_database_size($1)", &[&preview.database])?
            .get(0);
        listed.push(Listed {
            preview,
            running,
            bytes,
        });
    }
    let text = match format {
        Format::Json => super::to_json(&listed)?,
        Format::Text => as_text(&listed, crate::clock::now_secs()),
    };
    super::print_stdout(&text)?;
    Ok(exit::OK)
}

fn as_text(listed: &[Listed], now: u64) -> String {
    if listed.is_empty() {
        return "no previews\n".into();
    }
    let mut out = String::new();
    for l in listed {
        let m = &l.preview.marker;
        out.push_str(&format!(
            "{}  {}  {}  {}  {} h old  {} MiB\n",
            m.branch,
            if l.running { "running" } else { "stopped" },
            m.url.as_deref().unwrap_or("-"),
            l.preview.database,
            now.saturating_sub(m.kept_at) / 3600,
            l.bytes / (1024 * 1024)
        ));
    }
    out
}
