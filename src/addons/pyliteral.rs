//! A parser for the Python literals that `ast.literal_eval` accepts and a real
//! `__manifest__.py` uses: dicts, lists, tuples, sets, every string form (quotes, triple
//! quotes, r/u/b prefixes, implicit concatenation, escapes), ints, floats, True/False/None,
//! comments and trailing commas. Anything else is an error with its byte offset.
//! No Python interpreter is involved.

use std::borrow::Cow;

use thiserror::Error;

/// Byte range of a literal in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Dict(Vec<(Node<'a>, Node<'a>)>),
    List(Vec<Node<'a>>),
    Tuple(Vec<Node<'a>>),
    Set(Vec<Node<'a>>),
    /// Borrowed from the source when written without escapes or concatenation.
    Str(Cow<'a, str>),
    Bytes(Vec<u8>),
    Int(i128),
    Float(f64),
    Bool(bool),
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub value: Value<'a>,
    pub span: Span,
}

impl Value<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Dict(_) => "dict",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::None => "None",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LiteralError {
    #[error("invalid syntax: {message}")]
    Syntax { offset: usize, message: String },
    #[error("`{text}` is not a literal")]
    NotLiteral { offset: usize, text: String },
}

impl LiteralError {
    pub fn offset(&self) -> usize {
        match self {
            LiteralError::Syntax { offset, .. } | LiteralError::NotLiteral { offset, .. } => {
                *offset
            }
        }
    }
}

/// Parses a whole source text holding exactly one literal expression.
pub fn parse(source: &str) -> Result<Node<'_>, LiteralError> {
    let mut p = Parser {
        src: source.as_bytes(),
        text: source,
        pos: 0,
        depth: 0,
    };
    if source.starts_with('\u{feff}') {
        p.pos = 3;
    }
    if let Some(nul) = memchr::memchr(0, p.src) {
        return Err(p.syntax(nul, "source code cannot contain null bytes"));
    }
    p.check_first_line_indent()?;
    p.skip_trivia()?;
    let node = p.expr()?;
    p.skip_trivia()?;
    if p.pos < p.src.len() {
        return Err(p.unexpected("end of file after the literal"));
    }
    Ok(node)
}

/// Python's tokenizer refuses more than 200 open brackets ("too many nested
/// parentheses"); so does this parser, before its recursion could exhaust a stack.
pub const MAX_NESTING: usize = 200;

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Brackets open at `pos`.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn syntax(&self, offset: usize, message: impl Into<String>) -> LiteralError {
        LiteralError::Syntax {
            offset,
            message: message.into(),
        }
    }

    fn unexpected(&self, expected: &str) -> LiteralError {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => self.syntax(self.pos, format!("expected {expected}, found `{c}`")),
            None => self.syntax(self.pos, format!("expected {expected}, found end of file")),
        }
    }

    /// `ast.literal_eval` strips spaces and tabs before the first line only: a literal that
    /// starts on a later, indented line is an "unexpected indent" (blank and comment lines
    /// do not count).
    fn check_first_line_indent(&mut self) -> Result<(), LiteralError> {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        let mut at = self.pos;
        let mut first = true;
        while at < self.src.len() {
            let end = memchr::memchr(b'\n', &self.src[at..]).map_or(self.src.len(), |i| at + i);
            let line = &self.src[at..end];
            let body = line.trim_ascii_start();
            if !body.is_empty() && body[0] != b'#' {
                if !first && body.len() != line.len() {
                    return Err(self.syntax(at, "unexpected indent"));
                }
                return Ok(());
            }
            first = false;
            at = end + 1;
        }
        Ok(())
    }

    /// Skips white space, comments and backslash line continuations.
    fn skip_trivia(&mut self) -> Result<(), LiteralError> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'\\' => {
                    let rest = &self.src[self.pos + 1..];
                    if rest.starts_with(b"\n") {
                        self.pos += 2;
                    } else if rest.starts_with(b"\r\n") {
                        self.pos += 3;
                    } else {
                        return Err(
                            self.syntax(self.pos, "unexpected character after line continuation")
                        );
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn require_byte(&mut self, byte: u8, what: &str) -> Result<(), LiteralError> {
        self.skip_trivia()?;
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn expr(&mut self) -> Result<Node<'a>, LiteralError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.unexpected("a literal"));
        };
        match c {
            b'{' | b'[' | b'(' => self.nested(c, start),
            b'\'' | b'"' => self.strings(start),
            b'0'..=b'9' | b'.' => self.number(start, false),
            b'-' | b'+' => {
                self.pos += 1;
                self.skip_trivia()?;
                match self.peek() {
                    Some(b'0'..=b'9' | b'.') => self.number(start, c == b'-'),
                    _ => Err(self.syntax(start, "a sign must be followed by a number")),
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => self.word(start),
            _ => Err(self.unexpected("a literal")),
        }
    }

    /// A bracketed literal, refused past [`MAX_NESTING`] levels as Python does.
    fn nested(&mut self, open: u8, start: usize) -> Result<Node<'a>, LiteralError> {
        if self.depth >= MAX_NESTING {
            return Err(self.syntax(
                start,
                format!(
                    "too many nested parentheses (Python refuses more than {MAX_NESTING} levels)"
                ),
            ));
        }
        self.depth += 1;
        let node = match open {
            b'{' => self.brace(start),
            b'[' => {
                self.pos += 1;
                self.sequence(b']')
                    .map(|items| self.node(Value::List(items), start))
            }
            _ => self.paren(start),
        };
        self.depth -= 1;
        node
    }

    fn node(&self, value: Value<'a>, start: usize) -> Node<'a> {
        Node {
            value,
            span: Span {
                start,
                end: self.pos,
            },
        }
    }

    /// Comma-separated expressions up to `close`, trailing comma allowed.
    fn sequence(&mut self, close: u8) -> Result<Vec<Node<'a>>, LiteralError> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.expr()?);
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.unexpected(&format!("`,` or `{}`", close as char))),
            }
        }
    }

    fn brace(&mut self, start: usize) -> Result<Node<'a>, LiteralError> {
        self.pos += 1;
        self.skip_trivia()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(self.node(Value::Dict(Vec::new()), start));
        }
        let first = self.expr()?;
        self.skip_trivia()?;
        if self.peek() != Some(b':') {
            // A set literal: `{a, b}`.
            let mut items = vec![first];
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    items.extend(self.sequence(b'}')?);
                }
                Some(b'}') => self.pos += 1,
                _ => return Err(self.unexpected("`:`, `,` or `}`")),
            }
            if let Some(bad) = items.iter().find(|n| !hashable(&n.value)) {
                return Err(self.syntax(
                    bad.span.start,
                    format!("unhashable type: '{}'", bad.value.type_name()),
                ));
            }
            return Ok(self.node(Value::Set(items), start));
        }
        let mut pairs = Vec::new();
        let mut key = first;
        loop {
            self.require_byte(b':', "`:`")?;
            let value = self.expr()?;
            pairs.push((key, value));
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_trivia()?;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        break;
                    }
                    key = self.expr()?;
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
        if let Some((bad, _)) = pairs.iter().find(|(k, _)| !hashable(&k.value)) {
            return Err(self.syntax(
                bad.span.start,
                format!("unhashable type: '{}'", bad.value.type_name()),
            ));
        }
        Ok(self.node(Value::Dict(pairs), start))
    }

    fn paren(&mut self, start: usize) -> Result<Node<'a>, LiteralError> {
        self.pos += 1;
        self.skip_trivia()?;
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(self.node(Value::Tuple(Vec::new()), start));
        }
        let first = self.expr()?;
        self.skip_trivia()?;
        match self.peek() {
            Some(b')') => {
                // Parentheses around one value only group it.
                self.pos += 1;
                Ok(first)
            }
            Some(b',') => {
                self.pos += 1;
                let mut items = vec![first];
                items.extend(self.sequence(b')')?);
                Ok(self.node(Value::Tuple(items), start))
            }
            _ => Err(self.unexpected("`,` or `)`")),
        }
    }

    fn word(&mut self, start: usize) -> Result<Node<'a>, LiteralError> {
        let rest = &self.text[self.pos..];
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let word = &rest[..len];
        // A string prefix directly followed by a quote.
        if len <= 2
            && matches!(self.src.get(self.pos + len), Some(b'\'' | b'"'))
            && word.chars().all(|c| "rRuUbBfF".contains(c))
        {
            return self.strings(start);
        }
        let value = match word {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "None" => Value::None,
            _ => {
                self.pos += len;
                let mut text = word.to_string();
                let _ = self.skip_trivia();
                if self.peek() == Some(b'(') {
                    text.push_str("(…)");
                }
                return Err(LiteralError::NotLiteral {
                    offset: start,
                    text,
                });
            }
        };
        self.pos += len;
        Ok(self.node(value, start))
    }

    /// One or more adjacent string literals, concatenated as Python does.
    fn strings(&mut self, start: usize) -> Result<Node<'a>, LiteralError> {
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        let mut bytes: Option<Vec<u8>> = None;
        let mut count = 0;
        loop {
            let part_start = self.pos;
            let (is_bytes, content) = self.one_string()?;
            match (&mut bytes, is_bytes, count) {
                (None, true, 0) => bytes = Some(into_bytes(content, part_start, self)?),
                (Some(b), true, _) => b.extend(into_bytes(content, part_start, self)?),
                (None, false, 0) => text = content,
                (None, false, _) => text.to_mut().push_str(&content),
                _ => {
                    return Err(self.syntax(part_start, "cannot mix bytes and str literals"));
                }
            }
            count += 1;
            let after = self.pos;
            self.skip_trivia()?;
            if !self.at_string_start() {
                self.pos = after;
                break;
            }
        }
        let value = match bytes {
            Some(b) => Value::Bytes(b),
            None => Value::Str(text),
        };
        Ok(self.node(value, start))
    }

    fn at_string_start(&self) -> bool {
        let mut i = self.pos;
        while i < self.src.len() && i - self.pos < 2 && b"rRuUbBfF".contains(&self.src[i]) {
            i += 1;
        }
        matches!(self.src.get(i), Some(b'\'' | b'"'))
    }

    fn one_string(&mut self) -> Result<(bool, Cow<'a, str>), LiteralError> {
        let start = self.pos;
        let (raw, is_bytes) = self.string_prefix()?;
        let Some(quote) = self.peek() else {
            return Err(self.unexpected("a quote"));
        };
        let triple = self.src[self.pos..].starts_with(&[quote, quote, quote]);
        self.pos += if triple { 3 } else { 1 };
        let content_start = self.pos;
        let mut out = String::new();
        let mut owned = false;
        loop {
            // Copy the plain run up to the next quote, backslash or newline in one go.
            let rest = &self.src[self.pos..];
            let run = memchr::memchr3(quote, b'\\', b'\n', rest).unwrap_or(rest.len());
            let plain = &self.text[self.pos..self.pos + run];
            self.check_plain(plain, start, triple, is_bytes)?;
            out.push_str(plain);
            self.pos += run;
            let Some(c) = self.peek() else {
                return Err(self.syntax(start, "unterminated string literal"));
            };
            if c == quote {
                let close = if !triple {
                    1
                } else if self.src[self.pos..].starts_with(&[quote, quote, quote]) {
                    3
                } else {
                    0
                };
                if close > 0 {
                    let content_end = self.pos;
                    self.pos += close;
                    if !owned {
                        return Ok((
                            is_bytes,
                            Cow::Borrowed(&self.text[content_start..content_end]),
                        ));
                    }
                    break;
                }
                out.push(quote as char);
                self.pos += 1;
                continue;
            }
            if c == b'\n' {
                if !triple {
                    return Err(self.syntax(
                        start,
                        "unterminated string literal (a newline inside a single-quoted string)",
                    ));
                }
                out.push('\n');
                self.pos += 1;
                continue;
            }
            // A backslash: from here on the content differs from the source.
            owned = true;
            if raw {
                // In a raw string the backslash stays but still protects the next char.
                out.push('\\');
                self.pos += 1;
                if let Some(ch) = self.text[self.pos..].chars().next() {
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
                continue;
            }
            self.escape(&mut out, is_bytes)?;
        }
        Ok((is_bytes, Cow::Owned(out)))
    }

    /// The string's prefix (`r`, `b`, `u`, `rb`, …): whether it is raw, whether bytes.
    fn string_prefix(&mut self) -> Result<(bool, bool), LiteralError> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let prefix = self.text[start..self.pos].to_ascii_lowercase();
        match prefix.as_str() {
            "" | "u" => Ok((false, false)),
            "r" => Ok((true, false)),
            "b" => Ok((false, true)),
            "br" | "rb" => Ok((true, true)),
            p if p.contains('f') => Err(LiteralError::NotLiteral {
                offset: start,
                text: "f-string".into(),
            }),
            _ => Err(self.syntax(
                start,
                format!("invalid string prefix `{}`", &self.text[start..self.pos]),
            )),
        }
    }

    /// A run of a string's content without quotes, backslashes or newlines, at `self.pos`:
    /// a lone CR ends a single-quoted string, and bytes hold only ASCII.
    fn check_plain(
        &self,
        plain: &str,
        start: usize,
        triple: bool,
        is_bytes: bool,
    ) -> Result<(), LiteralError> {
        if !triple && plain.contains('\r') {
            // Python reads a lone CR as a line end: the string is unterminated.
            return Err(self.syntax(
                start,
                "unterminated string literal (a line break inside a single-quoted string)",
            ));
        }
        if is_bytes && !plain.is_ascii() {
            let bad = plain.find(|c: char| !c.is_ascii()).unwrap_or(0);
            return Err(self.syntax(
                self.pos + bad,
                "bytes literals may only hold ASCII characters",
            ));
        }
        Ok(())
    }

    fn escape(&mut self, out: &mut String, is_bytes: bool) -> Result<(), LiteralError> {
        let at = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(self.syntax(at, "unterminated string literal"));
        };
        self.pos += 1;
        let simple = match c {
            b'\n' => Some(None),
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                Some(None)
            }
            b'\\' => Some(Some('\\')),
            b'\'' => Some(Some('\'')),
            b'"' => Some(Some('"')),
            b'a' => Some(Some('\x07')),
            b'b' => Some(Some('\x08')),
            b'f' => Some(Some('\x0c')),
            b'n' => Some(Some('\n')),
            b'r' => Some(Some('\r')),
            b't' => Some(Some('\t')),
            b'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(ch) = simple {
            out.extend(ch);
            return Ok(());
        }
        match c {
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            b'x' => out.push(self.hex_escape(at, 2)?),
            b'u' if !is_bytes => out.push(self.hex_escape(at, 4)?),
            b'U' if !is_bytes => out.push(self.hex_escape(at, 8)?),
            b'N' if !is_bytes => {
                return Err(self.syntax(
                    at,
                    "`\\N{…}` escapes are not supported: write the character itself",
                ));
            }
            _ => {
                // Python keeps unknown escapes as they are.
                out.push('\\');
                self.pos -= 1;
                let ch = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                out.push(ch);
                self.pos += ch.len_utf8();
            }
        }
        Ok(())
    }

    fn hex_escape(&mut self, at: usize, digits: usize) -> Result<char, LiteralError> {
        let hex = self
            .text
            .get(self.pos..self.pos + digits)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                self.syntax(
                    at,
                    format!("truncated escape: expected {digits} hex digits"),
                )
            })?;
        self.pos += digits;
        u32::from_str_radix(hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.syntax(at, "escape is not a valid character"))
    }

    fn number(&mut self, start: usize, negative: bool) -> Result<Node<'a>, LiteralError> {
        let num_start = self.pos;
        let rest = &self.src[self.pos..];
        let radix = match rest {
            [b'0', b'x' | b'X', ..] => 16,
            [b'0', b'o' | b'O', ..] => 8,
            [b'0', b'b' | b'B', ..] => 2,
            _ => 10,
        };
        if radix != 10 {
            self.pos += 2;
            let digits_start = self.pos;
            while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
                self.pos += 1;
            }
            let written = &self.text[digits_start..self.pos];
            // `0x_ff` is allowed: one `_` may follow the prefix.
            if !underscores_between_digits(written.strip_prefix('_').unwrap_or(written)) {
                return Err(self.syntax(num_start, "invalid number: `_` only between digits"));
            }
            let digits: String = written.replace('_', "");
            let v = i128::from_str_radix(&digits, radix)
                .map_err(|_| self.syntax(num_start, "invalid number"))?;
            return Ok(self.node(Value::Int(if negative { -v } else { v }), start));
        }
        let mut is_float = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' | b'_' => self.pos += 1,
                b'.' => {
                    is_float = true;
                    self.pos += 1;
                }
                b'e' | b'E' => {
                    is_float = true;
                    self.pos += 1;
                    if matches!(self.peek(), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                }
                b'j' | b'J' => {
                    return Err(LiteralError::NotLiteral {
                        offset: num_start,
                        text: "complex number".into(),
                    })
                }
                _ => break,
            }
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphabetic() || c == b'_') {
            return Err(self.syntax(self.pos, "invalid number"));
        }
        let written = &self.text[num_start..self.pos];
        if !written
            .split(['.', 'e', 'E', '+', '-'])
            .all(|part| part.is_empty() || underscores_between_digits(part))
        {
            return Err(self.syntax(num_start, "invalid number: `_` only between digits"));
        }
        let text = written.replace('_', "");
        if !is_float && text.len() > 1 && text.starts_with('0') && text.bytes().any(|b| b != b'0') {
            return Err(self.syntax(
                num_start,
                "leading zeros in decimal integer literals are not permitted",
            ));
        }
        let value = if is_float {
            let v: f64 = text
                .parse()
                .map_err(|_| self.syntax(num_start, "invalid number"))?;
            Value::Float(if negative { -v } else { v })
        } else {
            let v: i128 = text
                .parse()
                .map_err(|_| self.syntax(num_start, "invalid number"))?;
            Value::Int(if negative { -v } else { v })
        };
        Ok(self.node(value, start))
    }
}

/// Python allows `_` in a number only singly, between two digits.
fn underscores_between_digits(text: &str) -> bool {
    !text.starts_with('_') && !text.ends_with('_') && !text.contains("__")
}

/// Whether Python can hash the value (set elements and dict keys must be hashable).
fn hashable(value: &Value<'_>) -> bool {
    match value {
        Value::List(_) | Value::Dict(_) | Value::Set(_) => false,
        Value::Tuple(items) => items.iter().all(|n| hashable(&n.value)),
        _ => true,
    }
}

/// The bytes of a `b'…'` literal; escapes above 0x7f stand for single bytes.
fn into_bytes(
    content: Cow<'_, str>,
    offset: usize,
    p: &Parser<'_>,
) -> Result<Vec<u8>, LiteralError> {
    content
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| p.syntax(offset, "bytes literals may only hold ASCII characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(src: &str) -> Value<'_> {
        parse(src).expect("parses").value
    }

    fn s(text: &str) -> Value<'_> {
        Value::Str(text.into())
    }

    #[test]
    fn every_string_form() {
        assert_eq!(value("'a'"), s("a"));
        assert_eq!(value("\"a\""), s("a"));
        assert_eq!(value("'''a\nb'''"), s("a\nb"));
        assert_eq!(value("\"\"\"a \"quoted\" b\"\"\""), s("a \"quoted\" b"));
        assert_eq!(value(r"r'a\nb'"), s(r"a\nb"));
        assert_eq!(value(r"R'a\'b'"), s(r"a\'b"));
        assert_eq!(value("u'é'"), s("é"));
        assert_eq!(value("b'ab\\x41'"), Value::Bytes(b"abA".to_vec()));
        assert_eq!(value("rb'\\d'"), Value::Bytes(b"\\d".to_vec()));
        assert_eq!(value("'a' \"b\"\n  '''c'''"), s("abc"));
        assert_eq!(value("('a'\n 'b')"), s("ab"));
        assert_eq!(
            value(r"'\t\n\\\'\x41\101\u00e9\U0001F600\q'"),
            s("\t\n\\'AAé😀\\q")
        );
        assert_eq!(value("'a\\\nb'"), s("ab"));
    }

    #[test]
    fn numbers_bools_none() {
        assert_eq!(value("42"), Value::Int(42));
        assert_eq!(value("-1_000"), Value::Int(-1000));
        assert_eq!(value("0x1F"), Value::Int(31));
        assert_eq!(value("0o17"), Value::Int(15));
        assert_eq!(value("0b101"), Value::Int(5));
        assert_eq!(value("1.5"), Value::Float(1.5));
        assert_eq!(value(".5e1"), Value::Float(5.0));
        assert_eq!(value("True"), Value::Bool(true));
        assert_eq!(value("False"), Value::Bool(false));
        assert_eq!(value("None"), Value::None);
    }

    #[test]
    fn containers_with_comments_and_trailing_commas() {
        let src = "# -*- coding: utf-8 -*-\n{\n  'a': [1, 2,],  # c\n  'b': (1,),\n  'c': (),\n  'd': {1, 2},\n  'e': {},\n}\n";
        let Value::Dict(pairs) = value(src) else {
            panic!("not a dict")
        };
        let keys: Vec<_> = pairs.iter().map(|(k, _)| k.value.clone()).collect();
        assert_eq!(keys, vec![s("a"), s("b"), s("c"), s("d"), s("e")]);
        assert!(matches!(&pairs[0].1.value, Value::List(v) if v.len() == 2));
        assert!(matches!(&pairs[1].1.value, Value::Tuple(v) if v.len() == 1));
        assert!(matches!(&pairs[2].1.value, Value::Tuple(v) if v.is_empty()));
        assert!(matches!(&pairs[3].1.value, Value::Set(v) if v.len() == 2));
        assert!(matches!(&pairs[4].1.value, Value::Dict(v) if v.is_empty()));
    }

    #[test]
    fn spans_cover_the_literal() {
        let src = "{'version': '17.0.1.0.0'}";
        let Value::Dict(pairs) = value(src) else {
            panic!("not a dict")
        };
        let span = pairs[0].1.span;
        assert_eq!(&src[span.start..span.end], "'17.0.1.0.0'");
    }

    #[test]
    fn names_and_calls_are_not_literals() {
        let err = parse("{'a': foo}").unwrap_err();
        assert_eq!(
            err,
            LiteralError::NotLiteral {
                offset: 6,
                text: "foo".into()
            }
        );
        let err = parse("{'a': dict(x=1)}").unwrap_err();
        assert!(matches!(err, LiteralError::NotLiteral { ref text, .. } if text == "dict(…)"));
        assert!(matches!(
            parse("f'x'"),
            Err(LiteralError::NotLiteral { .. })
        ));
        assert!(matches!(parse("1j"), Err(LiteralError::NotLiteral { .. })));
    }

    #[test]
    fn syntax_errors_have_offsets() {
        assert_eq!(parse("{'a' 1}").unwrap_err().offset(), 5);
        assert!(matches!(
            parse("'abc"),
            Err(LiteralError::Syntax { offset: 0, .. })
        ));
        assert!(matches!(parse("'a\nb'"), Err(LiteralError::Syntax { .. })));
        assert!(matches!(
            parse("{'a': 1} x"),
            Err(LiteralError::Syntax { .. })
        ));
        assert!(matches!(parse(""), Err(LiteralError::Syntax { .. })));
        assert!(matches!(parse("b'é'"), Err(LiteralError::Syntax { .. })));
        assert!(matches!(parse("[1, 2"), Err(LiteralError::Syntax { .. })));
    }

    #[test]
    fn deep_nesting_is_refused_as_python_refuses_it() {
        let ok = format!("{{'data': {}1{}}}", "[".repeat(150), "]".repeat(150));
        assert!(parse(&ok).is_ok());
        for depth in [201, 20_000] {
            let deep = format!("{{'data': {}{}}}", "[".repeat(depth), "]".repeat(depth));
            let err = parse(&deep).unwrap_err();
            assert!(err.to_string().contains("too many nested"), "{err}");
        }
        // In half the stack a worker thread gets (discovery reads manifests on them).
        let deep = format!("{{'data': {}{}}}", "(".repeat(5_000), ")".repeat(5_000));
        let handle = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || parse(&deep).is_err())
            .unwrap();
        assert!(handle.join().unwrap());
    }

    /// Each case as CPython 3.11's `ast.literal_eval` answers it (measured).
    #[test]
    fn refuses_what_python_refuses_and_accepts_what_it_accepts() {
        for bad in [
            "{'a': 'x\0y'}",
            "{'a': 'x\ry'}",
            "{'a': 01}",
            "{'a': 1__000}",
            "{'a': 1000_}",
            "{'a': 1_.5}",
            "{'a': ub'x'}",
            "{'a': bb'x'}",
            "{'a': ur'x'}",
            "{[1], 2}",
            "{[1]: 2}",
            "{(1, [2]): 3}",
            "{{'a': 1}: 2}",
            "\n  {'a': 1}",
            "# c\n  {'a': 1}",
        ] {
            assert!(parse(bad).is_err(), "accepted what Python refuses: {bad:?}");
        }
        for good in [
            "{'a': '''x\r\ny'''}",
            "{'a': 00}",
            "{'a': 01.5}",
            "{'a': 01e3}",
            "{'a': 1_000}",
            "{'a': 0x_ff}",
            "{'a': 1_0.5_0}",
            "{'a': Rb'x'}",
            "{(1, 2): 3}",
            "  {'a': 1}",
            "\t{'a': 1}",
            "{\n      'a': 1,\n  'b': 2}",
            "# c\n{'a': 1}",
            "\n\n{'a': 1}",
        ] {
            assert!(parse(good).is_ok(), "refused what Python accepts: {good:?}");
        }
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(value("\u{feff}{}"), Value::Dict(vec![]));
    }
}
