//! NAT statements: `dnat MATCH… to ADDR[:PORT]`, `redirect MATCH… to PORT`,
//! `masquerade MATCH…`, `snat MATCH… to ADDR`, and the exemptions `no dnat MATCH…` and
//! `no snat MATCH…`; `local` after a destination word (`dnat local …`) keeps it to
//! packets addressed to this host. Their matches are a rule's (parsed and
//! checked by the same clauses, as an input rule for `dnat` and `redirect`, which see
//! packets as they arrive, and as an `out` rule for the source NATs, which see them as
//! they leave); what only NAT has is checked here.

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::model::{Action, Direction};
use crate::nat::{NatKind, NatRule};
use crate::token::TokenKind;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// The words a NAT statement starts with.
pub(super) const NAT_WORDS: [&str; 4] = ["dnat", "redirect", "masquerade", "snat"];

impl Statement<'_, '_> {
    /// `no dnat …` or `no snat …`, after `no`.
    pub(super) fn exemption(&mut self, line: u32) -> Option<Vec<NatRule>> {
        let word = match self.peek() {
            Some(t) if t.is_ident("dnat") => "no dnat",
            Some(t) if t.is_ident("snat") => "no snat",
            _ => {
                self.error_at(self.pos - 1, "`no` starts an exemption from NAT: `no dnat …` or `no snat …`".into())
                    .help("for example `no snat dst 10.8.0.0/24;` before a `masquerade` the VPN should not see");
                return None;
            }
        };
        self.pos += 1;
        self.nat_statement(word, line)
    }

    /// The NAT statement after its word `word` (one rule, or one per part of a service
    /// of the policy's own).
    pub(super) fn nat_statement(&mut self, word: &str, line: u32) -> Option<Vec<NatRule>> {
        let start = self.pos - 1;
        let destination = matches!(word, "dnat" | "redirect" | "no dnat");
        let direction = match destination {
            true => Direction::In,
            false => Direction::Out,
        };
        let local = self.peek().is_some_and(|t| t.is_ident("local"));
        if local {
            if !destination {
                self.error_at(self.pos, format!("`{word}` sees packets as they leave: `local` is for `dnat`, `redirect` and `no dnat`"))
                    .help("remove `local`");
                return None;
            }
            self.pos += 1;
        }
        let mut clauses = Clauses::default();
        while self.pos < self.end && !self.peek().is_some_and(|t| t.is_ident("to")) {
            self.clause(&mut clauses)?;
        }
        let to = self.pos;
        let kind = match (word, self.pos < self.end) {
            ("no dnat" | "no snat", false) => NatKind::Exempt { destination },
            ("no dnat" | "no snat", true) => {
                self.error_at(
                    to,
                    format!("`{word}` translates nothing: it takes no target"),
                )
                .help("remove `to …`");
                return None;
            }
            ("masquerade", false) => NatKind::Masquerade,
            ("masquerade", true) => {
                self.error_at(
                    to,
                    "`masquerade` takes the address of the interface the packet leaves by".into(),
                )
                .help("remove `to …`, or write `snat … to ADDRESS` for a fixed address");
                return None;
            }
            (_, false) => {
                let example = match word {
                    "dnat" => "`dnat tcp 8080 to 10.0.0.5:80;`",
                    "redirect" => "`redirect tcp 80 to 8080;`",
                    _ => "`snat src 10.8.0.0/24 via eth0 to 203.0.113.5;`",
                };
                self.error_at(
                    self.end.saturating_sub(1).max(start),
                    format!("`{word}` needs a target: `to …`"),
                )
                .help(format!("for example {example}"));
                return None;
            }
            (_, true) => {
                self.pos += 1;
                self.nat_target(word)?
            }
        };
        if clauses.text.is_empty() {
            let help = match kind.is_destination() {
                true => format!("name what it translates: `{word} tcp 8080 …`"),
                false => {
                    format!("name the source and the way out: `{word} src 10.8.0.0/24 via eth0 …`")
                }
            };
            self.error_at(start, format!("`{word}` has no match"))
                .help(help);
            return None;
        }
        let first_only = [
            clauses.state.as_ref().map(|(_, r)| *r),
            clauses.limit.as_ref().map(|(_, r)| *r),
            clauses.log,
            clauses.prefix.as_ref().map(|(_, r)| *r),
        ];
        if let Some(range) = first_only.into_iter().flatten().next() {
            self.push(Diagnostic::error(
                range,
                format!("`{word}` sees only the first packet of a connection: it takes no state, limit or log"),
            ))
            .help("filter with a rule of its own: `allow forward … limit …`");
            return None;
        }
        let mut rules = self.rule(Action::Allow, direction, line, clauses)?;
        // Translating to an address of one family: of a match of both (a list of both
        // families), the part of that family.
        if let Some(family) = kind.family() {
            rules.retain(|r| r.matches.families().contains(&family));
            if rules.is_empty() {
                self.push(Diagnostic::error(
                    self.range(to),
                    format!("`{word}` translates {family:?} packets to {family:?} addresses only, but its match is of the other family"),
                ))
                .help("write one statement per address family");
                return None;
            }
        }
        let target = kind.to_string();
        Some(
            rules
                .into_iter()
                .map(|rule| {
                    // The rule's text is `allow [out] MATCHES`: the statement's is
                    // `WORD MATCHES [to TARGET]`.
                    let matches = rule
                        .text
                        .trim_start_matches("allow")
                        .trim_start_matches(" out")
                        .trim();
                    let written = if local { " local" } else { "" };
                    let mut text = format!("{word}{written} {matches}");
                    if !target.is_empty() {
                        text.push_str(&format!(" to {target}"));
                    }
                    NatRule {
                        kind,
                        matches: rule.matches,
                        text: Cow::Owned(text.trim_end().to_string()),
                        comment: rule.comment,
                        line,
                        local,
                    }
                })
                .collect(),
        )
    }

    /// What follows `to`: an address and port for `dnat` (a string for IPv6:
    /// `"[2001:db8::5]:51820"`), a port for `redirect`, an address for `snat`.
    fn nat_target(&mut self, word: &str) -> Option<NatKind> {
        let start = self.pos;
        if word == "redirect" {
            let port = self.port()?;
            self.no_more("the port")?;
            return Some(NatKind::Redirect { port });
        }
        // The rest of the statement, joined back as rustc split it.
        let text: String = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                self.no_more("the target")?;
                s
            }
            _ => {
                let text = self.tokens[self.pos..self.end]
                    .iter()
                    .map(|t| t.text())
                    .collect();
                self.pos = self.end;
                text
            }
        };
        let range = self.range(start);
        let target = text
            .parse::<SocketAddr>()
            .map(|s| (s.ip(), Some(s.port())))
            .or_else(|_| text.parse::<IpAddr>().map(|a| (a, None)));
        match (word, target) {
            ("dnat", Ok((_, Some(0)))) => {
                self.push(Diagnostic::error(range, "port 0 is not a valid port"))
                    .help("ports go from 1 to 65535");
                None
            }
            ("dnat", Ok((addr, port))) => Some(NatKind::Dnat { addr, port }),
            (_, Ok((addr, None))) => Some(NatKind::Snat { addr }),
            (_, Ok((_, Some(_)))) => {
                self.push(Diagnostic::error(
                    range,
                    "`snat` rewrites the source address, not its port",
                ))
                .help("write `to ADDRESS`");
                None
            }
            (_, Err(_)) => {
                let example = match word {
                    "dnat" => "`to 10.0.0.5`, `to 10.0.0.5:80` or `to \"[2001:db8::5]:80\"`",
                    _ => "`to 203.0.113.5` or `to \"2001:db8::5\"`",
                };
                self.push(Diagnostic::error(
                    range,
                    format!("`{text}` is not an address to translate to"),
                ))
                .help(format!("write {example}"));
                None
            }
        }
    }
}
