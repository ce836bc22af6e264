//! The base a push or merge request is compared with: what the plan (updates) and the
//! version guard (unbumped changes) both read.

use std::collections::BTreeMap;

/// What the repository looked like at the base of the push or merge request.
#[derive(Debug, Clone, Default)]
pub struct BaseFacts {
    /// The ref or SHA as given.
    pub reference: String,
    pub sha: String,
    /// Normalised version of each addon that existed at the base.
    pub versions: BTreeMap<String, String>,
    /// Changed files of each addon between base and head, relative to the addon folder.
    pub changed_files: BTreeMap<String, Vec<String>>,
    /// Each addon's manifest, relative to the repository root (for annotations).
    pub manifest_paths: BTreeMap<String, String>,
}
