//! Reading Python tracebacks: frames, the last line, and the frame an annotation should
//! point at (the innermost one inside an addon, not inside Odoo or Python).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub path: &'a str,
    pub line: u32,
}

/// `  File "path", line N, in func` lines, outermost first.
pub fn frames(traceback: &str) -> Vec<Frame<'_>> {
    traceback
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("File \"")?;
            let end = rest.find('"')?;
            let path = &rest[..end];
            let after = rest[end + 1..].strip_prefix(", line ")?;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            Some(Frame {
                path,
                line: digits.parse().ok()?,
            })
        })
        .collect()
}

/// The last non-blank line: the exception and its message.
pub fn last_line(traceback: &str) -> Option<&str> {
    traceback
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty())
}

/// The exception as unittest printed it: from the line that starts with `message` (the
/// exception's first line) to the end — an `assertEqual` on strings adds its diff there.
/// `message` alone when the traceback does not hold it.
pub fn exception_text(traceback: &str, message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    match traceback.find(first).filter(|_| !first.is_empty()) {
        Some(start) => traceback[start..].trim_end().to_string(),
        None => message.to_string(),
    }
}

/// Folders an addon usually has; the component before one of them names the addon.
const ADDON_SUBDIRS: [&str; 14] = [
    "models",
    "tests",
    "views",
    "data",
    "security",
    "wizard",
    "wizards",
    "report",
    "reports",
    "controllers",
    "demo",
    "static",
    "i18n",
    "migrations",
];

/// Maps addon names to where they live in the repository, for file paths in results.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    map: BTreeMap<String, String>,
}

impl PathMap {
    pub fn new(map: BTreeMap<String, String>) -> PathMap {
        PathMap { map }
    }

    /// `path` made relative to the addon's parent folder (`acc_x/tests/t.py`), or mapped
    /// into the repo (`addons/acc_x/tests/t.py`), when it lies inside `addon`.
    pub fn locate(&self, path: &str, addon: &str) -> Option<String> {
        if addon.is_empty() {
            return None;
        }
        let parts: Vec<&str> = path.split('/').collect();
        let i = parts.iter().rposition(|p| *p == addon)?;
        if i + 1 >= parts.len() {
            return None;
        }
        let rest = parts[i + 1..].join("/");
        Some(match self.map.get(addon) {
            Some(dir) => format!("{}/{rest}", dir.trim_end_matches('/')),
            None => format!("{addon}/{rest}"),
        })
    }

    /// The addon a path lies in, when it can be told: a mapped addon, or the folder before a
    /// usual addon subfolder; never a file of Odoo itself or of Python.
    pub fn addon_of<'p>(&self, path: &'p str) -> Option<&'p str> {
        if is_core(path) {
            return None;
        }
        let parts: Vec<&'p str> = path.split('/').collect();
        if let Some(p) = parts.iter().rev().find(|p| self.map.contains_key(**p)) {
            return Some(p);
        }
        parts
            .windows(2)
            .rev()
            .find(|w| ADDON_SUBDIRS.contains(&w[1]) && !w[0].is_empty())
            .map(|w| w[0])
    }

    /// Where an annotation for a failure of `module`'s test should point.
    pub fn failure_location(&self, traceback: &str, module: &str) -> Option<(String, u32)> {
        let frames = frames(traceback);
        // The innermost frame in the test's own addon, else in any addon.
        frames
            .iter()
            .rev()
            .find_map(|f| {
                self.locate(f.path, module)
                    .filter(|_| !is_core(f.path))
                    .map(|p| (p, f.line))
            })
            .or_else(|| {
                frames.iter().rev().find_map(|f| {
                    let addon = self.addon_of(f.path)?;
                    Some((self.locate(f.path, addon)?, f.line))
                })
            })
    }

    /// `while parsing /path/addon/data/file.xml:LINE` in a ParseError message.
    pub fn parse_error_location(&self, text: &str) -> Option<(String, u32)> {
        // The last mention: the exception line, not the source line that raised it.
        let rest = &text[text.rfind("while parsing ")? + "while parsing ".len()..];
        let end = rest
            .find(", somewhere inside")
            .or_else(|| rest.find(char::is_whitespace))
            .unwrap_or(rest.len());
        let spec = &rest[..end];
        let (path, line) = spec.rsplit_once(':')?;
        let line: u32 = line.parse().ok()?;
        let file = self
            .addon_of(path)
            .and_then(|addon| self.locate(path, addon))
            .unwrap_or_else(|| path.to_string());
        Some((file, line))
    }
}

/// A file of Odoo itself or of the Python installation.
fn is_core(path: &str) -> bool {
    path.contains("/site-packages/")
        || path.contains("/dist-packages/")
        || path.contains("/lib/python")
        || path.contains("/odoo/odoo/")
        || path.starts_with("<")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: &str = "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/tests/common.py\", line 100, in run\n    x()\n  File \"/mnt/extra-addons/acc_x/tests/test_x.py\", line 12, in test_qty\n    self.assertEqual(t.qty, 7)\n  File \"/usr/lib/python3.11/unittest/case.py\", line 873, in assertEqual\n    raise\nAssertionError: 6 != 7 : doubling 3 should not give 7\n \n";

    #[test]
    fn innermost_addon_frame_and_message() {
        let map = PathMap::default();
        assert_eq!(
            map.failure_location(TB, "acc_x"),
            Some(("acc_x/tests/test_x.py".into(), 12))
        );
        assert_eq!(
            last_line(TB),
            Some("AssertionError: 6 != 7 : doubling 3 should not give 7")
        );
        let mapped = PathMap::new([("acc_x".to_string(), "addons/acc_x".to_string())].into());
        assert_eq!(
            mapped.failure_location(TB, "acc_x"),
            Some(("addons/acc_x/tests/test_x.py".into(), 12))
        );
    }

    #[test]
    fn frame_in_another_repo_addon() {
        let tb = "Traceback (most recent call last):\n  File \"/mnt/extra-addons/acc_y/tests/test_y.py\", line 5, in test\n    f()\n  File \"/mnt/extra-addons/acc_base/models/base.py\", line 40, in f\n    raise ValueError('x')\nValueError: x\n";
        assert_eq!(
            PathMap::default().failure_location(tb, "acc_y"),
            Some(("acc_y/tests/test_y.py".into(), 5))
        );
        assert_eq!(
            PathMap::default().failure_location(tb, "other"),
            Some(("acc_base/models/base.py".into(), 40))
        );
    }

    #[test]
    fn parse_error_location() {
        let text = "odoo.tools.convert.ParseError: while parsing /mnt/extra-addons/acc_bad/data/records.xml:7, somewhere inside";
        assert_eq!(
            PathMap::default().parse_error_location(text),
            Some(("acc_bad/data/records.xml".into(), 7))
        );
    }
}
