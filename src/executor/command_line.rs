//! `odoo.command` as the local executor runs it: split into words the way a POSIX shell
//! would (quotes and backslashes, no expansion), and its own `--addons-path` kept — merged
//! with the repository's folders, never replaced by them. On an Odoo source checkout the
//! command names `odoo-bin`, whose tree's `addons/` folder holds every core module but
//! `base`; Odoo puts it on the addons path only when none is given, so odoo-ci adds it.

use std::path::Path;

/// A command line that cannot be split.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`odoo.command` has an unclosed {0} quote")]
pub struct Unclosed(pub char);

/// Words of `text`: `'…'` literal, `"…"` with `\"` and `\\`, `\x` outside quotes.
pub fn split(text: &str) -> Result<Vec<String>, Unclosed> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(Unclosed('\'')),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(Unclosed('"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(Unclosed('"')),
                    }
                }
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    word.get_or_insert_with(String::new).push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The command without its `--addons-path` flags, and the folders those named (in order),
/// plus the `addons/` folder beside an `odoo-bin` the command runs.
pub fn own_addons_paths(words: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut rest = Vec::new();
    let mut paths = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        if w == "--addons-path" {
            paths.extend(words.next().iter().flat_map(|v| list(v)));
        } else if let Some(v) = w.strip_prefix("--addons-path=") {
            paths.extend(list(v));
        } else {
            rest.push(w);
        }
    }
    let tree = rest
        .iter()
        .map(Path::new)
        .find(|p| p.file_name().is_some_and(|n| n == "odoo-bin"))
        .and_then(|bin| bin.parent())
        .map(|root| root.join("addons"))
        .filter(|dir| dir.is_dir());
    if let Some(dir) = tree {
        let dir = dir.to_string_lossy().into_owned();
        if !paths.contains(&dir) {
            paths.push(dir);
        }
    }
    (rest, paths)
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split(text).unwrap()
    }

    #[test]
    fn quotes_and_backslashes_split_as_a_shell_would() {
        assert_eq!(
            words(r#"python3 "/opt/my odoo/odoo-bin" --log-level='debug sql'"#),
            ["python3", "/opt/my odoo/odoo-bin", "--log-level=debug sql"]
        );
        assert_eq!(words(r"odoo\ bin  -x"), ["odoo bin", "-x"]);
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
        assert_eq!(split("odoo 'open"), Err(Unclosed('\'')));
        assert_eq!(split("odoo \"open"), Err(Unclosed('"')));
    }

    #[test]
    fn the_command_s_addons_path_is_kept_and_its_flag_removed() {
        let (rest, paths) = own_addons_paths(words(
            "odoo --addons-path /a,/b -c odoo.conf --addons-path=/c",
        ));
        assert_eq!(rest, ["odoo", "-c", "odoo.conf"]);
        assert_eq!(paths, ["/a", "/b", "/c"]);
    }

    #[test]
    fn a_source_checkout_s_own_addons_folder_is_on_the_path() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir(tree.path().join("addons")).unwrap();
        let bin = tree.path().join("odoo-bin").display().to_string();
        let (rest, paths) = own_addons_paths(vec!["python3".into(), bin.clone()]);
        assert_eq!(rest, ["python3", bin.as_str()]);
        assert_eq!(paths, [tree.path().join("addons").display().to_string()]);
    }
}
