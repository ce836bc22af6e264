//! The one place an Odoo command line is built: connection, addons path and data dir, the
//! modules to install or update, tests, demo data, and how long it may run. Each stage
//! says *what* it wants (a test run, an update, a server, `neutralize`); the flags, their
//! order and the stage's timeout come from here, so no stage can drift from another.

use crate::addons::Series;
use crate::config::Stage;
use crate::db::PgServer;
use crate::executor::Executor;

/// Whether the database gets demo data. Odoo 18 and before load demo data unless told
/// not to, Odoo 19+ only when told to: the flags differ by series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demo {
    With,
    Without,
}

/// One Odoo command, described; [`OdooCommand::args`] renders it. The plan's JSON shows
/// it as [`OdooCommand::describe`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdooCommand {
    stage: Stage,
    series: Series,
    subcommand: Option<&'static str>,
    database: String,
    install: Vec<String>,
    update: Vec<String>,
    test_tags: Option<String>,
    once: bool,
    demo: Option<Demo>,
    skip_auto_install: bool,
    http_port: Option<u16>,
    /// Whether the browser tests' screenshots go under the data dir (see [`SCREENSHOTS`]).
    screenshots: bool,
    /// Variables of this run only, beyond the stage's (production's maintenance override).
    extra_env: Vec<(String, String)>,
    /// The script `odoo shell` runs (read from its standard input).
    script: Option<ShellScript>,
}

/// Python that `odoo shell` runs with `env` bound to the database (Odoo's
/// `odoo/cli/shell.py`: standard input that is not a terminal is `exec`'d; the cursor is
/// rolled back after it, so a script that writes commits itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellScript {
    /// What the plan shows for it.
    pub name: &'static str,
    pub code: &'static str,
}

/// The folder of the data dir Odoo's `--screenshots` points at: Odoo writes a failing
/// tour's screenshots to `<it>/<database>/screenshots/` (`save_test_file`).
pub const SCREENSHOTS: &str = "odoo-ci-screenshots";

impl OdooCommand {
    /// A command of `stage` on `database`, for Odoo `series`; by itself it would serve it.
    pub fn on(stage: Stage, series: Series, database: &str) -> OdooCommand {
        OdooCommand {
            stage,
            series,
            subcommand: None,
            database: database.to_string(),
            install: Vec::new(),
            update: Vec::new(),
            test_tags: None,
            once: false,
            demo: None,
            skip_auto_install: false,
            http_port: None,
            screenshots: false,
            extra_env: Vec::new(),
            script: None,
        }
    }

    /// Updates `update` and installs `install`, without demo data, then stops: the
    /// update of staging and production.
    pub fn module_update(
        stage: Stage,
        series: Series,
        update: &[String],
        install: &[String],
    ) -> OdooCommand {
        OdooCommand::on(stage, series, "")
            .update(update)
            .install(install)
            .once()
            .demo(Demo::Without)
    }

    /// `odoo neutralize` (16.0+): the subcommand comes before the flags.
    pub fn neutralize(stage: Stage, series: Series, database: &str) -> OdooCommand {
        OdooCommand {
            subcommand: Some("neutralize"),
            ..OdooCommand::on(stage, series, database)
        }
    }

    /// `odoo shell` on `database` running `script`, without an HTTP server.
    pub fn shell(stage: Stage, series: Series, database: &str, script: ShellScript) -> OdooCommand {
        OdooCommand {
            subcommand: Some("shell"),
            script: Some(script),
            ..OdooCommand::on(stage, series, database)
        }
    }

    /// What Odoo reads on its standard input: the shell's script.
    pub fn stdin(&self) -> Option<&'static str> {
        self.script.map(|s| s.code)
    }

    /// The same command on `database`: a plan's commands name none, the stage that runs
    /// one names the database it made or reached.
    pub fn on_database(mut self, database: &str) -> Self {
        self.database = database.to_string();
        self
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// One more variable for this run alone.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn install(mut self, modules: &[String]) -> Self {
        self.install = modules.to_vec();
        self
    }

    pub fn update(mut self, modules: &[String]) -> Self {
        self.update = modules.to_vec();
        self
    }

    pub fn test_tags(mut self, tags: impl Into<String>) -> Self {
        self.test_tags = Some(tags.into());
        self
    }

    /// Run to the end and stop: one process, no cron thread, so nothing runs beside the
    /// install and the log has one writer.
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    pub fn demo(mut self, demo: Demo) -> Self {
        self.demo = Some(demo);
        self
    }

    /// With demo data on 17 and before, modules that would auto-install do not (a template
    /// holds only what was asked for).
    pub fn skip_auto_install(mut self) -> Self {
        self.skip_auto_install = true;
        self
    }

    /// The screenshots of failing tours under the data dir, where odoo-ci collects them,
    /// not in a temp folder of the container.
    pub fn screenshots(mut self) -> Self {
        self.screenshots = true;
        self
    }

    pub fn serve_on(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    /// The port a server listens on (`serve_on`).
    pub fn http_port(&self) -> Option<u16> {
        self.http_port
    }

    /// The arguments after `odoo`. The password is never among them: it goes in
    /// `PGPASSWORD` (see `stages::invocation`).
    pub fn args(&self, server: &PgServer, executor: &dyn Executor) -> Vec<String> {
        let mut args: Vec<String> = self.subcommand.iter().map(|s| s.to_string()).collect();
        args.extend(connection_args(server, executor, &self.database));
        args.extend(self.work_args());
        if self.screenshots {
            let dir = format!("{}/{SCREENSHOTS}", executor.data_dir());
            args.extend(["--screenshots".into(), dir]);
        }
        args
    }

    /// What the command does, after the connection flags.
    fn work_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if !self.update.is_empty() {
            args.extend(["-u".into(), self.update.join(",")]);
        }
        if !self.install.is_empty() {
            args.extend(["-i".into(), self.install.join(",")]);
        }
        if let Some(tags) = &self.test_tags {
            args.extend(["--test-tags".into(), tags.clone()]);
        }
        if self.once {
            args.extend(
                [
                    "--stop-after-init",
                    "--workers",
                    "0",
                    "--max-cron-threads",
                    "0",
                ]
                .map(String::from),
            );
        }
        args.extend(demo_args(self.demo, self.series, self.skip_auto_install));
        if let Some(port) = self.http_port {
            args.extend(["--http-port".into(), port.to_string()]);
        }
        if self.script.is_some() {
            args.push("--no-http".into());
        }
        args
    }

    /// Variables of this run alone, beyond the stage's.
    pub fn extra_env(&self) -> &[(String, String)] {
        &self.extra_env
    }

    /// The command as the plan and the terminal show it: without the connection flags.
    pub fn describe(&self) -> String {
        let mut words = vec!["odoo".to_string()];
        words.extend(self.subcommand.map(String::from));
        words.extend(self.work_args().into_iter().map(|a| {
            if a.is_empty() {
                "(none)".to_string()
            } else {
                a
            }
        }));
        if let Some(script) = self.script {
            words.extend(["<".to_string(), script.name.to_string()]);
        }
        words.join(" ")
    }
}

impl serde::Serialize for OdooCommand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.describe())
    }
}

fn demo_args(demo: Option<Demo>, series: Series, skip_auto_install: bool) -> Vec<String> {
    let by_default = series.demo_by_default();
    let mut out: Vec<String> = match demo {
        Some(Demo::With) if !by_default => vec!["--with-demo".into()],
        Some(Demo::Without) if by_default => vec!["--without-demo=all".into()],
        _ => Vec::new(),
    };
    if skip_auto_install && !by_default {
        out.push("--skip-auto-install".into());
    }
    out
}

/// The connection and path flags every Odoo run gets.
fn connection_args(server: &PgServer, executor: &dyn Executor, database: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-d".into(),
        database.into(),
        "--db_host".into(),
        server.host.clone(),
        "--db_port".into(),
        server.port.to_string(),
        "-r".into(),
        server.user.clone(),
        // Empty: whatever an image's config file says (18.0's holds `db_password =
        // $DB_PASSWORD` until its entrypoint fills it), Odoo then leaves the password to
        // libpq, which reads `PGPASSWORD`.
        "--db_password=".into(),
        "--addons-path".into(),
        executor.addons_paths().join(","),
        "-D".into(),
        executor.data_dir(),
    ];
    // Odoo passes its own `db_sslmode` (default `prefer`) to libpq, over PGSSLMODE.
    if !server.tls.is_default() {
        args.extend(["--db_sslmode".into(), server.tls.mode.as_str().into()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{ExecError, Invocation, Outcome};

    struct Paths;

    impl Executor for Paths {
        fn run(&self, _: &Invocation, _: &mut dyn FnMut(&[u8])) -> Result<Outcome, ExecError> {
            Err(ExecError::Other("not run in this test".into()))
        }
        fn addons_paths(&self) -> Vec<String> {
            vec!["/mnt/a".into(), "/mnt/b".into()]
        }
        fn data_dir(&self) -> String {
            "/var/lib/odoo".into()
        }
        fn identity(&self) -> String {
            "paths".into()
        }
    }

    fn server() -> PgServer {
        PgServer::from_given_url("postgresql://odoo:s3cret@db.example:5433/postgres").unwrap()
    }

    fn series(text: &str) -> Series {
        text.parse().unwrap()
    }

    #[test]
    fn an_update_names_modules_runs_once_and_never_carries_the_password() {
        let command = OdooCommand::on(Stage::Production, series("17.0"), "prod")
            .update(&["a".into(), "b".into()])
            .install(&["c".into()])
            .once()
            .demo(Demo::Without);
        let args = command.args(&server(), &Paths);
        assert_eq!(
            args.join(" "),
            "-d prod --db_host db.example --db_port 5433 -r odoo --db_password= \
             --addons-path /mnt/a,/mnt/b -D /var/lib/odoo -u a,b -i c --stop-after-init --workers 0 --max-cron-threads 0 \
             --without-demo=all"
        );
        assert!(!args.iter().any(|a| a.contains("s3cret")));
    }

    #[test]
    fn demo_flags_follow_the_series_default() {
        let dev = |s| OdooCommand::on(Stage::Development, series(s), "t").demo(Demo::With);
        let prod = |s| OdooCommand::on(Stage::Production, series(s), "p").demo(Demo::Without);
        // 17 loads demo data by default, 19 does not.
        assert_eq!(dev("17.0").describe(), "odoo");
        assert_eq!(dev("19.0").describe(), "odoo --with-demo");
        assert_eq!(prod("17.0").describe(), "odoo --without-demo=all");
        assert_eq!(prod("19.0").describe(), "odoo");
    }

    #[test]
    fn neutralize_is_a_subcommand_before_the_flags() {
        let args =
            OdooCommand::neutralize(Stage::Staging, series("18.0"), "stg").args(&server(), &Paths);
        assert_eq!(&args[..3], ["neutralize", "-d", "stg"]);
    }

    #[test]
    fn a_shell_reads_its_script_on_stdin_and_serves_nothing() {
        let script = ShellScript {
            name: "hello",
            code: "print('hello')\n",
        };
        let command = OdooCommand::shell(Stage::Development, series("18.0"), "tpl", script);
        let args = command.args(&server(), &Paths);
        assert_eq!(&args[..3], ["shell", "-d", "tpl"]);
        assert_eq!(args.last().map(String::as_str), Some("--no-http"));
        assert_eq!(command.stdin(), Some("print('hello')\n"));
        assert_eq!(command.describe(), "odoo shell --no-http < hello");
    }

    #[test]
    fn a_server_listens_on_its_port_and_does_not_stop() {
        let text = OdooCommand::on(Stage::Staging, series("18.0"), "stg")
            .serve_on(8070)
            .describe();
        assert_eq!(text, "odoo --http-port 8070");
    }
}
