//! Names odoo-ci derives from user text (branches, database names) for databases and
//! containers: readable, and safe whatever the text holds.

/// `text` as lowercase ASCII letters and digits, every run of other characters one `sep`,
/// no `sep` at either end, at most `max` characters.
pub fn slug(text: &str, sep: char, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(sep) {
            out.push(sep);
        }
    }
    let cut: String = out.chars().take(max).collect();
    cut.trim_end_matches(sep).to_string()
}

/// The label every container odoo-ci makes carries: the project's [`scope`].
pub const PROJECT_LABEL: &str = "odoo-ci.project";

/// The label that says what an image or a release volume holds: a hash of its files.
pub const CONTENT_LABEL: &str = "odoo-ci.content";

/// What scopes every name odoo-ci makes for a project: a readable slug of the project's
/// identity (`acme/odoo` → `acme-odoo`) and 8 hex of its hash, so that `acme/odoo` and
/// `acme-odoo` still differ. Only `[a-z0-9-]`, at most 29 characters.
pub fn scope(identity: &str) -> String {
    let readable = slug(identity, '-', 20);
    format!("{readable}-{}", short_hash(&[identity]))
}

/// 8 hex characters of the SHA-256 of `parts`, each ended by a NUL (so `("a", "bc")` and
/// `("ab", "c")` differ).
pub fn short_hash(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `base/name` when `name` is one plain path component odoo-ci could have made (letters,
/// digits, `_`, `-`, `.`, not `.` or `..`); `None` otherwise. Every folder odoo-ci removes
/// under a name read from elsewhere (a database name) goes through this, so a database
/// named `x/../../v` cannot point it outside the folder it manages.
pub fn child_of(base: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    plain.then(|| base.join(name))
}

/// `p` made absolute (symlinks resolved) when it exists, as given otherwise.
pub fn absolute(p: &std::path::Path) -> std::path::PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_differ_for_names_that_slug_alike() {
        assert_ne!(scope("acme/odoo"), scope("acme-odoo"));
        assert!(scope("acme/odoo").starts_with("acme-odoo-"));
        assert!(scope(&"x".repeat(300)).len() <= 29);
    }

    #[test]
    fn only_plain_names_become_children() {
        let base = std::path::Path::new("/cache/filestore");
        assert_eq!(
            child_of(base, "odoo_ci_stg_x_1"),
            Some(base.join("odoo_ci_stg_x_1"))
        );
        for bad in ["", ".", "..", "a/../../v", "../v", "a/b", "a\\b", "a\0b"] {
            assert_eq!(child_of(base, bad), None, "{bad}");
        }
    }

    #[test]
    fn hostile_and_foreign_text_becomes_a_plain_slug() {
        assert_eq!(
            slug("feat/\"; DROP DATABASE x; --", '_', 40),
            "feat_drop_database_x"
        );
        assert_eq!(slug("Été/Ünïcode--branch", '-', 40), "t-n-code-branch");
        assert_eq!(slug("--", '_', 10), "");
        assert_eq!(
            slug("abc_def_ghi", '_', 4),
            "abc",
            "no separator at the end after a cut"
        );
        assert_eq!(slug("ABC", '_', 2), "ab");
    }
}
