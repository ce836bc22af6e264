//! What only the production stage (a deployment, or a rollback) reports. The whole
//! [`crate::result::StageResult`] is also kept on the deployment's snapshot: production's
//! history lives where its state lives.

use serde::{Deserialize, Serialize};

use crate::executor::bluegreen::Colour;
use crate::plan::updates::ModuleChanges;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Push,
    Manual,
    Rollback,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductionDetail {
    pub id: String,
    pub trigger: Trigger,
    pub database: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub image: String,
    /// The release volume the image runs with (the commit's files, when nothing was
    /// built: see `odoo-ci`'s `release` step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_volume: Option<String>,
    /// The image that served before this deployment (what a rollback to its snapshot runs).
    #[serde(default)]
    pub previous_image: Option<String>,
    /// The release volume of the release that served before this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_release_volume: Option<String>,
    /// The pre-deploy snapshot.
    #[serde(default)]
    pub snapshot: Option<String>,
    #[serde(default)]
    pub active_colour: Option<Colour>,
    #[serde(default)]
    pub rolled_back: bool,
    #[serde(default)]
    pub changes: ModuleChanges,
}
