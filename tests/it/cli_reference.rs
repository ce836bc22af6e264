//! docs/cli.md is every command's `--help`, as the binary prints it: this test fails when a
//! flag is added, removed or reworded without the reference following. Regenerate with
//! `ODOO_CI_BLESS=1 cargo test --test it cli_reference::`.

use crate::common;

use common::{repo_root, run_in};

/// Every command and subcommand, as typed after `odoo-ci`.
const COMMANDS: &[&str] = &[
    "",
    "plan",
    "addons list",
    "addons graph",
    "addons changed",
    "check-log",
    "guard",
    "bump",
    "test",
    "stage",
    "staging list",
    "staging drop",
    "neutralize",
    "deploy",
    "rollback",
    "deployments list",
    "snapshots list",
    "snapshots create",
    "snapshots pin",
    "snapshots prune",
    "run",
    "cache key",
    "report",
];

fn reference() -> String {
    let mut out = String::from(
        "# odoo-ci command reference\n\nGenerated from `odoo-ci <command> --help` by `tests/it/cli_reference.rs`, which fails\nwhen this file and the binary disagree. Every command also takes `--config FILE`\n(default `.odoo-ci.yml`, or `ODOO_CI_CONFIG`) and `-v`/`-vv`.\n",
    );
    for command in COMMANDS {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let help = run_in(&repo_root(), &args, &[]);
        assert_eq!(help.code, 0, "odoo-ci {command} --help: {}", help.stderr);
        let title = if command.is_empty() {
            "odoo-ci".to_string()
        } else {
            format!("odoo-ci {command}")
        };
        out.push_str(&format!(
            "\n## `{title}`\n\n```text\n{}\n```\n",
            help.stdout.trim_end()
        ));
    }
    out
}

#[test]
fn the_cli_reference_is_what_the_binary_says() {
    let path = repo_root().join("docs/cli.md");
    let want = reference();
    if std::env::var_os("ODOO_CI_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/cli.md is out of date: run `ODOO_CI_BLESS=1 cargo test --test it cli_reference::`"
    );
}
