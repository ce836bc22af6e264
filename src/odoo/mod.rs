//! Reading what Odoo writes: log records, test results, failures and the build colour.

pub mod analyzer;
mod fast_hash;
pub mod fatal;
pub mod header;
pub mod lines;
pub mod result;
pub mod traceback;

pub use analyzer::{Analyzer, Event, Options, Progress};
pub use result::{Colour, LogResult};

use std::io::BufRead;

/// Reads a whole log from `reader` and gives the result.
pub fn analyze(reader: impl BufRead, opts: Options) -> std::io::Result<LogResult> {
    let mut analyzer = Analyzer::new(opts);
    lines::LineSplitter::new(reader).for_each_line(|line| {
        analyzer.feed_line(line);
    })?;
    Ok(analyzer.finish())
}
