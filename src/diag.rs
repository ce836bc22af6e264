//! User-facing diagnostics: one paragraph that names the file, line and column, shows the
//! offending line with a caret, and says what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// What went wrong, so that callers and tests can tell errors apart without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagKind {
    YamlSyntax,
    UnknownKey,
    WrongType,
    InvalidValue,
    TwoProductionRules,
    InvalidGlob,
    InvalidRegex,
    MissingAddonsPath,
    ManifestSyntax,
    ManifestNotLiteral,
    ManifestField,
    InvalidModuleName,
    DuplicateAddon,
    DependencyCycle,
    UninstallableDependency,
    NoBranchRule,
    MissingEnvVar,
    Io,
}

/// An error a user can fix, rendered once at the top: its `Display` is the message and the
/// location; the hint is rendered last, once, by [`crate::exit::TopError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: DiagKind,
    pub message: String,
    pub location: Option<Location>,
    pub source_line: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(kind: DiagKind, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            message: message.into(),
            location: None,
            source_line: None,
            hint: None,
        }
    }

    /// Points the diagnostic at `line:column` of `file`, whose text is `source`.
    pub fn at(mut self, file: &Path, source: &str, line: usize, column: usize) -> Self {
        self.source_line = source
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| l.to_string());
        self.location = Some(Location {
            file: file.to_path_buf(),
            line,
            column,
        });
        self
    }

    /// Points the diagnostic at a byte offset of `source`.
    pub fn at_offset(self, file: &Path, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        self.at(file, source, line, column)
    }

    pub fn in_file(mut self, file: &Path) -> Self {
        if self.location.is_none() {
            self.location = Some(Location {
                file: file.to_path_buf(),
                line: 0,
                column: 0,
            });
        }
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(loc) = &self.location {
            if loc.line > 0 {
                write!(
                    f,
                    "\n  --> {}:{}:{}",
                    loc.file.display(),
                    loc.line,
                    loc.column
                )?;
                if let Some(src) = &self.source_line {
                    let gutter = loc.line.to_string().len();
                    let pad = " ".repeat(gutter);
                    let caret_pad: String = src
                        .chars()
                        .take(loc.column.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    write!(
                        f,
                        "\n {pad} |\n {} | {}\n {pad} | {caret_pad}^",
                        loc.line, src
                    )?;
                }
            } else {
                write!(f, "\n  --> {}", loc.file.display())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The nearest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_and_caret_and_leaves_the_hint_to_the_top() {
        let src = "a: 1\nbad: 2\n";
        let d = Diagnostic::new(DiagKind::UnknownKey, "unknown key `bad`")
            .at(Path::new("x.yml"), src, 2, 1)
            .hint("remove it");
        let text = d.to_string();
        assert!(text.contains("--> x.yml:2:1"), "{text}");
        assert!(text.ends_with("2 | bad: 2\n   | ^"), "{text}");
        assert!(!text.contains("remove it"), "{text}");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 5), (1, 1));
    }

    #[test]
    fn suggests_close_words_only() {
        let keys = ["addons_paths", "branches", "odoo"];
        assert_eq!(did_you_mean("addon_paths", keys), Some("addons_paths"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
