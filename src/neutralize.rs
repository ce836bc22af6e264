//! Neutralization: making a copy of production unable to reach the outside world, and
//! proving it. Odoo 16+ has its own `odoo neutralize` (every installed module's
//! `data/neutralize.sql`); [`apply_own`] runs our equivalent of the effects that matter (base,
//! mail, payment, delivery, iap, auth_oauth), for `odoo-ci neutralize` on any database and
//! for series without the command. [`verify`] checks the result and fails closed.

use postgres::Client;
use serde::Serialize;

use crate::db::DbError;

/// One neutralization statement, applied only when its table exists.
struct Step {
    table: &'static str,
    /// Only when this column exists too (it varies between series).
    column: Option<&'static str>,
    sql: &'static str,
}

const STEPS: &[Step] = &[
    Step {
        table: "ir_mail_server",
        column: None,
        sql: "UPDATE ir_mail_server SET active = false",
    },
    Step {
        table: "ir_mail_server",
        column: None,
        sql: "INSERT INTO ir_mail_server (name, smtp_port, smtp_host, smtp_encryption, active, smtp_authentication) \
              VALUES ('neutralization - disable emails', 1025, 'invalid', 'none', true, 'login')",
    },
    Step {
        table: "ir_cron",
        column: None,
        sql: "UPDATE ir_cron SET active = false WHERE id NOT IN \
              (SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'autovacuum_job')",
    },
    Step {
        table: "ir_config_parameter",
        column: None,
        sql: "INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', 'true') \
              ON CONFLICT (key) DO UPDATE SET value = 'true'",
    },
    // base/data/neutralize.sql, 17.0+: webhook server actions point nowhere.
    Step {
        table: "ir_act_server",
        column: Some("webhook_url"),
        sql: "UPDATE ir_act_server SET webhook_url = 'neutralization - disable webhook' \
              WHERE state = 'webhook'",
    },
    // web/data/neutralize.sql: the "Database neutralized for testing" banner.
    Step {
        table: "ir_ui_view",
        column: Some("key"),
        sql: "UPDATE ir_ui_view SET active = true WHERE key = 'web.neutralize_banner'",
    },
    Step {
        table: "mail_template",
        column: Some("mail_server_id"),
        sql: "UPDATE mail_template SET mail_server_id = NULL",
    },
    Step {
        table: "fetchmail_server",
        column: None,
        sql: "UPDATE fetchmail_server SET active = false",
    },
    Step {
        table: "payment_provider",
        column: None,
        sql: "UPDATE payment_provider SET state = 'disabled' WHERE state NOT IN ('test', 'disabled')",
    },
    Step {
        table: "delivery_carrier",
        column: Some("prod_environment"),
        sql: "UPDATE delivery_carrier SET prod_environment = false",
    },
    Step {
        table: "iap_account",
        column: Some("account_token"),
        sql: "UPDATE iap_account SET account_token = account_token || '+disabled' \
              WHERE account_token NOT LIKE '%+disabled'",
    },
    Step {
        table: "auth_oauth_provider",
        column: None,
        sql: "UPDATE auth_oauth_provider SET enabled = false",
    },
];

/// The SQL [`apply_own`] would run on `db` (only the steps whose tables exist).
pub fn own_sql(db: &mut Client) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    for step in STEPS {
        if has_column(db, step.table, step.column)? {
            out.push(format!("{};", step.sql));
        }
    }
    Ok(out)
}

/// Applies [`own_sql`] in one transaction.
pub fn apply_own(db: &mut Client) -> Result<usize, DbError> {
    let sql = own_sql(db)?;
    let mut tx = db.transaction()?;
    for statement in &sql {
        tx.batch_execute(statement)?;
    }
    tx.commit()?;
    Ok(sql.len())
}

fn has_column(
    db: &mut impl postgres::GenericClient,
    table: &str,
    column: Option<&str>,
) -> Result<bool, DbError> {
    let row = db.query_one(
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND ($2::text IS NULL OR column_name = $2)",
        &[&table, &column],
    )?;
    Ok(row.get::<_, i64>(0) > 0)
}

/// Where staging's outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailCatcher {
    pub host: String,
    pub port: i32,
}

impl MailCatcher {
    /// `host:port`.
    pub fn parse(text: &str) -> Option<MailCatcher> {
        let (host, port) = text.trim().rsplit_once(':')?;
        let port: i32 = port.parse().ok().filter(|p| (1..=65535).contains(p))?;
        (!host.is_empty()).then(|| MailCatcher {
            host: host.to_string(),
            port,
        })
    }
}

/// Replaces neutralization's dummy server by the catcher: the only active outgoing server.
pub fn route_mail_to(db: &mut Client, catcher: &MailCatcher) -> Result<(), DbError> {
    if !has_column(db, "ir_mail_server", None)? {
        return Ok(());
    }
    let mut tx = db.transaction()?;
    tx.execute("UPDATE ir_mail_server SET active = false", &[])?;
    tx.execute(
        "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication, active) \
         VALUES ('odoo-ci mail catcher', $1, $2, 'none', 'login', true)",
        &[&catcher.host, &catcher.port],
    )?;
    // Mail production queued with its own server (now archived, which Odoo refuses to use)
    // goes to the catcher too, where the team can read it.
    if has_column(&mut tx, "mail_message", Some("mail_server_id"))?
        && has_column(&mut tx, "mail_mail", Some("state"))?
    {
        tx.execute(
            "UPDATE mail_message SET mail_server_id = NULL WHERE mail_server_id IS NOT NULL \
             AND id IN (SELECT mail_message_id FROM mail_mail WHERE state = 'outgoing')",
            &[],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The allow-listed crons (XML ids in `allowlist`) active on `db`: read before a
/// neutralization, which turns every cron off, to turn them on again after it.
pub fn active_allowed_crons(db: &mut Client, allowlist: &[String]) -> Result<Vec<i32>, DbError> {
    if allowlist.is_empty() || !has_column(db, "ir_cron", None)? {
        return Ok(Vec::new());
    }
    let rows = db.query(
        "SELECT c.id FROM ir_cron c JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id \
         WHERE c.active AND d.module || '.' || d.name = ANY($1)",
        &[&allowlist],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Turns the crons `ids` on again: the allow-list keeps them as they were before
/// neutralization.
pub fn reactivate_crons(db: &mut Client, ids: &[i32]) -> Result<(), DbError> {
    if !ids.is_empty() {
        db.execute(
            "UPDATE ir_cron SET active = true WHERE id = ANY($1)",
            &[&ids],
        )?;
    }
    Ok(())
}

/// What must hold on a neutralized database.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub catcher: Option<MailCatcher>,
    /// Crons (XML ids, `module.name`) allowed to stay active, besides `base.autovacuum_job`.
    pub cron_allowlist: Vec<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was found (the offending records when not ok).
    pub detail: String,
}

/// Checks, fail closed, that nothing on `db` can reach the outside world.
pub fn verify(db: &mut Client, policy: &Policy) -> Result<Vec<Check>, DbError> {
    Ok(vec![
        outgoing_mail(db, policy)?,
        crons(db, policy)?,
        payment_providers(db)?,
        incoming_mail(db)?,
        webhooks(db)?,
        banner(db)?,
        neutralized_flag(db)?,
    ])
}

/// A check that passes when nothing was `found`: `clean` says so, else `dirty` lists them.
fn none_found(name: &str, found: Vec<String>, clean: String, dirty: &str) -> Check {
    Check {
        name: name.into(),
        ok: found.is_empty(),
        detail: match found.is_empty() {
            true => clean,
            false => format!("{dirty}: {}", found.join(", ")),
        },
    }
}

/// The names `sql` (one text column) returns, quoted; none when `table` does not exist.
fn names_in(db: &mut Client, table: &str, sql: &str) -> Result<Vec<String>, DbError> {
    if !has_column(db, table, None)? {
        return Ok(Vec::new());
    }
    Ok(db
        .query(sql, &[])?
        .iter()
        .map(|row| format!("`{}`", row.get::<_, String>(0)))
        .collect())
}

/// No active outgoing mail server but the catcher (or Odoo's own `invalid` host).
fn outgoing_mail(db: &mut Client, policy: &Policy) -> Result<Check, DbError> {
    let mut bad_servers = Vec::new();
    let mut dummies = Vec::new();
    if has_column(db, "ir_mail_server", None)? {
        for row in db.query(
            "SELECT name, coalesce(smtp_host, ''), coalesce(smtp_port, 0) FROM ir_mail_server WHERE active ORDER BY id",
            &[],
        )? {
            let (name, host, port): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
            let is_catcher = policy
                .catcher
                .as_ref()
                .is_some_and(|c| c.host == host && c.port == port);
            match (is_catcher, host == INVALID_HOST) {
                (true, _) => {}
                (false, true) => dummies.push(format!("{host}:{port}")),
                (false, false) => bad_servers.push(format!("`{name}` ({host}:{port})")),
            }
        }
    }
    let clean = match (&policy.catcher, dummies.is_empty()) {
        (Some(c), true) => format!("only the catcher {}:{} is active", c.host, c.port),
        (Some(c), false) => format!(
            "only the catcher {}:{} and neutralization's own server to the host `invalid` ({}) are active",
            c.host,
            c.port,
            dummies.join(", ")
        ),
        (None, true) => "no active outgoing mail server".into(),
        (None, false) => format!(
            "only neutralization's own server is active, to the host `invalid` ({}), which never resolves: mail goes nowhere",
            dummies.join(", ")
        ),
    };
    Ok(none_found(
        "outgoing mail",
        bad_servers,
        clean,
        "active outgoing mail server(s)",
    ))
}

/// The host Odoo's neutralization gives its own outgoing server (`mail/data/neutralize.sql`):
/// a name that never resolves (RFC 6761), so that mail is kept in the queue, sent nowhere.
const INVALID_HOST: &str = "invalid";

/// No active cron but Odoo's autovacuum and the allow-list.
fn crons(db: &mut Client, policy: &Policy) -> Result<Check, DbError> {
    let mut bad_crons = Vec::new();
    if has_column(db, "ir_cron", None)? {
        let name_column = if has_column(db, "ir_cron", Some("cron_name"))? {
            "c.cron_name::text"
        } else {
            "c.id::text"
        };
        let sql = format!(
            "SELECT coalesce(d.module || '.' || d.name, ''), coalesce({name_column}, c.id::text) \
             FROM ir_cron c LEFT JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id \
             WHERE c.active"
        );
        for row in db.query(&sql, &[])? {
            let (xmlid, name): (String, String) = (row.get(0), row.get(1));
            let allowed = xmlid == "base.autovacuum_job" || policy.cron_allowlist.contains(&xmlid);
            if !allowed {
                bad_crons.push(if xmlid.is_empty() {
                    format!("`{name}`")
                } else {
                    format!("`{name}` ({xmlid})")
                });
            }
        }
    }
    Ok(none_found(
        "scheduled actions",
        bad_crons,
        "no active cron outside the allow-list".into(),
        "active cron(s) outside the allow-list",
    ))
}

fn payment_providers(db: &mut Client) -> Result<Check, DbError> {
    let enabled = names_in(
        db,
        "payment_provider",
        "SELECT coalesce(name::text, id::text) FROM payment_provider WHERE state = 'enabled'",
    )?;
    Ok(none_found(
        "payment providers",
        enabled,
        "no payment provider in production mode".into(),
        "payment provider(s) in production mode",
    ))
}

fn incoming_mail(db: &mut Client) -> Result<Check, DbError> {
    let fetching = names_in(
        db,
        "fetchmail_server",
        "SELECT coalesce(name::text, id::text) FROM fetchmail_server WHERE active",
    )?;
    Ok(none_found(
        "incoming mail",
        fetching,
        "no active incoming mail server".into(),
        "active incoming mail server(s)",
    ))
}

/// `database.is_neutralized` is set, as Odoo's own neutralization sets it.
fn neutralized_flag(db: &mut Client) -> Result<Check, DbError> {
    let flag = crate::db::copy::config_parameter(db, "database.is_neutralized")?;
    let flagged = flag
        .as_deref()
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "t"));
    Ok(Check {
        name: "neutralized flag".into(),
        ok: flagged,
        detail: match flag {
            Some(v) if flagged => format!("database.is_neutralized = {v}"),
            Some(v) => format!("database.is_neutralized = {v}, expected true"),
            None => "database.is_neutralized is not set".into(),
        },
    })
}

/// Webhook server actions (17.0+) that still point somewhere.
fn webhooks(db: &mut Client) -> Result<Check, DbError> {
    let mut live = Vec::new();
    if has_column(db, "ir_act_server", Some("webhook_url"))? {
        for row in db.query(
            "SELECT id, coalesce(webhook_url, '') FROM ir_act_server \
             WHERE state = 'webhook' AND webhook_url IS DISTINCT FROM 'neutralization - disable webhook'",
            &[],
        )? {
            let (id, url): (i32, String) = (row.get(0), row.get(1));
            live.push(format!("action {id} → {}", crate::db::mask_url(&url)));
        }
    }
    Ok(Check {
        name: "webhooks".into(),
        ok: live.is_empty(),
        detail: if live.is_empty() {
            "no webhook server action points anywhere".into()
        } else {
            format!("live webhook server action(s): {}", live.join(", "))
        },
    })
}

/// The neutralization banner view (`web`), active where it exists.
fn banner(db: &mut Client) -> Result<Check, DbError> {
    let mut state = None;
    if has_column(db, "ir_ui_view", Some("key"))? {
        state = db
            .query_opt(
                "SELECT bool_and(active) FROM ir_ui_view WHERE key = 'web.neutralize_banner' \
                 HAVING count(*) > 0",
                &[],
            )?
            .map(|row| row.get::<_, bool>(0));
    }
    Ok(Check {
        name: "banner".into(),
        ok: state != Some(false),
        detail: match state {
            Some(true) => "the \"neutralized\" banner shows".into(),
            Some(false) => {
                "the web.neutralize_banner view is inactive: users would not see this is a copy"
                    .into()
            }
            None => "no banner view in this database".into(),
        },
    })
}

/// The first failed check, if any.
pub fn first_failure(checks: &[Check]) -> Option<&Check> {
    checks.iter().find(|c| !c.ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catchers_parse() {
        assert_eq!(
            MailCatcher::parse("mailpit:1025"),
            Some(MailCatcher {
                host: "mailpit".into(),
                port: 1025
            })
        );
        assert_eq!(MailCatcher::parse("mailpit"), None);
        assert_eq!(MailCatcher::parse("mailpit:0"), None);
        assert_eq!(MailCatcher::parse(":25"), None);
    }
}
