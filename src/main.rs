//! The `odoo-ci` binary: parse arguments, dispatch, render errors once with their exit code.

use std::process::ExitCode;

use clap::Parser;
use odoo_ci::cli::{Cli, Command};
use odoo_ci::style::Style;
use odoo_ci::{commands, exit};

fn main() -> ExitCode {
    // Before anything can print: a later error that quotes a secret then shows `***`.
    odoo_ci::secrets::mask_environment();
    quiet_panics();
    let cli = Cli::parse();
    odoo_ci::style::choose(cli.color);
    init_tracing(cli.verbose);
    let result = match &cli.command {
        Command::Init(args) => commands::init::run(&cli.config, args),
        Command::Schema => commands::init::schema(),
        Command::Plan(args) => commands::plan::run(&cli.config, args),
        Command::Addons(cmd) => commands::addons::run(&cli.config, cmd),
        Command::CheckLog(args) => commands::check_log::run(&cli.config, args),
        Command::Test(args) => commands::test::run(&cli.config, args),
        Command::Run(args) => commands::run::run(&cli.config, args),
        Command::Cache(cmd) => commands::cache::run(&cli.config, cmd),
        Command::Report(args) => commands::report::run(&cli.config, args),
        Command::Stage(args) => commands::stage::run(&cli.config, args),
        Command::Staging(cmd) => commands::stage::staging(&cli.config, cmd),
        Command::Previews(cmd) => commands::previews::run(&cli.config, cmd),
        Command::Neutralize(args) => commands::neutralize::run(args),
        Command::Deploy(args) => commands::deploy::deploy(&cli.config, args),
        Command::Rollback(args) => commands::deploy::rollback(&cli.config, args),
        Command::Deployments(cmd) => commands::deploy::deployments(&cli.config, cmd),
        Command::Snapshots(cmd) => commands::deploy::snapshots(&cli.config, cmd),
        Command::Backup(args) => commands::backup::take(&cli.config, args),
        Command::Backups(cmd) => commands::backup::backups(&cli.config, cmd),
        Command::Guard(args) => commands::guard::run(&cli.config, args),
        Command::Doctor => commands::doctor::run(&cli.config),
        Command::Bump(args) => commands::bump::run(&cli.config, args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let top = exit::TopError(&err);
            eprintln!("{}", top.render(Style::for_stderr()));
            ExitCode::from(top.code())
        }
    }
}

/// A panic is a bug, but its message can quote what it was parsing (a URL with a
/// password): say where it happened, never what it held.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: odoo-ci hit an internal error{at}; its message is not shown, as it may hold a secret\nhint: please report it with the command you ran (see SECURITY.md)"
        );
    }));
}

/// Libraries whose debug logs quote what they send: bollard logs each request body (a
/// container's environment holds `PGPASSWORD`), HTTP clients log headers. They never log
/// below `info`, whatever `-vv` or `ODOO_CI_LOG` asks for.
const CHATTY_WITH_SECRETS: [&str; 7] = [
    "bollard",
    "hyper",
    "hyper_util",
    "ureq",
    "ureq_proto",
    "rustls",
    "tokio_postgres",
];

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("ODOO_CI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    for target in CHATTY_WITH_SECRETS {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
