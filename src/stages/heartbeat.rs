//! A line now and then from a long step (a template build, a health check), so a CI log
//! shows it is at work: no carriage-return spinner, a line at most every period.

use std::time::Instant;

/// How often a long build says it is still at work.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);

/// Says, at most every `period`, that a long step is still at work: a line for a CI log
/// (no carriage-return spinner), counted in log lines seen.
pub struct Heartbeat {
    started: Instant,
    last: Instant,
    period: std::time::Duration,
    pub lines: u64,
}

impl Heartbeat {
    pub fn every(period: std::time::Duration) -> Heartbeat {
        let now = Instant::now();
        Heartbeat {
            started: now,
            last: now,
            period,
            lines: 0,
        }
    }

    /// Counts a line; the seconds since the start when a beat is due.
    pub fn due(&mut self) -> Option<u64> {
        self.lines += 1;
        if self.last.elapsed() < self.period {
            return None;
        }
        self.last = Instant::now();
        Some(self.started.elapsed().as_secs())
    }
}

/// What a long copy of a database passes as its progress (the bytes streamed so far): a
/// line `<step>: N MiB streamed from <source> in S s` at most every [`HEARTBEAT`].
pub fn streaming<'a>(
    step: &'a str,
    source: &'a str,
    reporter: &'a mut dyn crate::result::Reporter,
) -> impl FnMut(u64) + 'a {
    streaming_every(HEARTBEAT, step, source, reporter)
}

fn streaming_every<'a>(
    period: std::time::Duration,
    step: &'a str,
    source: &'a str,
    reporter: &'a mut dyn crate::result::Reporter,
) -> impl FnMut(u64) + 'a {
    let mut beat = Heartbeat::every(period);
    move |bytes| {
        if let Some(secs) = beat.due() {
            reporter.progress(&format!(
                "{step}: {} MiB streamed from {source} in {secs} s",
                bytes >> 20
            ));
        }
    }
}

/// The line of a health check still waiting.
pub fn waiting(path: &str, secs: u64, timeout_secs: u64) -> String {
    format!("health: waiting for {path} to answer 200 ({secs} s of {timeout_secs} s)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_beats_once_a_period_and_counts_every_line() {
        let mut quiet = Heartbeat::every(std::time::Duration::from_secs(3600));
        assert_eq!((quiet.due(), quiet.due()), (None, None));
        assert_eq!(quiet.lines, 2);
        let mut eager = Heartbeat::every(std::time::Duration::ZERO);
        assert!(eager.due().is_some() && eager.due().is_some());
    }

    #[derive(Default)]
    struct Lines(Vec<String>);

    impl crate::result::Reporter for Lines {
        fn progress(&mut self, line: &str) {
            self.0.push(line.to_string());
        }
    }

    #[test]
    fn a_long_copy_says_how_much_it_has_streamed_once_a_period() {
        let mut lines = Lines::default();
        let mut quiet = streaming("snapshot", "production", &mut lines);
        quiet(5 << 20);
        drop(quiet);
        assert!(lines.0.is_empty(), "nothing before the first period");
        let mut eager = streaming_every(std::time::Duration::ZERO, "snapshot", "prod", &mut lines);
        eager(5 << 20);
        drop(eager);
        assert_eq!(lines.0, ["snapshot: 5 MiB streamed from prod in 0 s"]);
    }
}
