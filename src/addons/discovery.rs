//! Finding the addons in the addons paths and reading their manifests, in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{parse_manifest, Manifest};
use super::version::{adapt_version, Series};
use crate::diag::{DiagKind, Diagnostic};

/// One addon of the repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Addon {
    pub name: String,
    /// The addon folder, as found (joined onto the project root).
    pub dir: PathBuf,
    /// The addon folder relative to the project root, with `/` separators.
    pub rel_dir: String,
    pub manifest_file: PathBuf,
    pub manifest: Manifest,
    /// The version normalised as Odoo does (`adapt_version`); as written when not installable.
    pub version: String,
}

/// Every addon found, sorted by name, with the series used to normalise versions.
#[derive(Debug, Clone)]
pub struct AddonSet {
    pub series: Series,
    pub addons: Vec<Addon>,
}

impl AddonSet {
    pub fn get(&self, name: &str) -> Option<&Addon> {
        self.addons
            .binary_search_by(|a| a.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.addons[i])
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.addons.iter().map(|a| a.name.as_str())
    }
}

const MANIFEST: &str = "__manifest__.py";
const OLD_MANIFEST: &str = "__openerp__.py";

/// Discovers the addons directly inside each of `addons_paths` (absolute, or relative to
/// `root`). With no `series`, it is inferred from the manifests' own series prefixes.
pub fn discover(
    root: &Path,
    addons_paths: &[PathBuf],
    series: Option<Series>,
) -> Result<AddonSet, Diagnostic> {
    let mut candidates = Vec::new();
    for path in addons_paths {
        let dir = root.join(path);
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Diagnostic::new(
                DiagKind::MissingAddonsPath,
                format!("cannot read addons path `{}`: {e}", dir.display()),
            )
            .hint("check `addons_paths` in .odoo-ci.yml, or the --addons-path you gave")
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        found.sort();
        candidates.extend(found);
    }

    let allow_old = series.is_none_or(|s| s.reads_openerp_manifest());
    let parsed = parse_in_parallel(&candidates, allow_old);

    let mut raw: Vec<(PathBuf, PathBuf, Manifest)> = Vec::with_capacity(parsed.len());
    for item in parsed {
        if let Some((dir, file, manifest)) = item? {
            raw.push((dir, file, manifest));
        }
    }

    let series = match series {
        Some(s) => s,
        None => infer_series(raw.iter().map(|(_, _, m)| m.version.as_str())).ok_or_else(|| {
            Diagnostic::new(
                DiagKind::InvalidValue,
                "cannot tell the Odoo series: no manifest version starts with one",
            )
            .hint("pass --series 17.0 (or set `odoo.series` in .odoo-ci.yml)")
        })?,
    };

    let mut by_name: BTreeMap<String, Addon> = BTreeMap::new();
    for (dir, manifest_file, manifest) in raw {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        check_module_name(&name, &dir)?;
        let version = if manifest.installable {
            adapt_version(series, &manifest.version)
                .map_err(|e| version_error(&manifest_file, &manifest, &e))?
        } else {
            manifest.version.clone()
        };
        let rel_dir = dir
            .strip_prefix(root)
            .unwrap_or(&dir)
            .to_string_lossy()
            .replace('\\', "/");
        let addon = Addon {
            name: name.clone(),
            dir,
            rel_dir,
            manifest_file,
            manifest,
            version,
        };
        if let Some(first) = by_name.get(&name) {
            return Err(Diagnostic::new(
                DiagKind::DuplicateAddon,
                format!(
                    "addon `{name}` is found twice: in `{}` and in `{}`",
                    first.dir.display(),
                    addon.dir.display()
                ),
            )
            .hint("Odoo would silently use the first one; remove one copy or one addons path"));
        }
        by_name.insert(name, addon);
    }
    Ok(AddonSet {
        series,
        addons: by_name.into_values().collect(),
    })
}

type Parsed = Result<Option<(PathBuf, PathBuf, Manifest)>, Diagnostic>;

fn parse_in_parallel(candidates: &[PathBuf], allow_old: bool) -> Vec<Parsed> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads <= 1 || candidates.len() < 64 {
        return candidates
            .iter()
            .map(|d| read_addon(d, allow_old))
            .collect();
    }
    let chunk = candidates.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|d| read_addon(d, allow_old))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(Diagnostic::new(
                        DiagKind::Io,
                        "a manifest reader thread panicked",
                    ))]
                })
            })
            .collect()
    })
}

/// Reads one folder's manifest; `None` when the folder is not an addon.
fn read_addon(dir: &Path, allow_old: bool) -> Parsed {
    let mut names = vec![MANIFEST];
    if allow_old {
        names.push(OLD_MANIFEST);
    }
    for file_name in names {
        let file = dir.join(file_name);
        match std::fs::read(&file) {
            Ok(bytes) => {
                let source = String::from_utf8(bytes).map_err(|e| {
                    Diagnostic::new(
                        DiagKind::ManifestSyntax,
                        format!("manifest `{}` is not valid UTF-8: {e}", file.display()),
                    )
                    .hint("save the manifest as UTF-8")
                })?;
                let manifest = parse_manifest(&file, &source)?;
                return Ok(Some((dir.to_path_buf(), file, manifest)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Diagnostic::new(
                    DiagKind::Io,
                    format!("cannot read `{}`: {e}", file.display()),
                ))
            }
        }
    }
    Ok(None)
}

/// An Odoo module name must be importable as `odoo.addons.<name>`.
pub fn is_valid_module_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_module_name(name: &str, dir: &Path) -> Result<(), Diagnostic> {
    if is_valid_module_name(name) {
        return Ok(());
    }
    let suggestion: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    Err(Diagnostic::new(
        DiagKind::InvalidModuleName,
        format!(
            "addon folder `{}` has a name Odoo cannot import: `{name}`",
            dir.display()
        ),
    )
    .hint(format!(
        "an Odoo module name uses only letters, digits and underscores and does not start with a digit: rename it, e.g. to `{suggestion}`"
    )))
}

fn version_error(
    file: &Path,
    manifest: &Manifest,
    err: &super::version::VersionError,
) -> Diagnostic {
    let diag = Diagnostic::new(
        DiagKind::ManifestField,
        format!("{err} (in `{}`)", file.display()),
    )
    .hint("fix the `version` key of the manifest, or mark the addon `'installable': False`");
    match (manifest.version_span, std::fs::read_to_string(file)) {
        (Some(span), Ok(source)) => diag.at_offset(file, &source, span.start),
        _ => diag.in_file(file),
    }
}

/// The most common series prefix among versions, if any has one.
pub fn infer_series<'a>(versions: impl Iterator<Item = &'a str>) -> Option<Series> {
    let mut counts: BTreeMap<Series, usize> = BTreeMap::new();
    for v in versions {
        if let Some(s) = Series::prefix_of(v) {
            *counts.entry(s).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(s, n)| (*n, *s))
        .map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert!(is_valid_module_name("sale_stock"));
        assert!(is_valid_module_name("l10n_be"));
        assert!(!is_valid_module_name("my-addon"));
        assert!(!is_valid_module_name("2fa"));
        assert!(!is_valid_module_name(""));
    }

    #[test]
    fn infers_the_most_common_series() {
        let v = ["17.0.1.0.0", "17.0.2.0", "1.0", "16.0.1.0.0"];
        assert_eq!(infer_series(v.into_iter()), "17.0".parse().ok());
        assert_eq!(infer_series(["1.0"].into_iter()), None);
    }
}
