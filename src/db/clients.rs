//! The PostgreSQL client programs odoo-ci runs on this machine (`pg_dump`, `pg_restore`):
//! present, and of the server's major version or newer — `pg_dump` refuses a server newer
//! than itself ("aborting because of server version mismatch"), while a newer client dumps
//! and restores an older server. Checked before a stage touches anything, so a runner that
//! lacks them is told what to install instead of failing at the first copy.

use std::process::Command;

use thiserror::Error;

use super::{DbError, PgServer};

/// The programs checked.
pub const PROGRAMS: [&str; 2] = ["pg_dump", "pg_restore"];

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("`{program}` is not installed on this machine (odoo-ci runs it to copy databases)")]
    Missing { program: &'static str },
    #[error("`{program} --version` said `{said}`, not a PostgreSQL client version")]
    Unreadable { program: &'static str, said: String },
    #[error("`{program}` is PostgreSQL {client}'s, older than the server ({server} at {at}): it refuses to dump a newer server")]
    TooOld {
        program: &'static str,
        client: u32,
        server: u32,
        at: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ClientError {
    /// What to do about it.
    pub fn hint(&self, server_major: Option<u32>) -> String {
        let major =
            server_major.map_or_else(|| "the server's major".to_string(), |m| m.to_string());
        format!("install the PostgreSQL client {major} or newer on this runner (Debian/Ubuntu: `apt-get install postgresql-client-{major}`, from apt.postgresql.org for a major the distribution lacks), or run odoo-ci's container image; nothing was touched")
    }
}

/// Checks both programs against every server of `servers`; returns the client's major.
pub fn check(servers: &[&PgServer]) -> Result<u32, ClientError> {
    let mut client = u32::MAX;
    for program in PROGRAMS {
        client = client.min(client_major(program)?);
    }
    for server in servers {
        let major = server_major(server)?;
        if client < major {
            return Err(ClientError::TooOld {
                program: PROGRAMS[0],
                client,
                server: major,
                at: format!("{}:{}", server.host, server.port),
            });
        }
    }
    Ok(client)
}

/// The server's major version (`server_version_num` 150010 is 15; 90624, 9.6, is 9).
pub fn server_major(server: &PgServer) -> Result<u32, DbError> {
    let mut client = server.connect("postgres")?;
    let row = client.query_one("SELECT current_setting('server_version_num')::int", &[])?;
    let num: i32 = row.get(0);
    Ok(major_of_version_num(num as u32))
}

fn major_of_version_num(num: u32) -> u32 {
    num / 10000
}

/// The major version `program --version` reports (`pg_dump (PostgreSQL) 15.10 (Debian
/// 15.10-0+deb12u1)` is 15; `9.6.24` is 9).
fn client_major(program: &'static str) -> Result<u32, ClientError> {
    let out = match Command::new(program).arg("--version").output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ClientError::Missing { program })
        }
        Err(_) => return Err(ClientError::Missing { program }),
    };
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    parse_version(&said).ok_or(ClientError::Unreadable { program, said })
}

fn parse_version(said: &str) -> Option<u32> {
    let version = said
        .split("(PostgreSQL)")
        .nth(1)?
        .split_whitespace()
        .next()?;
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_the_programs_and_the_server_print_them() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_version("pg_restore (PostgreSQL) 17.2"), Some(17));
        assert_eq!(parse_version("pg_dump (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(parse_version("something else"), None);
        assert_eq!(major_of_version_num(150010), 15);
        assert_eq!(major_of_version_num(90624), 9);
    }
}
