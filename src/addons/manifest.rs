//! `__manifest__.py`: the fields odoo-ci uses, read from the Python literal with Odoo's
//! defaults, each error pointing at the file, line and column.

use std::path::Path;

use super::pyliteral::{self, LiteralError, Node, Span, Value};
use crate::diag::{DiagKind, Diagnostic};

/// `auto_install`: `False`, `True`, or a list of addons that trigger it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum AutoInstall {
    Flag(bool),
    When(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: Option<String>,
    /// The version as written (Odoo's default `1.0` when absent).
    pub version: String,
    /// Where the version literal stands in the file, when it is written there.
    pub version_span: Option<Span>,
    /// The 1-based line of the version literal (for annotations); 1 when absent.
    pub version_line: usize,
    pub depends: Vec<String>,
    pub installable: bool,
    pub auto_install: AutoInstall,
    pub application: bool,
    pub license: Option<String>,
    pub data: Vec<String>,
    pub demo: Vec<String>,
    pub python_dependencies: Vec<String>,
    pub bin_dependencies: Vec<String>,
}

/// Parses manifest text; `file` only names the file in errors.
pub fn parse_manifest(file: &Path, source: &str) -> Result<Manifest, Diagnostic> {
    let root = pyliteral::parse(source).map_err(|e| literal_error(file, source, &e))?;
    let Value::Dict(pairs) = &root.value else {
        return Err(field_error(
            file,
            source,
            &root,
            format!(
                "a manifest must be a dict, found a {}",
                root.value.type_name()
            ),
        ));
    };
    let mut m = Manifest {
        name: None,
        version: "1.0".into(),
        version_span: None,
        version_line: 1,
        depends: Vec::new(),
        installable: true,
        auto_install: AutoInstall::Flag(false),
        application: false,
        license: None,
        data: Vec::new(),
        demo: Vec::new(),
        python_dependencies: Vec::new(),
        bin_dependencies: Vec::new(),
    };
    for (key, value) in pairs {
        let Value::Str(key_name) = &key.value else {
            continue;
        };
        let f = Field {
            file,
            source,
            key: key_name,
            node: value,
        };
        match key_name.as_ref() {
            "name" => m.name = Some(f.string()?),
            "version" => {
                m.version = f.string()?;
                m.version_span = Some(value.span);
                m.version_line = crate::diag::line_column(source, value.span.start).0;
            }
            "depends" => m.depends = f.strings()?,
            "installable" => m.installable = f.truthy(),
            "application" => m.application = f.truthy(),
            "auto_install" => {
                m.auto_install = match &value.value {
                    Value::List(_) | Value::Tuple(_) | Value::Set(_) => {
                        AutoInstall::When(f.strings()?)
                    }
                    _ => AutoInstall::Flag(f.truthy()),
                }
            }
            "license" => m.license = Some(f.string()?),
            "data" => m.data = f.strings()?,
            "demo" => m.demo = f.strings()?,
            "external_dependencies" => external_dependencies(&f, &mut m)?,
            _ => {}
        }
    }
    Ok(m)
}

/// `external_dependencies`: its `python` and `bin` lists.
fn external_dependencies(f: &Field<'_>, m: &mut Manifest) -> Result<(), Diagnostic> {
    let Value::Dict(deps) = &f.node.value else {
        return Err(f.wrong_type("a dict"));
    };
    for (k, v) in deps {
        let Value::Str(kind) = &k.value else { continue };
        let sub = Field {
            file: f.file,
            source: f.source,
            key: kind,
            node: v,
        };
        match kind.as_ref() {
            "python" => m.python_dependencies = sub.strings()?,
            "bin" => m.bin_dependencies = sub.strings()?,
            _ => {}
        }
    }
    Ok(())
}

fn literal_error(file: &Path, source: &str, err: &LiteralError) -> Diagnostic {
    match err {
        LiteralError::Syntax { offset, message } => Diagnostic::new(
            DiagKind::ManifestSyntax,
            format!("syntax error in manifest `{}`: {message}", file.display()),
        )
        .at_offset(file, source, *offset)
        .hint("a manifest is one Python dict literal; fix the syntax at the caret"),
        LiteralError::NotLiteral { offset, text } => Diagnostic::new(
            DiagKind::ManifestNotLiteral,
            format!(
                "manifest `{}` uses `{text}`, which is not a literal",
                file.display()
            ),
        )
        .at_offset(file, source, *offset)
        .hint("Odoo reads manifests with ast.literal_eval: replace names, calls and expressions with plain values"),
    }
}

fn field_error(file: &Path, source: &str, node: &Node<'_>, message: String) -> Diagnostic {
    Diagnostic::new(DiagKind::ManifestField, message).at_offset(file, source, node.span.start)
}

struct Field<'a> {
    file: &'a Path,
    source: &'a str,
    key: &'a str,
    node: &'a Node<'a>,
}

impl Field<'_> {
    fn wrong_type(&self, expected: &str) -> Diagnostic {
        field_error(
            self.file,
            self.source,
            self.node,
            format!(
                "`{}` in manifest `{}` must be {expected}, found a {}",
                self.key,
                self.file.display(),
                self.node.value.type_name()
            ),
        )
        .hint(format!("write `{}` as {expected}", self.key))
    }

    fn string(&self) -> Result<String, Diagnostic> {
        match &self.node.value {
            Value::Str(s) => Ok(s.to_string()),
            _ => Err(self.wrong_type("a string")),
        }
    }

    fn strings(&self) -> Result<Vec<String>, Diagnostic> {
        match &self.node.value {
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => items
                .iter()
                .map(|item| match &item.value {
                    Value::Str(s) => Ok(s.to_string()),
                    _ => Err(self.wrong_type("a list of strings")),
                })
                .collect(),
            _ => Err(self.wrong_type("a list of strings")),
        }
    }

    /// Python truthiness, as Odoo tests these flags.
    fn truthy(&self) -> bool {
        match &self.node.value {
            Value::Bool(b) => *b,
            Value::None => false,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => !v.is_empty(),
            Value::Dict(v) => !v.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Manifest, Diagnostic> {
        parse_manifest(Path::new("m/__manifest__.py"), src)
    }

    #[test]
    fn reads_fields_and_defaults() {
        let m = parse(
            "{'name': 'M', 'version': '17.0.1.0.0', 'depends': ['base', 'mail'],\n 'auto_install': ['mail'], 'external_dependencies': {'python': ['requests']}}",
        )
        .unwrap();
        assert_eq!(m.version, "17.0.1.0.0");
        assert_eq!(m.depends, vec!["base", "mail"]);
        assert_eq!(m.auto_install, AutoInstall::When(vec!["mail".into()]));
        assert_eq!(m.python_dependencies, vec!["requests"]);
        assert!(m.installable);
        let d = parse("{'name': 'x'}").unwrap();
        assert_eq!(d.version, "1.0");
        assert!(d.depends.is_empty());
        assert!(d.version_span.is_none());
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let err = parse("{\n  'depends': 'base',\n}").unwrap_err();
        assert_eq!(err.kind, DiagKind::ManifestField);
        let loc = err.location.unwrap();
        assert_eq!((loc.line, loc.column), (2, 14));
    }

    #[test]
    fn non_literals_are_errors_with_location() {
        let err = parse("{\n  'name': _('x'),\n}").unwrap_err();
        assert_eq!(err.kind, DiagKind::ManifestNotLiteral);
        let loc = err.location.clone().unwrap();
        assert_eq!((loc.line, loc.column), (2, 11));
        assert!(err.to_string().contains("m/__manifest__.py:2:11"));
    }
}
