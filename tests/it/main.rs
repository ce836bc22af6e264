//! The integration tests, one binary: each file is a module, `common` is compiled once.
//! Run one file's tests with `cargo test --test it <file>::`, e.g.
//! `cargo test --test it development::`.

mod common;

mod architecture;
mod backups;
mod bad_input;
mod check_log;
mod cli_reference;
mod development;
mod doctor;
mod examples;
mod fuzz;
mod guard;
mod install;
mod plan;
mod previews;
mod production;
mod release_volume;
mod report;
mod security;
mod staging;
mod submodules;
mod swarm;
