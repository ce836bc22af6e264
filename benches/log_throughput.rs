//! `check-log`'s parser on generated logs in the real Odoo format. Three logs:
//! - clean: a failure-free run (INFO lines and test starts). Target: above 1 GB/s.
//! - mixed: with warnings and a failure now and then. Target: at least 300 MB/s.
//! - failures: 5,000 failures with 60 KB tracebacks. Target: memory bounded (tracebacks
//!   after the first 100 are kept by head and tail), not 1.5 GB.
//!
//! Prints throughput and the peak RSS of each parse, on one thread.
//! Run: `cargo bench --bench log_throughput` (size: `ODOO_CI_BENCH_LOG_MB`, default 1024).

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use odoo_ci::odoo::{analyze, Options};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Clean,
    Mixed,
    Failures,
}

fn main() {
    let megabytes: u64 = std::env::var("ODOO_CI_BENCH_LOG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let target = megabytes * 1024 * 1024;
    for (kind, name, goal) in [
        (Kind::Clean, "clean", "target > 1000 MB/s"),
        (Kind::Mixed, "mixed", "target >= 300 MB/s"),
        (
            Kind::Failures,
            "5,000 failures of 60 KB",
            "target: bounded memory",
        ),
    ] {
        run(kind, name, goal, target);
    }
}

fn run(kind: Kind, name: &str, goal: &str, target: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("odoo.log");
    let written = generate(&path, target, kind);

    let mut best = f64::MAX;
    let mut peak_kib = 0;
    let mut tests = 0;
    for _ in 0..2 {
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
    println!(
        "check-log parser, {name} log: {:.0} MiB in {:.2} s = {:.0} MB/s single-threaded ({goal}); peak RSS during the parse {:.1} MiB; {} tests seen",
        written as f64 / 1048576.0,
        best,
        written as f64 / best / 1e6,
        peak_kib as f64 / 1024.0,
        tests
    );
}

/// Writes about `target` bytes of log of `kind`; returns the exact size.
fn generate(path: &std::path::Path, target: u64, kind: Kind) -> u64 {
    if kind == Kind::Failures {
        return generate_failures(path);
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
