//! Finding the addons in the addons paths and reading their manifests, in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{parse_manifest, Manifest};
use super::version::{adapt_version, Series};
use crate::diag::{DiagKind, Diagnostic};
use crate::repo_file::{Boundary, RepoFileError, MANIFEST_LIMIT};

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
    /// The git submodule the addon comes with (its folder, relative to the repository
    /// root), or `None` for the project's own addons: Odoo.sh's "my modules" are the
    /// latter only.
    pub submodule: Option<String>,
    /// The folder of `odoo.extra_addons_paths` the addon comes from (Odoo Enterprise, say),
    /// or `None` for the repository's addons: never the project's own, never tested.
    pub extra: Option<String>,
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

pub(crate) const MANIFEST: &str = "__manifest__.py";
pub(crate) const OLD_MANIFEST: &str = "__openerp__.py";

/// Discovers the addons directly inside each of `addons_paths` (absolute, or relative to
/// `root`). With no `series`, it is inferred from the manifests' own series prefixes.
pub fn discover(
    root: &Path,
    addons_paths: &[PathBuf],
    series: Option<Series>,
) -> Result<AddonSet, Diagnostic> {
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut boundaries: Vec<Boundary> = Vec::new();
    for path in addons_paths {
        let dir = root.join(path);
        let missing = |e: std::io::Error| {
            Diagnostic::new(
                DiagKind::MissingAddonsPath,
                format!("cannot read addons path `{}`: {e}", dir.display()),
            )
            .hint("check `addons_paths` in .odoo-ci.yml, or the --addons-path you gave")
        };
        let entries = std::fs::read_dir(&dir).map_err(missing)?;
        boundaries.push(boundary_for(root, &dir).map_err(missing)?);
        let boundary = boundaries.len() - 1;
        let rel_base = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let rel_base = rel_base.trim_start_matches("./").trim_end_matches('/');
        let mut found: Vec<Candidate> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                if name.starts_with('.') {
                    return None;
                }
                // Odoo lists linked addon folders too (`addons/x -> ../vendor/x`).
                let linked = match e.file_type().ok()? {
                    t if t.is_dir() => false,
                    t if t.is_symlink() && e.path().is_dir() => true,
                    _ => return None,
                };
                let rel_dir = if rel_base.is_empty() || rel_base == "." {
                    name.clone()
                } else {
                    format!("{rel_base}/{name}")
                };
                Some(Candidate {
                    dir: e.path(),
                    name,
                    rel_dir,
                    linked,
                    boundary,
                })
            })
            .collect();
        // Sorting names, not paths: comparing path components is slow on thousands of entries.
        found.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        candidates.extend(found);
    }

    let allow_old = series.is_none_or(|s| s.reads_openerp_manifest());
    let parsed = parse_in_parallel(&candidates, &boundaries, allow_old, series);
    let mut addons: Vec<Addon> = Vec::with_capacity(parsed.len());
    for item in parsed {
        if let Some(addon) = item? {
            addons.push(addon);
        }
    }
    assemble(addons, series)
}

/// The set of `addons`: the series (given, or inferred and every version normalised with
/// it), sorted by name, no name twice.
pub(crate) fn assemble(
    mut addons: Vec<Addon>,
    series: Option<Series>,
) -> Result<AddonSet, Diagnostic> {
    let series = match series {
        Some(s) => s,
        None => {
            let versions = || addons.iter().map(|a| a.manifest.version.as_str());
            let s = infer_series(versions()).ok_or_else(|| series_unknown(versions()))?;
            for addon in &mut addons {
                addon.version = normalise(s, &addon.manifest_file, &addon.manifest)?;
            }
            s
        }
    };

    addons.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in addons.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(Diagnostic::new(
                DiagKind::DuplicateAddon,
                format!(
                    "addon `{}` is found twice: in `{}` and in `{}`",
                    pair[0].name,
                    pair[0].dir.display(),
                    pair[1].dir.display()
                ),
            )
            .hint("Odoo would silently use the first one; remove one copy or one addons path"));
        }
    }
    Ok(AddonSet { series, addons })
}

/// The folder an addons path's files must stay in: the project root, or the addons path
/// itself when the user named one outside the project (an absolute `--addons-path`).
fn boundary_for(root: &Path, dir: &Path) -> std::io::Result<Boundary> {
    let project = Boundary::new(root)?;
    let own = Boundary::new(dir)?;
    Ok(if project.contains(&own) { project } else { own })
}

/// A folder that may hold an addon.
struct Candidate {
    dir: PathBuf,
    name: String,
    rel_dir: String,
    /// The folder is a link (its files are then resolved before reading).
    linked: bool,
    /// Index of the boundary its files must resolve into.
    boundary: usize,
}

type Parsed = Result<Option<Addon>, Diagnostic>;

fn parse_in_parallel(
    candidates: &[Candidate],
    boundaries: &[Boundary],
    allow_old: bool,
    series: Option<Series>,
) -> Vec<Parsed> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let read = |c: &Candidate| read_addon(c, &boundaries[c.boundary], allow_old, series);
    if threads <= 1 || candidates.len() < 64 {
        return candidates.iter().map(read).collect();
    }
    let chunk = candidates.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(read).collect::<Vec<_>>()))
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
fn read_addon(
    candidate: &Candidate,
    boundary: &Boundary,
    allow_old: bool,
    series: Option<Series>,
) -> Parsed {
    let mut names = vec![MANIFEST];
    if allow_old {
        names.push(OLD_MANIFEST);
    }
    for file_name in names {
        let file = candidate.dir.join(file_name);
        let bytes = match read_manifest(candidate, boundary, &file) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(Diagnostic::new(DiagKind::Io, e.to_string()).hint(e.hint())),
        };
        let place = AddonPlace {
            name: candidate.name.clone(),
            dir: candidate.dir.clone(),
            rel_dir: candidate.rel_dir.clone(),
        };
        return addon_from(place, file, bytes, series).map(Some);
    }
    Ok(None)
}

/// Where an addon is: its folder name, its folder, and that folder relative to the root.
pub(crate) struct AddonPlace {
    pub name: String,
    pub dir: PathBuf,
    pub rel_dir: String,
}

/// The addon whose manifest `file` holds `bytes`, read as Odoo reads it.
pub(crate) fn addon_from(
    place: AddonPlace,
    file: PathBuf,
    bytes: Vec<u8>,
    series: Option<Series>,
) -> Result<Addon, Diagnostic> {
    let source = String::from_utf8(bytes).map_err(|e| {
        Diagnostic::new(
            DiagKind::ManifestSyntax,
            format!("manifest `{}` is not valid UTF-8: {e}", file.display()),
        )
        .hint("save the manifest as UTF-8")
    })?;
    let manifest = parse_manifest(&file, &source)?;
    check_module_name(&place.name, &place.dir)?;
    let version = match series {
        Some(s) => normalise(s, &file, &manifest)?,
        None => manifest.version.clone(),
    };
    Ok(Addon {
        name: place.name,
        dir: place.dir,
        rel_dir: place.rel_dir,
        manifest_file: file,
        manifest,
        version,
        submodule: None,
        extra: None,
    })
}

/// Reads a manifest as Odoo would accept it (see [`crate::repo_file`]). A plain file in a
/// plain folder of a checked addons path is inside by construction: one `lstat`, no path
/// resolution, which keeps discovery of 50,000 addons fast.
fn read_manifest(
    candidate: &Candidate,
    boundary: &Boundary,
    file: &Path,
) -> Result<Vec<u8>, RepoFileError> {
    if !candidate.linked {
        match std::fs::symlink_metadata(file) {
            Ok(meta) if meta.is_file() => return read_plain(file, MANIFEST_LIMIT),
            Ok(_) => {}
            Err(source) => {
                return Err(RepoFileError::Io {
                    path: file.to_path_buf(),
                    source,
                })
            }
        }
    }
    boundary.read(file, MANIFEST_LIMIT)
}

/// Reads a file already known to be a regular file, at most `limit` bytes.
fn read_plain(path: &Path, limit: u64) -> Result<Vec<u8>, RepoFileError> {
    use std::io::Read;
    let io = |source| RepoFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .map_err(io)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(RepoFileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// The version as Odoo's `load_manifest` leaves it: `adapt_version` for every addon; an
/// invalid version is an error for an installable addon and kept as written otherwise.
fn normalise(series: Series, file: &Path, manifest: &Manifest) -> Result<String, Diagnostic> {
    match adapt_version(series, &manifest.version) {
        Ok(v) => Ok(v),
        Err(e) if manifest.installable => Err(version_error(file, manifest, &e)),
        Err(_) => Ok(manifest.version.clone()),
    }
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

/// Why no series could be inferred: no version has a series prefix, or the prefixes
/// name series odoo-ci does not support.
fn series_unknown<'a>(versions: impl Iterator<Item = &'a str>) -> Diagnostic {
    let mut prefixes: Vec<String> = versions
        .filter_map(|v| {
            let mut parts = v.splitn(3, '.');
            let (major, minor) = (parts.next()?, parts.next()?);
            parts.next()?;
            (minor == "0" && !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("{major}.0"))
        })
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let message = if prefixes.is_empty() {
        "cannot tell the Odoo series: no manifest version starts with one".to_string()
    } else {
        format!(
            "cannot tell the Odoo series: manifest versions start with {}, which odoo-ci does not support (14.0 to 19.0)",
            prefixes.join(", ")
        )
    };
    Diagnostic::new(DiagKind::InvalidValue, message)
        .hint("pass --series 17.0 (or set `odoo.series` in .odoo-ci.yml)")
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
