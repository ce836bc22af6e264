//! The sign in a server's log that it will never serve. Odoo 16–18 load the database's
//! registry when the server starts with `-d` (`odoo/service/server.py`,
//! `preload_registries`); an addon that raises on import, a missing dependency or a broken
//! data file makes it log ``CRITICAL … Failed to initialize database `<db>`.`` with the
//! traceback within a second or two, and the process keeps running and listening, answering
//! 500. Waiting for a health check to time out then only wastes its whole timeout.

/// At most this many lines of the traceback go into the excerpt.
const EXCERPT_LINES: usize = 30;

/// The fatal record and the traceback under it, when `log` has one.
pub fn fatal_excerpt(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines.iter().position(|l| is_fatal(l))?;
    let rest = lines[at + 1..]
        .iter()
        .take_while(|l| !is_record(l))
        .take(EXCERPT_LINES);
    let mut out = vec![lines[at]];
    out.extend(rest);
    Some(out.join("\n"))
}

fn is_fatal(line: &str) -> bool {
    line.contains(" CRITICAL ") && line.contains("Failed to initialize database")
}

/// A log record's first line: `YYYY-MM-DD HH:MM:SS,mmm PID LEVEL …`.
fn is_record(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 23 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fatal_record_comes_with_its_traceback_and_nothing_after() {
        let log = "2026-01-01 10:00:00,001 7 INFO prod odoo.modules.loading: loading 12 modules...\n\
2026-01-01 10:00:00,500 7 CRITICAL prod odoo.service.server: Failed to initialize database `prod`.\n\
Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\nImportError: broken\n\
2026-01-01 10:00:00,600 7 INFO prod werkzeug: HTTP service running\n";
        let excerpt = fatal_excerpt(log).unwrap();
        assert!(excerpt.starts_with("2026-01-01 10:00:00,500 7 CRITICAL"));
        assert!(excerpt.ends_with("ImportError: broken"), "{excerpt}");
        assert_eq!(
            fatal_excerpt("2026-01-01 10:00:00,001 7 INFO prod x: fine\n"),
            None
        );
    }
}
