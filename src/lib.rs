//! odoo-ci: the Odoo.sh pipeline (development, staging, production) inside your own CI.
//!
//! The flow: [`context`] + [`config`] + [`repo`] + [`addons`] → [`plan`] → stages → result →
//! report. The plan is a pure function of facts; everything after it carries it out.

pub mod addons;
pub mod backups;
pub mod base;
pub mod bump;
pub mod cachedir;
pub mod cancel;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod context;
pub mod db;
pub mod diag;
pub mod executor;
pub mod exit;
pub mod filestore;
pub mod guard;
pub mod health;
pub mod hosts;
pub mod image;
pub mod names;
pub mod neutralize;
pub mod odoo;
pub mod plan;
pub mod project;
pub mod proxy;
pub mod registry_auth;
pub mod repo;
pub mod repo_file;
pub mod report;
pub mod requirements;
pub mod result;
pub mod secrets;
pub mod snapshots;
pub mod stages;
pub mod style;
pub mod targets;
