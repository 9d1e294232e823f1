//! Addresses and address lists: `10.0.0.0/8`, `"2001:db8::1"`, `[a, b, c]`, as rustc's
//! tokens or the lexer's split them (`10.0` may come as one number).

use super::statement::{Clauses, Statement};
use crate::diag::{Diagnostic, TokenRange};
use crate::model::nets_text;
use crate::token::TokenKind;
use ipnet::IpNet;
use std::sync::Arc;

/// What an address clause names: networks, or a dynamic set.
pub(super) enum Addresses {
    Nets(Vec<IpNet>),
    Dynamic(String),
}

impl Addresses {
    /// The networks, when the clause names networks.
    pub(super) fn nets(&self) -> Option<&[IpNet]> {
        match self {
            Addresses::Nets(nets) => Some(nets),
            Addresses::Dynamic(_) => None,
        }
    }
}

impl Statement<'_, '_> {
    /// `src ADDRS`, `dst ADDRS`, or `src $SET` of a dynamic set.
    pub(super) fn address_clause(
        &mut self,
        c: &mut Clauses,
        word: &str,
        start: usize,
    ) -> Option<()> {
        let (slot, what) = if word == "src" {
            (&mut c.src, "source address")
        } else {
            (&mut c.dst, "destination address")
        };
        let value = match self.dynamic_use() {
            Some(name) => {
                c.text.push(format!("{word} ${name}"));
                Addresses::Dynamic(name)
            }
            None => {
                let nets = self.addresses()?;
                c.text.push(format!("{word} {}", nets_text(&nets)));
                Addresses::Nets(nets)
            }
        };
        let range = self.range(start);
        self.set(slot, value, range, what)
    }

    /// An address or network: a string, or the run of tokens rustc splits one into
    /// (`10.0` `.` `0.0` `/` `8`, `2001` `:` `db8` `:` `:` `1`), joined back together.
    pub(super) fn address(&mut self) -> Option<IpNet> {
        let tokens = self.tokens;
        let start = self.pos;
        let text = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                s
            }
            Some(TokenKind::Number(_) | TokenKind::Ident(_) | TokenKind::Punct(':')) => {
                let mut text = String::new();
                let mut previous: Option<&TokenKind> = None;
                while let Some(token) = tokens[..self.end].get(self.pos) {
                    // Which token may follow which inside an address.
                    let joins = matches!(
                        (&token.kind, previous),
                        (_, None)
                            | (TokenKind::Number(_), Some(TokenKind::Punct(_)))
                            | (TokenKind::Ident(_), Some(TokenKind::Punct(':')))
                            | (TokenKind::Punct(':'), Some(_))
                            | (
                                TokenKind::Punct('.'),
                                Some(TokenKind::Number(_) | TokenKind::Ident(_))
                            )
                            | (
                                TokenKind::Punct('/'),
                                Some(
                                    TokenKind::Number(_)
                                        | TokenKind::Ident(_)
                                        | TokenKind::Punct(':')
                                )
                            )
                    );
                    if !joins {
                        break;
                    }
                    text.push_str(&token.text());
                    previous = Some(&token.kind);
                    self.pos += 1;
                }
                text
            }
            _ => {
                let found = self
                    .peek()
                    .map_or("nothing".into(), |t| format!("`{}`", t.text()));
                self.error_at(
                    self.pos,
                    format!("expected an IP address or network, found {found}"),
                )
                .help(
                    "write `10.0.0.1`, `10.0.0.0/8`, `::1` or a string such as `\"2001:db8::1\"`",
                );
                return None;
            }
        };
        let range = self.range(start);
        let quoted = matches!(tokens[start].kind, TokenKind::Str(_));
        match crate::list_file::net_from_text(&text) {
            Ok(net) => Some(net),
            // Rust's tokenizer reads parts of an unquoted IPv6 address as numbers
            // (`1e5` as a float), or refuses it before the macro sees it (`::1e`).
            Err((message, _)) if !quoted && text.contains(':') => {
                self.push(Diagnostic::error(range, message)).help(format!(
                    "write an IPv6 address as a string, `\"{text}\"`: unquoted, Rust reads parts of it as numbers"
                ));
                None
            }
            Err((message, help)) => {
                self.push(Diagnostic::error(range, message)).help(help);
                None
            }
        }
    }

    /// One address or network, or a bracketed list of them (all of one family):
    /// `src [198.51.100.7, 203.0.113.0/24]`.
    pub(super) fn addresses(&mut self) -> Option<Vec<IpNet>> {
        let start = self.pos;
        match self.name_use("set")? {
            Some(super::names::Value::Set(nets)) => return Some(nets),
            Some(_) => {
                self.push(Diagnostic::error(
                    self.range(start),
                    "a dynamic set's members are known only at run time: it cannot be part of a list",
                ))
                .help("use it alone: `drop src $NAME;`");
                return None;
            }
            None => {}
        }
        if !self.peek_punct('[') {
            return Some(vec![self.address()?]);
        }
        self.pos += 1;
        // Each element with where it was written: an address, or a list file's
        // entries (one token).
        let mut elements: Vec<(Arc<[IpNet]>, TokenRange)> = Vec::new();
        loop {
            let start = self.pos;
            if let Some(path) = crate::list_file_at(self.tokens, self.pos) {
                // Whoever reads the policy splices a list file in before parsing; one
                // left here had no directory to be read from.
                self.error_at(self.pos, format!("`file \"{path}\"` cannot be read here: a policy given as text has no directory"))
                    .help("list files are read by `firewall!` (relative to Cargo.toml) and `Policy::from_file` (relative to the policy file)");
                return None;
            }
            let element: Arc<[IpNet]> = match self.peek().map(|t| &t.kind) {
                Some(TokenKind::Nets(nets)) => {
                    let nets = nets.clone();
                    self.pos += 1;
                    nets
                }
                _ => Arc::new([self.address()?]),
            };
            elements.push((element, self.range(start)));
            if self.peek_punct(',') {
                self.pos += 1;
                // A trailing comma before `]` is fine, as in Rust.
                if !self.peek_punct(']') {
                    continue;
                }
            }
            if self.peek_punct(']') {
                self.pos += 1;
                break;
            }
            let found = self
                .peek()
                .map_or("the end of the rule".into(), |t| format!("`{}`", t.text()));
            self.error_at(
                self.pos,
                format!("expected `,` or `]` in the address list, found {found}"),
            )
            .help("write `[198.51.100.7, 203.0.113.0/24]`");
            return None;
        }
        // A list may hold both families: the rule is then one rule per family.
        let mut nets = Vec::with_capacity(elements.iter().map(|(n, _)| n.len()).sum());
        for (element, _) in &elements {
            nets.extend_from_slice(element);
        }
        Some(nets)
    }
}
