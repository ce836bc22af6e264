//! `update_mode: hash`: the content hash of each addon at the last deploy, kept in
//! production's own `ir_config_parameter` (`odoo_ci.addon_hash.<addon>`), so the history
//! lives with the database. Read by the plan and by the deploy's lock; written after the
//! update.

use std::collections::BTreeMap;

use postgres::Client;

use super::DbError;

fn key(addon: &str) -> String {
    format!("odoo_ci.addon_hash.{addon}")
}

/// The stored hash of each of `addons` that has one.
pub fn stored<'a>(
    db: &mut Client,
    addons: impl IntoIterator<Item = &'a String>,
) -> Result<BTreeMap<String, String>, DbError> {
    let mut out = BTreeMap::new();
    for name in addons {
        if let Some(v) = super::copy::config_parameter(db, &key(name))? {
            out.insert(name.clone(), v);
        }
    }
    Ok(out)
}

/// Stores `hashes` as the ones the next deploy compares with.
pub fn store(db: &mut Client, hashes: &BTreeMap<String, String>) -> Result<(), DbError> {
    for (name, hash) in hashes {
        let key = key(name);
        let n = db.execute(
            "UPDATE ir_config_parameter SET value = $2 WHERE key = $1",
            &[&key, hash],
        )?;
        if n == 0 {
            db.execute(
                "INSERT INTO ir_config_parameter (key, value) VALUES ($1, $2)",
                &[&key, hash],
            )?;
        }
    }
    Ok(())
}
