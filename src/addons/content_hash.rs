//! A content hash per repo addon, for `update_mode: hash`: an addon whose files changed is
//! updated even when its version did not go up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::AddonSet;

/// A content hash per repo addon (for `update_mode: hash`).
pub fn of_all(addons: &AddonSet) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for addon in &addons.addons {
        let mut files = Vec::new();
        collect_files(&addon.dir, &addon.dir, &mut files);
        files.sort();
        let mut h = Sha256::new();
        for (rel, path) in files {
            h.update(rel.as_bytes());
            h.update([0]);
            if let Ok(bytes) = std::fs::read(&path) {
                h.update(&bytes);
            }
            h.update([0]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        out.insert(addon.name.clone(), hex);
    }
    out
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((rel, path));
        }
    }
}
