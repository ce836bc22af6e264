//! The streaming Odoo log analyzer: feed it lines as they come (from a file, stdin or a live
//! process), read progress at any time, and finish with a [`LogResult`]. Memory stays flat:
//! INFO records are judged on their header line alone; only WARNING and worse keep their
//! continuation lines, each capped.

use std::collections::HashMap;

use super::fast_hash::FastMap;

use regex::Regex;

use super::header::{self, Header, Level};
use super::result::*;
use super::traceback::{last_line, PathMap};
use crate::config::WarningPolicy;

/// Continuation text kept per record.
const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Problems and warning groups kept (the rest are counted).
const MAX_PROBLEMS: usize = 500;
/// Failures whose traceback is kept whole; later ones keep its head and its tail, so
/// memory stays bounded however many tests fail.
const FULL_TRACEBACKS: usize = 100;
/// What a later failure keeps of its traceback.
const CUT_TRACEBACK_BYTES: usize = 4 * 1024;
const MAX_WARNING_GROUPS: usize = 1000;
/// Characters of a warning's first line used to group it.
const WARNING_KEY_CHARS: usize = 300;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// WARNING records whose `logger: message` matches one of these do not count.
    pub ignore: Vec<Regex>,
    pub path_map: PathMap,
    /// Red when no test summary line (or no `Modules loaded.`) shows up.
    pub tests_expected: bool,
    /// The Odoo process's exit code, when known.
    pub exit_code: Option<i32>,
    pub warnings: WarningPolicy,
    /// A log that ends while a test runs is red unless this is set (e.g. a log cut on
    /// purpose); the unfinished test is never counted as passed either way.
    pub allow_truncated: bool,
}

/// Something worth showing live; indices point into the analyzer's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    TestStarted(usize),
    Failure(usize),
    Problem(usize),
    Summary,
}

/// Live counts for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub records: u64,
    pub tests_started: u64,
    pub failures: u64,
    pub problems: u64,
    pub warnings: u64,
}

struct Pending {
    level: Level,
    logger: String,
    message: String,
    continuation: String,
}

#[derive(Default)]
struct Summary {
    failed: u64,
    errors: u64,
    total: u64,
}

pub struct Analyzer {
    opts: Options,
    scratch: Vec<u8>,
    pending: Option<Pending>,
    records: u64,
    foreign_lines: u64,
    cases: Vec<TestCase>,
    /// `module` NUL `Class.method` → index in `cases`.
    case_index: FastMap<String, usize>,
    /// Where that key is built for a look-up, so a test seen before costs no allocation.
    case_key: String,
    running: Option<(usize, i64)>,
    failures: Vec<Failure>,
    problems: Vec<Problem>,
    problems_dropped: u64,
    warnings_total: u64,
    warnings_ignored: u64,
    /// logger → first characters of the message → count.
    warning_groups: FastMap<String, FastMap<String, u64>>,
    warning_group_count: usize,
    modules: Vec<ModuleStats>,
    module_index: HashMap<String, usize>,
    summary: Option<Summary>,
    skipped: u64,
    modules_loaded: bool,
    test_failure_records: u64,
}

impl Analyzer {
    pub fn new(opts: Options) -> Analyzer {
        Analyzer {
            opts,
            scratch: Vec::new(),
            pending: None,
            records: 0,
            foreign_lines: 0,
            cases: Vec::new(),
            case_index: FastMap::default(),
            case_key: String::new(),
            running: None,
            failures: Vec::new(),
            problems: Vec::new(),
            problems_dropped: 0,
            warnings_total: 0,
            warnings_ignored: 0,
            warning_groups: FastMap::default(),
            warning_group_count: 0,
            modules: Vec::new(),
            module_index: HashMap::new(),
            summary: None,
            skipped: 0,
            modules_loaded: false,
            test_failure_records: 0,
        }
    }

    pub fn case(&self, i: usize) -> &TestCase {
        &self.cases[i]
    }

    pub fn failure(&self, i: usize) -> &Failure {
        &self.failures[i]
    }

    pub fn problem(&self, i: usize) -> &Problem {
        &self.problems[i]
    }

    pub fn progress(&self) -> Progress {
        Progress {
            records: self.records,
            tests_started: self.cases.len() as u64,
            failures: self.failures.len() as u64,
            problems: self.problems.len() as u64 + self.problems_dropped,
            warnings: self.warnings_total,
        }
    }

    /// Feeds one line (without its newline). Returns up to two events.
    pub fn feed_line(&mut self, line: &[u8]) -> [Option<Event>; 2] {
        let mut scratch = std::mem::take(&mut self.scratch);
        let line = if memchr::memchr(0x1b, line).is_some() {
            header::strip_ansi(line, &mut scratch);
            &scratch[..]
        } else {
            line
        };
        let events = match header::parse(line) {
            Some(h) => {
                let done = self.flush();
                self.records += 1;
                [done, self.on_header(&h)]
            }
            None => {
                if let Some(p) = &mut self.pending {
                    // A warning is counted by its first line: its continuation is never read.
                    if p.level != Level::Warning && p.continuation.len() < MAX_RECORD_BYTES {
                        let room = MAX_RECORD_BYTES - p.continuation.len();
                        push_lossy(&mut p.continuation, &line[..line.len().min(room)]);
                        p.continuation.push('\n');
                    }
                } else if self.records == 0 {
                    self.foreign_lines += 1;
                }
                [None, None]
            }
        };
        self.scratch = scratch;
        events
    }

    fn on_header(&mut self, h: &Header<'_>) -> Option<Event> {
        // Module loading does not run inside a test: an at_install test ends, at the latest,
        // when Odoo goes on loading modules (its time once ran to the next test, seconds
        // of other modules' loading later).
        if h.logger.starts_with(b"odoo.modules.") {
            self.end_running(h.time);
        }
        match h.level {
            Level::Debug => None,
            Level::Info => self.on_info(h),
            _ => {
                self.pending = Some(Pending {
                    level: h.level,
                    logger: lossy(h.logger),
                    message: lossy(h.message),
                    continuation: String::new(),
                });
                None
            }
        }
    }

    fn on_info(&mut self, h: &Header<'_>) -> Option<Event> {
        let logger = h.logger;
        if let Some(rest) = logger.strip_prefix(b"odoo.addons.") {
            if let Some(test) = h.message.strip_prefix(b"Starting ") {
                let test = test.strip_suffix(b" ...").unwrap_or(test);
                let module = rest.split(|b| *b == b'.').next().unwrap_or(rest);
                return Some(self.start_test(module, logger, test, h.time));
            }
            if let Some(skip) = h.message.strip_prefix(b"skipped ") {
                let module = lossy(rest.split(|b| *b == b'.').next().unwrap_or(rest));
                let text = lossy(skip);
                let (test, reason) = text.split_once(" : ").unwrap_or((&text, ""));
                let i = self.case_for(&module, &lossy(logger), test);
                self.cases[i].status = CaseStatus::Skipped;
                self.cases[i].message = Some(reason.to_string());
                self.skipped += 1;
            }
            return None;
        }
        match logger {
            b"odoo.tests.stats" => {
                self.end_running(h.time);
                self.on_stats(&lossy(h.message));
                None
            }
            b"odoo.tests.result" => {
                self.end_running(h.time);
                self.on_summary(&lossy(h.message)).then_some(Event::Summary)
            }
            // 14.0 and 15.0 print the same line from other loggers: read it by its text.
            _ if h.message.ends_with(b"'")
                && memchr::memmem::find(h.message, b" tests when loading database ").is_some() =>
            {
                self.end_running(h.time);
                self.on_summary(&lossy(h.message)).then_some(Event::Summary)
            }
            b"odoo.modules.loading" if h.message == b"Modules loaded." => {
                self.end_running(h.time);
                self.modules_loaded = true;
                None
            }
            _ => None,
        }
    }

    fn start_test(&mut self, module: &[u8], logger: &[u8], test: &[u8], time: &[u8]) -> Event {
        let now = header::millis(time);
        self.end_running_at(now);
        let i = match (std::str::from_utf8(module), std::str::from_utf8(test)) {
            (Ok(module), Ok(test)) => match self.known_case(module, test) {
                Some(i) => i,
                None => self.case_for(module, &lossy(logger), test),
            },
            _ => self.case_for(&lossy(module), &lossy(logger), &lossy(test)),
        };
        if let Some(start) = now {
            self.running = Some((i, start));
        }
        Event::TestStarted(i)
    }

    /// The case of `module`'s test `test` (a description), if it was seen before.
    fn known_case(&mut self, module: &str, test: &str) -> Option<usize> {
        self.case_key.clear();
        self.case_key.push_str(module);
        self.case_key.push('\0');
        self.case_key.push_str(test_id(test));
        self.case_index.get(self.case_key.as_str()).copied()
    }

    fn case_for(&mut self, module: &str, logger: &str, test: &str) -> usize {
        if let Some(i) = self.known_case(module, test) {
            return i;
        }
        let key = self.case_key.clone();
        let test = test_id(test);
        let (class, method) = test.split_once('.').unwrap_or(("", test));
        self.cases.push(TestCase {
            module: module.to_string(),
            logger: logger.to_string(),
            class: class.to_string(),
            method: method.to_string(),
            status: CaseStatus::Passed,
            seconds: None,
            file: None,
            line: None,
            message: None,
            traceback: None,
        });
        self.case_index.insert(key, self.cases.len() - 1);
        self.cases.len() - 1
    }

    fn end_running(&mut self, time: &[u8]) {
        if self.running.is_some() {
            self.end_running_at(header::millis(time));
        }
    }

    fn end_running_at(&mut self, now: Option<i64>) {
        if let Some((i, start)) = self.running.take() {
            if let Some(end) = now {
                self.cases[i].seconds = Some((end - start).max(0) as f64 / 1000.0);
            }
        }
    }

    /// `<addon>: <n> tests <s>s <q> queries`
    fn on_stats(&mut self, message: &str) {
        let Some((name, rest)) = message.split_once(": ") else {
            return;
        };
        let mut words = rest.split_whitespace();
        let tests = words.next().and_then(|n| n.parse().ok());
        let seconds = words
            .nth(1)
            .and_then(|s| s.strip_suffix('s'))
            .and_then(|s| s.parse().ok());
        let m = self.module_stats(name);
        m.seconds = seconds;
        if m.tests.is_none() {
            m.tests = tests;
        }
    }

    /// A module's stats, found through an index: a linear search made 200,000 stats lines
    /// of distinct modules quadratic.
    fn module_stats(&mut self, name: &str) -> &mut ModuleStats {
        let i = match self.module_index.get(name) {
            Some(&i) => i,
            None => {
                self.modules.push(ModuleStats {
                    name: name.to_string(),
                    ..ModuleStats::default()
                });
                self.module_index
                    .insert(name.to_string(), self.modules.len() - 1);
                self.modules.len() - 1
            }
        };
        &mut self.modules[i]
    }

    /// `<f> failed, <e> error(s) of <n> tests when loading database '<db>'`
    fn on_summary(&mut self, message: &str) -> bool {
        let Some(counts) = parse_summary(message) else {
            return false;
        };
        let s = self.summary.get_or_insert_with(Summary::default);
        s.failed += counts.0;
        s.errors += counts.1;
        s.total += counts.2;
        true
    }

    /// Completes the pending WARNING/ERROR/CRITICAL record.
    fn flush(&mut self) -> Option<Event> {
        let p = self.pending.take()?;
        if p.level == Level::Warning {
            return self.on_warning(p);
        }
        if let Some(rest) = p.message.strip_prefix("FAIL: ") {
            return Some(self.on_test_failure(&p, rest.to_string(), FailureKind::Failure));
        }
        if let Some(rest) = p.message.strip_prefix("ERROR: ") {
            return Some(self.on_test_failure(&p, rest.to_string(), FailureKind::Error));
        }
        let summary_text = p.message.contains(" tests when loading database ");
        match p.logger.as_str() {
            "odoo.tests.result" if self.on_summary(&p.message) => return Some(Event::Summary),
            _ if summary_text && self.on_summary(&p.message) => return Some(Event::Summary),
            "odoo.modules.loading" => {
                if let Some((name, counts)) = parse_module_summary(&p.message) {
                    let m = self.module_stats(&name);
                    m.failures = Some(counts.0);
                    m.errors = Some(counts.1);
                    m.tests = Some(counts.2);
                    self.test_failure_records += 1;
                    return None;
                }
                if p.message.starts_with("At least one test failed") {
                    self.test_failure_records += 1;
                    return None;
                }
            }
            _ => {}
        }
        self.on_problem(p)
    }

    fn on_warning(&mut self, p: Pending) -> Option<Event> {
        if p.logger == "odoo.tests.result" || p.message.contains(" tests when loading database ") {
            self.on_summary(&p.message);
        }
        if p.message.starts_with("Test suite halted") {
            return self.push_problem(ProblemKind::TestSuiteHalted, &p, None, None);
        }
        let first = p.message.lines().next().unwrap_or("");
        if !self.opts.ignore.is_empty() {
            let text = format!("{}: {first}", p.logger);
            if self.opts.ignore.iter().any(|re| re.is_match(&text)) {
                self.warnings_ignored += 1;
                return None;
            }
        }
        self.warnings_total += 1;
        let end = first
            .char_indices()
            .nth(WARNING_KEY_CHARS)
            .map_or(first.len(), |(i, _)| i);
        self.count_warning(&p.logger, &first[..end]);
        None
    }

    /// One more warning of `logger` starting with `key`; past [`MAX_WARNING_GROUPS`]
    /// kinds, counted as "more kinds of warnings".
    fn count_warning(&mut self, logger: &str, key: &str) {
        if let Some(n) = self
            .warning_groups
            .get_mut(logger)
            .and_then(|m| m.get_mut(key))
        {
            *n += 1;
            return;
        }
        let (logger, key) = if self.warning_group_count < MAX_WARNING_GROUPS {
            (logger, key)
        } else {
            ("(other)", "more kinds of warnings")
        };
        let count = self
            .warning_groups
            .entry(logger.to_string())
            .or_default()
            .entry(key.to_string())
            .or_insert(0);
        if *count == 0 {
            self.warning_group_count += 1;
        }
        *count += 1;
    }

    fn on_test_failure(&mut self, p: &Pending, description: String, kind: FailureKind) -> Event {
        self.test_failure_records += 1;
        let (module, logger, test) = describe_test(&p.logger, &description);
        let mut traceback = p.continuation.trim_end().to_string();
        let message = exception_line(&traceback)
            .unwrap_or(&p.message)
            .trim()
            .to_string();
        if self.failures.len() >= FULL_TRACEBACKS {
            traceback = cut_middle(&traceback, CUT_TRACEBACK_BYTES);
        }
        let location = self.opts.path_map.failure_location(&traceback, &module);
        let (file, line) = match location {
            Some((f, l)) => (Some(f), Some(l)),
            None => (None, None),
        };
        let i = self.case_for(&module, &logger, &test);
        let case = &mut self.cases[i];
        case.status = match kind {
            FailureKind::Failure => CaseStatus::Failed,
            FailureKind::Error => CaseStatus::Error,
        };
        case.file = file.clone();
        case.line = line;
        case.message = Some(message.clone());
        // Kept once, in the failure (JUnit finds it there).
        case.traceback = None;
        self.failures.push(Failure {
            module,
            test: test_id(&test).to_string(),
            kind,
            file,
            line,
            message,
            traceback,
        });
        Event::Failure(self.failures.len() - 1)
    }

    fn on_problem(&mut self, p: Pending) -> Option<Event> {
        let text = format!("{}\n{}", p.message, p.continuation);
        let detail = last_line(&p.continuation).map(|l| l.trim().to_string());
        let parse_error = self.opts.path_map.parse_error_location(&text);
        let kind = if parse_error.is_some() || text.contains("ParseError") {
            ProblemKind::DataFileError
        } else if text.contains("ModuleNotFoundError") || text.contains("ImportError") {
            ProblemKind::ImportError
        } else if p.message.starts_with("Some modules are not loaded")
            || p.message
                .starts_with("Some modules have inconsistent states")
        {
            ProblemKind::ModulesNotLoaded
        } else if p.message.starts_with("Failed to load registry")
            || p.message.starts_with("Failed to initialize database")
        {
            ProblemKind::RegistryLoadFailed
        } else {
            ProblemKind::ErrorRecord
        };
        let location =
            parse_error.or_else(|| self.opts.path_map.failure_location(&p.continuation, ""));
        self.push_problem(kind, &p, location, detail)
    }

    fn push_problem(
        &mut self,
        kind: ProblemKind,
        p: &Pending,
        location: Option<(String, u32)>,
        detail: Option<String>,
    ) -> Option<Event> {
        if self.problems.len() >= MAX_PROBLEMS {
            self.problems_dropped += 1;
            return None;
        }
        let (file, line) = match location {
            Some((f, l)) => (Some(f), Some(l)),
            None => (None, None),
        };
        self.problems.push(Problem {
            kind,
            level: p.level.as_str().to_string(),
            logger: p.logger.clone(),
            message: p.message.lines().next().unwrap_or("").to_string(),
            file,
            line,
            detail,
        });
        Some(Event::Problem(self.problems.len() - 1))
    }

    /// Ends the log of a process that exited with `exit_code` and gives the verdict.
    pub fn finish_with_exit(mut self, exit_code: Option<i32>) -> LogResult {
        self.opts.exit_code = exit_code;
        self.finish()
    }

    /// Ends the log and gives the verdict.
    pub fn finish(mut self) -> LogResult {
        let _ = self.flush();
        let unfinished = self.unfinished_test();
        let tests = self.test_counts();
        let (mut colour, mut reasons) = self.verdict(&tests);
        if let Some(name) = unfinished {
            if !self.opts.allow_truncated {
                colour = Colour::Red;
                reasons.insert(0, format!(
                    "the log ends while `{name}` runs: the run was cut short (pass --allow-truncated when that is expected)"
                ));
            }
        }
        let groups = warning_groups(std::mem::take(&mut self.warning_groups));
        LogResult {
            colour,
            reasons,
            tests,
            failures: self.failures,
            problems: self.problems,
            warnings: Warnings {
                total: self.warnings_total,
                ignored: self.warnings_ignored,
                groups,
            },
            modules: self.modules,
            summary_seen: self.summary.is_some(),
            modules_loaded: self.modules_loaded,
            records: self.records,
            foreign_lines: self.foreign_lines,
            cases: self.cases,
        }
    }

    /// The counts: Odoo's summary line when the log has one (never below what the log
    /// showed failing), else what the log showed.
    fn test_counts(&self) -> TestCounts {
        let failed_seen = self
            .failures
            .iter()
            .filter(|f| f.kind == FailureKind::Failure)
            .count() as u64;
        let errors_seen = self.failures.len() as u64 - failed_seen;
        // A setUpClass/tearDownClass/…Module error is one of Odoo's errors but no test of
        // its testsRun (unittest reports it through `_ErrorHolder`, without `startTest`).
        let fixture_errors = self.failures.iter().filter(|f| is_fixture(&f.test)).count() as u64;
        match &self.summary {
            Some(s) => {
                let (failed, errors) = (s.failed.max(failed_seen), s.errors.max(errors_seen));
                let in_tests_run = failed + errors.saturating_sub(fixture_errors);
                TestCounts {
                    total: s.total,
                    failed,
                    errors,
                    skipped: self.skipped,
                    passed: s.total.saturating_sub(in_tests_run + self.skipped),
                }
            }
            None => {
                let total = self.cases.len() as u64 - fixture_errors;
                let in_tests_run = failed_seen + errors_seen - fixture_errors;
                TestCounts {
                    total,
                    failed: failed_seen,
                    errors: errors_seen,
                    skipped: self.skipped,
                    passed: total.saturating_sub(in_tests_run + self.skipped),
                }
            }
        }
    }

    /// The test that was running when the log ended, if the log ended mid-run (no summary
    /// line after it): it is counted as skipped, never as passed.
    fn unfinished_test(&mut self) -> Option<String> {
        let (i, _) = self.running.take()?;
        if self.summary.is_some() || self.cases[i].status != CaseStatus::Passed {
            return None;
        }
        let case = &mut self.cases[i];
        case.status = CaseStatus::Skipped;
        case.message = Some("unfinished: the log ended while it ran".to_string());
        self.skipped += 1;
        Some(format!("{}.{}", case.class, case.method))
    }

    fn verdict(&self, tests: &TestCounts) -> (Colour, Vec<String>) {
        let mut red = Vec::new();
        if self.records == 0 {
            let extra = if self.foreign_lines > 0 {
                format!(" ({} lines in another format)", self.foreign_lines)
            } else {
                " (the log is empty)".to_string()
            };
            red.push(format!("no Odoo log records found{extra}"));
        }
        if tests.failed + tests.errors > 0 {
            red.push(format!(
                "{} failed, {} errored of {} tests",
                tests.failed, tests.errors, tests.total
            ));
        } else if self.test_failure_records > 0 {
            red.push("the log reports failed tests".to_string());
        }
        for p in &self.problems {
            let at = match (&p.file, p.line) {
                (Some(f), Some(l)) => format!(" at {f}:{l}"),
                _ => String::new(),
            };
            let detail = p
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            red.push(format!(
                "{} {}: {}{at}{detail}",
                p.level, p.logger, p.message
            ));
        }
        if self.problems_dropped > 0 {
            red.push(format!("{} more ERROR records", self.problems_dropped));
        }
        if let Some(code) = self.opts.exit_code.filter(|c| *c != 0) {
            red.push(format!("Odoo exited with code {code}"));
        }
        if self.opts.tests_expected && self.records > 0 {
            if self.summary.is_none() {
                red.push("no test summary line: tests were expected, but Odoo never reported their result".to_string());
            }
            if !self.modules_loaded && self.test_failure_records == 0 {
                red.push("the registry never finished loading (no `Modules loaded.`)".to_string());
            }
        }
        let warning =
            (self.warnings_total > 0).then(|| format!("{} warnings", self.warnings_total));
        let browser = self.browser_tests_skipped();
        let (colour, mut reasons) = match (red.is_empty(), warning, self.opts.warnings) {
            (false, w, _) => {
                red.extend(w);
                (Colour::Red, red)
            }
            (true, Some(w), WarningPolicy::Red) => (Colour::Red, vec![w]),
            (true, Some(w), WarningPolicy::Yellow) => (Colour::Yellow, vec![w]),
            (true, None, _) if browser.is_some() => (Colour::Yellow, Vec::new()),
            (true, _, _) => (Colour::Green, Vec::new()),
        };
        reasons.extend(browser);
        (colour, reasons)
    }

    /// Browser tests (tours) that Odoo skipped for lack of a browser — never green, and
    /// named: the run did not test what they test.
    fn browser_tests_skipped(&self) -> Option<String> {
        let skipped: Vec<&TestCase> = self
            .cases
            .iter()
            .filter(|c| c.status == CaseStatus::Skipped)
            .filter(|c| c.message.as_deref().is_some_and(is_no_browser))
            .collect();
        let first = skipped.first()?;
        let mut names: Vec<String> = skipped
            .iter()
            .take(5)
            .map(|c| match c.class.as_str() {
                "" => format!("{}: {}", c.module, c.method),
                class => format!("{}: {class}.{}", c.module, c.method),
            })
            .collect();
        if skipped.len() > names.len() {
            names.push(format!("and {} more", skipped.len() - names.len()));
        }
        Some(format!(
            "{} browser tests (tours) did not run — Odoo skipped them: {} ({}); add a browser and websocket-client to the image (`development.browser`)",
            skipped.len(),
            first.message.as_deref().unwrap_or_default(),
            names.join(", ")
        ))
    }
}

/// Whether a skip reason is one of those `odoo/tests/common.py` raises when no browser can
/// run a tour (`ChromeBrowser`: "websocket-client module is not installed", "Chrome
/// executable not found", "Failed to detect chrome devtools port after …", "Error during
/// Chrome headless connection", …). A test's own `@skip("…")` naming none stays a skip.
fn is_no_browser(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("websocket-client module is not installed")
        || (r.contains("chrome")
            && (r.contains("not found") || r.contains("devtools") || r.contains("connection")))
}

/// The line that names the exception (`AssertionError: 6 != 7`): the first unindented
/// line after the last frame. The lines after it (a diff, a multi-line message) are
/// details; the traceback's last line is often one of those (`?    ^`).
pub fn exception_line(traceback: &str) -> Option<&str> {
    let lines: Vec<&str> = traceback.lines().collect();
    let last_frame = lines.iter().rposition(|l| l.starts_with("  File "));
    let after = last_frame.map(|i| i + 1).unwrap_or(0);
    lines[after..]
        .iter()
        .find(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("Traceback "))
        .copied()
        .or_else(|| last_line(traceback))
}

/// `text` cut to about `limit` bytes: its head and its tail, with the cut said.
fn cut_middle(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut head = limit / 2;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - limit / 2;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n… ({} bytes cut) …\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// Appends `b` to `text` as [`lossy`] reads it, without a copy of its own when it is valid.
fn push_lossy(text: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(valid) => text.push_str(valid),
        Err(_) => text.push_str(&String::from_utf8_lossy(b)),
    }
}

/// `b` as text, invalid UTF-8 replaced. Checked with `from_utf8` first: its ASCII fast path
/// is several times quicker than the lossy decoder's, and Odoo's logs are nearly all ASCII.
fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// `Class.method` from a test description: drops `Subtest `, parameters and messages.
fn test_id(description: &str) -> &str {
    let d = description.strip_prefix("Subtest ").unwrap_or(description);
    let end = d
        .bytes()
        .position(|b| matches!(b, b' ' | b'(' | b'['))
        .unwrap_or(d.len());
    &d[..end]
}

/// Whether `test` (`Class.method` or `method`) names a class or module fixture rather than
/// a test.
fn is_fixture(test: &str) -> bool {
    let method = test.rsplit('.').next().unwrap_or(test);
    matches!(
        method,
        "setUpClass" | "tearDownClass" | "setUpModule" | "tearDownModule"
    )
}

/// Module, test logger and `Class.method` of a `FAIL:`/`ERROR:` description, in any of the
/// forms Odoo and unittest print.
fn describe_test(logger: &str, description: &str) -> (String, String, String) {
    let from_logger = logger
        .strip_prefix("odoo.addons.")
        .and_then(|r| r.split('.').next())
        .map(str::to_string);
    // `name (odoo.addons.m.tests.f.Class)`: setUpClass, tearDownClass, or unittest's own form.
    if let Some((name, rest)) = description.split_once(" (") {
        if let Some(path) = rest
            .strip_suffix(')')
            .filter(|p| p.starts_with("odoo.addons."))
        {
            let module = path.split('.').nth(2).unwrap_or("").to_string();
            let (test_logger, class) = path.rsplit_once('.').unwrap_or((path, ""));
            let starts_upper = class.chars().next().is_some_and(char::is_uppercase);
            let (test_logger, test) = if starts_upper {
                (test_logger.to_string(), format!("{class}.{name}"))
            } else {
                // setUpModule (odoo.addons.m.tests.f): no class.
                (path.to_string(), name.to_string())
            };
            return (from_logger.unwrap_or(module), test_logger, test);
        }
    }
    let test = test_id(description);
    (
        from_logger.unwrap_or_default(),
        logger.to_string(),
        test.to_string(),
    )
}

fn parse_summary(message: &str) -> Option<(u64, u64, u64)> {
    let (failed, rest) = message.split_once(" failed, ")?;
    let (errors, rest) = rest.split_once(" error(s) of ")?;
    let (total, rest) = rest.split_once(" tests")?;
    if !rest.is_empty() && !rest.starts_with(" when loading database") {
        return None;
    }
    Some((
        failed.trim().parse().ok()?,
        errors.parse().ok()?,
        total.parse().ok()?,
    ))
}

/// `Module <addon>: <f> failures, <e> errors of <n> tests`
fn parse_module_summary(message: &str) -> Option<(String, (u64, u64, u64))> {
    let rest = message.strip_prefix("Module ")?;
    let (name, rest) = rest.split_once(": ")?;
    let (f, rest) = rest.split_once(" failures, ")?;
    let (e, rest) = rest.split_once(" errors of ")?;
    let n = rest.strip_suffix(" tests")?;
    Some((
        name.to_string(),
        (f.parse().ok()?, e.parse().ok()?, n.parse().ok()?),
    ))
}

/// The warnings by logger and message, the most frequent first.
fn warning_groups<L, K>(by_logger: L) -> Vec<WarningGroup>
where
    L: IntoIterator<Item = (String, K)>,
    K: IntoIterator<Item = (String, u64)>,
{
    let mut groups: Vec<WarningGroup> = by_logger
        .into_iter()
        .flat_map(|(logger, kinds)| {
            kinds.into_iter().map(move |(message, count)| WarningGroup {
                logger: logger.clone(),
                message,
                count,
            })
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.logger.cmp(&b.logger))
            .then_with(|| a.message.cmp(&b.message))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_descriptions_in_every_form() {
        let l = "odoo.addons.acc_x.tests.test_x";
        assert_eq!(
            describe_test(l, "TestX.test_qty"),
            ("acc_x".into(), l.into(), "TestX.test_qty".into())
        );
        assert_eq!(
            describe_test(l, "Subtest TestX.test_qty (i=1)"),
            ("acc_x".into(), l.into(), "TestX.test_qty".into())
        );
        assert_eq!(
            describe_test(
                "odoo.tests.suite",
                "setUpClass (odoo.addons.acc_y.tests.test_y.TestY)"
            ),
            (
                "acc_y".into(),
                "odoo.addons.acc_y.tests.test_y".into(),
                "TestY.setUpClass".into()
            )
        );
        assert_eq!(
            describe_test(l, "test_qty (odoo.addons.acc_x.tests.test_x.TestX)"),
            ("acc_x".into(), l.into(), "TestX.test_qty".into())
        );
    }

    #[test]
    fn summary_lines() {
        assert_eq!(
            parse_summary("1 failed, 2 error(s) of 10 tests when loading database 'db1'"),
            Some((1, 2, 10))
        );
        assert_eq!(
            parse_summary("0 failed, 0 error(s) of 0 tests when loading database 'x'"),
            Some((0, 0, 0))
        );
        assert_eq!(parse_summary("nothing"), None);
        assert_eq!(
            parse_module_summary("Module acc_x: 1 failures, 0 errors of 3 tests"),
            Some(("acc_x".into(), (1, 0, 3)))
        );
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;

    #[test]
    fn an_at_install_test_ends_when_module_loading_goes_on() {
        let mut a = Analyzer::new(Options::default());
        for l in [
            "2026-11-21 22:42:22,010 1 INFO db odoo.addons.m.tests.t: Starting T.test_a ... ",
            "2026-11-21 22:42:22,370 1 INFO db odoo.modules.loading: Loading module n (5/9) ",
            "2026-11-21 22:42:24,500 1 INFO db odoo.modules.registry: module n: creating or updating database tables ",
            "2026-11-21 22:42:24,900 1 INFO db odoo.addons.n.tests.t: Starting U.test_b ... ",
        ] {
            a.feed_line(l.as_bytes());
        }
        assert_eq!(a.case(0).seconds, Some(0.36), "not 2.89 s");
    }

    #[test]
    fn events_arrive_as_the_log_streams() {
        let mut a = Analyzer::new(Options::default());
        let lines = [
            "2026-11-21 22:42:22,010 1 INFO db odoo.addons.m.tests.t: Starting T.test_a ... ",
            "2026-11-21 22:42:22,020 1 ERROR db odoo.addons.m.tests.t: FAIL: T.test_a ",
            "Traceback (most recent call last):",
            "  File \"/mnt/m/tests/t.py\", line 3, in test_a",
            "AssertionError: no",
            " ",
        ];
        let mut seen = Vec::new();
        for l in lines {
            seen.extend(a.feed_line(l.as_bytes()).into_iter().flatten());
        }
        assert_eq!(seen, vec![Event::TestStarted(0)]);
        assert_eq!(a.case(0).method, "test_a");
        assert_eq!(a.progress().tests_started, 1);
        assert_eq!(
            a.progress().failures,
            0,
            "the failure completes with the next record"
        );
        let next = a.feed_line(
            b"2026-11-21 22:42:22,030 1 INFO db odoo.addons.m.tests.t: Starting T.test_b ... ",
        );
        assert_eq!(next, [Some(Event::Failure(0)), Some(Event::TestStarted(1))]);
        assert_eq!(a.failure(0).line, Some(3));
        assert_eq!(a.case(0).seconds, Some(0.02));
        let result = a.finish();
        assert_eq!(result.colour, Colour::Red);
        assert_eq!(result.tests.total, 2);
    }

    #[test]
    fn a_class_whose_setup_fails_ran_no_test_and_the_others_passed() {
        // As Odoo's result counts them: `startTest` adds to testsRun; a setUpClass error
        // comes through unittest's `_ErrorHolder` with `addError` alone, so it is one of
        // the errors but not one of the tests run (odoo/tests/result.py).
        let mut log = String::new();
        for t in ["a", "b", "c", "d", "e", "f", "g"] {
            log.push_str(&format!(
                "2026-11-21 22:42:22,010 1 INFO db odoo.addons.m.tests.t: Starting T.test_{t} ... \n"
            ));
        }
        log.push_str(
            "2026-11-21 22:42:22,020 1 ERROR db odoo.addons.m.tests.t: FAIL: T.test_g \n\
Traceback (most recent call last):\n  File \"/mnt/m/tests/t.py\", line 3, in test_g\nAssertionError: no\n \n\
2026-11-21 22:42:22,101 1 ERROR db odoo.tests.suite: ERROR: setUpClass (odoo.addons.m.tests.t.U) \n\
Traceback (most recent call last):\n  File \"/mnt/m/tests/t.py\", line 9, in setUpClass\nValueError: missing\n \n\
2026-11-21 22:42:22,500 1 ERROR db odoo.tests.result: 1 failed, 1 error(s) of 7 tests when loading database 'db' \n",
        );
        let r = crate::odoo::analyze(log.as_bytes(), Options::default()).unwrap();
        assert_eq!(
            (
                r.tests.total,
                r.tests.passed,
                r.tests.failed,
                r.tests.errors
            ),
            (7, 6, 1, 1)
        );
    }

    #[test]
    fn warning_policy_red_and_ignore() {
        let log = "2026-11-21 22:42:22,010 1 WARNING db odoo.models: careful \n";
        for (policy, colour) in [
            (WarningPolicy::Yellow, Colour::Yellow),
            (WarningPolicy::Red, Colour::Red),
            (WarningPolicy::Ignore, Colour::Green),
        ] {
            let opts = Options {
                warnings: policy,
                ..Options::default()
            };
            let r = crate::odoo::analyze(log.as_bytes(), opts).unwrap();
            assert_eq!(r.colour, colour, "{policy:?}");
            assert_eq!(r.warnings.total, 1);
        }
    }
}
