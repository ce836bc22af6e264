//! One module per command: each reads its inputs, calls the library and prints.

pub mod addons;
pub mod backup;
pub mod bump;
pub mod cache;
pub mod check_log;
pub mod deploy;
pub mod doctor;
pub mod guard;
pub mod init;
pub mod neutralize;
pub mod plan;
pub mod previews;
pub mod previews_at;
pub mod report;
pub mod run;
pub mod stage;
pub mod test;
pub mod waker;

use std::io::Write;
use std::path::Path;

use crate::executor::managed_pg::Managed;

/// Writes the command's main output to stdout; a closed pipe is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The `--series` flag's value, parsed (a bad one is bad input).
pub fn series_flag(
    text: Option<&str>,
) -> Result<Option<crate::addons::Series>, crate::exit::BadInput> {
    text.map(|s| {
        s.parse()
            .map_err(|e| crate::exit::BadInput::new(format!("--series: {e}")))
    })
    .transpose()
}

pub fn to_json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// The reporters of a stage run, in the order they hear of it: the terminal, the output
/// folder, then the Git host (which points at the files the folder now holds).
pub fn reporters(
    project: &crate::project::Project,
    plan: &crate::plan::Plan,
    output: &std::path::Path,
) -> crate::result::Reporters {
    crate::result::Reporters(vec![
        Box::new(crate::report::terminal::Terminal::new(output).folding(
            crate::report::fold::Fold::for_provider(project.context.provider),
        )),
        Box::new(crate::report::files::Files::new(output)),
        Box::new(crate::hosts::HostReporter::start(
            &project.context,
            plan.commit.as_deref(),
            crate::hosts::Subject {
                stage: plan.stage,
                shard: plan.shard,
            },
            output,
            &project.config.file.report,
        )),
    ])
}

/// The plan of a staging or production stage, from what its database has installed: the
/// update list the plan shows is the one the stage runs. Everything that needs no database
/// (the stage a pull request may run, unset variables, versions that went down in git) is
/// checked first, so it is refused before any connection.
pub fn plan_with_database(
    project: &crate::project::Project,
    stage: crate::config::Stage,
    choices: crate::plan::Choices,
) -> anyhow::Result<crate::plan::Plan> {
    use crate::plan::{make_plan_as, DatabaseFacts};
    let checked = make_plan_as(
        &project.facts_with(choices.clone(), DatabaseFacts::NotRead),
        Some(stage),
    )?;
    checked.ready()?;
    let database = read_database(project, stage, &choices)?;
    let plan = make_plan_as(&project.facts_with(choices, database), Some(stage))?;
    plan.ready()?;
    Ok(plan)
}

/// What the database a staging or production stage will update has installed, read
/// before planning. A database that cannot be read is a setup error: the stage could not
/// run either.
fn read_database(
    project: &crate::project::Project,
    stage: crate::config::Stage,
    choices: &crate::plan::Choices,
) -> anyhow::Result<crate::plan::DatabaseFacts> {
    let target = if stage == crate::config::Stage::Staging {
        "staging copies production"
    } else {
        "production"
    };
    crate::targets::production_source(&project.config).map_err(|e| {
        crate::exit::BadInput::new(format!("{e:#}")).hint(format!(
            "{target}: set `production.database` (e.g. `${{PRODUCTION_DB_URL}}`)"
        ))
    })?;
    match crate::targets::database_facts(project, stage, choices) {
        crate::plan::DatabaseFacts::Unavailable(why) => Err(crate::exit::BadInput::new(format!(
            "cannot read what the {stage} database has installed: {why}"
        ))
        .hint("check `production.database` (server, name, credentials) and that this runner can reach it; nothing was touched")
        .into()),
        facts => Ok(facts),
    }
}

/// The PostgreSQL server odoo-ci's own databases go on, reached before anything runs: a
/// missing or unreachable server is a setup error (exit 2, with what to do), not a red
/// result — nothing was tested.
pub fn require_postgres(
    config: &crate::config::Config,
) -> Result<crate::db::PgServer, crate::exit::BadInput> {
    Ok(require_own_postgres(config, None)?.0)
}

/// [`require_postgres`], and the managed container it is, if it is one — created, when it
/// is not there, from the cluster the template cache folder `seed` holds.
pub fn require_own_postgres(
    config: &crate::config::Config,
    seed: Option<&Path>,
) -> Result<(crate::db::PgServer, Option<Managed>), crate::exit::BadInput> {
    const HINT: &str = "set `postgres.url` (e.g. `${DATABASE_URL}`) or `postgres.image` in .odoo-ci.yml, or the PGHOST/PGPORT/PGUSER/PGPASSWORD variables, and check the server accepts this runner; nothing was run";
    let (server, managed) = crate::targets::own_server(config, seed).map_err(|e| {
        crate::exit::BadInput::new(format!("no PostgreSQL server: {e:#}")).hint(HINT)
    })?;
    if let Some(managed) = &managed {
        let carried = match managed.seeded {
            true => ", started on the cluster saved in the template cache",
            false => "",
        };
        eprintln!(
            "{} managed container {} ({}) on 127.0.0.1:{}{carried}",
            crate::style::Style::for_stderr().bold("postgres:"),
            managed.container,
            managed.image,
            server.port
        );
    }
    server
        .connect("postgres")
        .map_err(|e| crate::exit::BadInput::new(e.to_string()).hint(HINT))?;
    Ok((server, managed))
}

/// Production, resolved and reached before anything runs (its server and database, its
/// engine with the remote checks): a missing or unreachable piece is a setup error (exit 2,
/// with what to do), never a red deploy — nothing was touched.
pub fn require_production(
    config: &crate::config::Config,
) -> anyhow::Result<crate::targets::production::Production> {
    let production = crate::targets::production::Production::resolve(config).map_err(|e| {
        crate::exit::setup_error(e, "check `production.database`, `production.docker_host` and `production.data_dir` in .odoo-ci.yml and the variables they name; nothing was touched")
    })?;
    production.engine.connect().map_err(|e| {
        crate::exit::BadInput::new(format!("production's Docker engine: {e}"))
            .hint("start Docker where production runs, or set `production.docker_host` (ssh://user@host, tcp://host:2376); nothing was touched")
    })?;
    Ok(production)
}

/// How Odoo runs in `stage` (its variables, resolved and checked, and its timeout), before
/// anything runs: a missing variable is a setup error, not a red result halfway.
pub fn require_odoo_env(
    config: &crate::config::Config,
    stage: crate::config::Stage,
) -> anyhow::Result<crate::targets::odoo_env::OdooEnv> {
    crate::targets::odoo_env::OdooEnv::resolve(config, stage).map_err(|e| {
        let hint = format!("set the variables `env` and `{stage}.env` name in the job's environment; nothing was run");
        crate::exit::setup_error(e, &hint)
    })
}

/// Production's backups when `needed` (the plan backs up or restores one), resolved
/// before anything runs: a missing password is a setup error, not a red deploy halfway.
pub fn require_backups(
    config: &crate::config::Config,
    needed: bool,
) -> anyhow::Result<Option<crate::backups::Backups>> {
    if !needed {
        return Ok(None);
    }
    let resolve = || -> anyhow::Result<_> {
        let (_, database) = crate::targets::production_source(config)?;
        let backups =
            crate::backups::Backups::configured(config, &database, &crate::cachedir::root())?;
        backups
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("`production.backup` is not set: there are no backups"))
    };
    resolve().map_err(|e| {
        crate::exit::setup_error(e, "check `production.backup` in .odoo-ci.yml and the variables it names (its password is a secret of the job); nothing was touched")
    })
}

/// `pg_dump` and `pg_restore` on this machine, of the major of every server in `servers`
/// or newer, checked before anything runs: a runner without them is a setup error with
/// what to install, not a red copy halfway. Returns the clients' major version.
pub fn require_pg_clients(servers: &[&crate::db::PgServer]) -> Result<u32, crate::exit::BadInput> {
    use crate::db::clients;
    clients::check(servers).map_err(|e| {
        let major = servers
            .iter()
            .filter_map(|s| clients::server_major(s).ok())
            .max();
        crate::exit::BadInput::new(e.to_string()).hint(e.hint(major))
    })
}

/// The Docker engine a stage builds and runs on, reached before anything runs.
pub fn require_docker(
    engine: &crate::executor::docker::Engine,
) -> Result<(), crate::exit::BadInput> {
    engine.connect().map(|_| ()).map_err(|e| {
        crate::exit::BadInput::new(format!("no Docker engine: {e}"))
            .hint("start Docker, set DOCKER_HOST, or run Odoo as `odoo.command` with --executor local; nothing was run")
    })
}

/// The engine is a swarm manager whose services odoo-ci can place (`engine: swarm`),
/// near what `near` names when a server needs it on the manager: checked before anything
/// runs.
pub fn require_swarm(
    engine: &crate::executor::docker::Engine,
    settings: &crate::config::SwarmSection,
    near: Option<&str>,
) -> Result<(), crate::exit::BadInput> {
    let checked = engine
        .connect()
        .and_then(|docker| crate::executor::swarm::check(&docker, settings, near));
    checked.map_err(|e| {
        crate::exit::BadInput::new(e.to_string()).hint(
            "`engine: swarm` in .odoo-ci.yml runs staging's server and previews as Swarm services; nothing was run",
        )
    })
}

/// Tells every reporter the result; returns the exit code for its colour.
pub fn conclude(
    mut reporters: crate::result::Reporters,
    result: &crate::result::StageResult,
    provider: crate::context::Provider,
    fail_on_warning: bool,
) -> u8 {
    use crate::result::Reporter;
    reporters.finished(result);
    if result.odoo_ci_bug {
        return crate::exit::BUG;
    }
    exit_code(result.colour, fail_on_warning, provider)
}

/// The one colour → exit code rule, for every command and host: 0 green, 1 red; yellow is
/// 0, or 1 with `--fail-on-warning`, or 3 on GitLab (for `allow_failure: exit_codes: [3]`,
/// which shows the job as a warning).
pub fn exit_code(
    colour: crate::odoo::Colour,
    fail_on_warning: bool,
    provider: crate::context::Provider,
) -> u8 {
    use crate::odoo::Colour;
    match colour {
        Colour::Green => crate::exit::OK,
        Colour::Red => crate::exit::RED,
        Colour::Yellow if fail_on_warning => crate::exit::RED,
        Colour::Yellow if provider == crate::context::Provider::Gitlab => crate::exit::YELLOW,
        Colour::Yellow => crate::exit::OK,
    }
}

/// Prints the plan before a stage runs, folded as the CI's log folds it.
pub fn print_plan(project: &crate::project::Project, plan: &crate::plan::Plan) {
    use crate::report::fold::Fold;
    use crate::result::Reporter;
    crate::report::terminal::Terminal::stderr()
        .folding(Fold::for_provider(project.context.provider))
        .planned(plan);
}
