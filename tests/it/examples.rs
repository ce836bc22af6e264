//! The CI examples users copy keep their promises: one development run per pull request,
//! superseded runs cancelled, and a deleted staging branch's copies dropped (GitHub and
//! GitLab). The linters check the files against the hosts' schemas; this checks what they
//! do.

use crate::common;

use serde_norway::Value;

fn example(path: &str) -> Value {
    let text = std::fs::read_to_string(common::repo_root().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(v: &Value) -> String {
    serde_norway::to_string(v).unwrap()
}

#[test]
fn github_development_runs_once_per_pull_request_and_cancels_stale_runs() {
    let w = example("examples/github/development.yml");
    assert_eq!(
        w["concurrency"]["cancel-in-progress"],
        Value::Bool(true),
        "{}",
        text(&w)
    );
    let group = w["concurrency"]["group"].as_str().unwrap();
    assert!(
        group.contains("github.event.pull_request.number") && group.contains("github.ref"),
        "a pull request and a branch each have their group: {group}"
    );
    // Both events fire for a branch of this repository with a pull request open: the
    // pull_request run is kept for forks only.
    let on = &w["on"];
    assert!(on.get("pull_request").is_some() && on.get("push").is_some());
    let condition = w["jobs"]["test"]["if"].as_str().unwrap();
    assert_eq!(
        condition,
        "github.event_name == 'push' || github.event.pull_request.head.repo.fork"
    );
}

/// A fresh job is fast when odoo-ci runs PostgreSQL itself (its cluster travels in the
/// template cache): a `postgres` service or `PG*` variables would take precedence over
/// `postgres.image` and leave the job an empty server to restore into.
#[test]
fn github_development_lets_odoo_ci_run_postgres_and_carries_the_template_cache() {
    let w = example("examples/github/development.yml");
    let job = &w["jobs"]["test"];
    assert!(job.get("services").is_none(), "{}", text(job));
    assert!(
        !text(job).contains("PGHOST"),
        "PG* variables override postgres.image: {}",
        text(job)
    );
    assert!(
        text(&job["steps"]).contains("template-cache:"),
        "{}",
        text(job)
    );
}

/// Previews go with their branch (deleted, or its pull request closed), and those past
/// their time go every hour, on the self-hosted runner that serves them.
#[test]
fn github_takes_previews_down_with_their_branch_and_by_age() {
    let w = example("examples/github/previews.yml");
    let on = &w["on"];
    assert!(
        on.get("delete").is_some() && on.get("schedule").is_some(),
        "{}",
        text(&w)
    );
    assert_eq!(text(&on["pull_request"]["types"]).trim(), "- closed");
    let job = &w["jobs"]["previews"];
    assert!(
        text(&job["runs-on"]).contains("self-hosted"),
        "{}",
        text(job)
    );
    let steps = text(&job["steps"]);
    assert!(
        steps.contains("previews drop \"$BRANCH\"") && steps.contains("previews gc"),
        "{steps}"
    );
    let branch = job["env"]["BRANCH"].as_str().unwrap();
    assert!(
        branch.contains("github.event.ref") && branch.contains("github.head_ref"),
        "{branch}"
    );
}

/// On GitLab, a kept preview is an environment that stops with its branch (or after
/// `auto_stop_in`) by dropping the preview, and a schedule collects the old ones.
#[test]
fn gitlab_previews_are_environments_that_stop_by_dropping_them() {
    let c = example("examples/gitlab/.gitlab-ci.yml");
    let kept = &c[".development-kept"];
    assert_eq!(kept["environment"]["on_stop"], Value::from("preview-drop"));
    assert!(
        kept["environment"].get("auto_stop_in").is_some(),
        "{}",
        text(kept)
    );
    // The URL is the one the run kept (the dotenv odoo-ci writes beside its results).
    assert_eq!(
        kept["environment"]["url"],
        Value::from("$ODOO_CI_PREVIEW_URL")
    );
    assert_eq!(
        kept["artifacts"]["reports"]["dotenv"],
        Value::from("odoo-ci-output/odoo-ci.env")
    );
    let drop = &c["preview-drop"];
    assert_eq!(drop["environment"]["action"], Value::from("stop"));
    assert_eq!(drop["environment"]["name"], kept["environment"]["name"]);
    assert!(
        text(&drop["script"]).contains("odoo-ci previews drop \"$CI_COMMIT_REF_NAME\""),
        "{}",
        text(drop)
    );
    assert!(
        text(&c["previews-gc"]["script"]).contains("odoo-ci previews gc"),
        "{}",
        text(&c["previews-gc"])
    );
}

#[test]
fn github_drops_a_deleted_staging_branch_s_copies() {
    let w = example("examples/github/staging-cleanup.yml");
    assert!(w["on"].get("delete").is_some(), "{}", text(&w));
    let job = &w["jobs"]["drop"];
    let condition = job["if"].as_str().unwrap();
    assert!(
        condition.contains("ref_type == 'branch'") && condition.contains("'staging'"),
        "{condition}"
    );
    let steps = text(&job["steps"]);
    assert!(
        steps.contains("staging drop --of-branch \"$BRANCH\""),
        "{steps}"
    );
    // The branch name reaches the shell through the environment, never the template.
    assert_eq!(job["env"]["BRANCH"], Value::from("${{ github.event.ref }}"));
}

#[test]
fn gitlab_runs_one_pipeline_per_change_and_stops_staging_with_its_branch() {
    let c = example("examples/gitlab/.gitlab-ci.yml");
    let rules = text(&c["workflow"]["rules"]);
    assert!(
        rules.contains("merge_request_event") && rules.contains("$CI_OPEN_MERGE_REQUESTS"),
        "{rules}"
    );
    assert_eq!(c["development"]["interruptible"], Value::Bool(true));
    assert_eq!(
        c["staging"]["environment"]["on_stop"],
        Value::from("staging-drop")
    );
    let drop = &c["staging-drop"];
    assert_eq!(drop["environment"]["action"], Value::from("stop"));
    assert_eq!(
        drop["environment"]["name"],
        c["staging"]["environment"]["name"]
    );
    assert_eq!(drop["variables"]["GIT_STRATEGY"], Value::from("none"));
    assert!(
        text(&drop["script"]).contains("odoo-ci staging drop --of-branch \"$CI_COMMIT_REF_NAME\""),
        "{}",
        text(drop)
    );
}

#[test]
fn scheduled_backups_back_up_and_never_deploy() {
    let w = example("examples/github/backup.yml");
    assert!(w["on"].get("schedule").is_some(), "{}", text(&w));
    let steps = text(&w["jobs"]["backup"]["steps"]);
    assert!(steps.contains("backup --reason daily"), "{steps}");
    assert_eq!(
        w["jobs"]["backup"]["env"]["BACKUP_PASSWORD"],
        Value::from("${{ secrets.BACKUP_PASSWORD }}")
    );

    let c = example("examples/gitlab/.gitlab-ci.yml");
    let backup = text(&c["backup"]);
    assert!(backup.contains("odoo-ci backup --reason daily"), "{backup}");
    assert!(backup.contains("\"schedule\""), "{backup}");
    // A schedule on main must not deploy: its first rule says never.
    let first = &c["production"]["rules"][0];
    assert!(
        text(first).contains("\"schedule\"") && first["when"] == "never",
        "{}",
        text(&c["production"]["rules"])
    );
}

/// The action keeps the output folder (the Odoo log, JUnit, summary) on every run, pass or
/// fail, as GitLab's example keeps it as artifacts `when: always`.
#[test]
fn the_action_and_gitlab_keep_the_output_folder_pass_or_fail() {
    let action = example("action.yml");
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let upload = steps
        .iter()
        .find(|s| text(&s["uses"]).contains("actions/upload-artifact@"))
        .unwrap_or_else(|| panic!("no upload step in action.yml"));
    let condition = text(&upload["if"]);
    assert!(condition.contains("always()"), "{condition}");
    assert!(
        text(&upload["with"]["path"]).contains("steps.run.outputs.output-dir"),
        "{}",
        text(upload)
    );
    let gitlab = text(&example("examples/gitlab/.gitlab-ci.yml"));
    assert!(
        gitlab.contains("when: always") && gitlab.contains("odoo-ci-output/"),
        "{gitlab}"
    );
}

/// The JSON Schema editors read for `.odoo-ci.yml` (`docs/odoo-ci.schema.json`, also
/// `odoo-ci schema`) stays true to the config types: the README's every-key example and
/// the bundled example validate against it, every key the types know is in it, and it
/// refuses what the types refuse (an unknown key, a wrong enum value).
#[test]
fn the_config_schema_knows_every_key_and_accepts_what_odoo_ci_accepts() {
    let root = common::repo_root();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/odoo-ci.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let printed = common::run_in(&root, &["schema"], &[]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed.stdout).unwrap(),
        schema,
        "`odoo-ci schema` prints the file"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let full = readme
        .split("A full example, every key shown:\n\n```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the README's every-key example");
    let basic = std::fs::read_to_string(root.join("examples/basic/.odoo-ci.yml")).unwrap();
    for (name, yaml) in [("README", full), ("examples/basic", basic.as_str())] {
        let value: serde_json::Value = serde_norway::from_str(yaml).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    // Every key the types serialize (the every-key example fills each section) is known.
    let config = odoo_ci::config::Config::from_source(
        std::path::Path::new(".odoo-ci.yml"),
        full.replace(
            "addons_paths:               # folders",
            "addons_paths:  # folders",
        )
        .replace("\n  - addons\n", "\n  - .\n"),
    );
    let file = match config {
        Ok(c) => serde_json::to_value(&c.file).unwrap(),
        Err(e) => panic!("the README's example does not load: {e}"),
    };
    let mut missing = Vec::new();
    known_keys(&file, &schema, &schema, "", &mut missing);
    assert!(
        missing.is_empty(),
        "keys missing from the schema: {missing:?}"
    );
    for wrong in [
        "odoo: {series: \"17.0\"}\nodooo: {}\n",
        "odoo: {series: \"17.0\"}\ndevelopment: {warnings: purple}\n",
    ] {
        let value: serde_json::Value = serde_norway::from_str(wrong).unwrap();
        assert!(!validator.is_valid(&value), "the schema accepts {wrong}");
    }
}

/// The object schema `node` stands for (through `$ref` and `anyOf`), if any.
fn object_schema<'a>(
    node: &'a serde_json::Value,
    root: &'a serde_json::Value,
) -> Option<&'a serde_json::Value> {
    if let Some(r) = node["$ref"].as_str() {
        let name = r.trim_start_matches("#/$defs/");
        return object_schema(&root["$defs"][name], root);
    }
    if let Some(any) = node["anyOf"].as_array() {
        return any.iter().find_map(|n| object_schema(n, root));
    }
    node.get("properties").map(|_| node)
}

fn known_keys(
    value: &serde_json::Value,
    schema: &serde_json::Value,
    root: &serde_json::Value,
    at: &str,
    missing: &mut Vec<String>,
) {
    let (Some(map), Some(node)) = (value.as_object(), object_schema(schema, root)) else {
        return;
    };
    for (key, child) in map {
        let path = format!("{at}{key}");
        match node["properties"].get(key) {
            Some(sub) => known_keys(child, sub, root, &format!("{path}."), missing),
            None => missing.push(path),
        }
    }
}
