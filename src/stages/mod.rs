//! The stages: each carries out what the plan says for its kind of branch.

pub mod development;
pub mod heartbeat;
pub mod invocation;
pub mod previews;
pub mod production;
pub mod runner;
pub mod runtime;
pub mod staging;
pub mod staging_dbs;
pub mod staging_route;
pub mod static_times;
pub mod template_assets;
pub mod template_cache;
