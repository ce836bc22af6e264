//! Bounds on a config before it is deserialised: size, nesting and what aliases expand
//! to. A 115 KB file of nested aliases once grew to 1.5 GB in memory ("billion laughs");
//! deep nesting cost minutes of CPU. Both are refused here, by file, line and column.

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::parser::{Event, Parser};

use crate::diag::{DiagKind, Diagnostic};

/// A real `.odoo-ci.yml` is a page or two.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Real configs nest four or five levels.
pub const MAX_DEPTH: usize = 64;
/// Nodes the document may have once every alias is expanded.
pub const MAX_NODES: u64 = 100_000;
/// Bytes of scalars the document may hold once every alias is expanded: few aliases to a
/// long string multiply bytes, not nodes (20,000 aliases of a 200 KB string pass the node
/// bound and expand to 4 GB).
pub const MAX_EXPANDED_BYTES: u64 = 8 * MAX_BYTES as u64;

/// What a node expands to: values and bytes of scalars.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: u64,
    bytes: u64,
}

impl Size {
    fn add(self, other: Size) -> Size {
        Size {
            nodes: self.nodes.saturating_add(other.nodes),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

/// Refuses a config that is too large, too deep or whose aliases expand too far.
/// Syntax errors are left to the deserialiser, which reports them better.
pub fn check(path: &Path, source: &str) -> Result<(), Diagnostic> {
    if source.len() > MAX_BYTES {
        return Err(Diagnostic::new(
            DiagKind::InvalidValue,
            format!(
                "config `{}` is larger than {MAX_BYTES} bytes",
                path.display()
            ),
        )
        .in_file(path)
        .hint("a .odoo-ci.yml is a page or two: is this the right file?"));
    }
    let mut parser = Parser::new_from_str(source);
    let mut open: Vec<(usize, Size)> = Vec::new();
    let mut anchored: HashMap<usize, Size> = HashMap::new();
    let mut total = Size::default();
    let one = |bytes: usize| Size {
        nodes: 1,
        bytes: bytes as u64,
    };
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            // The scanner's own guard against runaway nesting; other syntax errors are
            // left to the deserialiser, which reports them better.
            Err(e) if e.info().contains("recursion limit") => {
                return Err(nesting_error(path, e.marker().line(), e.marker().col() + 1))
            }
            Err(_) => return Ok(()),
        };
        let at = |message: String, hint: &str| {
            Diagnostic::new(DiagKind::InvalidValue, message)
                .at(path, "", mark.line(), mark.col() + 1)
                .hint(hint.to_string())
        };
        let closed = match event {
            Event::StreamEnd => return Ok(()),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, one(0)));
                if open.len() > MAX_DEPTH {
                    return Err(nesting_error(path, mark.line(), mark.col() + 1));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            Event::Scalar(ref value, _, anchor, _) => Some((anchor, one(value.len()))),
            Event::Alias(id) => Some((0, anchored.get(&id).copied().unwrap_or(one(0)))),
            _ => None,
        };
        let Some((anchor, size)) = closed else {
            continue;
        };
        if anchor > 0 {
            anchored.insert(anchor, size);
        }
        match open.last_mut() {
            Some((_, parent)) => *parent = parent.add(size),
            None => total = total.add(size),
        }
        let pending = open.iter().map(|(_, n)| *n).fold(total, Size::add);
        let too_big = if pending.nodes > MAX_NODES {
            Some(format!("more than {MAX_NODES} values"))
        } else if pending.bytes > MAX_EXPANDED_BYTES {
            Some(format!("more than {} MiB", MAX_EXPANDED_BYTES >> 20))
        } else {
            None
        };
        if let Some(what) = too_big {
            return Err(at(
                format!("config `{}`: its aliases expand to {what}", path.display()),
                "use fewer or smaller `*alias` references; write the values out",
            ));
        }
    }
}

fn nesting_error(path: &Path, line: usize, column: usize) -> Diagnostic {
    Diagnostic::new(
        DiagKind::InvalidValue,
        format!(
            "config `{}` nests deeper than {MAX_DEPTH} levels",
            path.display()
        ),
    )
    .at(path, "", line, column)
    .hint("flatten the config: odoo-ci's keys nest a few levels at most")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_configs_and_small_aliases_pass() {
        let text = "a: &x [1, 2]\nb: *x\nc: {d: [*x, *x]}\n";
        assert!(check(Path::new("c.yml"), text).is_ok());
    }

    #[test]
    fn many_aliases_of_one_long_string_are_refused_by_their_bytes() {
        let mut text = format!("a: &s \"{}\"\nb: [", "x".repeat(200 * 1024));
        for _ in 0..20_000 {
            text.push_str("*s, ");
        }
        text.push_str("*s]\n");
        assert!(text.len() < MAX_BYTES);
        let err = check(Path::new("c.yml"), &text).unwrap_err().to_string();
        assert!(err.contains("MiB"), "{err}");
    }

    #[test]
    fn nested_aliases_that_multiply_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = check(Path::new("c.yml"), &text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        for depth in [65, 100_000] {
            let text = format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth));
            let err = check(Path::new("c.yml"), &text).unwrap_err();
            assert!(
                err.message.contains("nests deeper"),
                "{depth}: {}",
                err.message
            );
        }
        let ok = format!("a: {}{}\n", "[".repeat(10), "]".repeat(10));
        assert!(check(Path::new("c.yml"), &ok).is_ok());
    }
}
