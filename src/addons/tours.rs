//! Which addons' tests run tours: Odoo's `HttpCase.start_tour(…)` and `browser_js(…)` need
//! a browser and `websocket-client` (docs/odoo-facts.md §10), which the official images
//! lack — without them Odoo skips those tests.

/// The calls that open a browser in an Odoo test.
const BROWSER_CALLS: [&str; 2] = ["start_tour(", "browser_js("];

/// Whether a test file's source starts a browser (a tour or a `browser_js` test).
pub fn starts_a_browser(source: &str) -> bool {
    BROWSER_CALLS.iter().any(|call| {
        source
            .match_indices(call)
            .any(|(at, _)| called_here(source, at))
    })
}

/// Whether a test file's source defines a test class on an `HttpCase` (Odoo's own or one
/// derived from it, e.g. `HttpCaseWithUserDemo`): Odoo makes its asset bundles before a
/// post-install suite that holds one (docs/odoo-facts.md, "Asset bundles before the tours").
pub fn holds_an_http_case(source: &str) -> bool {
    source.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("class ")
            && line
                .split_once('(')
                .is_some_and(|(_, bases)| bases.contains("HttpCase"))
    })
}

/// A call at `at`, not a definition (`def start_tour(`) nor a commented-out line.
fn called_here(source: &str, at: usize) -> bool {
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = source[line_start..at].trim_start();
    !before.starts_with('#') && !before.ends_with("def ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tour_or_browser_js_call_is_a_browser_test() {
        assert!(starts_a_browser(
            "class T(HttpCase):\n    def test_ui(self):\n        self.start_tour('/odoo', 'acc_tour', login='admin')\n"
        ));
        assert!(starts_a_browser(
            "        self.browser_js('/web', 'console.log(\"test successful\")')\n"
        ));
    }

    #[test]
    fn a_class_on_an_http_case_is_one_an_import_or_a_comment_is_not() {
        assert!(holds_an_http_case(
            "from odoo.tests import HttpCase\n\nclass TestController(HttpCase):\n    pass\n"
        ));
        assert!(holds_an_http_case(
            "class TestPortal(common.HttpCaseWithUserPortal, Mixin):\n"
        ));
        assert!(!holds_an_http_case(
            "from odoo.tests import HttpCase\n# class Old(HttpCase):\nclass T(TransactionCase):\n"
        ));
    }

    #[test]
    fn a_definition_a_comment_or_a_plain_test_is_not() {
        assert!(!starts_a_browser(
            "    def start_tour(self, url, name):\n        pass\n"
        ));
        assert!(!starts_a_browser(
            "        # self.start_tour('/odoo', 'old_tour')\n"
        ));
        assert!(!starts_a_browser(
            "class T(TransactionCase):\n    def test_x(self):\n        self.assertTrue(1)\n"
        ));
    }
}
