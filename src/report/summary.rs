//! The Markdown summary: the colour and the totals first, then failures (with file:line,
//! linked to the file at the commit on the host), problems, warnings grouped and counted.
//! It is cut to a byte limit (GitHub step summaries take at most 1 MiB, check-run summaries
//! 65,535 characters) only between whole blocks — never inside a code fence or a
//! `<details>` — with a note saying how much was left out.

use std::fmt::Write;

use crate::odoo::result::{Colour, FailureKind, LogResult};

/// GitHub's step summary limit, less room for the truncation note.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024 - 1024;

/// Room kept for the note that says the summary was cut.
const NOTE_ROOM: usize = 200;

/// Where a `path:line` of the repository can be seen on the host: `{base}/{path}#L{line}`
/// (GitHub's `…/blob/<sha>`, GitLab's `…/-/blob/<sha>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub blob_base: String,
}

impl Links {
    /// `` `path:line` ``, a link to that line when the host is known.
    pub fn location(links: Option<&Links>, path: &str, line: u32) -> String {
        match links {
            Some(l) => format!("[`{path}:{line}`]({}/{path}#L{line})", l.blob_base),
            None => format!("`{path}:{line}`"),
        }
    }
}

fn icon(colour: Colour) -> &'static str {
    match colour {
        Colour::Green => "🟢",
        Colour::Yellow => "🟡",
        Colour::Red => "🔴",
    }
}

pub fn render(result: &LogResult, title: &str, limit: usize, links: Option<&Links>) -> String {
    let (head, blocks) = log_parts(result, title, links);
    assemble(head, &blocks, limit)
}

/// A log's verdict: the head (colour and counts) and the blocks after it (reasons,
/// failures, problems, warnings), each kept whole or left out.
fn log_parts(result: &LogResult, title: &str, links: Option<&Links>) -> (String, Vec<String>) {
    let t = &result.tests;
    let mut head = format!(
        "## {} {title}: {}\n\n",
        icon(result.colour),
        result.colour.as_str()
    );
    let _ = writeln!(
        head,
        "**{}** tests: {} passed, {} failed, {} errors, {} skipped · {} warnings · {} log records · {} warnings ignored by pattern\n",
        t.total,
        t.passed,
        t.failed,
        t.errors,
        t.skipped,
        result.warnings.total,
        result.records,
        result.warnings.ignored
    );
    let mut blocks: Vec<String> = result
        .reasons
        .iter()
        .map(|r| format!("- {}\n", escape(&cut_chars(r, REASON_CHARS))))
        .collect();
    if !blocks.is_empty() {
        blocks.push("\n".to_string());
    }
    blocks.extend(failure_blocks(result, links));
    blocks.extend(problem_blocks(result, links));
    blocks.extend(warning_block(result));
    (head, blocks)
}

/// At most this many addon names in a summary's list; the rest are counted.
const NAMES_SHOWN: usize = 40;

/// `` `a`, `b` `` … and how many more.
fn name_list(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(NAMES_SHOWN)
        .map(|n| format!("`{}`", escape(n)))
        .collect();
    let mut text = shown.join(", ");
    if names.len() > NAMES_SHOWN {
        let _ = write!(text, " and {} more", names.len() - NAMES_SHOWN);
    }
    text
}

/// The development summary: the log's verdict with, first, which addons were tested (a
/// green `--changed-only` run says what it covered), and last the steps with their times.
fn development(
    r: &crate::result::StageResult,
    d: &crate::result::development::DevDetail,
    log: &LogResult,
    (title, limit, links): (&str, usize, Option<&Links>),
) -> String {
    let (head, mut blocks) = log_parts(log, title, links);
    let tested = format!(
        "**Tested** ({}): {}\n\n",
        d.tested.len(),
        name_list(&d.tested)
    );
    blocks.insert(0, tested);
    if let Some(p) = &d.preview {
        blocks.insert(
            1,
            format!(
                "**Preview**: {} (database `{}`, kept until {} UTC; `odoo-ci previews list`){}\n\n",
                p.url,
                p.database,
                crate::clock::rfc3339(p.until),
                p.mail_url
                    .as_ref()
                    .map(|m| format!("; the mail it sends: {m}"))
                    .unwrap_or_default()
            ),
        );
    }
    if !d.screenshots.is_empty() {
        let shots: Vec<String> = d
            .screenshots
            .iter()
            .map(|s| format!("`{}`", escape(s)))
            .collect();
        blocks.push(format!(
            "**Screenshots of failing tours** (in the output folder, uploaded with it): {}\n\n",
            shots.join(", ")
        ));
    }
    blocks.push(steps_table(&r.steps));
    assemble(head, &blocks, limit)
}

/// What an update changed: each updated module with its versions, each installed one.
fn changes_lines(changes: &crate::plan::updates::ModuleChanges) -> String {
    let mut out = String::new();
    if !changes.update.is_empty() {
        let updated: Vec<String> = changes
            .update
            .iter()
            .map(|c| format!("`{}` {} → {}", escape(&c.addon), c.installed, c.manifest))
            .collect();
        let _ = writeln!(out, "- updated: {}", updated.join(", "));
    }
    if !changes.install.is_empty() {
        let _ = writeln!(out, "- installed: {}", name_list(&changes.install));
    }
    if changes.is_empty() {
        out.push_str("- no module updated or installed\n");
    }
    out
}

/// The head, then as many whole blocks as fit under `limit`, then a note naming what was
/// left out.
fn assemble(head: String, blocks: &[String], limit: usize) -> String {
    let mut out = head;
    if out.len() + NOTE_ROOM > limit {
        // Only a tiny limit: cut the head itself, never past the limit.
        return truncate(&out, limit);
    }
    for (i, block) in blocks.iter().enumerate() {
        if out.len() + block.len() + NOTE_ROOM > limit {
            let _ = writeln!(
                out,
                "\n> ✂️ Summary cut to stay under {limit} bytes: {} more blocks left out; see the JUnit report and the full log.",
                blocks.len() - i
            );
            return out;
        }
        out.push_str(block);
    }
    out
}

fn failure_blocks(result: &LogResult, links: Option<&Links>) -> Vec<String> {
    result
        .failures
        .iter()
        .map(|f| {
            let kind = match f.kind {
                FailureKind::Failure => "FAIL",
                FailureKind::Error => "ERROR",
            };
            let at = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!(" — {}", Links::location(links, file, line)),
                _ => String::new(),
            };
            let traceback = match f.traceback.trim().is_empty() {
                true => String::new(),
                false => format!(
                    "<details><summary>traceback</summary>\n\n```\n{}\n```\n\n</details>\n\n",
                    f.traceback.replace("```", "'''")
                ),
            };
            format!(
                "### ❌ {kind} `{}` {}{at}\n\n{}\n\n{traceback}",
                f.module,
                f.test,
                escape(&f.message),
            )
        })
        .collect()
}

fn problem_blocks(result: &LogResult, links: Option<&Links>) -> Vec<String> {
    result
        .problems
        .iter()
        .map(|p| {
            let at = match (&p.file, p.line) {
                (Some(file), Some(line)) => format!(" — {}", Links::location(links, file, line)),
                _ => String::new(),
            };
            let detail = p
                .detail
                .as_deref()
                .map(|d| format!("\n\n`{}`", d.replace('`', "'")))
                .unwrap_or_default();
            format!(
                "### ⛔ {} `{}`{at}\n\n{}{detail}\n\n",
                p.level,
                p.logger,
                escape(&p.message)
            )
        })
        .collect()
}

fn warning_block(result: &LogResult) -> Option<String> {
    if result.warnings.groups.is_empty() {
        return None;
    }
    let mut w =
        String::from("### ⚠️ Warnings\n\n| count | logger | message |\n| ---: | --- | --- |\n");
    for g in &result.warnings.groups {
        let _ = writeln!(
            w,
            "| {} | `{}` | {} |",
            g.count,
            g.logger,
            escape(&g.message).replace('|', "\\|")
        );
    }
    w.push('\n');
    Some(w)
}

/// A reason line is one line of text; an ERROR record's message can be 600 KB.
const REASON_CHARS: usize = 2_000;

fn cut_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Keeps Markdown from reading log text as markup.
fn escape(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

/// The Markdown summary of any stage's result.
pub fn render_result(
    result: &crate::result::StageResult,
    limit: usize,
    links: Option<&Links>,
) -> String {
    use crate::result::Detail;
    let stage = result.stage();
    match &result.detail {
        Detail::Development(d) => {
            let title = match d.shard {
                Some(shard) => format!("odoo-ci / {stage} ({shard})"),
                None => format!("odoo-ci / {stage}"),
            };
            match &d.log {
                Some(log) => development(result, d, log, (&title, limit, links)),
                None => truncate(&reasons_only(result), limit),
            }
        }
        Detail::Staging(d) => truncate(&staging(result, d), limit),
        Detail::Production(d) => truncate(&production(result, d), limit),
    }
}

fn reasons_only(r: &crate::result::StageResult) -> String {
    let mut out = format!(
        "## {} odoo-ci / {}: {}\n\n",
        icon(r.colour),
        r.stage(),
        r.colour.as_str()
    );
    for reason in &r.reasons {
        out.push_str(&format!("- {reason}\n"));
    }
    out
}

fn staging(r: &crate::result::StageResult, d: &crate::result::staging::StagingDetail) -> String {
    let mut out = reasons_only(r);
    if let Some(url) = &d.url {
        out.push_str(&format!("- URL: {url}\n"));
    }
    if let Some(mail) = &d.mail_url {
        out.push_str(&format!("- mail it sent: {mail}\n"));
    }
    if let Some(db) = &d.database {
        out.push_str(&format!("- database: `{db}`\n"));
    }
    out.push_str(&changes_lines(&d.changes));
    if !d.neutralization.is_empty() {
        out.push_str("\n| check | result |\n| --- | --- |\n");
        for c in &d.neutralization {
            out.push_str(&format!(
                "| {} | {} {} |\n",
                c.name,
                if c.ok { "✅" } else { "❌" },
                c.detail
            ));
        }
    }
    out.push_str(&steps_table(&r.steps));
    out
}

fn production(
    r: &crate::result::StageResult,
    d: &crate::result::production::ProductionDetail,
) -> String {
    let mut out = format!(
        "## {} odoo-ci / production: {}\n\ndeployment `{}` of {} ({})\n\n",
        icon(r.colour),
        r.colour.as_str(),
        d.id,
        r.commit.as_deref().unwrap_or("worktree"),
        r.branch
    );
    for reason in &r.reasons {
        out.push_str(&format!("- {reason}\n"));
    }
    out.push_str(&changes_lines(&d.changes));
    out.push_str(&steps_table(&r.steps));
    out
}

fn steps_table(steps: &[crate::result::StepRecord]) -> String {
    if steps.is_empty() {
        return String::new();
    }
    let mut out = "\n| step | status | ms |\n| --- | --- | --- |\n".to_string();
    for s in steps {
        let status = format!("{:?}", s.status).to_lowercase();
        out.push_str(&format!("| {} | {status} | {} |\n", s.name, s.duration_ms));
    }
    out
}

/// Cuts `text` to at most `limit` bytes at the last line break that fits (a character
/// boundary when no line does), with a note.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let note = "\n… (cut: see the full summary in the job's output folder)\n";
    let mut end = limit.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map(|i| i + 1).unwrap_or(end);
    format!("{}{note}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odoo::{analyze, Options};

    fn many_failures(n: usize) -> LogResult {
        let mut log = String::new();
        for i in 0..n {
            log.push_str(&format!(
                "2026-11-21 22:42:24,826 1 ERROR db odoo.addons.m.tests.t: FAIL: T.test_{i} \nTraceback (most recent call last):\n  File \"/x/m/tests/t.py\", line {i}, in test_{i}\n    self.fail()\nAssertionError: number {i} failed\n \n"
            ));
        }
        analyze(log.as_bytes(), Options::default()).unwrap()
    }

    #[test]
    fn huge_error_records_stay_under_the_limit() {
        let mut log = String::new();
        for i in 0..5 {
            log.push_str(&format!(
                "2026-11-21 22:42:24,826 1 ERROR db odoo.sql_db: bad query {i} {}\n",
                "x".repeat(600 * 1024)
            ));
        }
        let result = analyze(log.as_bytes(), Options::default()).unwrap();
        let md = render(&result, "Odoo tests", STEP_SUMMARY_LIMIT, None);
        assert!(md.len() <= STEP_SUMMARY_LIMIT, "{}", md.len());
        assert!(md.contains("log records"), "the totals stay");
    }

    #[test]
    fn stays_under_the_limit_with_a_note() {
        let result = many_failures(3000);
        assert_eq!(result.failures.len(), 3000);
        let limit = 64 * 1024;
        let md = render(&result, "Odoo tests", limit, None);
        assert!(md.len() <= limit, "{} > {limit}", md.len());
        assert!(md.contains("Summary cut to stay under 65536 bytes"), "note");
        assert!(
            md.contains("T.test_0 — `m/tests/t.py:0`"),
            "first failures kept"
        );
        let small = render(&many_failures(2), "Odoo tests", limit, None);
        assert!(!small.contains("cut to stay"));
        assert!(small.contains("T.test_1"));
    }

    /// Every fence and `<details>` opened is closed, and the totals come before any block.
    fn assert_well_formed(md: &str, limit: usize) {
        assert!(md.len() <= limit, "{} > {limit}", md.len());
        assert_eq!(md.matches("```").count() % 2, 0, "a code fence left open");
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count(),
            "a <details> left open"
        );
        let totals = md.find("log records").expect("the totals");
        assert!(
            md.find("###").is_none_or(|block| totals < block),
            "totals first"
        );
    }

    #[test]
    fn a_cut_summary_ends_between_blocks_with_the_totals_first() {
        let result = many_failures(500);
        // Limits that land in every part of a failure block: its title, message, fence.
        for limit in (20_000..20_400).step_by(7).chain([65_535]) {
            let md = render(&result, "odoo-ci / development", limit, None);
            assert_well_formed(&md, limit);
            assert!(md.contains("more blocks left out"), "{limit}: no note");
        }
        let whole = render(&result, "odoo-ci / development", 1024 * 1024, None);
        assert_well_formed(&whole, 1024 * 1024);
        assert!(!whole.contains("left out"), "all 500 fit in 1 MiB");
    }

    #[test]
    fn locations_link_to_the_file_at_the_commit() {
        let links = Links {
            blob_base: "https://github.com/acme/odoo/blob/abc123".into(),
        };
        let md = render(&many_failures(1), "t", STEP_SUMMARY_LIMIT, Some(&links));
        assert!(
            md.contains(
                "[`m/tests/t.py:0`](https://github.com/acme/odoo/blob/abc123/m/tests/t.py#L0)"
            ),
            "{md}"
        );
    }
}
