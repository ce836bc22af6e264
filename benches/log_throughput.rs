//! `check-log`'s parser on generated logs in the real Odoo format. Four logs:
//! - clean: a failure-free run (INFO lines and test starts). Target: above 1 GB/s.
//! - mixed: with warnings and a failure now and then. Target: at least 300 MB/s.
//! - Odoo 18 install of `base` with its tests, repeated (the shape of the real log issue 29
//!   measured: module loading, 3,000 test starts per pass — nearly half the lines —, logins,
//!   view warnings, SQL errors with continuation lines). Target: 1 GB/s.
//! - failures: 5,000 failures with 60 KB tracebacks. Target: memory bounded (tracebacks
//!   after the first 100 are kept by head and tail), not 1.5 GB.
//!
//! Prints throughput and the peak RSS of each parse, on one thread.
//! Run: `cargo bench --bench log_throughput` (size: `ODOO_CI_BENCH_LOG_MB`, default 1024).

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use odoo_ci::odoo::{analyze, Options};

#[path = "common/guard.rs"]
mod guard;
#[path = "common/reference.rs"]
mod reference;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Clean,
    Mixed,
    BaseTests,
    Failures,
}

fn main() {
    let megabytes: u64 = std::env::var("ODOO_CI_BENCH_LOG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let target = megabytes * 1024 * 1024;
    let mut regressions = 0;
    for (kind, name, goal) in [
        (Kind::Clean, "clean", "target > 1000 MB/s"),
        (Kind::Mixed, "mixed", "target >= 300 MB/s"),
        (
            Kind::BaseTests,
            "Odoo 18 base install + tests",
            "target 1000 MB/s",
        ),
        (
            Kind::Failures,
            "5,000 failures of 60 KB",
            "target: bounded memory",
        ),
    ] {
        let figures = run(kind, name, goal, target);
        let key = match kind {
            Kind::Clean => "check_log.clean.of_line_scan",
            Kind::Mixed => "check_log.mixed.of_line_scan",
            Kind::BaseTests => "check_log.odoo18_base_tests.of_line_scan",
            Kind::Failures => {
                regressions += guard::check(
                    "check_log.failures.peak_mib",
                    figures.peak_mib,
                    guard::Better::Lower,
                );
                continue;
            }
        };
        regressions += guard::check(key, figures.of_line_scan(), guard::Better::Higher);
    }
    guard::exit_if(regressions);
}

struct Figures {
    mb_s: f64,
    line_scan_mb_s: f64,
    peak_mib: f64,
}

impl Figures {
    /// The parser's speed as a fraction of the bare line scan's on the same machine at the
    /// same moment: what CI guards (see benches/common/reference.rs).
    fn of_line_scan(&self) -> f64 {
        self.mb_s / self.line_scan_mb_s
    }
}

/// Parses a generated log of `kind` several times (eleven when it is small: a parse of
/// tens of milliseconds is at the mercy of one hiccup of the machine, and CI guards the
/// figure), each right after a bare line scan of the same file; returns the best of each
/// and the peak RSS of the parses.
fn run(kind: Kind, name: &str, goal: &str, target: u64) -> Figures {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("odoo.log");
    let written = generate(&path, target, kind);

    let mut best = f64::MAX;
    let mut line_scan_mb_s: f64 = 0.0;
    let mut peak_kib = 0;
    let mut tests = 0;
    let runs = if written < 128 << 20 { 11 } else { 2 };
    for _ in 0..runs {
        line_scan_mb_s = line_scan_mb_s.max(reference::line_scan_mb_s(&path));
        reset_peak_rss();
        let file = std::fs::File::open(&path).expect("open");
        let start = Instant::now();
        let result =
            analyze(BufReader::with_capacity(1 << 20, file), Options::default()).expect("analyze");
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        peak_kib = peak_kib.max(peak_rss_kib());
        tests = result.tests.total;
        assert!(result.records > 0);
    }
    let figures = Figures {
        mb_s: written as f64 / best / 1e6,
        line_scan_mb_s,
        peak_mib: peak_kib as f64 / 1024.0,
    };
    println!(
        "check-log parser, {name} log: {:.0} MiB in {:.2} s = {:.0} MB/s single-threaded ({goal}); a bare line scan of it {:.0} MB/s here now, the parser {:.2}× of it; peak RSS during the parse {:.1} MiB; {} tests seen",
        written as f64 / 1048576.0,
        best,
        figures.mb_s,
        figures.line_scan_mb_s,
        figures.of_line_scan(),
        figures.peak_mib,
        tests
    );
    figures
}

/// Writes about `target` bytes of log of `kind`; returns the exact size.
fn generate(path: &std::path::Path, target: u64, kind: Kind) -> u64 {
    if kind == Kind::Failures {
        return generate_failures(path);
    }
    if kind == Kind::BaseTests {
        return generate_base_tests(path, target);
    }
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut written = 0u64;
    let mut i: u64 = 0;
    let loggers = [
        "odoo.modules.loading",
        "odoo.modules.registry",
        "werkzeug",
        "odoo.addons.base.models.ir_attachment",
        "odoo.models.unlink",
    ];
    while written < target {
        let ms = i % 1000;
        let s = (i / 1000) % 60;
        let line = if i % 1000 == 7 {
            format!("2026-11-21 22:42:{s:02},{ms:03} 5965 INFO db1 odoo.addons.acc_m{}.tests.test_x: Starting TestX.test_{i} ... \n", i % 50)
        } else if kind == Kind::Mixed && i % 20_000 == 11 {
            format!("2026-11-21 22:42:{s:02},{ms:03} 5965 WARNING db1 odoo.models: acc.x.write() with unknown fields: f{} \n", i % 7)
        } else if kind == Kind::Mixed && i % 200_000 == 13 {
            format!(
                "2026-11-21 22:42:{s:02},{ms:03} 5965 ERROR db1 odoo.addons.acc_m1.tests.test_x: FAIL: TestX.test_{i} \nTraceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/tests/common.py\", line 100, in run\n    x()\n  File \"/mnt/extra-addons/acc_m1/tests/test_x.py\", line 12, in test_{i}\n    self.assertEqual(t.qty, 7)\nAssertionError: 6 != 7\n \n"
            )
        } else {
            let logger = loggers[(i % 5) as usize];
            format!(
                "2026-11-21 22:42:{s:02},{ms:03} 5965 INFO db1 {logger}: loading acc_m{}/views/view_{}.xml with some more words to make it realistic \n",
                i % 50,
                i % 977
            )
        };
        w.write_all(line.as_bytes()).expect("write");
        written += line.len() as u64;
        i += 1;
    }
    w.flush().expect("flush");
    written
}

/// One pass of an Odoo 18 `-i base --test-enable` log, repeated up to `target` bytes.
fn generate_base_tests(path: &std::path::Path, target: u64) -> u64 {
    let mut pass = String::new();
    let mut ms: u64 = 0;
    let mut line = |level: &str, logger: &str, message: &str| {
        ms += 17;
        let (s, m, h) = (
            (ms / 1000) % 60,
            (ms / 60_000) % 60,
            22 + (ms / 3_600_000) % 2,
        );
        pass.push_str(&format!(
            "2026-11-21 {h:02}:{m:02}:{s:02},{:03} 1 {level} odoo18 {logger}: {message} \n",
            ms % 1000
        ));
    };
    line("INFO", "odoo.modules.loading", "loading 1 modules...");
    line("INFO", "odoo.modules.loading", "Loading module base (1/1)");
    for i in 0..400 {
        line(
            "INFO",
            "odoo.models",
            &format!("Prepare computation of res.partner.field_{i}"),
        );
    }
    for i in 0..112 {
        line(
            "INFO",
            "odoo.modules.loading",
            &format!("loading base/data/res_data_{}.xml", i % 14),
        );
    }
    for i in 0..60 {
        line("WARNING", "odoo.models", &format!("Two fields (field_{i}, other_{i}) of res.partner() have the same label: Name. [Modules: base and base]"));
    }
    let classes = [
        "TestORM",
        "TestACL",
        "TestFields",
        "TestViews",
        "TestIrSequence",
        "TestResPartner",
        "TestQweb",
        "TestAPI",
        "TestExpression",
        "TestHttp",
    ];
    for k in 0..3000usize {
        let c = k % classes.len();
        line(
            "INFO",
            &format!("odoo.addons.base.tests.test_{}", classes[c].to_lowercase()),
            &format!("Starting {}.test_case_{k} ... ", classes[c]),
        );
        match k % 20 {
            0..=4 => line("INFO", "odoo.addons.base.models.res_users", "Login successful for db:odoo18 login:admin from n/a"),
            5..=6 => line("INFO", "odoo.addons.base.models.ir_attachment", &format!("_read_file reading /var/lib/odoo/filestore/odoo18/{:02x}/{k:040x}", k % 256)),
            7 => line("WARNING", "odoo.addons.base.models.ir_ui_view", "Error-prone use of @class in view res.partner.form (base.view_partner_form): use the hasclass(*classes) function to filter elements by their classes"),
            8 => line("INFO", "odoo.sql_db", &format!("bad query: INSERT INTO res_partner (name) VALUES ('x')\nERROR: null value in column \"type\" violates not-null constraint\nDETAIL:  Failing row contains ({k}, null).")),
            9 => line("INFO", "odoo.modules.registry", "Caches invalidated, signaling through the database: ['default', 'templates']"),
            _ => {}
        }
    }
    line(
        "INFO",
        "odoo.tests.stats",
        "base: 3000 tests 118.21s 190000 queries",
    );
    line("INFO", "odoo.modules.loading", "Modules loaded.");
    line(
        "INFO",
        "odoo.tests.result",
        "0 failed, 0 error(s) of 3000 tests when loading database 'odoo18'",
    );
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut written = 0u64;
    while written < target {
        w.write_all(pass.as_bytes()).expect("write");
        written += pass.len() as u64;
    }
    w.flush().expect("flush");
    written
}

/// 5,000 failures, each with a 60 KB traceback (a long assertion diff).
fn generate_failures(path: &std::path::Path) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let diff: String = (0..1850)
        .map(|k| format!("- expected line {k:05} of the diff\n"))
        .collect();
    let mut written = 0u64;
    for i in 0..5_000 {
        let record = format!(
            "2026-11-21 22:42:24,826 5965 INFO db1 odoo.addons.acc_m1.tests.test_x: Starting TestX.test_{i} ... \n2026-11-21 22:42:24,900 5965 ERROR db1 odoo.addons.acc_m1.tests.test_x: FAIL: TestX.test_{i} \nTraceback (most recent call last):\n  File \"/mnt/extra-addons/acc_m1/tests/test_x.py\", line 12, in test_{i}\n    self.assertEqual(a, b)\nAssertionError: 'a' != 'b'\n{diff} \n"
        );
        w.write_all(record.as_bytes()).expect("write");
        written += record.len() as u64;
    }
    w.flush().expect("flush");
    written
}

fn reset_peak_rss() {
    // Linux: writing 5 resets the peak resident set size (VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
