//! The previews odoo-ci keeps (`development.keep`): a tested database per branch that a
//! server keeps serving. How they are named (scoped by project and branch, one per
//! branch), how they are marked as odoo-ci's (a database comment naming the project,
//! branch, commit and when it was kept), and which are this project's.

use serde::{Deserialize, Serialize};

use crate::db;

pub const PREVIEW_PREFIX: &str = "odoo_ci_prv_";
pub const MARKER: &str = "odoo-ci preview";
/// The label of a preview's server: the branch it serves.
pub const LABEL: &str = "odoo-ci.preview";

/// What the marker comment of a preview says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub project: String,
    pub branch: String,
    #[serde(default)]
    pub commit: Option<String>,
    /// When it was kept (Unix seconds).
    pub kept_at: u64,
    /// When it may go (Unix seconds): `kept_at` plus `development.keep`.
    pub until: u64,
    /// Where its server answers.
    #[serde(default)]
    pub url: Option<String>,
}

/// A preview of this project, as `odoo-ci previews list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub database: String,
    #[serde(flatten)]
    pub marker: Marker,
}

/// `odoo_ci_prv_<slug>_<hash8>`: the preview database of `branch` in the project `scope`
/// (readable slug, hash of project and branch to keep same-slug names apart).
pub fn database_name(scope: &str, branch: &str) -> String {
    let slug = crate::names::slug(branch, '_', 30);
    let hex = crate::names::short_hash(&[scope, "preview", branch]);
    format!("{PREVIEW_PREFIX}{slug}_{hex}")
}

/// The preview server container of `branch` in the project `scope`.
pub fn container_name(scope: &str, branch: &str) -> String {
    let db = database_name(scope, branch);
    format!(
        "odoo-ci-preview-{}",
        db.trim_start_matches(PREVIEW_PREFIX).replace('_', "-")
    )
}

/// Marks `name` as the project's preview.
pub fn mark(admin: &mut postgres::Client, name: &str, marker: &Marker) -> Result<(), db::DbError> {
    let json = serde_json::to_string(marker).unwrap_or_default();
    db::set_database_comment(admin, name, &format!("{MARKER} {json}"))
}

/// The previews of the project `scope` on `admin`'s server, oldest first: the databases
/// whose marker names the project. One whose marker was lost is never listed, so never
/// dropped.
pub fn list(admin: &mut postgres::Client, scope: &str) -> Result<Vec<Preview>, db::DbError> {
    let mut out: Vec<Preview> = db::marked::<Marker>(admin, PREVIEW_PREFIX, MARKER)?
        .into_iter()
        .filter(|(database, marker)| {
            marker.project == scope && *database == database_name(scope, &marker.branch)
        })
        .map(|(database, marker)| Preview { database, marker })
        .collect();
    out.sort_by_key(|p| p.marker.kept_at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_has_one_preview_name_of_its_project() {
        let a = database_name("acme", "feat/\"; drop table x; --");
        assert!(a.starts_with("odoo_ci_prv_feat_drop_table_x"), "{a}");
        assert!(a.len() <= 63);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert_eq!(a, database_name("acme", "feat/\"; drop table x; --"));
        assert_ne!(database_name("acme", "a/b"), database_name("acme", "a-b"));
        assert_ne!(database_name("a", "main"), database_name("b", "main"));
        let c = container_name("acme", "feat/x");
        assert!(c.starts_with("odoo-ci-preview-feat-x-"), "{c}");
    }
}
