//! What only the development stage reports.

use serde::{Deserialize, Serialize};

use crate::odoo::result::LogResult;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DevDetail {
    /// The shard this run tested (`--shard K/N`): hosts report each shard on its own.
    #[serde(default)]
    pub shard: Option<crate::plan::Shard>,
    #[serde(default)]
    pub tested: Vec<String>,
    #[serde(default)]
    pub installed: Vec<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub template: Option<TemplateInfo>,
    /// What the Odoo log said, when Odoo ran.
    #[serde(default)]
    pub log: Option<LogResult>,
    /// The screenshots failing tours saved, in the output folder (`screenshots/…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenshots: Vec<String>,
    /// The preview this build stays up as (`development.keep`), when it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Box<PreviewInfo>>,
}

/// A build kept as its branch's preview.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreviewInfo {
    pub database: String,
    pub url: String,
    /// When it may be dropped (Unix seconds).
    pub until: u64,
    /// Where the mail it sends is read (`previews.mail_catcher`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_url: Option<String>,
    /// Other previews the budget dropped and stopped.
    #[serde(default)]
    pub dropped: Vec<String>,
    #[serde(default)]
    pub stopped: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub name: String,
    /// The server already had it.
    pub hit: bool,
    /// Restored from this template cache folder (`development.template_cache`).
    #[serde(default)]
    pub restored_from: Option<String>,
    /// Built, then saved to this template cache folder.
    #[serde(default)]
    pub saved_to: Option<String>,
    /// The server had the database, carried in the managed server's cluster saved in the
    /// template cache folder; its files came from that folder (`restored_from`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_cluster: bool,
}
