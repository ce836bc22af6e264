//! Turning results into what people read: terminal text, JUnit, Markdown summaries.

pub mod plan_text;
