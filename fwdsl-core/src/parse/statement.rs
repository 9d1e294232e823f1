//! One statement being parsed: the cursor over its tokens, the verb and direction, the
//! dispatch of its match clauses to their modules, and the rule they make together.

use super::addresses::Addresses;
use super::names::Name;
use super::rule_checks::{families, nets_of, Whole, CHECKS};
use super::services::UserService;
use crate::diag::{Diagnostic, TokenRange};
use crate::model::{
    ports_text, Access, Action, ConnState, Direction, IcmpType, Matches, PortRange, ProtoSet, Rate,
    Rule,
};
use crate::services::Service;
use crate::token::{Token, TokenKind};
use ipnet::IpNet;
use std::borrow::Cow;

pub(super) enum Parsed1 {
    /// `assert open …;` or `assert closed …;`.
    Assertion(crate::model::Assertion),
    /// One rule, or one per part of a service of the policy's own.
    Rules(Vec<Rule>),
    /// One NAT statement (one per part of a service of the policy's own).
    Nat(Vec<crate::nat::NatRule>),
    Access(Access),
    Service(UserService),
    Name(Name),
}

/// One statement's tokens, `pos..end`, being parsed.
pub(super) struct Statement<'t, 'd> {
    pub tokens: &'t [Token],
    /// The services the policy defined before this statement.
    pub services: &'t [UserService],
    /// The sets and port lists the policy named before this statement.
    pub names: &'t [Name],
    pub pos: usize,
    pub end: usize,
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

/// A match clause seen in a rule, remembered with its tokens for later messages.
pub(super) type Seen<T> = Option<(T, TokenRange)>;

/// The matches of one rule as written, before the checks that need all of them.
#[derive(Default)]
pub(super) struct Clauses {
    pub proto: Seen<(ProtoSet, &'static str)>,
    pub service: Seen<&'static Service>,
    pub all: Option<TokenRange>,
    pub dports: Seen<Vec<PortRange>>,
    pub sports: Seen<Vec<PortRange>>,
    pub src: Seen<Addresses>,
    pub dst: Seen<Addresses>,
    pub iface: Seen<String>,
    pub oface: Seen<String>,
    pub icmp_type: Seen<IcmpType>,
    pub user_service: Seen<usize>,
    pub protocol: Seen<u8>,
    pub limit: Seen<Rate>,
    pub log: Option<TokenRange>,
    pub prefix: Seen<String>,
    pub state: Seen<ConnState>,
    pub comment: Seen<String>,
    /// The canonical text of each clause, in the order written.
    pub text: Vec<String>,
}

impl Statement<'_, '_> {
    pub(super) fn parse(&mut self) -> Option<Parsed1> {
        let first = &self.tokens[self.pos];
        let action = match &first.kind {
            TokenKind::Ident(w) if w == "allow" => Action::Allow,
            TokenKind::Ident(w) if w == "drop" => Action::Drop,
            TokenKind::Ident(w) if w == "reject" => Action::Reject,
            TokenKind::Ident(w) if w == "log" => Action::Log,
            TokenKind::Ident(w) if w == "set" || w == "ports" => {
                let (kind, start) = (w.clone(), self.pos);
                self.pos += 1;
                return self.name_definition(&kind, start).map(Parsed1::Name);
            }
            TokenKind::Ident(w) if w == "assert" => {
                self.pos += 1;
                return self.assertion(first.line).map(Parsed1::Assertion);
            }
            TokenKind::Ident(w) if w == "service" => {
                self.pos += 1;
                return self.service_definition().map(Parsed1::Service);
            }
            TokenKind::Ident(w) if w == "ssh" => {
                self.pos += 1;
                return self.access().map(Parsed1::Access);
            }
            TokenKind::Ident(w) if w == "no" => {
                self.pos += 1;
                return self.exemption(first.line).map(Parsed1::Nat);
            }
            TokenKind::Ident(w) if super::nat::NAT_WORDS.contains(&w.as_str()) => {
                let word = w.clone();
                self.pos += 1;
                return self.nat_statement(&word, first.line).map(Parsed1::Nat);
            }
            _ => {
                let words: Vec<String> = super::STATEMENT_WORDS
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect();
                let help = match first.text().as_str() {
                    "accept" | "pass" => "write `allow` to accept packets".to_string(),
                    "deny" | "block" => {
                        "write `drop` to discard packets silently, `reject` to refuse them"
                            .to_string()
                    }
                    "nat" | "dnat-to" | "portforward" | "forward-port" => {
                        "forward a port with `dnat tcp 8080 to 10.0.0.5:80;`".to_string()
                    }
                    _ => format!("a statement starts with one of {}", words.join(", ")),
                };
                self.error_at(
                    self.pos,
                    format!("expected a statement, found `{}`", first.text()),
                )
                .help(help);
                return None;
            }
        };
        let line = first.line;
        self.pos += 1;
        let direction = self.direction()?;
        let mut clauses = Clauses::default();
        while self.pos < self.end {
            self.clause(&mut clauses)?;
        }
        self.rule(action, direction, line, clauses)
            .map(Parsed1::Rules)
    }

    /// The direction word right after the verb, if any; the spellings other tools use
    /// get the right one.
    pub(super) fn direction(&mut self) -> Option<Direction> {
        let Some(TokenKind::Ident(word)) = self.peek().map(|t| t.kind.clone()) else {
            return Some(Direction::In);
        };
        let direction = match word.as_str() {
            "out" => Direction::Out,
            "forward" => Direction::Forward,
            "output" | "outgoing" | "egress" | "OUTPUT" => {
                self.error_at(self.pos, format!("unknown direction `{word}`"))
                    .help("write `out` right after the verb: `allow out tcp 443;`");
                return None;
            }
            "fwd" | "forwarded" | "routed" | "FORWARD" => {
                self.error_at(self.pos, format!("unknown direction `{word}`"))
                    .help("write `forward` right after the verb: `allow forward tcp 8080;`");
                return None;
            }
            "input" | "incoming" | "ingress" | "INPUT" => {
                self.error_at(self.pos, format!("unknown direction `{word}`"))
                    .help("a rule without a direction word is an input rule: `allow tcp 22;`");
                return None;
            }
            _ => return Some(Direction::In),
        };
        self.pos += 1;
        Some(direction)
    }

    pub(super) fn range(&self, first: usize) -> TokenRange {
        TokenRange {
            first,
            last: self.pos.max(first + 1) - 1,
        }
    }

    pub(super) fn push(&mut self, mut diagnostic: Diagnostic) -> &mut Diagnostic {
        // A statement cut short by the end of the input points past its last token:
        // every front end maps a diagnostic to a token that exists.
        if let Some(r) = &mut diagnostic.tokens {
            let last = self.end.saturating_sub(1);
            r.first = r.first.min(last);
            r.last = r.last.clamp(r.first, last.max(r.first));
        }
        self.diagnostics.push(diagnostic);
        self.diagnostics.last_mut().expect("just pushed")
    }

    pub(super) fn error_at(&mut self, index: usize, message: String) -> &mut Diagnostic {
        self.push(Diagnostic::error(TokenRange::single(index), message))
    }

    pub(super) fn peek(&self) -> Option<&Token> {
        self.tokens[..self.end].get(self.pos)
    }

    pub(super) fn peek_punct(&self, c: char) -> bool {
        self.peek().is_some_and(|t| t.is_punct(c))
    }

    pub(super) fn peek_number(&self) -> bool {
        matches!(self.peek().map(|t| &t.kind), Some(TokenKind::Number(_)))
    }

    /// Records a clause in its slot, or reports that the slot was already taken.
    pub(super) fn set<T>(
        &mut self,
        slot: &mut Seen<T>,
        value: T,
        range: TokenRange,
        what: &str,
    ) -> Option<()> {
        if let Some((_, earlier)) = slot {
            let line = self.tokens[earlier.first].line;
            let column = self.tokens[earlier.first].column;
            self.push(Diagnostic::error(range, format!("{what} is given twice in one rule")))
                .help(format!("keep one (the other is at line {line}, column {column}); write two rules for two {what}s"));
            return None;
        }
        *slot = Some((value, range));
        Some(())
    }

    /// Parses one match clause; `None` after an error, which ends this statement.
    pub(super) fn clause(&mut self, c: &mut Clauses) -> Option<()> {
        let start = self.pos;
        let token = &self.tokens[start];
        let word = match &token.kind {
            TokenKind::Ident(w) => w.clone(),
            TokenKind::Number(_) => {
                let ports = self.ports()?;
                let shown = ports_text(&ports);
                self.push(Diagnostic::error(
                    self.range(start),
                    format!("port `{shown}` has no protocol"),
                ))
                .help(format!("name the protocol: `tcp {shown}` or `udp {shown}`"));
                return None;
            }
            _ => {
                self.error_at(
                    start,
                    format!(
                        "expected a match (a protocol, service, `src`, `dst`, `in`, …), found `{}`",
                        token.text()
                    ),
                );
                return None;
            }
        };
        self.pos += 1;
        // Each family of clauses parses in a module of its own.
        match word.as_str() {
            "tcp" | "udp" | "dport" | "sport" => self.port_clause(c, &word, start),
            "icmp" | "all" | "proto" => self.protocol_clause(c, &word, start),
            "src" | "dst" => self.address_clause(c, &word, start),
            "in" | "via" | "on" | "oif" | "iif" | "outerface" | "interface" => {
                self.interface_clause(c, &word, start)
            }
            "established" | "new" | "invalid" => self.state_clause(c, &word, start),
            "limit" | "log" | "prefix" => self.limit_clause(c, &word, start),
            "comment" => self.comment_clause(c, start),
            "out" | "forward" => {
                self.error_at(
                    start,
                    format!("the direction `{word}` comes right after the verb"),
                )
                .help(format!("write `allow {word} …`, `drop {word} …`"));
                None
            }
            _ => self.service_clause(c, start),
        }
    }

    /// Checks what only the whole rule can tell, and builds it.
    pub(super) fn rule(
        &mut self,
        action: Action,
        direction: Direction,
        line: u32,
        c: Clauses,
    ) -> Option<Vec<Rule>> {
        let errors_before = self.diagnostics.len();
        let whole = Whole {
            action,
            direction,
            c: &c,
        };
        for check in CHECKS {
            check(self, &whole);
        }
        let families = families(&c);
        let mut protocols = c.proto.as_ref().map_or(ProtoSet::ALL, |((p, _), _)| *p);
        let mut dports = c
            .dports
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        if let Some((service, _)) = c.service {
            protocols = service.protocols;
            dports = vec![PortRange::new(service.port, service.port)];
        }
        let has_match = c.user_service.is_some()
            || c.proto.is_some()
            || c.service.is_some()
            || c.all.is_some()
            || c.src.is_some()
            || c.dst.is_some()
            || c.iface.is_some()
            || c.oface.is_some()
            || c.state.is_some()
            || c.sports.is_some();
        let (limit, log) = self.limits_and_logging(action, &c)?;
        if !has_match && action != Action::Log {
            let keyword = match direction {
                Direction::In => action.keyword().to_string(),
                _ => format!("{} {}", action.keyword(), direction.keyword()),
            };
            self.push(Diagnostic::error(
                TokenRange::single(self.pos - 1),
                format!("rule `{keyword}` has no match"),
            ))
            .help(format!(
                "write `{keyword} all` for the catch-all, or name what it matches"
            ));
        }
        if self.diagnostics.len() > errors_before {
            return None;
        }
        let mut text = action.keyword().to_string();
        if direction != Direction::In {
            text.push(' ');
            text.push_str(direction.keyword());
        }
        for part in &c.text {
            text.push(' ');
            text.push_str(part);
        }
        let rule = Rule {
            action,
            direction,
            matches: Matches {
                protocols,
                dports: Cow::Owned(dports),
                sports: Cow::Owned(c.sports.map(|(p, _)| p).unwrap_or_default()),
                src: Cow::Owned(nets_of(&c.src).map(<[IpNet]>::to_vec).unwrap_or_default()),
                dst: Cow::Owned(nets_of(&c.dst).map(<[IpNet]>::to_vec).unwrap_or_default()),
                src_set: dynamic_of(&c.src),
                dst_set: dynamic_of(&c.dst),
                iface: c.iface.map(|(n, _)| Cow::Owned(n)),
                oface: c.oface.map(|(n, _)| Cow::Owned(n)),
                icmp_type: c.icmp_type.as_ref().map(|(t, _)| *t),
                protocol: c.protocol.as_ref().map(|(n, _)| *n),
                // A limit counts new connections: the rule is about them alone.
                state: c.state.map(|(s, _)| s).or(limit.map(|_| ConnState::New)),
            },
            limit,
            log,
            text: Cow::Owned(text),
            comment: c.comment.map(|(t, _)| Cow::Owned(t)),
            line,
        };
        // Lists of both families: one rule per family, each with its own addresses
        // (and only where the rule's ICMP type exists).
        let rule_families: Vec<crate::Family> = families
            .into_iter()
            .filter(|&f| rule.matches.icmp_type.is_none_or(|t| t.of(f).is_some()))
            .collect();
        let split = |rule: Rule| -> Vec<Rule> {
            let mixed = [&rule.matches.src, &rule.matches.dst].iter().any(|nets| {
                nets.iter()
                    .any(|n| crate::Family::of(n) != crate::Family::of(&nets[0]))
            });
            if !mixed {
                return vec![rule];
            }
            rule_families
                .iter()
                .map(|&f| {
                    let only = |nets: &Cow<'static, [IpNet]>| -> Cow<'static, [IpNet]> {
                        Cow::Owned(
                            nets.iter()
                                .filter(|n| crate::Family::of(n) == f)
                                .copied()
                                .collect(),
                        )
                    };
                    let mut one = rule.clone();
                    one.matches.src = only(&rule.matches.src);
                    one.matches.dst = only(&rule.matches.dst);
                    one
                })
                .collect()
        };
        // A service of the policy's own is one rule per part (`tcp 8000-8010, udp
        // 9000`): a rule has one protocol and one port list.
        Some(match c.user_service {
            None => split(rule),
            Some((i, _)) => self.services[i]
                .parts
                .iter()
                .map(|(protocols, ports)| {
                    let mut part = rule.clone();
                    part.matches.protocols = *protocols;
                    part.matches.dports = Cow::Owned(ports.clone());
                    part
                })
                .flat_map(split)
                .collect(),
        })
    }

    pub(super) fn no_more(&mut self, after: &str) -> Option<()> {
        if let Some(token) = self.peek() {
            let text = token.text();
            self.error_at(self.pos, format!("unexpected `{text}` after {after}"));
            return None;
        }
        Some(())
    }

    /// A word that may contain `-` and `.` joins: `ftp-data`, `br-lan`, `eth0.100`.
    pub(super) fn word(&mut self) -> Option<String> {
        let mut text = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Ident(w)) => w.clone(),
            _ => {
                let found = self
                    .peek()
                    .map_or("nothing".into(), |t| format!("`{}`", t.text()));
                self.error_at(self.pos, format!("expected a name, found {found}"));
                return None;
            }
        };
        self.pos += 1;
        while self.peek_punct('-') || self.peek_punct('.') {
            let next = self.tokens[..self.end].get(self.pos + 1);
            let Some(TokenKind::Ident(piece) | TokenKind::Number(piece)) = next.map(|t| &t.kind)
            else {
                break;
            };
            text.push(if self.peek_punct('-') { '-' } else { '.' });
            text.push_str(piece);
            self.pos += 2;
        }
        Some(text)
    }
}

/// The dynamic set an address clause names, if it names one.
fn dynamic_of(seen: &Seen<Addresses>) -> Option<Cow<'static, str>> {
    match seen {
        Some((Addresses::Dynamic(name), _)) => Some(Cow::Owned(name.clone())),
        _ => None,
    }
}
