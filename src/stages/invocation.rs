//! An [`OdooCommand`] made runnable: its arguments, the environment Odoo gets (the
//! stage's variables, resolved before the stage, and the connection's password — never on
//! the command line) and the stage's timeout.

use crate::db::PgServer;
use crate::executor::{Executor, Invocation};
use crate::plan::odoo_command::OdooCommand;
use crate::targets::odoo_env::OdooEnv;

/// What the executor runs for `command`.
pub fn invocation(
    command: &OdooCommand,
    odoo: &OdooEnv,
    server: &PgServer,
    executor: &dyn Executor,
) -> Invocation {
    let mut env = odoo.vars.clone();
    if let Some(p) = &server.password {
        env.push(("PGPASSWORD".into(), p.clone()));
    }
    if let Some(cert) = &server.tls.root_cert {
        env.push(("PGSSLROOTCERT".into(), cert.display().to_string()));
    }
    env.extend(command.extra_env().iter().cloned());
    Invocation {
        args: command.args(server, executor),
        env,
        timeout: odoo.timeout,
        data_in: Vec::new(),
        data_out: Vec::new(),
        http_port: command.http_port(),
        stdin: command.stdin().map(str::to_string),
    }
}
