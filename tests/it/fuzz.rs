//! Bounded fuzzing of the three parsers that read untrusted input: the manifest parser
//! (pull-request content), the log analyzer (whatever Odoo or a test prints) and the config
//! loader. Inputs are built from each format's own tokens plus random bytes, by a seeded
//! generator: no input may panic, hang or exhaust memory, and every error must be a
//! located diagnostic. `ODOO_CI_FUZZ_CASES` (default 20,000 per parser, about 2 s) and
//! `ODOO_CI_FUZZ_SEED` (default: the clock; printed on failure) tune a run.

use std::path::Path;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn seed() -> u64 {
    std::env::var("ODOO_CI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(0x9e37_79b9_7f4a_7c15)
        })
}

fn cases() -> usize {
    std::env::var("ODOO_CI_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

/// `tokens` joined at random, sometimes with a random byte (as lossy UTF-8) between.
fn compose(rng: &mut Rng, tokens: &[&str], max_len: usize) -> String {
    let mut out = String::new();
    let len = rng.below(max_len) + 1;
    for _ in 0..len {
        if rng.below(12) == 0 {
            let b = [rng.next() as u8];
            out.push_str(&String::from_utf8_lossy(&b));
        } else {
            out.push_str(rng.pick(tokens));
        }
    }
    out
}

/// Runs `check` on `cases()` inputs from `make`; a panic names the seed and the input.
fn fuzz(name: &str, make: impl Fn(&mut Rng) -> String, check: impl Fn(&str)) {
    let seed = seed();
    let mut rng = Rng(seed);
    for _ in 0..cases() {
        let input = make(&mut rng);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
        if run.is_err() {
            panic!("{name}: panicked (ODOO_CI_FUZZ_SEED={seed}) on input {input:?}");
        }
    }
}

const MANIFEST_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    " ",
    "\n",
    "\t",
    "#",
    "'",
    "\"",
    "'''",
    "\\",
    "\\x",
    "\\u00e9",
    "\\N{DASH}",
    "r",
    "b",
    "u",
    "f",
    "0",
    "1",
    "9",
    "_",
    ".",
    "e",
    "-",
    "+",
    "0x",
    "0o",
    "0b",
    "j",
    "True",
    "False",
    "None",
    "name",
    "'name'",
    "'version'",
    "'17.0.1.0.0'",
    "'depends'",
    "['base']",
    "é",
    "€",
    "\r",
    "\r\n",
    "\u{feff}",
    "lambda",
];

#[test]
fn the_manifest_parser_never_panics_and_locates_every_error() {
    fuzz(
        "manifest",
        |rng| compose(rng, MANIFEST_TOKENS, 60),
        |input| {
            if let Err(d) = odoo_ci::addons::manifest::parse_manifest(Path::new("m.py"), input) {
                assert!(!d.message.is_empty());
            }
        },
    );
}

const LOG_TOKENS: &[&str] = &[
    "2026-11-21 22:42:24,826 5965 ",
    "INFO ",
    "WARNING ",
    "ERROR ",
    "CRITICAL ",
    "DEBUG ",
    "db1 ",
    "? ",
    "odoo.addons.acc_x.tests.test_x: ",
    "odoo.tests.stats: ",
    "odoo.tests.result: ",
    "odoo.modules.loading: ",
    "odoo.modules.registry: ",
    "py.warnings: ",
    "Starting TestX.test_a ... ",
    "FAIL: TestX.test_a",
    "ERROR: TestX.test_b",
    "skipped TestX.test_c : no",
    "acc_x: 3 tests 0.1s 10 queries",
    "1 failed, 0 error(s) of 3 tests when loading database 'db1'",
    "Module acc_x: 1 failures, 0 errors of 3 tests",
    "Modules loaded.",
    "Traceback (most recent call last):",
    "  File \"/mnt/extra-addons/acc_x/tests/test_x.py\", line 12, in test_a",
    "    self.assertEqual(1, 2)",
    "AssertionError: 1 != 2",
    " ",
    "\n",
    "\n",
    "\n",
    "\u{1b}[1;31m",
    "\u{1b}[0m",
    "é",
    "\r",
    "ParseError: while parsing /mnt/extra-addons/acc_x/data/x.xml:3, somewhere inside",
];

#[test]
fn the_log_analyzer_never_panics() {
    fuzz(
        "log",
        |rng| compose(rng, LOG_TOKENS, 200),
        |input| {
            let result =
                odoo_ci::odoo::analyze(input.as_bytes(), odoo_ci::odoo::Options::default())
                    .expect("reading from memory");
            assert!(result.tests.passed <= result.tests.total);
        },
    );
}

const CONFIG_TOKENS: &[&str] = &[
    "odoo:",
    "\n",
    "  ",
    "    ",
    "series: ",
    "\"17.0\"",
    "17",
    "image: ",
    "odoo:17.0",
    "branches:",
    "- ",
    "match: ",
    "\"*\"",
    "main",
    "stage: ",
    "development",
    "staging",
    "production",
    "addons_paths: ",
    "[addons]",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "'",
    "\"",
    "#",
    "${X}",
    "${X:-y}",
    "env:",
    "A: ",
    "1",
    "~",
    "null",
    "development:",
    "shards: ",
    "keep_templates: ",
    "version_guard:",
    "unbumped: ",
    "red",
    "|",
    ">",
    "-",
    "?",
    "%",
    "@",
    "`",
    "é",
    "\t",
];

#[test]
fn the_config_loader_never_panics_and_locates_every_error() {
    fuzz(
        "config",
        |rng| compose(rng, CONFIG_TOKENS, 80),
        |input| {
            if let Err(d) =
                odoo_ci::config::Config::from_source(Path::new(".odoo-ci.yml"), input.to_string())
            {
                assert!(!d.message.is_empty());
            }
        },
    );
}
