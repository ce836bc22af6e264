//! Production in maintenance while a deploy updates modules: from just before the
//! pre-deploy snapshot until the new release has settled, PostgreSQL refuses every write to
//! the database (`default_transaction_read_only`), so no write is ever accepted that a
//! rollback to that snapshot would then lose. Only the update itself writes: its process
//! overrides the default for its own sessions (`PGOPTIONS`). Reads keep working: the old
//! release keeps serving pages, and a write is answered with Odoo's error, never taken and
//! dropped. A deploy that updates nothing never enters maintenance: its rollback touches
//! no data.

use crate::db::{quote_ident, DbError, PgServer};

/// What the update's Odoo process is given so that it alone writes in maintenance.
pub const WRITER_ENV: (&str, &str) = ("PGOPTIONS", "-c default_transaction_read_only=off");

/// Production held read-only; ends (writes allowed again) when [`Maintenance::end`] is
/// called, or, as a safety net, when dropped.
pub struct Maintenance {
    server: PgServer,
    database: String,
    /// The deployment holding it, recorded beside the setting (`odoo_ci.deployment`), so
    /// that a deploy that died in maintenance is found by the next one.
    deployment: String,
    active: std::cell::Cell<bool>,
}

/// The setting that names the deployment holding production in maintenance.
const MARK: &str = "odoo_ci.deployment";

impl Maintenance {
    /// Makes every new session of `database` read-only, then ends the sessions open now
    /// (Odoo's pool reconnects, read-only), so no session that could write is left.
    pub fn begin(
        server: &PgServer,
        database: &str,
        deployment: &str,
    ) -> Result<Maintenance, DbError> {
        let held = Maintenance {
            server: server.clone(),
            database: database.to_string(),
            deployment: deployment.to_string(),
            active: std::cell::Cell::new(true),
        };
        held.hold()?;
        tracing::info!("`{database}` is read-only until the new release has settled");
        Ok(held)
    }

    /// Holds the database read-only (again: a restored database is a new one, without the
    /// setting).
    pub fn hold(&self) -> Result<(), DbError> {
        let mut admin = self.server.connect("postgres")?;
        let db = quote_ident(&self.database);
        admin.batch_execute(&format!(
            "ALTER DATABASE {db} SET {MARK} = {}; ALTER DATABASE {db} SET default_transaction_read_only = on",
            crate::db::quote_literal(&self.deployment)
        ))?;
        self.active.set(true);
        end_sessions(&mut admin, &self.database)
    }

    /// Writes allowed again: the default removed, and the sessions opened meanwhile (which
    /// carry it) ended, so the serving release reconnects writable.
    pub fn end(&self) -> Result<(), DbError> {
        if !self.active.get() {
            return Ok(());
        }
        let mut admin = self.server.connect("postgres")?;
        reset(&mut admin, &self.database)?;
        self.active.set(false);
        end_sessions(&mut admin, &self.database)
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        if self.active.get() {
            if let Err(e) = self.end() {
                tracing::error!(
                    "`{}` may still refuse writes: {e} (run `ALTER DATABASE … RESET default_transaction_read_only`)",
                    self.database
                );
            }
        }
    }
}

/// Removes the read-only default and its mark from `database` (nothing when it has none).
pub fn reset(admin: &mut postgres::Client, database: &str) -> Result<(), DbError> {
    let db = quote_ident(database);
    admin.batch_execute(&format!(
        "ALTER DATABASE {db} RESET default_transaction_read_only; ALTER DATABASE {db} RESET {MARK}"
    ))?;
    Ok(())
}

/// The deployment that left `database` in maintenance, if one did (it died before ending
/// it: a SIGKILL, a lost runner).
pub fn interrupted(
    admin: &mut postgres::Client,
    database: &str,
) -> Result<Option<String>, DbError> {
    let row = admin.query_opt(
        "SELECT substr(cfg, length($2) + 2) FROM pg_db_role_setting s \
           JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS cfg \
          WHERE d.datname = $1 AND s.setrole = 0 AND cfg LIKE $2 || '=%'",
        &[&database, &MARK],
    )?;
    Ok(row.map(|r| r.get(0)))
}

fn end_sessions(admin: &mut postgres::Client, database: &str) -> Result<(), DbError> {
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        &[&database],
    )?;
    Ok(())
}
