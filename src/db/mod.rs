//! PostgreSQL: where the server is, and the database operations the stages need (create
//! from a template, drop, advisory locks, installed modules). Names are always quoted;
//! passwords never appear in messages.

pub mod addon_hashes;
pub mod clients;
pub mod copy;
pub mod fingerprint;
pub mod previews;
pub mod staging;
pub mod tls;

use std::time::Duration;

use postgres::{Client, NoTls};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: postgres::Error,
    },
    #[error("PostgreSQL: {}", server_message(.0))]
    Query(#[from] postgres::Error),
    #[error("invalid PostgreSQL URL `{0}`: expected postgresql://user:password@host:port/dbname")]
    BadUrl(String),
    #[error(
        "invalid `sslmode` `{0}`: use disable, allow, prefer, require, verify-ca or verify-full"
    )]
    BadSslMode(String),
    #[error("TLS to PostgreSQL: {0}")]
    Tls(String),
}

/// What the server said (`cannot drop a template database`, `password authentication
/// failed for user …`), not only the client's kind of error (`db error`).
pub fn server_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// The database name of a `postgresql://…/dbname` URL.
pub fn database_of_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))?;
    let (_, path) = rest.split_once('/')?;
    let name = path.split('?').next().unwrap_or(path);
    (!name.is_empty()).then(|| percent_decode(name))
}

/// A PostgreSQL server and the role to use on it.
#[derive(Clone, PartialEq, Eq)]
pub struct PgServer {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    /// `sslmode` and `sslrootcert`, honoured by every connection and program.
    pub tls: tls::Tls,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl PgServer {
    /// [`PgServer::from_url`] for a URL odoo-ci was given (config, flag): its password (maybe
    /// written there, not taken from a variable) is masked in GitHub Actions before
    /// anything can print it.
    pub fn from_given_url(url: &str) -> Result<PgServer, DbError> {
        if let Some(password) = url_password(url) {
            crate::secrets::mask_secret(password);
            crate::secrets::mask_secret(&percent_decode(password));
        }
        PgServer::from_url(url)
    }

    /// `postgresql://user:password@host:port[/db]`.
    pub fn from_url(url: &str) -> Result<PgServer, DbError> {
        let bad = || DbError::BadUrl(mask_url(url));
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(bad)?;
        let tls = tls_of_query(url.split_once('?').map(|(_, q)| q).unwrap_or(""))?;
        let rest = rest.split(['/', '?']).next().unwrap_or(rest);
        let (auth, hostport) = rest.rsplit_once('@').unwrap_or(("", rest));
        let (user, password) = match auth.split_once(':') {
            Some((u, p)) => (u.to_string(), Some(percent_decode(p))),
            None => (auth.to_string(), None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
            None => (hostport.to_string(), 5432),
        };
        Ok(PgServer {
            host: if host.is_empty() {
                "127.0.0.1".into()
            } else {
                host
            },
            port,
            user: if user.is_empty() {
                "postgres".into()
            } else {
                user
            },
            password,
            tls,
        })
    }

    /// The standard `PG*` variables (the GitHub Actions service-container case).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<PgServer> {
        let host = env("PGHOST")?;
        Some(PgServer {
            host,
            port: env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
            user: env("PGUSER").unwrap_or_else(|| "postgres".into()),
            password: env("PGPASSWORD"),
            tls: tls::Tls {
                mode: env("PGSSLMODE")
                    .and_then(|m| tls::SslMode::parse(&m))
                    .unwrap_or_default(),
                root_cert: env("PGSSLROOTCERT").map(Into::into),
            },
        })
    }

    /// `user@host:port`, never the password.
    pub fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    pub fn connect(&self, dbname: &str) -> Result<Client, DbError> {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(10))
            .application_name("odoo-ci");
        if let Some(p) = &self.password {
            config.password(p);
        }
        config.ssl_mode(self.tls.mode.negotiation());
        let connected = match self.tls.mode {
            tls::SslMode::Disable => config.connect(NoTls),
            _ => config.connect(self.tls.connector().map_err(DbError::Tls)?),
        };
        connected.map_err(|source| DbError::Connect {
            target: format!("{}/{dbname}", self.display()),
            source,
        })
    }
}

/// `sslmode` and `sslrootcert` of a URL's query; other parameters are left to libpq.
fn tls_of_query(query: &str) -> Result<tls::Tls, DbError> {
    let mut out = tls::Tls::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "sslmode" => {
                out.mode = tls::SslMode::parse(&value).ok_or(DbError::BadSslMode(value))?
            }
            "sslrootcert" => out.root_cert = Some(value.into()),
            _ => {}
        }
    }
    Ok(out)
}

pub use crate::secrets::{percent_decode, url_password};

/// A URL with its password replaced by `***`.
pub fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &url[s + 3..at];
            match auth.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `"name"` with inner quotes doubled: safe for any database name.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled: a literal where a statement takes no parameter
/// (`ALTER DATABASE … SET`).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn database_exists(admin: &mut Client, name: &str) -> Result<bool, DbError> {
    Ok(admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
        .is_some())
}

/// The comment on a database (odoo-ci marks finished templates with it).
pub fn database_comment(admin: &mut Client, name: &str) -> Result<Option<String>, DbError> {
    let row = admin.query_opt(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
        &[&name],
    )?;
    Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
}

pub fn set_database_comment(admin: &mut Client, name: &str, comment: &str) -> Result<(), DbError> {
    admin.batch_execute(&format!(
        "COMMENT ON DATABASE {} IS '{}'",
        quote_ident(name),
        comment.replace('\'', "''")
    ))?;
    Ok(())
}

/// `ALTER DATABASE from RENAME TO to` (nobody may be connected to `from`).
pub fn rename_database(admin: &mut Client, from: &str, to: &str) -> Result<(), DbError> {
    admin.batch_execute(&format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(from),
        quote_ident(to)
    ))?;
    Ok(())
}

/// `CREATE DATABASE new TEMPLATE template`, retried while another session briefly holds the template.
pub fn create_from_template(admin: &mut Client, new: &str, template: &str) -> Result<(), DbError> {
    let sql = format!(
        "CREATE DATABASE {} ENCODING 'unicode' TEMPLATE {}",
        quote_ident(new),
        quote_ident(template)
    );
    let mut attempt = 0;
    loop {
        match admin.batch_execute(&sql) {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt < 20 && e.to_string().contains("is being accessed by other users") =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Ends other sessions on `name`, then drops it if it exists.
pub fn drop_database(admin: &mut Client, name: &str) -> Result<(), DbError> {
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        &[&name],
    )?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))?;
    Ok(())
}

/// The databases named `prefix…` whose comment is `marker` followed by JSON that reads
/// as `T`, with it: what odoo-ci marked as its own. One whose comment was lost or changed
/// is never listed, so never dropped.
pub fn marked<T: serde::de::DeserializeOwned>(
    admin: &mut postgres::Client,
    prefix: &str,
    marker: &str,
) -> Result<Vec<(String, T)>, DbError> {
    let mut out = Vec::new();
    for database in databases_with_prefix(admin, prefix)? {
        let Some(comment) = database_comment(admin, &database)? else {
            continue;
        };
        let Some(json) = comment.strip_prefix(marker) else {
            continue;
        };
        if let Ok(read) = serde_json::from_str::<T>(json.trim()) {
            out.push((database, read));
        }
    }
    Ok(out)
}

/// Databases whose name starts with `prefix`, oldest first.
pub fn databases_with_prefix(admin: &mut Client, prefix: &str) -> Result<Vec<String>, DbError> {
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = admin.query(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY oid",
        &[&pattern],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A session-level advisory lock, released when the guard (and its connection) drops.
pub struct AdvisoryLock {
    client: Client,
    key: i64,
}

impl AdvisoryLock {
    pub fn acquire(mut client: Client, key: i64) -> Result<AdvisoryLock, DbError> {
        client.execute("SELECT pg_advisory_lock($1)", &[&key])?;
        Ok(AdvisoryLock { client, key })
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
    }
}

/// The advisory lock key named by `text`: the first 8 bytes of its SHA-256.
pub fn lock_key(text: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Calls the advisory-lock `function` (e.g. `pg_advisory_lock_shared`) for `key` on this
/// session.
fn advisory(client: &mut Client, function: &str, key: i64) -> Result<(), DbError> {
    client.execute(&format!("SELECT {function}($1)"), &[&key])?;
    Ok(())
}

/// Takes the advisory lock `key` shared on this session: any number of sessions hold it
/// together; an exclusive lock elsewhere waits (or, tried, fails) meanwhile. Released by
/// [`unlock_shared`] or when the session ends.
pub fn lock_shared(client: &mut Client, key: i64) -> Result<(), DbError> {
    advisory(client, "pg_advisory_lock_shared", key)
}

pub fn unlock_shared(client: &mut Client, key: i64) -> Result<(), DbError> {
    advisory(client, "pg_advisory_unlock_shared", key)
}

/// Takes the advisory lock `key` exclusively, waiting until no other session holds it
/// (this session's own shared hold does not count).
pub fn lock_exclusive(client: &mut Client, key: i64) -> Result<(), DbError> {
    advisory(client, "pg_advisory_lock", key)
}

/// [`lock_exclusive`] without waiting: `false` when another session holds it.
pub fn try_lock_exclusive(client: &mut Client, key: i64) -> Result<bool, DbError> {
    Ok(client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
        .get(0))
}

pub fn unlock_exclusive(client: &mut Client, key: i64) -> Result<(), DbError> {
    advisory(client, "pg_advisory_unlock", key)
}

/// One row of `ir_module_module`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledModule {
    /// `installed`, `uninstalled`, `to upgrade`, …
    pub state: String,
    /// The normalised version the database has (`17.0.1.2.0`), if ever installed.
    pub latest_version: Option<String>,
    /// Whether demo data was loaded for it.
    pub demo: bool,
}

/// `ir_module_module`, by module name.
pub fn installed_modules(
    db: &mut Client,
) -> Result<std::collections::BTreeMap<String, InstalledModule>, DbError> {
    let rows = db.query(
        "SELECT name, state, latest_version, coalesce(demo, false) FROM ir_module_module",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let module = InstalledModule {
                state: r.get(1),
                latest_version: r.get(2),
                demo: r.get(3),
            };
            (r.get::<_, String>(0), module)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_mask() {
        let s = PgServer::from_url("postgresql://odoo:s%40cret@db.local:6543/postgres").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str()),
            ("db.local", 6543, "odoo")
        );
        assert_eq!(s.password.as_deref(), Some("s@cret"));
        assert_eq!(format!("{s:?}"), "odoo@db.local:6543");
        assert_eq!(
            mask_url("postgresql://odoo:secret@h:5432/x"),
            "postgresql://odoo:***@h:5432/x"
        );
        assert!(PgServer::from_url("mysql://x").is_err());
        assert!(PgServer::from_url("postgresql://a:b@h:notaport").is_err());
    }

    #[test]
    fn a_percent_before_a_multibyte_character_is_kept_not_a_panic() {
        // S5: `%é` once sliced inside `é` and panicked with the URL (and password) in the message.
        let s = PgServer::from_url("postgresql://odoo:pa%€x%4@h:5432/db%€").unwrap();
        assert_eq!(s.password.as_deref(), Some("pa%€x%4"));
        assert_eq!(
            database_of_url("postgresql://u:p@h/db%€x%").as_deref(),
            Some("db%€x%")
        );
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("a%41"), "aA");
    }

    #[test]
    fn sslmode_and_sslrootcert_come_from_the_url() {
        let s = PgServer::from_url("postgresql://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Fca.pem&application_name=x").unwrap();
        assert_eq!(s.tls.mode, tls::SslMode::VerifyFull);
        assert_eq!(
            s.tls.root_cert.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!((s.host.as_str(), s.port), ("h", 5432));
        let plain = PgServer::from_url("postgresql://u:p@h:5432?sslmode=require").unwrap();
        assert_eq!((plain.port, plain.tls.mode), (5432, tls::SslMode::Require));
        assert!(PgServer::from_url("postgresql://u:p@h/db?sslmode=always").is_err());
        assert_eq!(
            PgServer::from_url("postgresql://u:p@h/db")
                .unwrap()
                .tls
                .mode,
            tls::SslMode::Prefer
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("feat/\"; drop"), "\"feat/\"\"; drop\"");
    }
}
