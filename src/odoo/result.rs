//! The machine-readable result of reading an Odoo log. These types are the JSON contract
//! (`check-log --format json`, `odoo-ci-result.json`): change them rarely, add rather than rename.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// An assertion failed (`FAIL:`).
    Failure,
    /// Any other exception (`ERROR:`), including setUpClass.
    Error,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Failure => "failure",
            FailureKind::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub module: String,
    /// `Class.method`.
    pub test: String,
    pub kind: FailureKind,
    /// Where an annotation should point: the innermost traceback frame inside an addon.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The last line of the traceback.
    pub message: String,
    #[serde(default)]
    pub traceback: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// `Failed to load registry` / `Failed to initialize database`.
    RegistryLoadFailed,
    /// A data file failed to parse (`ParseError: while parsing …:LINE`).
    DataFileError,
    /// A Python import failed.
    ImportError,
    /// `Some modules are not loaded` / inconsistent module states.
    ModulesNotLoaded,
    /// `ODOO_TEST_MAX_FAILED_TESTS` was reached: the remaining tests did not run.
    TestSuiteHalted,
    /// Any other ERROR or CRITICAL record.
    ErrorRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub level: String,
    pub logger: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The traceback's last line, when the record has one.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TestCounts {
    pub total: u64,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarningGroup {
    pub logger: String,
    pub message: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Warnings {
    /// WARNING records that count (not ignored).
    pub total: u64,
    /// WARNING records matched by an ignore pattern.
    pub ignored: u64,
    /// Counted warnings grouped by logger and first line, most frequent first.
    pub groups: Vec<WarningGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Passed,
    Failed,
    Error,
    Skipped,
}

/// One test as seen in the log, for JUnit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    pub module: String,
    /// The test's Python module path, e.g. `odoo.addons.acc_x.tests.test_x`.
    pub logger: String,
    pub class: String,
    pub method: String,
    pub status: CaseStatus,
    pub seconds: Option<f64>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: Option<String>,
    pub traceback: Option<String>,
}

/// `Module X: f failures, e errors of n tests` and `X: n tests …s … queries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModuleStats {
    pub name: String,
    pub tests: Option<u64>,
    pub failures: Option<u64>,
    pub errors: Option<u64>,
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogResult {
    pub colour: Colour,
    /// Why the colour is not green, most important first.
    pub reasons: Vec<String>,
    pub tests: TestCounts,
    pub failures: Vec<Failure>,
    pub problems: Vec<Problem>,
    #[serde(default)]
    pub warnings: Warnings,
    #[serde(default)]
    pub modules: Vec<ModuleStats>,
    /// Whether `N failed, M error(s) of K tests` was seen.
    #[serde(default)]
    pub summary_seen: bool,
    /// Whether `Modules loaded.` was seen.
    #[serde(default)]
    pub modules_loaded: bool,
    /// Log records read, and lines that were neither records nor their continuations.
    #[serde(default)]
    pub records: u64,
    #[serde(default)]
    pub foreign_lines: u64,
    #[serde(default)]
    pub cases: Vec<TestCase>,
}
