//! The repository's addons: discovery, manifests, versions and the dependency graph.

pub mod at_commit;
pub mod content_hash;
pub mod discovery;
pub mod graph;
pub mod layout;
pub mod manifest;
pub mod pyliteral;
pub mod tours;
pub mod version;

pub use discovery::{discover, Addon, AddonSet};
pub use graph::AddonGraph;
pub use version::Series;
