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

#[cfg(test)]
mod tests {
    use super::slug;

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
