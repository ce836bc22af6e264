//! Folders odoo-ci fills with caches mark themselves as caches, as the Cache Directory
//! Tagging Specification says (<https://bford.info/cachedir/>): a `CACHEDIR.TAG` file that
//! begins with the signature. `tar --exclude-caches`, backup tools and odoo-ci's own image
//! context all skip such a folder, whatever path or flag named it.

use std::path::{Path, PathBuf};

pub const TAG_FILE: &str = "CACHEDIR.TAG";
const SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";

/// Marks `dir` (which exists) as a cache folder; an existing tag is left as it is.
pub fn tag(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(TAG_FILE);
    if is_tagged(dir) {
        return Ok(());
    }
    std::fs::write(
        path,
        format!(
            "{SIGNATURE}\n# This file is a cache directory tag created by odoo-ci.\n\
             # For information about cache directory tags see https://bford.info/cachedir/\n"
        ),
    )
}

/// `dir` holds a `CACHEDIR.TAG` that begins with the signature.
pub fn is_tagged(dir: &Path) -> bool {
    std::fs::read(dir.join(TAG_FILE))
        .map(|bytes| bytes.starts_with(SIGNATURE.as_bytes()))
        .unwrap_or(false)
}

/// `$ODOO_CI_CACHE_DIR`, else `$XDG_CACHE_HOME/odoo-ci`, else `~/.cache/odoo-ci`.
pub fn root() -> PathBuf {
    if let Some(d) = std::env::var_os("ODOO_CI_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("odoo-ci");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/odoo-ci"))
        .unwrap_or_else(|| std::env::temp_dir().join("odoo-ci"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_folder_is_known_by_its_signature_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_tagged(dir.path()));
        std::fs::write(dir.path().join(TAG_FILE), "not a tag").unwrap();
        assert!(
            !is_tagged(dir.path()),
            "a file without the signature is no tag"
        );
        std::fs::remove_file(dir.path().join(TAG_FILE)).unwrap();
        tag(dir.path()).unwrap();
        assert!(is_tagged(dir.path()));
    }
}
