//! Builds that stay up (`development.keep`): after a green or yellow run the tested
//! database becomes the branch's preview (`db::previews` names and marks it) and a server
//! of the commit's image keeps serving it; the project's previews are kept within their
//! budget — past their time, beyond `previews.max_kept` (oldest dropped), beyond
//! `previews.max_running` (oldest stopped, database kept: no CPU until started again).
//! Everything here checks the project's label or marker before it stops or drops.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::db::previews::{self, Marker, Preview};
use crate::executor::docker::DockerExecutor;
use crate::executor::mail_catcher::{self, Catcher};
use crate::executor::servers::Fleet;
use crate::executor::Invocation;
use crate::neutralize::{MailCatcher, Policy};
use crate::plan::steps;

/// Where the project's previews are: their server, engine, project and data dir.
pub struct Place<'a> {
    pub server: &'a crate::db::PgServer,
    pub admin: &'a mut postgres::Client,
    pub docker: &'a Docker,
    pub scope: &'a str,
    /// The development data dir: previews' filestores are under its `filestore/`.
    pub data_dir: &'a Path,
    /// The Caddy that routes previews' URLs (`previews.proxy`).
    pub proxy: Option<crate::proxy::Caddy>,
    /// Where a preview's own port is opened from: this machine's loopback, or a remote
    /// engine's host.
    pub host: String,
    /// What runs the previews' servers: containers, or the swarm's services.
    pub fleet: Box<dyn Fleet>,
}

/// Where the servers of `engine` are opened from: a remote engine's host, else this
/// machine's loopback.
pub fn reached_at(engine: &crate::executor::docker::Engine) -> String {
    engine.host_name().unwrap_or_else(|| "127.0.0.1".into())
}

/// How many previews are kept and running, and how long one may sit idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_kept: u32,
    pub max_running: u32,
    pub idle_after: Option<u64>,
}

impl Budget {
    pub fn of(keep: &steps::Keep) -> Budget {
        Budget {
            max_kept: keep.max_kept,
            max_running: keep.max_running,
            idle_after: keep.idle_after,
        }
    }
}

/// What keeping the budget did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Budgeted {
    pub dropped: Vec<String>,
    pub stopped: Vec<String>,
}

/// The preview's Odoo, serving a database on a port.
pub type Serve<'a> = &'a dyn Fn(&str, u16) -> Invocation;

/// The build that was kept.
pub struct Kept {
    pub url: String,
    /// Its mail catcher's web UI, when it has one.
    pub mail_url: Option<String>,
    pub budget: Budgeted,
}

/// What is kept: the tested database, and for which branch and commit.
pub struct Tested<'a> {
    pub database: &'a str,
    pub branch: &'a str,
    pub commit: Option<String>,
}

/// Keeps `tested` as its branch's preview, as the plan's `keep` step says: the branch's
/// older preview goes, the database and its filestore take the preview's name, a server of
/// the commit's image serves it (`serve` is its Odoo, on a port), healthy; then the budget.
/// A preview that does not become healthy is dropped.
pub fn keep(
    keep: &steps::Keep,
    tested: Tested<'_>,
    (executor, serve): (&DockerExecutor, Serve<'_>),
    place: &mut Place<'_>,
    now: u64,
) -> anyhow::Result<Kept> {
    discard(place, &keep.database)?;
    let port = crate::health::free_port()?;
    let url = match &keep.route {
        Some(route) => route.url.clone(),
        None => format!("http://{}:{port}", place.host),
    };
    let marker = Marker {
        project: place.scope.to_string(),
        branch: tested.branch.to_string(),
        commit: tested.commit,
        kept_at: now,
        until: now + keep.for_secs,
        url: Some(url.clone()),
    };
    // Marked before it takes the preview's name: a database under that name is never
    // without its marker, so a run killed here leaves nothing `previews` cannot drop.
    previews::mark(place.admin, tested.database, &marker)?;
    crate::db::rename_database(place.admin, tested.database, &keep.database)?;
    let filestores = place.data_dir.join("filestore");
    if let (Some(from), Some(to)) = (
        crate::names::child_of(&filestores, tested.database),
        crate::names::child_of(&filestores, &keep.database),
    ) {
        if from.exists() {
            std::fs::rename(from, to)?;
        }
    }
    let served = catcher(keep, executor, place)
        .and_then(|catcher| {
            neutralized(&keep.database, place.server, catcher.as_ref())?;
            Ok(catcher)
        })
        .and_then(|catcher| {
            let mut inv = serve(&keep.database, port);
            // Where the engine cannot see this machine's data dir, it goes into the
            // server's own (a volume there).
            inv.data_in = vec![format!("filestore/{}", keep.database)];
            let id = serve_healthy(keep, executor, &inv, port)?;
            let upstream = place.fleet.answers_at(&id);
            let to = upstream.clone().unwrap_or(format!("127.0.0.1:{port}"));
            routed(keep, place.proxy.as_ref(), &to)?;
            Ok((routed_mail(keep, place.proxy.as_ref(), catcher)?, upstream))
        });
    let (catcher, upstream) = match served {
        Ok(served) => served,
        Err(e) => {
            discard(place, &keep.database)?;
            return Err(e.context("the preview was not kept"));
        }
    };
    // Without a route, its URL is where its port opens: a swarm's node, once placed.
    let url = match (&keep.route, upstream) {
        (None, Some(upstream)) => {
            let url = format!("http://{upstream}");
            previews::mark(
                place.admin,
                &keep.database,
                &Marker {
                    url: Some(url.clone()),
                    ..marker
                },
            )?;
            url
        }
        _ => url,
    };
    let budget = within_budget(place, now, Budget::of(keep))?;
    Ok(Kept {
        url,
        mail_url: catcher.map(|c| c.ui),
        budget,
    })
}

/// The preview's mail catcher, started (and its image pulled) when the plan has one.
fn catcher(
    keep: &steps::Keep,
    executor: &DockerExecutor,
    place: &Place<'_>,
) -> anyhow::Result<Option<Catcher>> {
    let Some(image) = &keep.mail_catcher else {
        return Ok(None);
    };
    crate::targets::pulled_when_missing(place.docker, image)?;
    let remote = executor.is_remote();
    let spec = mail_catcher::Spec {
        scope: place.scope,
        server: &keep.container,
        image,
        network: &executor.network,
        greeter: mail_catcher::Greeter::on(remote, place.docker, &executor.image, place.scope),
    };
    Ok(Some(mail_catcher::ensure(
        place.docker,
        &spec,
        Duration::from_secs(15),
    )?))
}

/// The preview's URL routed to its server on Caddy, when the plan routes it.
fn routed(
    keep: &steps::Keep,
    caddy: Option<&crate::proxy::Caddy>,
    upstream: &str,
) -> anyhow::Result<()> {
    let (Some(route), Some(caddy)) = (&keep.route, caddy) else {
        return Ok(());
    };
    let host = crate::proxy::host_of(&route.url)
        .ok_or_else(|| anyhow::anyhow!("`{}` has no host to route", route.url))?;
    caddy.route(&route_id(&keep.database), host, upstream)?;
    // A stopped preview's requests go to `odoo-ci previews wake`, when the plan wakes.
    if let Some(wake) = &route.wake {
        caddy.route_errors(&wake_route_id(&keep.database), host, wake)?;
    }
    Ok(())
}

/// The catcher's web UI routed beside the preview, at its URL's host prefixed with
/// `mail-`, when the plan routes the preview: a reviewer opens it where they open the
/// preview (on a remote engine, its loopback port is nobody's to open).
fn routed_mail(
    keep: &steps::Keep,
    caddy: Option<&crate::proxy::Caddy>,
    catcher: Option<Catcher>,
) -> anyhow::Result<Option<Catcher>> {
    let Some(mut catcher) = catcher else {
        return Ok(None);
    };
    let (Some(route), Some(caddy)) = (&keep.route, caddy) else {
        return Ok(Some(catcher));
    };
    let url = crate::proxy::prefixed(&route.url, MAIL_PREFIX);
    let host = crate::proxy::host_of(&url)
        .ok_or_else(|| anyhow::anyhow!("`{url}` has no host to route"))?;
    let upstream = format!("127.0.0.1:{}", catcher.ui_port);
    caddy.route(&mail_route_id(&keep.database), host, &upstream)?;
    catcher.ui = url;
    Ok(Some(catcher))
}

/// What a preview's catcher's URL adds before the preview's host.
const MAIL_PREFIX: &str = "mail-";

/// The `@id` of the route of the preview `database`'s catcher.
fn mail_route_id(database: &str) -> String {
    format!("odoo-ci-{database}-mail")
}

/// The `@id` of the preview `database`'s route: its name is scoped by project and branch.
fn route_id(database: &str) -> String {
    format!("odoo-ci-{database}")
}

/// The `@id` of the error route that sends the preview `database`'s requests to the
/// waker while its server is stopped.
fn wake_route_id(database: &str) -> String {
    format!("odoo-ci-{database}-wake")
}

/// Odoo's mail queue cron (`mail.ir_cron_mail_scheduler_action`): kept on in a preview
/// whose mail goes to a catcher, so what it sends can be read.
const MAIL_QUEUE: &str = "mail.ir_cron_mail_scheduler_action";

/// A preview is opened by people who click: like a staging copy, no mail, webhook or
/// payment leaves it and no cron runs — odoo-ci's neutralization, verified, fail closed.
/// With a catcher, its mail goes there, and the mail queue's cron stays on to send it.
fn neutralized(
    database: &str,
    server: &crate::db::PgServer,
    catcher: Option<&Catcher>,
) -> anyhow::Result<()> {
    let mut db = server.connect(database)?;
    let policy = match catcher {
        Some(c) => Policy {
            catcher: Some(MailCatcher {
                host: c.smtp_host.clone(),
                port: i32::from(c.smtp_port),
            }),
            cron_allowlist: vec![MAIL_QUEUE.to_string()],
        },
        None => Policy::default(),
    };
    let queue = crate::neutralize::active_allowed_crons(&mut db, &policy.cron_allowlist)?;
    crate::neutralize::apply_own(&mut db)?;
    crate::neutralize::reactivate_crons(&mut db, &queue)?;
    if let Some(c) = &policy.catcher {
        crate::neutralize::route_mail_to(&mut db, c)?;
    }
    let checks = crate::neutralize::verify(&mut db, &policy)?;
    match crate::neutralize::first_failure(&checks) {
        Some(failed) => anyhow::bail!(
            "neutralization check `{}` failed: {}",
            failed.name,
            failed.detail
        ),
        None => Ok(()),
    }
}

/// Starts the preview's server and waits until it answers the plan's health check; its id.
fn serve_healthy(
    keep: &steps::Keep,
    executor: &DockerExecutor,
    inv: &Invocation,
    port: u16,
) -> anyhow::Result<String> {
    let labels = HashMap::from([
        ("odoo-ci.database".to_string(), keep.database.clone()),
        (previews::LABEL.to_string(), keep.database.clone()),
    ]);
    let servers = executor.servers();
    let id = servers.start(&keep.container, inv, &labels)?;
    let path = &keep.health.path;
    crate::health::wait_for_200(
        &mut || servers.http_status(&id, port, path),
        path,
        Duration::from_secs(keep.health.timeout_secs),
        &mut || servers.never_healthy(&id),
    )
    .map_err(|why| anyhow::anyhow!("its server did not become healthy: {why}"))?;
    Ok(id)
}

/// Drops the project's preview `database`, if it is one: its servers, the database, its
/// filestore (here, and its volume on a remote engine).
pub fn discard(place: &mut Place<'_>, database: &str) -> anyhow::Result<()> {
    if let Some(caddy) = &place.proxy {
        caddy.unroute(&route_id(database))?;
        caddy.unroute(&wake_route_id(database))?;
        caddy.unroute(&mail_route_id(database))?;
    }
    let ours = [
        (crate::names::PROJECT_LABEL, place.scope),
        (previews::LABEL, database),
    ];
    place.fleet.remove_labelled(&ours)?;
    crate::executor::docker::remove_volumes_labelled(place.docker, &ours)?;
    if crate::db::database_exists(place.admin, database)? {
        let ours = previews::list(place.admin, place.scope)?;
        let Some(preview) = ours.iter().find(|p| p.database == database) else {
            anyhow::bail!(
                "`{database}` exists and is not a preview odoo-ci made for this project (its comment does not say so): odoo-ci leaves it alone; drop or rename it"
            );
        };
        let server = previews::container_name(place.scope, &preview.marker.branch);
        mail_catcher::remove_of(place.docker, place.scope, &server)?;
        crate::db::drop_database(place.admin, database)?;
    }
    if let Some(dir) = crate::names::child_of(&place.data_dir.join("filestore"), database) {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    Ok(())
}

/// Drops the previews past their time, then the oldest beyond `max_kept`; stops the oldest
/// running beyond `max_running`, then those idle for `idle_after`.
pub fn within_budget(place: &mut Place<'_>, now: u64, budget: Budget) -> anyhow::Result<Budgeted> {
    let mut done = Budgeted::default();
    let mut kept = Vec::new();
    for preview in previews::list(place.admin, place.scope)? {
        match preview.marker.until <= now {
            true => {
                discard(place, &preview.database)?;
                done.dropped.push(preview.database);
            }
            false => kept.push(preview),
        }
    }
    let over = kept.len().saturating_sub(budget.max_kept as usize);
    for preview in kept.drain(..over) {
        discard(place, &preview.database)?;
        done.dropped.push(preview.database);
    }
    let running: Vec<&Preview> = kept
        .iter()
        .filter(|p| is_running(place, &p.database))
        .collect();
    let over = running.len().saturating_sub(budget.max_running as usize);
    for (i, preview) in running.iter().enumerate() {
        let idle = budget
            .idle_after
            .is_some_and(|secs| idle_for(place, preview, now, secs));
        if i < over || idle {
            set_running(place, &preview.database, false)?;
            done.stopped.push(preview.database.clone());
        }
    }
    Ok(done)
}

/// Whether `preview` served no request but health checks in the last `secs` (and was kept
/// longer ago than that).
fn idle_for(place: &Place<'_>, preview: &Preview, now: u64, secs: u64) -> bool {
    let since = now.saturating_sub(secs);
    if preview.marker.kept_at > since {
        return false;
    }
    let Ok(found) = servers(place, &preview.database) else {
        return false;
    };
    found.iter().all(|(id, _)| {
        place
            .fleet
            .logs_since(id, since as i64)
            .is_ok_and(|log| !log.lines().any(is_a_request))
    })
}

/// A request line of Odoo's HTTP log (`werkzeug: … "GET /odoo HTTP/1.1" 200 …`) that a
/// person made: health checks do not count.
fn is_a_request(line: &str) -> bool {
    line.contains(" HTTP/1.") && !line.contains("/web/health")
}

/// The project's servers of the preview `database`, with whether each runs.
fn servers(place: &Place<'_>, database: &str) -> anyhow::Result<Vec<(String, bool)>> {
    Ok(place.fleet.labelled(&[
        (crate::names::PROJECT_LABEL, place.scope),
        (previews::LABEL, database),
    ])?)
}

/// What a request for a preview's host found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Woken {
    /// The preview of `branch` is starting (or runs already).
    Starting { branch: String },
    /// The preview of `branch` is not started again, and why.
    NotServed { branch: String, why: &'static str },
    /// No preview of this project has that host.
    Unknown,
}

/// Starts the project's preview whose URL has `host`, when it is stopped: it gets room
/// within `max_running` (the oldest other running one stops), unless it is past its time.
pub fn wake(
    place: &mut Place<'_>,
    host: &str,
    now: u64,
    max_running: u32,
) -> anyhow::Result<Woken> {
    let host = host.to_ascii_lowercase();
    let all = previews::list(place.admin, place.scope)?;
    let Some(found) = all.into_iter().find(|p| {
        let url = p.marker.url.as_deref().and_then(crate::proxy::host_of);
        url.is_some_and(|h| h.eq_ignore_ascii_case(&host))
    }) else {
        return Ok(Woken::Unknown);
    };
    let branch = found.marker.branch.clone();
    if found.marker.until <= now {
        let why = "it is past its time (`development.keep`) and goes at the next `previews gc`";
        return Ok(Woken::NotServed { branch, why });
    }
    if !is_running(place, &found.database) {
        make_room(place, &found.database, max_running)?;
        if set_running(place, &found.database, true)? == 0 {
            let why = "it has no server any more: push the branch again";
            return Ok(Woken::NotServed { branch, why });
        }
        rerouted(place, &found.database, &host)?;
        tracing::info!("woke the preview of `{branch}` ({})", found.database);
    }
    Ok(Woken::Starting { branch })
}

/// The route of the preview `database` (at `host`) sent where its server answers now,
/// when that moves between starts (a swarm's node).
fn rerouted(place: &Place<'_>, database: &str, host: &str) -> anyhow::Result<()> {
    let Some(caddy) = &place.proxy else {
        return Ok(());
    };
    for (id, _) in servers(place, database)? {
        if let Some(upstream) = place.fleet.answers_at(&id) {
            caddy.route(&route_id(database), host, &upstream)?;
        }
    }
    Ok(())
}

/// Stops the oldest running previews other than `database`, so that it runs within
/// `max_running`.
fn make_room(place: &mut Place<'_>, database: &str, max_running: u32) -> anyhow::Result<()> {
    let others: Vec<String> = previews::list(place.admin, place.scope)?
        .into_iter()
        .map(|p| p.database)
        .filter(|d| d != database && is_running(place, d))
        .collect();
    let over = (others.len() + 1).saturating_sub(max_running.max(1) as usize);
    for other in others.iter().take(over) {
        set_running(place, other, false)?;
    }
    Ok(())
}

/// Whether a server of the preview `database` runs.
pub fn is_running(place: &Place<'_>, database: &str) -> bool {
    servers(place, database).is_ok_and(|s| s.iter().any(|(_, running)| *running))
}

/// Starts or stops the preview `database`'s server (its database stays). How many
/// servers it has.
pub fn set_running(place: &Place<'_>, database: &str, run: bool) -> anyhow::Result<usize> {
    let found = servers(place, database)?;
    for (id, running) in &found {
        if run != *running {
            place.fleet.set_running(id, run)?;
        }
    }
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_is_a_request_that_is_not_a_health_check() {
        // Odoo 18's werkzeug log line, and the fake's.
        let visit = r#"2026-12-05 12:00:00,000 1 INFO db werkzeug: 172.17.0.1 - - [05/Dec/2026 12:00:00] "GET /odoo/action-sale HTTP/1.1" 200 - 12 0.005 0.012"#;
        let probe =
            r#"2026-12-05 12:00:00,000 1 INFO db werkzeug: "GET /web/health HTTP/1.1" 200 -"#;
        assert!(is_a_request(visit));
        assert!(!is_a_request(probe));
        assert!(!is_a_request(
            "2026-12-05 12:00:00,000 1 INFO db odoo.modules.loading: Modules loaded."
        ));
    }
}
