//! Terminal styling: colour on a terminal and in the job logs of GitHub Actions and GitLab
//! CI (both render ANSI colour) — for the log on stderr; stdout, often piped into a file,
//! only on a terminal — never when `NO_COLOR` is set; `--color always|never` decides
//! outright.

use std::io::IsTerminal;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub enabled: bool,
}

/// `--color`: what the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal and in CI logs that render colour, unless `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records `--color` once, before anything is printed.
pub fn choose(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Where the text goes, as far as colour is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Sink {
    pub is_terminal: bool,
    /// A CI job log that renders ANSI colour (GitHub Actions, GitLab CI).
    pub ci_log: bool,
}

/// Whether to colour: a pure function of what we know, tested over every combination.
pub fn colour_wanted(choice: ColorChoice, sink: Sink, no_color: bool, force: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => force || (!no_color && (sink.is_terminal || sink.ci_log)),
    }
}

fn ci_renders_colour() -> bool {
    std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
        || std::env::var("GITLAB_CI").as_deref() == Ok("true")
}

fn decide(sink: Sink) -> Style {
    Style {
        enabled: colour_wanted(
            CHOICE.get().copied().unwrap_or_default(),
            sink,
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
        ),
    }
}

impl Style {
    pub fn for_stdout() -> Style {
        decide(Sink {
            is_terminal: std::io::stdout().is_terminal(),
            ci_log: false,
        })
    }

    pub fn for_stderr() -> Style {
        decide(Sink {
            is_terminal: std::io::stderr().is_terminal(),
            ci_log: ci_renders_colour(),
        })
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
            for ci_log in [false, true] {
                for no_color in [false, true] {
                    for force in [false, true] {
                        let sink = Sink {
                            is_terminal: term,
                            ci_log,
                        };
                        let auto = force || (!no_color && (term || ci_log));
                        let case = format!("{term} {ci_log} {no_color} {force}");
                        assert_eq!(
                            colour_wanted(ColorChoice::Auto, sink, no_color, force),
                            auto,
                            "{case}"
                        );
                        assert!(colour_wanted(ColorChoice::Always, sink, no_color, force));
                        assert!(!colour_wanted(ColorChoice::Never, sink, no_color, force));
                    }
                }
            }
        }
        assert_eq!(Style::plain().red("x"), "x");
        assert_eq!(Style { enabled: true }.red("x"), "\x1b[1;31mx\x1b[0m");
    }
}
