//! `odoo-ci neutralize --database URL [--dry-run | --verify-only]`: neutralize any database
//! with odoo-ci's own SQL (the effects of Odoo's base, mail, payment, delivery, iap and
//! auth_oauth neutralization), then verify it, fail closed.

use crate::cli::{Format, NeutralizeArgs};
use crate::db::{self, PgServer};
use crate::exit::{self, BadInput};
use crate::neutralize::{self, MailCatcher, Policy};
use crate::style::Style;

pub fn run(args: &NeutralizeArgs) -> anyhow::Result<u8> {
    let server = PgServer::from_given_url(&args.database).map_err(|e| {
        BadInput::new(e.to_string()).hint("--database postgresql://user:password@host:port/dbname")
    })?;
    let name = db::database_of_url(&args.database).ok_or_else(|| {
        BadInput::new(format!(
            "--database {} names no database",
            db::mask_url(&args.database)
        ))
        .hint("end the URL with /dbname")
    })?;
    let catcher = match &args.mail_catcher {
        Some(t) => Some(MailCatcher::parse(t).ok_or_else(|| {
            BadInput::new(format!("--mail-catcher `{t}` is not host:port"))
                .hint("e.g. --mail-catcher mailpit:1025")
        })?),
        None => None,
    };
    let policy = Policy {
        catcher: catcher.clone(),
        cron_allowlist: args.allow_cron.clone(),
    };
    let mut client = server.connect(&name)?;
    let s = Style::for_stderr();
    let mut sql = Vec::new();
    if args.dry_run {
        sql = neutralize::own_sql(&mut client)?;
    } else if !args.verify_only {
        sql = neutralize::own_sql(&mut client)?;
        neutralize::apply_own(&mut client)?;
        if let Some(c) = &catcher {
            neutralize::route_mail_to(&mut client, c)?;
        }
    }
    let checks = neutralize::verify(&mut client, &policy)?;
    let ok = neutralize::first_failure(&checks).is_none();
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "database": name,
                "applied": !(args.dry_run || args.verify_only),
                "sql": sql,
                "neutralized": ok,
                "checks": checks,
            });
            super::print_stdout(&super::to_json(&value)?)?;
        }
        Format::Text => {
            let mut out = String::new();
            if args.dry_run {
                out.push_str("-- would run:\nBEGIN;\n");
                for line in &sql {
                    out.push_str(line);
                    out.push('\n');
                }
                out.push_str("COMMIT;\n");
            }
            super::print_stdout(&out)?;
            for c in &checks {
                let mark = if c.ok { s.green("✓") } else { s.red("✗") };
                eprintln!("{mark} {}: {}", c.name, c.detail);
            }
            eprintln!(
                "{}",
                if ok {
                    format!("`{name}` is neutralized")
                } else {
                    format!("`{name}` is NOT neutralized")
                }
            );
        }
    }
    Ok(if ok { exit::OK } else { exit::RED })
}
