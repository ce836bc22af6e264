//! `odoo-ci check-log`: an Odoo log → colour, counts, failures, JUnit and summary.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::Context as _;
use regex::Regex;

use crate::cli::{CheckLogArgs, Format};
use crate::config::Config;
use crate::exit::BadInput;
use crate::odoo::traceback::PathMap;
use crate::odoo::{analyze, Options};
use crate::report::{junit, log_text, summary};
use crate::style::Style;

const READ_BUFFER: usize = 1 << 20;

pub fn run(config_path: &Path, args: &CheckLogArgs) -> anyhow::Result<u8> {
    let opts = options(config_path, args)?;
    let result = if args.file == "-" {
        analyze(
            BufReader::with_capacity(READ_BUFFER, std::io::stdin().lock()),
            opts,
        )
        .context("cannot read the log from standard input")?
    } else {
        let file = std::fs::File::open(&args.file).map_err(|e| {
            BadInput::new(format!("cannot open log `{}`: {e}", args.file))
                .hint("give the path of an Odoo log file, or `-` to read standard input")
        })?;
        analyze(BufReader::with_capacity(READ_BUFFER, file), opts)
            .map_err(|e| BadInput::new(format!("cannot read log `{}`: {e}", args.file)))?
    };
    write_files(&result, args)?;
    let text = match args.format {
        Format::Json => super::to_json(&result)?,
        Format::Text => log_text::render(&result, Style::for_stdout()),
    };
    super::print_stdout(&text)?;
    Ok(super::exit_code(
        result.colour,
        args.fail_on_warning,
        crate::context::Provider::from_env(),
    ))
}

/// How the log is read: the project's settings when there is one, then the arguments'.
fn options(config_path: &Path, args: &CheckLogArgs) -> anyhow::Result<Options> {
    let mut opts = Options {
        tests_expected: args.tests_expected,
        allow_truncated: args.allow_truncated,
        exit_code: args.exit_code,
        ..Options::default()
    };
    let mut path_map = BTreeMap::new();
    if config_path.exists() {
        let config = Config::load(config_path)?;
        opts.ignore.extend(config.ignore_warnings.iter().cloned());
        opts.warnings = config.file.development.warnings;
        path_map = project_paths(&config);
    }
    for pattern in &args.ignore {
        let re = Regex::new(pattern).map_err(|e| {
            BadInput::new(format!("--ignore `{pattern}` is not a valid regex: {e}"))
                .hint("escape `.`, `(` and `[` with `\\`")
        })?;
        opts.ignore.push(re);
    }
    for spec in &args.path_map {
        let (addon, dir) = spec.split_once('=').ok_or_else(|| {
            BadInput::new(format!("--path-map `{spec}` is not ADDON=DIR"))
                .hint("e.g. --path-map acc_x=addons/acc_x")
        })?;
        path_map.insert(addon.to_string(), dir.to_string());
    }
    opts.path_map = PathMap::new(path_map);
    Ok(opts)
}

/// Each addon of the project by the folder it has in the repository.
fn project_paths(config: &Config) -> BTreeMap<String, String> {
    let series = Some(config.file.odoo.series);
    match crate::addons::discover(&config.root, &config.addons_dirs, series) {
        Ok(set) => {
            let prefix = crate::repo::Repo::prefix_of(&config.root);
            set.addons
                .into_iter()
                .map(|a| (a.name, format!("{prefix}{}", a.rel_dir)))
                .collect()
        }
        Err(e) => {
            tracing::warn!("addon paths are not mapped into the repo: {e}");
            BTreeMap::new()
        }
    }
}

/// The JUnit file and the Markdown summary, when asked for.
fn write_files(result: &crate::odoo::LogResult, args: &CheckLogArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.junit {
        let xml = junit::render(result, "odoo-ci").context("cannot render JUnit XML")?;
        std::fs::write(path, xml)
            .with_context(|| format!("cannot write JUnit to `{}`", path.display()))?;
    }
    if let Some(path) = &args.summary {
        // Appended: $GITHUB_STEP_SUMMARY is shared by the whole step.
        let text = summary::render(result, "Odoo tests", summary::STEP_SUMMARY_LIMIT, None);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write the summary to `{}`", path.display()))?;
    }
    Ok(())
}
