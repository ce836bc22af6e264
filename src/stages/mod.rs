//! The stages: each carries out what the plan says for its kind of branch.

pub mod development;
pub mod production;
pub mod runtime;
pub mod shard;
pub mod staging;
pub mod updates;
