//! Terminal styling: colour only on a terminal, never in CI logs that cannot show it or
//! when `NO_COLOR` is set.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub enabled: bool,
}

/// Whether to colour: a pure function of what we know, tested over every combination.
pub fn colour_wanted(is_terminal: bool, no_color: bool, force: bool) -> bool {
    force || (is_terminal && !no_color)
}

impl Style {
    pub fn for_stdout() -> Style {
        Style {
            enabled: colour_wanted(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").is_some(),
                std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
            ),
        }
    }

    pub fn for_stderr() -> Style {
        Style {
            enabled: colour_wanted(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").is_some(),
                std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
            ),
        }
    }

    pub fn plain() -> Style {
        Style { enabled: false }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("1;32", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("1;33", t)
    }
    pub fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_decision_over_every_combination() {
        for term in [false, true] {
            for no_color in [false, true] {
                for force in [false, true] {
                    let want = force || (term && !no_color);
                    assert_eq!(
                        colour_wanted(term, no_color, force),
                        want,
                        "{term} {no_color} {force}"
                    );
                }
            }
        }
        assert_eq!(Style::plain().red("x"), "x");
        assert_eq!(Style { enabled: true }.red("x"), "\x1b[1;31mx\x1b[0m");
    }
}
