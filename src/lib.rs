//! odoo-ci: the Odoo.sh pipeline (development, staging, production) inside your own CI.
//!
//! The flow: [`context`] + [`config`] + [`repo`] + [`addons`] → [`plan`] → stages → result →
//! report. The plan is a pure function of facts; everything after it carries it out.

pub mod addons;
pub mod bump;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod diag;
pub mod exit;
pub mod guard;
pub mod odoo;
pub mod plan;
pub mod project;
pub mod repo;
pub mod report;
pub mod style;
