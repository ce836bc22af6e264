//! Figures kept, not just met: with `ODOO_CI_BENCH_GUARD=1` (what CI sets) a bench compares
//! each figure it prints with `benches/baseline.json` and counts a regression when it is
//! worse than the baseline by more than the file's `margin` (a fraction: 0.4 fails a
//! throughput under 60 % of its baseline, or a time over 1/0.6 of it). The baseline is this
//! project's machine kind (2 cores); raise a figure there when a change makes it better.

use std::collections::BTreeMap;

#[derive(Clone, Copy)]
#[allow(dead_code)] // each bench uses the direction of its own figures
pub enum Better {
    Higher,
    Lower,
}

#[derive(serde::Deserialize)]
struct Baseline {
    margin: f64,
    figures: BTreeMap<String, f64>,
}

fn baseline() -> Option<Baseline> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baseline.json");
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// 1 when `figure` regressed beyond the margin (guard mode only), else 0; says which.
pub fn check(name: &str, figure: f64, better: Better) -> u32 {
    if std::env::var("ODOO_CI_BENCH_GUARD").as_deref() != Ok("1") {
        return 0;
    }
    let Some(base) = baseline() else {
        println!("guard: benches/baseline.json is missing or unreadable");
        return 1;
    };
    let Some(&expected) = base.figures.get(name) else {
        println!("guard: `{name}` has no baseline: add it to benches/baseline.json");
        return 1;
    };
    let (ok, bound) = match better {
        Better::Higher => {
            let bound = expected * (1.0 - base.margin);
            (figure >= bound, format!("at least {}", shown(bound)))
        }
        Better::Lower => {
            let bound = expected / (1.0 - base.margin);
            (figure <= bound, format!("at most {}", shown(bound)))
        }
    };
    println!(
        "guard: {name} = {} (baseline {}, {bound}): {}",
        shown(figure),
        shown(expected),
        if ok { "ok" } else { "REGRESSION" }
    );
    u32::from(!ok)
}

/// A figure with one decimal, or three when it is a ratio under 10.
fn shown(figure: f64) -> String {
    if figure.abs() < 10.0 {
        format!("{figure:.3}")
    } else {
        format!("{figure:.1}")
    }
}

/// Ends the bench with exit 1 when any figure regressed.
pub fn exit_if(regressions: u32) {
    if regressions > 0 {
        println!("guard: {regressions} figure(s) regressed beyond the margin");
        std::process::exit(1);
    }
}
