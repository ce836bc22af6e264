//! Turning results into what people read: terminal text, JUnit, Markdown summaries.

pub mod files;
pub mod fold;
pub mod junit;
pub mod log_text;
pub mod plan_text;
pub mod summary;
pub mod terminal;
