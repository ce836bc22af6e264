//! Line and column of every node of a YAML document, by dotted path (`branches.1.stage`),
//! so that checks made after deserialising can still point at the right place.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column of each path.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    map: HashMap<String, (usize, usize)>,
}

impl Positions {
    pub fn index(source: &str) -> Positions {
        let mut rx = Receiver::default();
        let mut parser = Parser::new_from_str(source);
        // Syntax errors are reported by the deserialiser; positions are best effort.
        let _ = parser.load(&mut rx, false);
        Positions { map: rx.map }
    }

    /// The position of `path`, or of its nearest indexed ancestor.
    pub fn get(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.map.get(p) {
                return Some(*pos);
            }
            p = &p[..p.rfind('.')?];
        }
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { index: usize },
}

#[derive(Default)]
struct Receiver {
    map: HashMap<String, (usize, usize)>,
    stack: Vec<Frame>,
    path: Vec<String>,
}

impl Receiver {
    /// Called for each node; returns true when the node is a mapping key.
    fn begin_node(&mut self, mark: Marker, scalar: Option<&str>) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Map { key }) if key.is_none() => {
                let k = scalar.unwrap_or("?").to_string();
                *key = Some(k.clone());
                let full = self.joined(Some(&k));
                self.map
                    .entry(full)
                    .or_insert((mark.line(), mark.col() + 1));
                true
            }
            Some(Frame::Map { key }) => {
                let k = key.clone().unwrap_or_default();
                self.path.push(k);
                false
            }
            Some(Frame::Seq { index }) => {
                let i = *index;
                *index += 1;
                self.path.push(i.to_string());
                let full = self.path.join(".");
                self.map.insert(full, (mark.line(), mark.col() + 1));
                false
            }
            None => false,
        }
    }

    /// A scalar or alias: a key, or a value that ends at once.
    fn leaf(&mut self, mark: Marker, scalar: Option<&str>) {
        if !self.begin_node(mark, scalar) {
            self.end_node();
        }
    }

    fn end_node(&mut self) {
        if let Some(Frame::Map { key }) = self.stack.last_mut() {
            *key = None;
        }
        if !self.stack.is_empty() {
            self.path.pop();
        }
    }

    fn joined(&self, last: Option<&str>) -> String {
        let mut parts: Vec<&str> = self.path.iter().map(String::as_str).collect();
        parts.extend(last);
        parts.join(".")
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => self.leaf(mark, Some(&value)),
            Event::Alias(_) => self.leaf(mark, None),
            Event::MappingStart(..) => {
                self.begin_node(mark, None);
                self.stack.push(Frame::Map { key: None });
            }
            Event::SequenceStart(..) => {
                self.begin_node(mark, None);
                self.stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.end_node();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_keys_and_items() {
        let src = "odoo:\n  series: '17.0'\nbranches:\n  - match: main\n    stage: production\n  - match: '*'\n    stage: development\nlist: [a, b]\n";
        let p = Positions::index(src);
        assert_eq!(p.get("odoo.series"), Some((2, 3)));
        assert_eq!(p.get("branches.1").map(|p| p.0), Some(6));
        assert_eq!(p.get("branches.1.stage"), Some((7, 5)));
        assert_eq!(p.get("branches.0.match"), Some((4, 5)));
        assert_eq!(p.get("list.1"), Some((8, 11)));
        assert_eq!(p.get("branches.1.nothing").map(|p| p.0), Some(6));
    }
}
