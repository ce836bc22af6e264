//! What the benches that run `odoo-ci` share: the environment `./scripts/test` sets up,
//! project files, addons with a passing test, and medians.
#![allow(dead_code)]

use std::path::Path;

/// Two passing tests, one of them reading the database.
pub const TEST_SOURCE: &str = "from odoo.tests.common import TransactionCase\n\n\nclass TestBench(TransactionCase):\n    def test_one(self):\n        self.env.cr.execute('SELECT count(*) FROM ir_module_module')\n        self.assertTrue(self.env.cr.fetchone()[0])\n\n    def test_two(self):\n        self.assertEqual(sum(range(10)), 45)\n";

/// The variable `name`, or exit 2 saying how to set the bench's environment up.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("{name} is not set: run `eval \"$(bash scripts/test-env)\"` first");
        std::process::exit(2)
    })
}

/// Writes `text` to `root/rel`, making its folders.
pub fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// The addon `addons/<name>` depending on `depends`, with [`TEST_SOURCE`] as its test (an
/// addon without tests makes Odoo warn "0 tests", and the run is yellow).
pub fn addon(root: &Path, name: &str, depends: &str) {
    write(
        root,
        &format!("addons/{name}/__manifest__.py"),
        &format!("{{'name': '{name}', 'version': '17.0.1.0.0', 'depends': ['{depends}']}}\n"),
    );
    write(root, &format!("addons/{name}/__init__.py"), "");
    write(
        root,
        &format!("addons/{name}/tests/__init__.py"),
        &format!("from . import test_{name}\n"),
    );
    write(
        root,
        &format!("addons/{name}/tests/test_{name}.py"),
        TEST_SOURCE,
    );
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
