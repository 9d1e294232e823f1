//! The grammar: tokens to rules, with every validity check that needs only one rule
//! (ports, addresses, protocols, services, interfaces, comments).
//!
//! ```text
//! policy    := statement*
//! statement := action direction? match* ";" | "ssh" access ";"
//! action    := "allow" | "drop" | "reject"
//! direction := "out" | "forward"              (none: an input rule)
//! match     := ("tcp" | "udp") ports? | "icmp" | "all" | SERVICE
//!            | "dport" ports | "sport" ports | "src" addrs | "dst" addrs
//!            | "in" IFACE | "via" IFACE | "established" | "comment" STRING
//! ports     := port ("-" port)? ("," port ("-" port)?)*
//! addrs     := addr | "[" addr ("," addr)* "]"
//! access    := "none" | port ("from" addr)? ("in" IFACE)?
//! ```
//!
//! Each statement is parsed on its own, so one mistake never hides the next one.

use crate::diag::{Diagnostic, TokenRange};
use crate::model::{Access, Action, Direction, Matches, PortRange, ProtoSet, Rule};
use crate::services::Service;
use crate::token::{Token, TokenKind};
use ipnet::IpNet;
use std::borrow::Cow;
use std::net::IpAddr;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
const MAX_IFACE_LEN: usize = 15;
/// Most (port, source port, source, destination) combinations a whole policy may expand
/// to: the exact analysis holds one box of ~250 bytes for each, so this keeps it under
/// about 100 MB whatever the input. Lists in one rule multiply (`tcp A sport B src C
/// dst D` is A×B×C×D combinations); a list alone adds its length.
pub(crate) const MAX_COMBINATIONS: usize = 400_000;
/// Longest user comment: iptables allows 256 bytes, fwdsl prefixes the rule's own text.
pub(crate) const MAX_COMMENT_LEN: usize = 120;
/// Longest comment iptables keeps (`-m comment` allows 256 bytes with the final NUL).
pub const IPTABLES_COMMENT_MAX: usize = 255;

/// What the parser produced: the rules that parsed, where each was written, the
/// operator's access path, and the problems found.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub rules: Vec<Rule>,
    pub rule_tokens: Vec<TokenRange>,
    pub access: Access,
    pub access_tokens: Option<TokenRange>,
    pub diagnostics: Vec<Diagnostic>,
    /// The last statement (rule or declaration), where a missing catch-all is reported.
    pub last_statement: Option<TokenRange>,
    /// Whether the last statement is a rule: only then is a missing catch-all reported
    /// at it (a trailing declaration is not "a rule after the catch-all").
    pub ends_with_rule: bool,
}

pub(crate) fn parse(tokens: &[Token]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut combinations = 0usize;
    let mut start = 0;
    while start < tokens.len() {
        let semi = tokens[start..].iter().position(|t| t.is_punct(';'));
        let end = semi.map_or(tokens.len(), |i| start + i);
        let range = TokenRange {
            first: start,
            last: end.min(tokens.len() - 1),
        };
        if semi.is_none() {
            let mut d = Diagnostic::error(
                TokenRange::single(tokens.len() - 1),
                "expected `;` after the last statement",
            );
            d.help("end every statement with `;`");
            parsed.diagnostics.push(d);
        }
        if start == end {
            parsed.diagnostics.push(Diagnostic::error(
                range,
                "empty statement: remove the extra `;`",
            ));
        } else {
            let mut statement = Statement {
                tokens,
                pos: start,
                end,
                diagnostics: &mut parsed.diagnostics,
            };
            match statement.parse() {
                Some(Parsed1::Rule(rule)) => {
                    let after = combinations.saturating_add(rule.matches.combinations());
                    let problem = if after > MAX_COMBINATIONS {
                        Some(too_many_combinations(&rule, range))
                    } else {
                        comment_cut(&rule, parsed.rules.len() + 1, range)
                    };
                    if let Some(problem) = problem {
                        // Left out like a rule with an error: later rules are judged on
                        // their own.
                        parsed.diagnostics.push(problem);
                    } else {
                        combinations = after;
                        parsed.rules.push(rule);
                        parsed.rule_tokens.push(range);
                    }
                    parsed.ends_with_rule = true;
                }
                Some(Parsed1::Access(access)) => {
                    if let Some(earlier) = parsed.access_tokens {
                        let mut d = Diagnostic::error(range, "operator access is declared twice");
                        d.help(format!(
                            "keep one `ssh …;` declaration (the other is on line {})",
                            tokens[earlier.first].line
                        ));
                        parsed.diagnostics.push(d);
                    }
                    parsed.access = access;
                    parsed.access_tokens = Some(range);
                    parsed.ends_with_rule = false;
                }
                None => parsed.ends_with_rule = true,
            }
            parsed.last_statement = Some(range);
        }
        start = end + 1;
    }
    parsed
}

/// The iptables comment of rule `number` is `fwdsl:N text -- comment`: a user comment
/// that would not fit whole is an error rather than silently cut.
fn comment_cut(rule: &Rule, number: usize, range: TokenRange) -> Option<Diagnostic> {
    let comment = rule.comment.as_deref()?;
    let full = format!("fwdsl:{number} {} -- {comment}", rule.text).len();
    if full <= IPTABLES_COMMENT_MAX {
        return None;
    }
    let mut d = Diagnostic::error(
        range,
        format!(
            "the comment would be cut: with the rule's own text, `fwdsl:{number} {} -- …`, it takes {full} bytes of the {IPTABLES_COMMENT_MAX} iptables keeps",
            rule.text
        ),
    );
    d.help(format!(
        "shorten the comment to at most {} bytes, or the rule",
        comment.len().saturating_sub(full - IPTABLES_COMMENT_MAX)
    ));
    Some(d)
}

fn too_many_combinations(rule: &Rule, range: TokenRange) -> Diagnostic {
    let m = &rule.matches;
    let mut d = Diagnostic::error(
        range,
        format!(
            "rule `{}` brings the policy over {MAX_COMBINATIONS} combinations of ports and addresses: \
             it alone is {} destination ports × {} source ports × {} sources × {} destinations = {}",
            rule.text,
            m.dports.len().max(1),
            m.sports.len().max(1),
            m.src.len().max(1),
            m.dst.len().max(1),
            m.combinations()
        ),
    );
    d.help("lists in one rule multiply: keep a long list in a rule of its own, with at most one other short list");
    d
}

/// The DSL text of a network: a single host is written as its address.
pub(crate) fn net_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

enum Parsed1 {
    Rule(Rule),
    Access(Access),
}

/// One statement's tokens, `pos..end`, being parsed.
struct Statement<'t, 'd> {
    tokens: &'t [Token],
    pos: usize,
    end: usize,
    diagnostics: &'d mut Vec<Diagnostic>,
}

/// A match clause seen in a rule, remembered with its tokens for later messages.
type Seen<T> = Option<(T, TokenRange)>;

/// The matches of one rule as written, before the checks that need all of them.
#[derive(Default)]
struct Clauses {
    proto: Seen<(ProtoSet, &'static str)>,
    service: Seen<&'static Service>,
    all: Option<TokenRange>,
    dports: Seen<Vec<PortRange>>,
    sports: Seen<Vec<PortRange>>,
    src: Seen<Vec<IpNet>>,
    dst: Seen<Vec<IpNet>>,
    iface: Seen<String>,
    oface: Seen<String>,
    established: Option<TokenRange>,
    comment: Seen<String>,
    /// The canonical text of each clause, in the order written.
    text: Vec<String>,
}

impl Statement<'_, '_> {
    fn parse(&mut self) -> Option<Parsed1> {
        let first = &self.tokens[self.pos];
        let action = match &first.kind {
            TokenKind::Ident(w) if w == "allow" => Action::Allow,
            TokenKind::Ident(w) if w == "drop" => Action::Drop,
            TokenKind::Ident(w) if w == "reject" => Action::Reject,
            TokenKind::Ident(w) if w == "ssh" => {
                self.pos += 1;
                return self.access().map(Parsed1::Access);
            }
            _ => {
                let help = match first.text().as_str() {
                    "accept" | "pass" => "write `allow` to accept packets",
                    "deny" | "block" => {
                        "write `drop` to discard packets silently, `reject` to refuse them"
                    }
                    _ => "a statement starts with `allow`, `drop`, `reject` or `ssh`",
                };
                self.error_at(
                    self.pos,
                    format!(
                        "expected `allow`, `drop`, `reject` or `ssh`, found `{}`",
                        first.text()
                    ),
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
            .map(Parsed1::Rule)
    }

    /// The direction word right after the verb, if any; the spellings other tools use
    /// get the right one.
    fn direction(&mut self) -> Option<Direction> {
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

    fn range(&self, first: usize) -> TokenRange {
        TokenRange {
            first,
            last: self.pos.max(first + 1) - 1,
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.diagnostics.push(diagnostic);
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn error_at(&mut self, index: usize, message: String) -> &mut Diagnostic {
        let index = index.min(self.end.saturating_sub(1));
        self.push(Diagnostic::error(TokenRange::single(index), message))
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens[..self.end].get(self.pos)
    }

    fn peek_punct(&self, c: char) -> bool {
        self.peek().is_some_and(|t| t.is_punct(c))
    }

    fn peek_number(&self) -> bool {
        matches!(self.peek().map(|t| &t.kind), Some(TokenKind::Number(_)))
    }

    /// Records a clause in its slot, or reports that the slot was already taken.
    fn set<T>(
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
    fn clause(&mut self, c: &mut Clauses) -> Option<()> {
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
        match word.as_str() {
            "tcp" | "udp" => {
                let proto = if word == "tcp" {
                    ProtoSet::TCP
                } else {
                    ProtoSet::UDP
                };
                let name = if word == "tcp" { "tcp" } else { "udp" };
                let proto_range = self.range(start);
                self.set(&mut c.proto, (proto, name), proto_range, "protocol")?;
                if self.peek_number() {
                    let ports_start = self.pos;
                    let ports = self.ports()?;
                    c.text.push(format!("{name} {}", ports_text(&ports)));
                    self.set(
                        &mut c.dports,
                        ports,
                        self.range(ports_start),
                        "destination port list",
                    )?;
                } else {
                    c.text.push(name.into());
                }
            }
            "icmp" => {
                self.set(
                    &mut c.proto,
                    (ProtoSet::ICMP, "icmp"),
                    self.range(start),
                    "protocol",
                )?;
                c.text.push(word);
            }
            "all" => {
                if c.all.is_some() {
                    self.error_at(start, "`all` is given twice in one rule".into())
                        .help("remove one");
                    return None;
                }
                c.all = Some(self.range(start));
                c.text.push(word);
            }
            "dport" | "sport" => {
                let ports = self.ports()?;
                c.text.push(format!("{word} {}", ports_text(&ports)));
                let (slot, what) = if word == "dport" {
                    (&mut c.dports, "destination port list")
                } else {
                    (&mut c.sports, "source port list")
                };
                let range = self.range(start);
                self.set(slot, ports, range, what)?;
            }
            "src" | "dst" => {
                let net = self.addresses()?;
                c.text.push(format!("{word} {}", nets_text(&net)));
                let slot = if word == "src" {
                    &mut c.src
                } else {
                    &mut c.dst
                };
                let range = self.range(start);
                let what = if word == "src" {
                    "source address"
                } else {
                    "destination address"
                };
                self.set(slot, net, range, what)?;
            }
            "in" => {
                let name = self.iface()?;
                c.text.push(format!("in {name}"));
                self.set(&mut c.iface, name, self.range(start), "input interface")?;
            }
            "via" => {
                let name = self.iface()?;
                c.text.push(format!("via {name}"));
                self.set(&mut c.oface, name, self.range(start), "output interface")?;
            }
            "on" | "oif" | "iif" | "outerface" | "interface" => {
                self.error_at(start, format!("`{word}` is not fwdsl's word for an interface"))
                    .help("write `in IFACE` for the interface a packet arrives on, `via IFACE` for the one it leaves through");
                return None;
            }
            "out" | "forward" => {
                self.error_at(
                    start,
                    format!("the direction `{word}` comes right after the verb"),
                )
                .help(format!("write `allow {word} …`, `drop {word} …`"));
                return None;
            }
            "established" => {
                if c.established.is_some() {
                    self.error_at(start, "`established` is given twice in one rule".into());
                    return None;
                }
                c.established = Some(self.range(start));
                c.text.push(word);
            }
            "comment" => {
                let text = self.comment()?;
                self.set(&mut c.comment, text, self.range(start), "comment")?;
            }
            _ => {
                self.pos = start;
                let name = self.word()?;
                let range = self.range(start);
                match Service::find(&name) {
                    Some(service) => {
                        c.text.push(name);
                        self.set(&mut c.service, service, range, "service")?;
                    }
                    None => {
                        let d = self.push(Diagnostic::error(
                            range,
                            format!("unknown service or match `{name}`"),
                        ));
                        match Service::closest(&name) {
                            Some(close) => d.help(format!("did you mean `{close}`?")),
                            None => d.help("use `tcp PORT` or `udp PORT`, or one of the services: ssh, http, https, dns, smtp, …"),
                        };
                        return None;
                    }
                }
            }
        }
        Some(())
    }

    /// Checks what only the whole rule can tell, and builds it.
    fn rule(
        &mut self,
        action: Action,
        direction: Direction,
        line: u32,
        c: Clauses,
    ) -> Option<Rule> {
        let errors_before = self.diagnostics.len();
        match (direction, &c.iface, &c.oface) {
            (Direction::In, _, Some((name, range))) => {
                self.push(Diagnostic::error(
                    *range,
                    format!("an incoming packet leaves through no interface: `via {name}` is for `out` and `forward` rules"),
                ))
                .help(format!("write `in {name}` for the interface it arrives on"));
            }
            (Direction::Out, Some((name, range)), _) => {
                self.push(Diagnostic::error(
                    *range,
                    format!("an outgoing packet arrives on no interface: `in {name}` is for input and `forward` rules"),
                ))
                .help(format!("write `via {name}` for the interface it leaves through"));
            }
            _ => {}
        }
        let mut protocols = c.proto.as_ref().map_or(ProtoSet::ALL, |((p, _), _)| *p);
        let mut dports = c
            .dports
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        if let Some((service, range)) = c.service {
            if let Some(((_, name), _)) = c.proto {
                self.push(Diagnostic::error(
                    range,
                    format!(
                        "`{}` already names its protocol; `{name}` is not needed",
                        service.name
                    ),
                ))
                .help(format!(
                    "write `{} {}` alone, or `{} {name} {}`",
                    action.keyword(),
                    service.name,
                    action.keyword(),
                    service.port
                ));
            }
            if let Some((_, ports)) = &c.dports {
                self.push(Diagnostic::error(
                    *ports,
                    format!(
                        "`{}` already names its port ({})",
                        service.name, service.port
                    ),
                ))
                .help("write the service or the ports, not both");
            }
            protocols = service.protocols;
            dports = vec![PortRange::new(service.port, service.port)];
        }
        if let Some(all) = c.all {
            if c.proto.is_some() || c.service.is_some() {
                self.push(Diagnostic::error(
                    all,
                    "`all` means every protocol, but the rule also names one",
                ))
                .help("remove `all`, or the protocol");
            }
        }
        for (ports, keyword) in [(&c.dports, "dport"), (&c.sports, "sport")] {
            let Some((list, range)) = ports else { continue };
            let shown = ports_text(list);
            let problem = match c.proto {
                _ if c.service.is_some() => None,
                Some(((p, _), _)) if ProtoSet::TCP_UDP.contains(p) => None,
                Some(((_, name), _)) => Some(format!("`{name}` has no ports, so `{keyword} {shown}` can never match")),
                None if c.all.is_some() => Some(format!("`all` includes protocols without ports, so `{keyword} {shown}` needs `tcp` or `udp`")),
                None => Some(format!("port `{shown}` has no protocol")),
            };
            if let Some(problem) = problem {
                self.push(Diagnostic::error(*range, problem)).help(format!(
                    "name the protocol: `tcp {keyword} {shown}` or `udp {keyword} {shown}`"
                ));
            }
        }
        if let (Some((src, _)), Some((dst, range))) = (&c.src, &c.dst) {
            if crate::Family::of(&src[0]) != crate::Family::of(&dst[0]) {
                self.push(Diagnostic::error(
                    *range,
                    format!(
                        "rule mixes IPv4 and IPv6: `src {}` and `dst {}`",
                        nets_text(src),
                        nets_text(dst)
                    ),
                ))
                .help("write one rule per address family");
            }
        }
        let has_match = c.proto.is_some()
            || c.service.is_some()
            || c.all.is_some()
            || c.src.is_some()
            || c.dst.is_some()
            || c.iface.is_some()
            || c.oface.is_some()
            || c.established.is_some()
            || c.sports.is_some();
        if !has_match {
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
        Some(Rule {
            action,
            direction,
            matches: Matches {
                protocols,
                dports: Cow::Owned(dports),
                sports: Cow::Owned(c.sports.map(|(p, _)| p).unwrap_or_default()),
                src: Cow::Owned(c.src.map(|(n, _)| n).unwrap_or_default()),
                dst: Cow::Owned(c.dst.map(|(n, _)| n).unwrap_or_default()),
                iface: c.iface.map(|(n, _)| Cow::Owned(n)),
                oface: c.oface.map(|(n, _)| Cow::Owned(n)),
                established: c.established.is_some(),
            },
            text: Cow::Owned(text),
            comment: c.comment.map(|(t, _)| Cow::Owned(t)),
            line,
        })
    }

    /// `ssh none;` or `ssh PORT [from ADDR] [in IFACE];`
    fn access(&mut self) -> Option<Access> {
        let Some(token) = self.peek() else {
            self.error_at(
                self.pos - 1,
                "`ssh` needs a port, or `none` on a console-only host".into(),
            )
            .help("write `ssh 22;`, `ssh 2222 from 10.0.0.0/8;` or `ssh none;`");
            return None;
        };
        if token.is_ident("none") {
            self.pos += 1;
            self.no_more("`ssh none`")?;
            return Some(Access::Console);
        }
        let port = self.port()?;
        let (mut from, mut iface) = (None, None);
        while let Some(token) = self.peek() {
            if token.is_ident("from") && from.is_none() {
                self.pos += 1;
                from = Some(self.address()?);
            } else if token.is_ident("in") && iface.is_none() {
                self.pos += 1;
                iface = Some(Cow::Owned(self.iface()?));
            } else {
                self.error_at(
                    self.pos,
                    format!(
                        "expected `from` or `in` after `ssh {port}`, found `{}`",
                        token.text()
                    ),
                );
                return None;
            }
        }
        Some(Access::Ssh { port, from, iface })
    }

    fn no_more(&mut self, after: &str) -> Option<()> {
        if let Some(token) = self.peek() {
            let text = token.text();
            self.error_at(self.pos, format!("unexpected `{text}` after {after}"));
            return None;
        }
        Some(())
    }

    /// `80`, `80,443`, `6000-6010`, `22,6000-6010`.
    fn ports(&mut self) -> Option<Vec<PortRange>> {
        let mut ranges = Vec::new();
        loop {
            let start = self.pos;
            let first = self.port()?;
            let last = if self.peek_punct('-') {
                self.pos += 1;
                self.port()?
            } else {
                first
            };
            if first > last {
                self.push(Diagnostic::error(
                    self.range(start),
                    format!("port range `{first}-{last}` is empty"),
                ))
                .help(format!("write the lower port first: `{last}-{first}`"));
                return None;
            }
            ranges.push(PortRange::new(first, last));
            if !self.peek_punct(',') {
                return Some(ranges);
            }
            self.pos += 1;
        }
    }

    fn port(&mut self) -> Option<u16> {
        let Some(token) = self.peek() else {
            self.error_at(self.pos, "expected a port number".into());
            return None;
        };
        let TokenKind::Number(text) = &token.kind else {
            let text = token.text();
            self.error_at(self.pos, format!("expected a port number, found `{text}`"));
            return None;
        };
        let value = text.parse::<u64>().ok();
        let text = text.clone();
        match value {
            Some(port @ 1..=65535) => {
                self.pos += 1;
                Some(port as u16)
            }
            Some(0) => {
                self.error_at(self.pos, "port 0 is not a valid port".into())
                    .help("ports go from 1 to 65535");
                None
            }
            Some(_) => {
                self.error_at(self.pos, format!("port `{text}` is out of range"))
                    .help("ports go from 1 to 65535");
                None
            }
            None => {
                self.error_at(self.pos, format!("`{text}` is not a port number"))
                    .help("ports are whole numbers from 1 to 65535");
                None
            }
        }
    }

    /// An address or network: a string, or the run of tokens rustc splits one into
    /// (`10.0` `.` `0.0` `/` `8`, `2001` `:` `db8` `:` `:` `1`), joined back together.
    fn address(&mut self) -> Option<IpNet> {
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
        let net = if text.contains('/') {
            text.parse::<IpNet>().ok()
        } else {
            text.parse::<IpAddr>().ok().map(IpNet::from)
        };
        let Some(net) = net else {
            self.push(Diagnostic::error(
                range,
                format!("`{text}` is not an IP address or network"),
            ))
            .help("write `10.0.0.1`, `10.0.0.0/8`, `::1` or a string such as `\"2001:db8::/32\"`");
            return None;
        };
        if net.trunc() != net {
            self.push(Diagnostic::error(
                range,
                format!("`{text}` has host bits set"),
            ))
            .help(format!(
                "write the network `{}`, or `{}` for the single host",
                net.trunc(),
                net.addr()
            ));
            return None;
        }
        Some(net)
    }

    /// One address or network, or a bracketed list of them (all of one family):
    /// `src [198.51.100.7, 203.0.113.0/24]`.
    fn addresses(&mut self) -> Option<Vec<IpNet>> {
        if !self.peek_punct('[') {
            return Some(vec![self.address()?]);
        }
        self.pos += 1;
        let mut nets: Vec<(IpNet, TokenRange)> = Vec::new();
        loop {
            let start = self.pos;
            let net = self.address()?;
            nets.push((net, self.range(start)));
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
        let family = crate::Family::of(&nets[0].0);
        if let Some((odd, at)) = nets.iter().find(|(n, _)| crate::Family::of(n) != family) {
            let message = format!("address list mixes IPv4 and IPv6: `{}`", net_text(odd));
            self.push(Diagnostic::error(*at, message))
                .help("write one rule per address family");
            return None;
        }
        Some(nets.into_iter().map(|(n, _)| n).collect())
    }

    /// A word that may contain `-` and `.` joins: `ftp-data`, `br-lan`, `eth0.100`.
    fn word(&mut self) -> Option<String> {
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

    fn iface(&mut self) -> Option<String> {
        let start = self.pos;
        let name = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                s
            }
            _ => self.word()?,
        };
        if let Some(problem) = iface_problem(&name) {
            self.push(Diagnostic::error(
                self.range(start),
                format!("`{name}` is not a valid interface name: {problem}"),
            ))
            .help(format!(
                "interface names are 1 to {MAX_IFACE_LEN} letters, digits, `_`, `.` or `-`, starting with a letter or digit"
            ));
            return None;
        }
        Some(name)
    }

    /// `comment "…"`: rendered into an iptables argument, so it must survive the
    /// `iptables` crate's space-and-quote splitting as one argument.
    fn comment(&mut self) -> Option<String> {
        let Some(TokenKind::Str(text)) = self.peek().map(|t| &t.kind) else {
            self.error_at(self.pos, "expected a string after `comment`".into())
                .help("write `comment \"why this rule is here\"`");
            return None;
        };
        let text = text.clone();
        let problem = if text.contains(['"', '\'', '\\']) {
            Some("quotes and backslashes cannot be passed to iptables intact".to_string())
        } else if text.chars().any(|c| c.is_control()) {
            Some("control characters (newlines, tabs) cannot be passed to iptables".to_string())
        } else if let Some(c) = text.chars().find(|&c| is_invisible(c)) {
            Some(format!(
                "it holds U+{:04X}, an invisible or direction-changing character that would make `iptables -S` show something other than what is there",
                c as u32
            ))
        } else if text.trim().is_empty() {
            Some("the comment is empty".to_string())
        } else if text.len() > MAX_COMMENT_LEN {
            Some(format!(
                "the comment is {} bytes; at most {MAX_COMMENT_LEN} fit",
                text.len()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.error_at(self.pos, format!("comment is not allowed: {problem}"))
                .help("use plain words, without quotes, backslashes or line breaks");
            return None;
        }
        self.pos += 1;
        Some(text)
    }
}

/// Why `name` cannot be an interface name, if it cannot: the kernel's rules (1 to 15
/// bytes, no `/`, not `.` or `..`), and what keeps it from reading as something else in
/// an iptables command line (`-j`, `--dport`) or in a rule listing (`ACCEPT`).
fn iface_problem(name: &str) -> Option<&'static str> {
    const TARGETS: [&str; 6] = ["ACCEPT", "DROP", "REJECT", "RETURN", "LOG", "QUEUE"];
    if name.is_empty() || name.len() > MAX_IFACE_LEN {
        Some("it must be 1 to 15 characters")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it must start with a letter or digit (a leading `-` reads as an iptables option)")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        Some("it holds a character other than letters, digits, `_`, `.` and `-`")
    } else if TARGETS.contains(&name) {
        Some("it is the name of an iptables target")
    } else {
        None
    }
}

/// Characters that change how text around them is shown without showing themselves:
/// bidirectional overrides and isolates, zero-width characters, line and paragraph
/// separators, the soft hyphen, the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}')
}

/// Lists longer than this are abbreviated in rule texts (and so in messages and
/// iptables comments); the rule itself keeps every address.
const LIST_SHOWN: usize = 3;

/// DSL text of an address match: `10.0.0.1`, `[a, b, c]`, `[a, b, c, … 997 more]`.
pub(crate) fn nets_text(nets: &[IpNet]) -> String {
    if let [one] = nets {
        return net_text(one);
    }
    let mut shown: Vec<String> = nets.iter().take(LIST_SHOWN).map(net_text).collect();
    if nets.len() > LIST_SHOWN {
        shown.push(format!("… {} more", nets.len() - LIST_SHOWN));
    }
    format!("[{}]", shown.join(", "))
}

pub(crate) fn ports_text(ports: &[PortRange]) -> String {
    ports
        .iter()
        .map(PortRange::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
