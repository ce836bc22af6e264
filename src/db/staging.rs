//! The staging databases odoo-ci makes: how they are named (scoped by project and
//! branch), how they are marked as odoo-ci's (a database comment naming the project and
//! branch), and which of them are this project's to reuse or drop.

use serde::Serialize;

use crate::db;

pub const STAGING_PREFIX: &str = "odoo_ci_stg_";
pub const MARKER: &str = "odoo-ci staging";

/// A staging database that odoo-ci made, as listed by `odoo-ci staging list`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StagingDatabase {
    pub name: String,
    pub branch: String,
}

/// `odoo_ci_stg_<slug>_<hash8>_`: the prefix of every staging database of `branch` in the
/// project `scope`. The slug keeps it readable, the hash of project and branch keeps
/// projects and branches with the same slug apart; any branch name (`feat/"; drop`)
/// becomes `[a-z0-9_]` only. A prefix is never how odoo-ci decides what is its own: the
/// marker comment is (see [`list`]).
pub fn branch_prefix(scope: &str, branch: &str) -> String {
    let slug = crate::names::slug(branch, '_', 21);
    let hex = crate::names::short_hash(&[scope, branch]);
    format!("{STAGING_PREFIX}{slug}_{hex}_")
}

/// The staging databases odoo-ci made for the project `scope` on `admin`'s server, oldest
/// first: those whose marker comment names the project. Another project's, or one whose
/// comment was lost, is never listed, so never dropped.
pub fn list(
    admin: &mut postgres::Client,
    scope: &str,
) -> Result<Vec<StagingDatabase>, db::DbError> {
    let marked = db::marked::<serde_json::Value>(admin, STAGING_PREFIX, MARKER)?;
    Ok(marked
        .into_iter()
        .filter(|(_, marker)| marker["project"].as_str() == Some(scope))
        .map(|(name, marker)| StagingDatabase {
            name,
            branch: marker["branch"].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

/// The staging databases of exactly `branch`: listed as this project's, named as odoo-ci
/// names them (`<prefix><17 digits>`).
pub fn of_branch(all: Vec<StagingDatabase>, scope: &str, branch: &str) -> Vec<String> {
    let prefix = branch_prefix(scope, branch);
    all.into_iter()
        .filter(|d| d.branch == branch)
        .filter(|d| {
            d.name
                .strip_prefix(&prefix)
                .is_some_and(|stamp| stamp.len() == 17 && stamp.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|d| d.name)
        .collect()
}

/// The staging server container of a branch of the project `scope`.
pub fn container_name(scope: &str, branch: &str) -> String {
    format!(
        "odoo-ci-staging-{}",
        branch_prefix(scope, branch)
            .trim_start_matches(STAGING_PREFIX)
            .trim_end_matches('_')
            .replace('_', "-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_branch_names_become_safe_prefixes() {
        let p = branch_prefix("acme", "feat/\"; drop table x; --");
        assert!(p.starts_with("odoo_ci_stg_feat_drop_table_x_"), "{p}");
        assert!(p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        // Same slug, different branches: different prefixes.
        assert_ne!(branch_prefix("acme", "a/b"), branch_prefix("acme", "a-b"));
        // Same branch, different projects: different prefixes and containers.
        assert_ne!(branch_prefix("a", "staging"), branch_prefix("b", "staging"));
        assert_ne!(
            container_name("a", "staging"),
            container_name("b", "staging")
        );
        // A timestamp of 17 digits still fits PostgreSQL's 63-byte names.
        assert!(branch_prefix("acme", &"x".repeat(300)).len() + 17 <= 63);
        assert!(container_name("acme", "feat/\"; drop").starts_with("odoo-ci-staging-feat-drop-"));
    }

    #[test]
    fn only_this_branch_s_own_names_are_its_databases() {
        let db = |name: String, branch: &str| StagingDatabase {
            name,
            branch: branch.to_string(),
        };
        let mine = format!("{}20260101120000000", branch_prefix("p", "staging"));
        // `staging/<hash>/x` has a prefix that starts with `staging`'s: a prefix match took it.
        let hex = crate::names::short_hash(&["p", "staging"]);
        let other_branch = format!("staging/{hex}/x");
        let other = format!("{}20260101120000000", branch_prefix("p", &other_branch));
        let forged = format!("{}20260101/../../v", branch_prefix("p", "staging"));
        let all = vec![
            db(mine.clone(), "staging"),
            db(other, &other_branch),
            db(forged, "staging"),
        ];
        assert_eq!(of_branch(all, "p", "staging"), vec![mine]);
    }
}
