//! `--shard K/N`: splits the addons to test across N CI jobs, deterministically; given the
//! JUnit of a previous run, balanced by recorded durations (longest first, to the lightest shard).

use std::collections::BTreeMap;

/// `K/N` with 1 ≤ K ≤ N.
pub fn parse(spec: &str) -> Option<(usize, usize)> {
    let (k, n) = spec.split_once('/')?;
    let (k, n): (usize, usize) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}

/// The addons of shard `k` of `n`. `durations` (seconds per addon) balance the split;
/// addons without a duration count as the median of the known ones (or 1 s).
pub fn split(
    addons: &[String],
    k: usize,
    n: usize,
    durations: &BTreeMap<String, f64>,
) -> Vec<String> {
    let mut known: Vec<f64> = addons
        .iter()
        .filter_map(|a| durations.get(a).copied())
        .collect();
    known.sort_by(f64::total_cmp);
    let default = known.get(known.len() / 2).copied().unwrap_or(1.0);
    let mut weighted: Vec<(&String, f64)> = addons
        .iter()
        .map(|a| (a, durations.get(a).copied().unwrap_or(default)))
        .collect();
    // Longest first; ties by name so every job computes the same split.
    weighted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut load = vec![0.0f64; n];
    let mut mine = Vec::new();
    for (addon, secs) in weighted {
        let lightest = (0..n)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += secs;
        if lightest == k - 1 {
            mine.push(addon.clone());
        }
    }
    // Keep the caller's (install) order.
    addons
        .iter()
        .filter(|a| mine.contains(a))
        .cloned()
        .collect()
}

/// Seconds per module from a JUnit file written by odoo-ci (testsuite name = module).
pub fn durations_from_junit(xml: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for chunk in xml.split("<testsuite ").skip(1) {
        let head = chunk.split('>').next().unwrap_or("");
        let attr = |name: &str| -> Option<&str> {
            let start = head
                .find(&format!(" {name}=\""))
                .or_else(|| head.strip_prefix(&format!("{name}=\"")).map(|_| 0))?;
            let rest = &head[start..];
            let rest = &rest[rest.find('"')? + 1..];
            Some(&rest[..rest.find('"')?])
        };
        if let (Some(name), Some(time)) = (
            attr("name"),
            attr("time").and_then(|t| t.parse::<f64>().ok()),
        ) {
            out.insert(name.to_string(), time);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("a{i:02}")).collect()
    }

    #[test]
    fn every_addon_lands_in_exactly_one_shard() {
        let addons = names(11);
        let mut all: Vec<String> = (1..=3)
            .flat_map(|k| split(&addons, k, 3, &BTreeMap::new()))
            .collect();
        all.sort();
        assert_eq!(all, addons);
        assert_eq!(
            split(&addons, 2, 3, &BTreeMap::new()),
            split(&addons, 2, 3, &BTreeMap::new())
        );
    }

    #[test]
    fn durations_balance_the_split() {
        let addons = names(4);
        let d: BTreeMap<String, f64> = [("a00", 100.0), ("a01", 1.0), ("a02", 1.0), ("a03", 1.0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(split(&addons, 1, 2, &d), vec!["a00"]);
        assert_eq!(split(&addons, 2, 2, &d), vec!["a01", "a02", "a03"]);
    }

    #[test]
    fn junit_durations_and_spec() {
        let xml = r#"<testsuites><testsuite name="acc_x" tests="3" time="12.5"><testcase/></testsuite><testsuite name="acc_y" tests="1" time="0.5"></testsuite></testsuites>"#;
        let d = durations_from_junit(xml);
        assert_eq!(d.get("acc_x"), Some(&12.5));
        assert_eq!(d.get("acc_y"), Some(&0.5));
        assert_eq!(parse("2/4"), Some((2, 4)));
        assert_eq!(parse("5/4"), None);
        assert_eq!(parse("0/4"), None);
    }
}
