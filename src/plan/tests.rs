//! Planning, table-driven and in memory: for each stage, the steps and lists that come out
//! of given facts. No disk, no database: the facts are built here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[cfg(test)] // the whole file: it is `plan::tests`
use super::*;
use crate::addons::discovery::Addon;
use crate::addons::manifest::parse_manifest;
use crate::context::{Context, Provider, Trigger};
use crate::db::InstalledModule;

/// The config, with `{odoo}`, `{staging}` and `{development}` lines added to those sections.
/// Its folder is `/` (the config checks that addons paths exist; nothing is read).
const CONFIG: &str = "odoo:\n  series: \"17.0\"\n  image: odoo:17.0\n{odoo}addons_paths: [.]\nbranches:\n  - match: main\n    stage: production\n  - match: \"staging*\"\n    stage: staging\n  - match: \"*\"\n    stage: development\ndevelopment:\n  install: all\n{development}staging:\n  health_check:\n    path: /web/login\n{staging}production:\n  database: postgresql://odoo@db/prod\n  health_check:\n    path: /web/health\n{production}";

fn config(odoo: &str, development: &str, staging: &str) -> Config {
    config_with(odoo, development, staging, "")
}

fn config_with(odoo: &str, development: &str, staging: &str, production: &str) -> Config {
    let text = CONFIG
        .replace("{odoo}", odoo)
        .replace("{development}", development)
        .replace("{staging}", staging)
        .replace("{production}", production);
    Config::from_source(Path::new("/.odoo-ci.yml"), text).expect("config")
}

/// `a` ← `b` ← `c` (c depends on b, b on a), and `solo`.
const ADDONS: &[(&str, &str, &[&str])] = &[
    ("a", "17.0.1.1.0", &["base"]),
    ("b", "17.0.1.0.0", &["a"]),
    ("c", "17.0.1.0.0", &["b"]),
    ("solo", "17.0.1.0.0", &["mail"]),
];

struct World {
    config: Config,
    context: Context,
    addons: AddonSet,
    graph: AddonGraph,
    build_files: BuildFiles,
    engine_sees_files: bool,
    tours: BTreeMap<String, String>,
    http_cases: BTreeMap<String, String>,
}

fn world(config: Config, branch: &str) -> World {
    let series: crate::addons::Series = "17.0".parse().unwrap();
    let addons = AddonSet {
        series,
        addons: ADDONS
            .iter()
            .map(|(name, version, depends)| {
                let deps: Vec<String> = depends.iter().map(|d| format!("'{d}'")).collect();
                let source = format!(
                    "{{'name': '{name}', 'version': '{version}', 'depends': [{}]}}",
                    deps.join(", ")
                );
                let file = PathBuf::from(format!("/nowhere/addons/{name}/__manifest__.py"));
                Addon {
                    name: name.to_string(),
                    dir: PathBuf::from(format!("/nowhere/addons/{name}")),
                    rel_dir: format!("addons/{name}"),
                    manifest: parse_manifest(&file, &source).expect("manifest"),
                    manifest_file: file,
                    version: version.to_string(),
                    submodule: None,
                    extra: None,
                }
            })
            .collect(),
    };
    let graph = AddonGraph::build(&addons).expect("graph");
    let context = Context {
        provider: Provider::Local,
        trigger: Trigger::Manual,
        branch: branch.to_string(),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        base: None,
        repository: None,
        pull_request: None,
    };
    World {
        config,
        context,
        addons,
        graph,
        build_files: BuildFiles {
            dockerfile: true,
            requirements: false,
        },
        engine_sees_files: true,
        tours: BTreeMap::new(),
        http_cases: BTreeMap::new(),
    }
}

fn plan(
    w: &World,
    stage: Option<Stage>,
    choices: Choices,
    database: DatabaseFacts,
    base: Option<BaseFacts>,
) -> Plan {
    try_plan(w, stage, choices, database, base).expect("plan")
}

fn try_plan(
    w: &World,
    stage: Option<Stage>,
    choices: Choices,
    database: DatabaseFacts,
    base: Option<BaseFacts>,
) -> Result<Plan, Diagnostic> {
    let facts = Facts {
        config: &w.config,
        context: &w.context,
        commit: None,
        addons: &w.addons,
        graph: &w.graph,
        base,
        project: "acme".into(),
        scope: "acme".into(),
        env_names: Default::default(),
        secret_variables: Default::default(),
        worktree_tag: "worktree-1".into(),
        choices,
        database,
        build_files: w.build_files,
        engine_sees_files: w.engine_sees_files,
        tours: w.tours.clone(),
        http_cases: w.http_cases.clone(),
    };
    make_plan_as(&facts, stage)
}

fn kinds(steps: &[Step]) -> Vec<&'static str> {
    steps.iter().map(|s| s.kind().as_str()).collect()
}

fn installed(modules: &[(&str, &str)]) -> DatabaseFacts {
    DatabaseFacts::Read(InstalledFacts {
        database: "prod".into(),
        modules: modules
            .iter()
            .map(|(name, version)| {
                (
                    name.to_string(),
                    InstalledModule {
                        state: "installed".into(),
                        latest_version: Some(version.to_string()),
                        demo: false,
                    },
                )
            })
            .collect(),
        ..InstalledFacts::default()
    })
}

/// `a` and `b` installed as the repo has them, with content hashes now and stored.
fn with_hashes(now: &[(&str, &str)], stored: &[(&str, &str)]) -> InstalledFacts {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let DatabaseFacts::Read(facts) = installed(&[("a", "17.0.1.1.0"), ("b", "17.0.1.0.0")]) else {
        unreachable!("installed() reads")
    };
    InstalledFacts {
        hashes: map(now),
        stored_hashes: map(stored),
        ..facts
    }
}

fn base_changing(addon: &str) -> BaseFacts {
    BaseFacts {
        reference: "origin/main".into(),
        sha: "f".repeat(40),
        versions: ADDONS
            .iter()
            .map(|(n, v, _)| (n.to_string(), v.to_string()))
            .collect(),
        changed_files: BTreeMap::from([(addon.to_string(), vec!["models.py".to_string()])]),
        manifest_paths: BTreeMap::new(),
    }
}

#[test]
fn each_stage_plans_the_steps_it_runs_in_the_order_it_runs_them() {
    let w = world(config("", "", ""), "x");
    let cases: &[(Stage, &[&str], &[&str])] = &[
        (
            Stage::Development,
            &["build", "template", "database", "install-and-test"],
            &[],
        ),
        (
            Stage::Staging,
            &[
                "lock",
                "build",
                "copy",
                "neutralize",
                "verify",
                "update",
                "start",
                "health",
                "prune",
            ],
            &[],
        ),
        (
            Stage::Production,
            &[
                "lock", "build", "snapshot", "update", "start", "health", "switch", "settle",
                "stop-old", "prune",
            ],
            &["rollback"],
        ),
    ];
    for (stage, steps, on_failure) in cases {
        let p = plan(
            &w,
            Some(*stage),
            Choices::default(),
            DatabaseFacts::NotRead,
            None,
        );
        assert_eq!(kinds(&p.steps), *steps, "{stage}");
        assert_eq!(kinds(&p.on_failure), *on_failure, "{stage}");
    }
}

#[test]
fn each_stage_checks_its_own_health_path() {
    let w = world(config("", "", ""), "x");
    for (stage, path) in [
        (Stage::Staging, "/web/login"),
        (Stage::Production, "/web/health"),
    ] {
        let p = plan(
            &w,
            Some(stage),
            Choices::default(),
            DatabaseFacts::NotRead,
            None,
        );
        let health = p
            .steps
            .iter()
            .find(|s| s.kind() == StepKind::Health)
            .unwrap();
        assert!(
            matches!(health, Step::Health(h) if h.path == path),
            "{stage}: {health}"
        );
    }
}

#[test]
fn the_local_executor_plans_no_image_build() {
    let w = world(config("  command: odoo-bin\n", "", ""), "x");
    let choices = Choices {
        executor: ExecutorKind::Local,
        ..Choices::default()
    };
    let p = plan(
        &w,
        Some(Stage::Development),
        choices,
        DatabaseFacts::NotRead,
        None,
    );
    assert_eq!(
        kinds(&p.steps),
        ["local", "template", "database", "install-and-test"]
    );
    assert!(
        p.steps[0].to_string().contains("odoo-bin"),
        "{}",
        p.steps[0]
    );
}

#[test]
fn shards_and_changed_only_are_decided_in_the_plan() {
    let w = world(config("", "", ""), "x");
    let changed = Choices {
        changed_only: true,
        ..Choices::default()
    };
    // b changed: b and c (which depends on it) are tested; a is installed for them.
    let p = plan(
        &w,
        Some(Stage::Development),
        changed.clone(),
        DatabaseFacts::NotRead,
        Some(base_changing("b")),
    );
    assert_eq!(p.addons.test, ["b", "c"]);
    assert_eq!(p.addons.install, ["a", "b", "c"]);
    // Without a base, --changed-only is bad input, said before anything runs.
    let err = try_plan(
        &w,
        Some(Stage::Development),
        changed,
        DatabaseFacts::NotRead,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--changed-only"), "{err}");

    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = Choices {
            shard: Some((k, 3)),
            ..Choices::default()
        };
        let p = plan(
            &w,
            Some(Stage::Development),
            shard,
            DatabaseFacts::NotRead,
            None,
        );
        for t in &p.addons.test {
            // Each shard installs what its tests need, not every addon.
            assert!(p.addons.install.contains(t));
        }
        seen.extend(p.addons.test.clone());
        assert!(
            p.notes
                .iter()
                .any(|n| n.starts_with(&format!("shard {k}/3"))),
            "{:?}",
            p.notes
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        ["a", "b", "c", "solo"],
        "every addon tested by exactly one shard"
    );
}

#[test]
fn a_shard_with_nothing_to_test_plans_no_step_and_says_why() {
    // Four addons over five shards: one shard has nothing.
    let w = world(config("", "", ""), "x");
    let empty: Vec<Plan> = (1..=5)
        .map(|k| {
            let shard = Choices {
                shard: Some((k, 5)),
                ..Choices::default()
            };
            plan(
                &w,
                Some(Stage::Development),
                shard,
                DatabaseFacts::NotRead,
                None,
            )
        })
        .filter(|p| p.addons.test.is_empty())
        .collect();
    assert_eq!(empty.len(), 1);
    assert!(empty[0].steps.is_empty(), "{:?}", kinds(&empty[0].steps));
    assert!(
        empty[0].notes.iter().any(|n| n.contains("nothing to test")),
        "{:?}",
        empty[0].notes
    );
}

#[test]
fn the_update_list_comes_from_what_the_database_has_installed() {
    let w = world(config_with("", "", "", "  install: all\n"), "x");
    // The database has a at 1.0 (the repo has 1.1), b and c current, solo missing.
    let db = installed(&[
        ("a", "17.0.1.0.0"),
        ("b", "17.0.1.0.0"),
        ("c", "17.0.1.0.0"),
    ]);
    for stage in [Stage::Staging, Stage::Production] {
        let p = plan(&w, Some(stage), Choices::default(), db.clone(), None);
        assert_eq!(p.addons.update, ["a"], "{stage}");
        assert_eq!(p.addons.install, ["solo"], "{stage}");
        assert_eq!(p.changes.update_names(), ["a"]);
        let update = p
            .steps
            .iter()
            .find(|s| s.kind() == StepKind::Update)
            .unwrap();
        let Step::Update(update) = update else {
            panic!("{update:?}")
        };
        assert_eq!(
            update.command.as_ref().map(|c| c.describe()).as_deref(),
            Some("odoo -u a -i solo --stop-after-init --workers 0 --max-cron-threads 0 --without-demo=all"),
            "{stage}"
        );
        assert_eq!(update.provisional, None);
        assert_eq!(
            update.neutralize_after,
            (stage == Stage::Staging).then(|| "odoo neutralize".to_string()),
            "{stage}: staging neutralizes again after its update, production never does"
        );
    }
}

#[test]
fn without_the_database_the_update_list_is_provisional_and_says_why() {
    let w = world(config("", "", ""), "x");
    let p = plan(
        &w,
        Some(Stage::Production),
        Choices::default(),
        DatabaseFacts::Unavailable("connection refused".into()),
        None,
    );
    let update = p
        .steps
        .iter()
        .find(|s| s.kind() == StepKind::Update)
        .unwrap();
    assert!(
        matches!(update, Step::Update(u) if u.provisional.as_ref().is_some_and(|why| why.contains("connection refused"))),
        "{update}"
    );
}

#[test]
fn a_version_lower_than_the_database_s_stops_the_stage() {
    let w = world(config("", "", ""), "x");
    let db = installed(&[("a", "17.0.2.0.0")]);
    let p = plan(&w, Some(Stage::Production), Choices::default(), db, None);
    assert!(
        p.problems
            .iter()
            .any(|m| m.contains("`a`") && m.contains("downgrade")),
        "{:?}",
        p.problems
    );
    assert!(p.ready().is_err());
}

#[test]
fn hash_mode_updates_an_addon_whose_content_changed() {
    let w = world(config("", "", ""), "x");
    let db = with_hashes(&[("b", "new")], &[("b", "old")]);
    let hash = Choices {
        update_mode: Some(UpdateMode::Hash),
        ..Choices::default()
    };
    let p = plan(
        &w,
        Some(Stage::Production),
        hash,
        DatabaseFacts::Read(db.clone()),
        None,
    );
    assert_eq!(p.addons.update, ["b"]);
    let p = plan(
        &w,
        Some(Stage::Production),
        Choices::default(),
        DatabaseFacts::Read(db),
        None,
    );
    assert!(p.addons.update.is_empty(), "version mode ignores content");
}

#[test]
fn staging_says_which_database_it_reuses() {
    let w = world(config("", "", "  push: update\n"), "staging-1");
    let mut db = InstalledFacts {
        reuse: Some("odoo_ci_stg_x".into()),
        ..InstalledFacts::default()
    };
    db.database = "odoo_ci_stg_x".into();
    let p = plan(
        &w,
        Some(Stage::Staging),
        Choices::default(),
        DatabaseFacts::Read(db),
        None,
    );
    let copy = p.steps.iter().find(|s| s.kind() == StepKind::Copy).unwrap();
    assert_eq!(copy.to_string(), "reuse `odoo_ci_stg_x` (push: update)");
}

#[test]
fn a_pull_request_plans_development_whatever_its_head_branch() {
    let mut w = world(config("", "", ""), "main");
    w.context.trigger = Trigger::PullRequest;
    let p = plan(&w, None, Choices::default(), DatabaseFacts::NotRead, None);
    assert_eq!(p.stage, Stage::Development);
    assert!(try_plan(
        &w,
        Some(Stage::Production),
        Choices::default(),
        DatabaseFacts::NotRead,
        None
    )
    .is_err());
}

#[test]
fn production_installs_only_what_production_install_names() {
    // `development.install: all` once put a development-only addon into production.
    let db = installed(&[
        ("a", "17.0.1.1.0"),
        ("b", "17.0.1.0.0"),
        ("c", "17.0.1.0.0"),
    ]);
    let w = world(config("", "", ""), "x");
    for stage in [Stage::Staging, Stage::Production] {
        let p = plan(&w, Some(stage), Choices::default(), db.clone(), None);
        assert!(
            p.addons.install.is_empty(),
            "{stage}: {:?}",
            p.addons.install
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("solo") && n.contains("production.install")),
            "{stage}: the plan says so: {:?}",
            p.notes
        );
    }
    let w = world(config_with("", "", "", "  install: [solo]\n"), "x");
    let p = plan(&w, Some(Stage::Production), Choices::default(), db, None);
    assert_eq!(p.addons.install, ["solo"]);
}

#[test]
fn the_first_deploy_in_hash_mode_updates_nothing_for_content() {
    let w = world(config("", "", ""), "x");
    let db = with_hashes(&[("a", "h"), ("b", "h")], &[]);
    let hash = Choices {
        update_mode: Some(UpdateMode::Hash),
        ..Choices::default()
    };
    let p = plan(
        &w,
        Some(Stage::Production),
        hash,
        DatabaseFacts::Read(db),
        None,
    );
    assert!(p.addons.update.is_empty(), "{:?}", p.addons.details);
}

#[test]
fn nothing_to_build_mounts_the_project_in_development_and_carries_a_release_elsewhere() {
    let none = BuildFiles::default();
    let requirements = BuildFiles {
        dockerfile: false,
        requirements: true,
    };
    let dockerfile = BuildFiles {
        dockerfile: true,
        requirements: false,
    };
    // (files, engine sees them, development.build, stage) → first step of the image
    let cases = [
        (none, true, "", Stage::Development, "mount"),
        (requirements, true, "", Stage::Development, "build"),
        (dockerfile, true, "", Stage::Development, "build"),
        (none, false, "", Stage::Development, "build"),
        (none, true, "  build: always\n", Stage::Development, "build"),
        (none, true, "", Stage::Staging, "release"),
        (none, false, "", Stage::Staging, "release"),
        (requirements, true, "", Stage::Staging, "release"),
        (dockerfile, true, "", Stage::Staging, "build"),
        (none, true, "", Stage::Production, "release"),
        (none, false, "", Stage::Production, "release"),
        (dockerfile, false, "", Stage::Production, "build"),
        (requirements, false, "", Stage::Production, "release"),
    ];
    for (files, sees, dev, stage, expected) in cases {
        let branch = match stage {
            Stage::Development => "feature",
            Stage::Staging => "staging-1",
            Stage::Production => "main",
        };
        let mut w = world(config("", dev, ""), branch);
        w.build_files = files;
        w.engine_sees_files = sees;
        let p = plan(
            &w,
            Some(stage),
            Choices::default(),
            DatabaseFacts::NotRead,
            None,
        );
        let image_step = kinds(&p.steps)
            .into_iter()
            .find(|k| ["build", "mount", "release"].contains(k));
        assert_eq!(
            image_step,
            Some(expected),
            "{files:?}, engine sees files: {sees}, `{dev}`, {stage:?}"
        );
    }
}

/// The browser a tour needs goes into the development image: `auto` when a tested addon's
/// tests start a tour (an image of the base built once, the project mounted in it as
/// without a browser; built in when the engine cannot see the files), `never` leaves it
/// out, and a repository's own Dockerfile is built as it is, with a note saying what to
/// add.
#[test]
fn a_tested_addon_with_a_tour_gets_a_browser_in_its_image() {
    let image_step_seeing = |dev: &str, dockerfile: bool, sees: bool| {
        let mut w = world(config("", dev, ""), "feature");
        let file = "addons/solo/tests/test_ui.py".to_string();
        w.tours = BTreeMap::from([("solo".to_string(), file)]);
        w.build_files.dockerfile = dockerfile;
        w.engine_sees_files = sees;
        let p = plan(
            &w,
            Some(Stage::Development),
            Choices::default(),
            DatabaseFacts::NotRead,
            None,
        );
        let browser = p.steps.iter().find_map(|s| match s {
            Step::Build(b) => Some(b.browser.clone()),
            Step::Mount(m) => Some(m.browser.clone()),
            _ => None,
        });
        (kinds(&p.steps)[0], browser.flatten(), p.notes)
    };
    let image_step = |dev: &str, dockerfile: bool| image_step_seeing(dev, dockerfile, true);
    let (first, browser, _) = image_step("", false);
    assert_eq!(
        first, "mount",
        "the browser's image runs the project mounted"
    );
    let why = browser.unwrap();
    assert!(
        why.contains("solo") && why.contains("tests/test_ui.py"),
        "{why}"
    );
    let (first, browser, _) = image_step_seeing("", false, false);
    assert_eq!(first, "build", "a remote engine gets the project built in");
    assert!(browser.is_some());
    let (first, browser, _) = image_step("  browser: never\n", false);
    assert_eq!((first, browser), ("mount", None));
    let (first, browser, notes) = image_step("", true);
    assert_eq!((first, browser), ("build", None));
    assert!(
        notes
            .iter()
            .any(|n| n.contains("Dockerfile is built as it is")),
        "{notes:?}"
    );
}

/// `development.keep` adds the `keep` step after the tests, builds the commit's image
/// instead of mounting the checkout (a preview outlives the job), and keeps one build per
/// branch: the first shard's.
#[test]
fn a_kept_build_runs_the_commit_s_image_and_only_the_first_shard_keeps_it() {
    let on = |dev: &str, shard: Option<(usize, usize)>, sees: bool| {
        let mut w = world(config("", dev, ""), "feature/x");
        w.build_files.dockerfile = false;
        w.engine_sees_files = sees;
        let choices = Choices {
            shard,
            ..Choices::default()
        };
        let p = plan(
            &w,
            Some(Stage::Development),
            choices,
            DatabaseFacts::NotRead,
            None,
        );
        (kinds(&p.steps), p.steps)
    };
    let steps_of = |dev: &str, shard| on(dev, shard, true);
    let (kinds_off, _) = steps_of("", None);
    assert_eq!(kinds_off[0], "mount");
    assert!(!kinds_off.contains(&"keep"));
    let (kinds_on, steps) = steps_of("  keep: 3d\n", None);
    assert_eq!(kinds_on.first(), Some(&"build"));
    assert_eq!(kinds_on.last(), Some(&"keep"));
    let Some(Step::Keep(keep)) = steps.last() else {
        panic!("{steps:?}")
    };
    assert_eq!(keep.for_secs, 3 * 86_400);
    assert_eq!(
        keep.database,
        crate::db::previews::database_name("acme", "feature/x")
    );
    assert!(keep.to_string().contains("for 3d"), "{keep}");
    assert!(keep
        .to_string()
        .contains("lives on this machine's Docker engine"));
    let (second_shard, _) = steps_of("  keep: 3d\n", Some((2, 2)));
    assert!(!second_shard.contains(&"keep"));
    let (_, remote) = on("  keep: 3d\n", None, false);
    let Some(Step::Keep(keep)) = remote.last() else {
        panic!("{remote:?}")
    };
    assert!(
        keep.to_string()
            .contains("lives on the remote Docker engine"),
        "{keep}"
    );
}

/// Odoo makes its asset bundles before tests with an `HttpCase` (16.0+): the template
/// holds them when one of the project's own addons has such tests, whichever a commit tests.
#[test]
fn the_template_holds_the_asset_bundles_when_the_project_has_http_cases() {
    let cases = BTreeMap::from([(
        "shop".to_string(),
        "addons/shop/tests/test_ui.py".to_string(),
    )]);
    let assets = |series: &str, cases: &BTreeMap<String, String>| {
        super::template_assets(series.parse().unwrap(), cases)
    };
    assert_eq!(
        assets("17.0", &cases).as_deref(),
        Some("shop's tests hold an HttpCase (addons/shop/tests/test_ui.py)")
    );
    assert_eq!(
        assets("15.0", &cases),
        None,
        "15.0 makes them on demand only"
    );
    assert_eq!(assets("18.0", &BTreeMap::new()), None);
}
