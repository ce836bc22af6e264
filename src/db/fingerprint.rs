//! A database's fingerprint: what a restore is checked against before it is reported done.
//!
//! For each table of the `public` schema (sorted by name): its row count and an
//! order-free sum of its rows' hashes (`hashtextextended` of the row's text), all folded
//! into one SHA-256. Two databases with the same rows give the same fingerprint whatever
//! their physical order, so a dump restored elsewhere matches its source; one row more,
//! less or different changes it. It reads every row once (no sort), so it costs about a
//! sequential scan of the data.

use postgres::GenericClient;
use sha2::{Digest, Sha256};

use super::{quote_ident, DbError};

/// The fingerprint of the database `conn` is connected to, as it stands in `conn`'s
/// transaction (a repeatable-read transaction sees one snapshot throughout).
pub fn of(conn: &mut impl GenericClient) -> Result<String, DbError> {
    let tables: Vec<String> = conn
        .query(
            "SELECT c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
             ORDER BY c.relname",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut hash = Sha256::new();
    for table in &tables {
        let row = conn.query_one(
            &format!(
                "SELECT count(*)::text, \
                 coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text \
                 FROM public.{} t",
                quote_ident(table)
            ),
            &[],
        )?;
        let (count, sum): (String, String) = (row.get(0), row.get(1));
        hash.update(format!("{table}\t{count}\t{sum}\n").as_bytes());
    }
    Ok(format!(
        "{}:{}",
        tables.len(),
        hash.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}
