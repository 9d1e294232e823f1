//! Names a policy gives its address sets and port lists: `set admins = [10.0.0.0/8,
//! 192.0.2.0/24];`, `ports web = 80, 443;`, used as `$admins` and `$web`; and dynamic
//! sets, whose members change at run time: `set banned dynamic;`, used as `src
//! $banned`. An unknown name is an error with the closest known one; a name never used
//! is a warning.

use super::statement::Statement;
use crate::diag::{Diagnostic, TokenRange};
use crate::model::PortRange;
use crate::token::TokenKind;
use ipnet::IpNet;
use std::cell::Cell;

/// What a name stands for.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Set(Vec<IpNet>),
    Ports(Vec<PortRange>),
    /// A dynamic set: members added and removed at run time (`Firewall::set_add`).
    Dynamic,
}

/// Longest name of a dynamic set: its ipsets are `fwdsl-d4-NAME` and `fwdsl-d6-NAME`,
/// and ipset names have at most 31 bytes.
pub const DYNAMIC_SET_NAME_MAX: usize = 31 - "fwdsl-d4-".len();

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Set(_) | Value::Dynamic => "set",
            Value::Ports(_) => "ports",
        }
    }
}

/// One definition, with where it was written and whether a rule used it.
#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub name: String,
    pub value: Value,
    pub tokens: TokenRange,
    pub used: Cell<bool>,
}

impl Statement<'_, '_> {
    /// `set NAME = ADDRS` or `ports NAME = PORTS`, after the keyword `kind`.
    pub(super) fn name_definition(&mut self, kind: &str, start: usize) -> Option<Name> {
        let name = self.word()?;
        if self.names.iter().any(|n| n.name == name) {
            self.error_at(start + 1, format!("`{name}` is defined already"))
                .help("give it a name of its own");
            return None;
        }
        if kind == "set" && self.peek().is_some_and(|t| t.is_ident("dynamic")) {
            self.pos += 1;
            if name.len() > DYNAMIC_SET_NAME_MAX {
                self.error_at(
                    start + 1,
                    format!("the dynamic set name `{name}` is longer than {DYNAMIC_SET_NAME_MAX} bytes"),
                )
                .help("ipset names have at most 31 bytes, and fwdsl prefixes `fwdsl-d4-`: choose a shorter name");
                return None;
            }
            self.no_more("`dynamic`")?;
            return Some(self.defined(name, Value::Dynamic, start));
        }
        if !self.peek_punct('=') {
            self.error_at(self.pos, format!("expected `=` after `{kind} {name}`"));
            return None;
        }
        self.pos += 1;
        let value = if kind == "set" {
            Value::Set(self.addresses()?)
        } else {
            Value::Ports(self.ports()?)
        };
        self.no_more(&format!("the {kind}"))?;
        Some(self.defined(name, value, start))
    }

    fn defined(&self, name: String, value: Value, start: usize) -> Name {
        Name {
            name,
            value,
            tokens: TokenRange {
                first: start,
                last: self.end - 1,
            },
            used: Cell::new(false),
        }
    }

    /// `$NAME` of a dynamic set, if that is what comes next: its name.
    pub(super) fn dynamic_use(&mut self) -> Option<String> {
        if !self.peek_punct('$') {
            return None;
        }
        let Some(TokenKind::Ident(name)) =
            self.tokens[..self.end].get(self.pos + 1).map(|t| &t.kind)
        else {
            return None;
        };
        let found = self
            .names
            .iter()
            .find(|n| &n.name == name && matches!(n.value, Value::Dynamic))?;
        found.used.set(true);
        self.pos += 2;
        Some(found.name.clone())
    }

    /// `$NAME` of a `kind` ("set" or "ports"), if the next token is `$`: its value, or
    /// an error.
    pub(super) fn name_use(&mut self, kind: &str) -> Option<Option<Value>> {
        if !self.peek_punct('$') {
            return Some(None);
        }
        let start = self.pos;
        self.pos += 1;
        let Some(TokenKind::Ident(name)) = self.peek().map(|t| t.kind.clone()) else {
            self.error_at(self.pos, "expected a name after `$`".into());
            return None;
        };
        self.pos += 1;
        let found = self.names.iter().find(|n| n.name == name);
        match found {
            Some(n) if n.value.kind() == kind => {
                n.used.set(true);
                Some(Some(n.value.clone()))
            }
            Some(n) => {
                let other = n.value.kind();
                self.push(Diagnostic::error(
                    self.range(start),
                    format!("`${name}` is a {other} list, not a {kind} list"),
                ));
                None
            }
            None => {
                let closest = self
                    .names
                    .iter()
                    .filter(|n| n.value.kind() == kind)
                    .map(|n| (strsim::damerau_levenshtein(&name, &n.name), &n.name))
                    .filter(|&(d, known)| d <= 2.max(known.len() / 3))
                    .min()
                    .map(|(_, known)| known.clone());
                let d = self.push(Diagnostic::error(
                    self.range(start),
                    format!("unknown {kind} `${name}`"),
                ));
                match closest {
                    Some(close) => d.help(format!("did you mean `${close}`?")),
                    None => d.help(format!("define it first: `{kind} {name} = …;`")),
                };
                None
            }
        }
    }
}

/// A name defined and never used: a warning at its definition.
pub(super) fn unused(name: &Name) -> Diagnostic {
    let mut d = Diagnostic::warning(
        name.tokens,
        "unused_name",
        format!(
            "{} `{}` is defined but never used",
            name.value.kind(),
            name.name
        ),
    );
    d.help(format!("use it as `${}`, or remove it", name.name));
    d
}
