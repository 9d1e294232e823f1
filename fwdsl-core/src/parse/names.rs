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
    /// A dynamic set: members added and removed at run time (`Firewall::set_add`),
    /// with its default and longest lifetimes in seconds.
    Dynamic {
        timeout: Option<u64>,
        max: Option<u64>,
    },
}

impl Name {
    /// The dynamic set this name declares, if it declares one.
    pub(crate) fn dynamic_set(&self) -> Option<crate::model::DynamicSet> {
        match self.value {
            Value::Dynamic { timeout, max } => Some(crate::model::DynamicSet {
                name: self.name.clone().into(),
                timeout,
                max,
            }),
            _ => None,
        }
    }
}

/// `3600` seconds as `1h`, the largest unit that divides it.
pub fn duration_text(seconds: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// Longest name of a dynamic set: its ipsets are `fwdsl-d4-NAME` and `fwdsl-d6-NAME`,
/// and ipset names have at most 31 bytes.
pub const DYNAMIC_SET_NAME_MAX: usize = 31 - "fwdsl-d4-".len();

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Set(_) | Value::Dynamic { .. } => "set",
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
            let (timeout, max) = self.lifetimes()?;
            return Some(self.defined(name, Value::Dynamic { timeout, max }, start));
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

    /// `[timeout DURATION] [max DURATION]` after `set NAME dynamic`: a default lifetime
    /// for members, and the longest a caller may ask for.
    fn lifetimes(&mut self) -> Option<(Option<u64>, Option<u64>)> {
        let (mut timeout, mut max) = (None, None);
        while self.pos < self.end {
            let at = self.pos;
            let word = self.word()?;
            let slot = match word.as_str() {
                "timeout" => &mut timeout,
                "max" => &mut max,
                other => {
                    self.error_at(at, format!("expected `timeout` or `max` after `dynamic`, found `{other}`"))
                        .help("`set banned dynamic timeout 1h max 30d;`: members live an hour unless asked otherwise, and at most 30 days");
                    return None;
                }
            };
            if slot.is_some() {
                self.error_at(at, format!("`{word}` is given twice"));
                return None;
            }
            *slot = Some(self.duration(&word)?);
        }
        if let (Some(t), Some(m)) = (timeout, max) {
            if t > m {
                self.error_at(
                    self.end - 1,
                    format!(
                        "the default lifetime ({}) is longer than `max` ({})",
                        duration_text(t),
                        duration_text(m)
                    ),
                )
                .help("make `max` at least the `timeout`");
                return None;
            }
        }
        Some((timeout, max))
    }

    /// A lifetime: `90s`, `10m`, `1h`, `30d` (or seconds), above 0.
    fn duration(&mut self, what: &str) -> Option<u64> {
        let at = self.pos;
        let Some(TokenKind::Number(digits)) = self.tokens[..self.end].get(at).map(|t| &t.kind)
        else {
            self.error_at(
                at,
                format!("expected a duration after `{what}` (`90s`, `10m`, `1h`, `30d`)"),
            );
            return None;
        };
        // The lexer reads `30d` as one word of digits and letters.
        let split = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let (number, unit) = digits.split_at(split);
        let scale = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => {
                self.error_at(at, format!("`{digits}`: the unit is s, m, h, d or w"));
                return None;
            }
        };
        let seconds = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale));
        self.pos += 1;
        match seconds {
            Some(0) => {
                self.error_at(
                    at,
                    format!("a `{what}` of 0 would make members expire at once"),
                );
                None
            }
            // Ten years: beyond that a lifetime is a typo, not a ban.
            Some(s) if s <= 10 * 365 * 86_400 => Some(s),
            _ => {
                self.error_at(at, format!("`{digits}` is longer than ten years"))
                    .help("leave the lifetime out for members that stay until removed");
                None
            }
        }
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
            .find(|n| &n.name == name && matches!(n.value, Value::Dynamic { .. }))?;
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
