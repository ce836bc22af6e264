//! The Markdown summary: failures first (with file:line), problems, warnings grouped and
//! counted, totals; cut to a byte limit (GitHub step summaries take at most 1 MiB, check
//! run summaries 65,535 characters) with a note saying so.

use std::fmt::Write;

use crate::odoo::result::{Colour, FailureKind, LogResult};

/// GitHub's step summary limit, less room for the truncation note.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024 - 1024;

pub fn render(result: &LogResult, title: &str, limit: usize) -> String {
    let mut out = String::new();
    let icon = match result.colour {
        Colour::Green => "🟢",
        Colour::Yellow => "🟡",
        Colour::Red => "🔴",
    };
    let t = &result.tests;
    let _ = writeln!(out, "## {icon} {title}: {}\n", result.colour.as_str());
    let _ = writeln!(
        out,
        "**{}** tests: {} passed, {} failed, {} errors, {} skipped · {} warnings\n",
        t.total, t.passed, t.failed, t.errors, t.skipped, result.warnings.total
    );
    for reason in &result.reasons {
        let _ = writeln!(out, "- {}", escape(&cut_chars(reason, REASON_CHARS)));
    }
    if !result.reasons.is_empty() {
        out.push('\n');
    }
    let mut sections: Vec<String> = Vec::new();
    for f in &result.failures {
        let kind = match f.kind {
            FailureKind::Failure => "FAIL",
            FailureKind::Error => "ERROR",
        };
        let at = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!(" — `{file}:{line}`"),
            _ => String::new(),
        };
        sections.push(format!(
            "### ❌ {kind} `{}` {}{at}\n\n{}\n\n<details><summary>traceback</summary>\n\n```\n{}\n```\n\n</details>\n",
            f.module,
            f.test,
            escape(&f.message),
            f.traceback.replace("```", "'''")
        ));
    }
    for p in &result.problems {
        let at = match (&p.file, p.line) {
            (Some(file), Some(line)) => format!(" — `{file}:{line}`"),
            _ => String::new(),
        };
        let detail = p
            .detail
            .as_deref()
            .map(|d| format!("\n\n`{}`", d.replace('`', "'")))
            .unwrap_or_default();
        sections.push(format!(
            "### ⛔ {} `{}`{at}\n\n{}{detail}\n",
            p.level,
            p.logger,
            escape(&p.message)
        ));
    }
    if !result.warnings.groups.is_empty() {
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
        sections.push(w);
    }
    let totals = format!(
        "\n---\n{} log records · {} warnings ignored by pattern\n",
        result.records, result.warnings.ignored
    );
    let note_room = 200;
    let mut left = sections.len();
    for (i, s) in sections.iter().enumerate() {
        if out.len() + s.len() + totals.len() + note_room > limit {
            left = sections.len() - i;
            let _ = writeln!(
                out,
                "\n> ✂️ Summary truncated to stay under {limit} bytes: {left} more sections; see the JUnit report and the full log."
            );
            break;
        }
        out.push_str(s);
        out.push('\n');
        left = 0;
    }
    let _ = left;
    out.push_str(&totals);
    if out.len() > limit {
        // Only when the head alone is over: cut it, never past the limit.
        let mut end = limit.saturating_sub(totals.len() + note_room);
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        let _ = writeln!(out, "\n> ✂️ Summary truncated to stay under {limit} bytes.");
        out.push_str(&totals);
    }
    out
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
pub fn render_result(result: &crate::result::StageResult, limit: usize) -> String {
    use crate::result::Detail;
    let stage = result.stage();
    match &result.detail {
        Detail::Development(d) => match &d.log {
            Some(log) => render(log, &format!("odoo-ci / {stage}"), limit),
            None => reasons_only(result),
        },
        Detail::Staging(d) => truncate(&staging(result, d), limit),
        Detail::Production(d) => truncate(&production(result, d), limit),
    }
}

fn reasons_only(r: &crate::result::StageResult) -> String {
    let mut out = format!("## odoo-ci / {}: {}\n\n", r.stage(), r.colour.as_str());
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
    if let Some(db) = &d.database {
        out.push_str(&format!("- database: `{db}`\n"));
    }
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
        "## odoo-ci / production: {}\n\ndeployment `{}` of {} ({})\n\n",
        r.colour.as_str(),
        d.id,
        r.commit.as_deref().unwrap_or("worktree"),
        r.branch
    );
    for reason in &r.reasons {
        out.push_str(&format!("- {reason}\n"));
    }
    out.push_str(&steps_table(&r.steps));
    out
}

fn steps_table(steps: &[crate::result::StepRecord]) -> String {
    if steps.is_empty() {
        return String::new();
    }
    let mut out = "\n| step | status | ms |\n| --- | --- | --- |\n".to_string();
    for s in steps {
        out.push_str(&format!(
            "| {} | {:?} | {} |\n",
            s.name, s.status, s.duration_ms
        ));
    }
    out
}

/// Cuts `text` to at most `limit` bytes on a character boundary, with a note.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let note = "\n\n… (cut: see the full summary in the job's output folder)\n";
    let mut end = limit.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
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
        let md = render(&result, "Odoo tests", STEP_SUMMARY_LIMIT);
        assert!(md.len() <= STEP_SUMMARY_LIMIT, "{}", md.len());
        assert!(md.contains("log records"), "the totals stay");
    }

    #[test]
    fn stays_under_the_limit_with_a_note() {
        let result = many_failures(3000);
        assert_eq!(result.failures.len(), 3000);
        let limit = 64 * 1024;
        let md = render(&result, "Odoo tests", limit);
        assert!(md.len() <= limit, "{} > {limit}", md.len());
        assert!(
            md.contains("Summary truncated to stay under 65536 bytes"),
            "note"
        );
        assert!(
            md.contains("T.test_0 — `m/tests/t.py:0`"),
            "first failures kept"
        );
        let small = render(&many_failures(2), "Odoo tests", limit);
        assert!(!small.contains("truncated"));
        assert!(small.contains("T.test_1"));
    }
}
