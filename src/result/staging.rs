//! What only the staging stage reports.

use serde::{Deserialize, Serialize};

use crate::config::PushMode;
use crate::neutralize::Check;
use crate::plan::updates::ModuleChanges;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StagingDetail {
    #[serde(default)]
    pub push: PushMode,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Where the mail staging sent is read: the web UI of the catcher odoo-ci runs.
    #[serde(default)]
    pub mail_url: Option<String>,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub copy: Option<CopyInfo>,
    #[serde(default)]
    pub neutralization: Vec<Check>,
    #[serde(default)]
    pub changes: ModuleChanges,
    /// Older staging databases of this branch dropped by retention.
    #[serde(default)]
    pub pruned: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyInfo {
    /// `dump-restore`.
    pub method: String,
    pub source: String,
    pub bytes: u64,
    pub millis: u64,
    pub filestore_files: u64,
}
