//! The grammar: tokens to rules, with every validity check that needs only one rule
//! (ports, addresses, protocols, services, interfaces, comments).
//!
//! ```text
//! policy    := statement*
//! statement := action direction? match* ";"              (a rule)
//!            | nat "local"? match* ("to" target)? ";"   (`masquerade` takes no target;
//!                                                         `local`: destination NAT only)
//!            | "no" ("dnat" | "snat") "local"? match* ";"  (an exemption: no target)
//!            | "ssh" access ";"
//!            | "service" NAME "=" ("tcp" | "udp") ports ("," ("tcp" | "udp") ports)* ";"
//!            | "set" NAME ("=" addrs | "dynamic") ";" | "ports" NAME "=" ports ";"
//!            | "assert" ("open" | "closed") direction? match* ";"
//!            | "use" PATH ";"                             (`firewall!`: a piece's rules)
//!            | "include" STRING ";"                       (policy files: another file)
//! action    := "allow" | "drop" | "reject" | "log"
//! direction := "out" | "forward"              (none: an input rule)
//! nat       := "dnat" | "redirect" | "masquerade" | "snat"
//! target    := addr (":" port)? | STRING | port          (`"[2001:db8::5]:80"` for IPv6)
//! match     := ("tcp" | "udp") ports? | "icmp" TYPE? | "proto" (NAME | N) | "all" | SERVICE
//!            | "dport" ports | "sport" ports | "src" addrs | "dst" addrs
//!            | "in" IFACE | "via" IFACE | "new" | "established" | "invalid"
//!            | "limit" (RATE ("burst" N)?)? | "log" | "prefix" STRING | "comment" STRING
//! ports     := port ("-" port)? ("," port ("-" port)?)* | "$" NAME
//! addrs     := addr | "[" item ("," item)* "]" | "$" NAME    item := addr | "file" STRING
//! access    := "none" | port ("from" addr)? ("in" IFACE)?
//! ```
//!
//! Each statement is parsed on its own, so one mistake never hides the next one. The
//! statement and its clause dispatch are in [`statement`]; each family of clauses has
//! a module of its own, its parsing next to its checks.

mod access;
mod addresses;
mod assertions;
mod comments;
mod interfaces;
mod limits;
mod names;
mod nat;
pub use names::{duration_text, DYNAMIC_SET_NAME_MAX};
mod ports;
mod protocols;
mod rule_checks;
mod services;
mod statement;
mod states;

use names::Name;
use services::UserService;
use statement::{Parsed1, Statement};

use crate::diag::{Diagnostic, TokenRange};
use crate::model::{Access, Assertion, Rule};
use crate::token::Token;

/// Most (port, source port, source, destination) combinations a whole policy may expand
/// to: the exact analysis holds one box of about 170 bytes (with its index entry) for
/// each, so this keeps it under about 350 MB whatever the input (a blocklist of a
/// million networks, whose overlapping and adjacent members merge, takes about 250).
/// Lists in one rule multiply (`tcp A sport B src C dst D` is A×B×C×D combinations); a
/// list alone adds its length.
pub(crate) const MAX_COMBINATIONS: usize = 2_000_000;
/// Most combinations that lists multiplying in one rule may add to a policy (a rule of one
/// list adds its length and counts against [`MAX_COMBINATIONS`] only): multiplication
/// is how a kilobyte of input asks for millions of boxes, so it gets a budget that
/// keeps any input of under a megabyte under a second and about 100 MB.
pub(crate) const MAX_MULTIPLIED: usize = 400_000;
/// Longest comment iptables keeps (`-m comment` allows 256 bytes with the final NUL).
pub const IPTABLES_COMMENT_MAX: usize = 255;

/// What the parser produced: the rules that parsed, where each was written, the
/// operator's access path, and the problems found.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub rules: Vec<Rule>,
    pub rule_tokens: Vec<TokenRange>,
    /// The NAT statements, each with where it was written.
    pub nat: Vec<crate::nat::NatRule>,
    pub nat_tokens: Vec<TokenRange>,
    pub access: Access,
    pub access_tokens: Option<TokenRange>,
    /// The assertions, each with where it was written.
    pub assertions: Vec<Assertion>,
    pub assertion_tokens: Vec<TokenRange>,
    /// The dynamic sets declared, with their lifetimes.
    pub dynamic_sets: Vec<crate::model::DynamicSet>,
    pub diagnostics: Vec<Diagnostic>,
    /// The last statement (rule or declaration), where a missing catch-all is reported.
    pub last_statement: Option<TokenRange>,
    /// Whether the last statement is a rule: only then is a missing catch-all reported
    /// at it (a trailing declaration is not "a rule after the catch-all").
    pub ends_with_rule: bool,
}

pub(crate) fn parse(tokens: &[Token]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut services: Vec<UserService> = Vec::new();
    let mut names: Vec<Name> = Vec::new();
    let mut combinations = 0usize;
    let mut multiplied = 0usize;
    let mut start = 0;
    while start < tokens.len() {
        let semi = tokens[start..].iter().position(|t| t.is_punct(';'));
        let end = semi.map_or(tokens.len(), |i| start + i);
        // A statement word at the start of a later line, before any `;`: the `;` of
        // the line before is missing. Said there, and the next statement parsed on its
        // own, so a typo on either line is still reported as what it is.
        let missing = (start + 1..end).find(|&i| {
            tokens[i].line > tokens[i - 1].line
                && STATEMENT_WORDS.iter().any(|w| tokens[i].is_ident(w))
        });
        if let Some(next) = missing {
            let mut d = Diagnostic::error(
                TokenRange::single(next - 1),
                "expected `;` at the end of this rule",
            );
            d.help("end every statement with `;`");
            parsed.diagnostics.push(d);
        }
        let (end, resume) = match missing {
            Some(next) => (next, next),
            None => (end, end + 1),
        };
        if semi.is_none() && missing.is_none() {
            let mut d = Diagnostic::error(
                TokenRange::single(tokens.len() - 1),
                "expected `;` after the last statement",
            );
            d.help("end every statement with `;`");
            parsed.diagnostics.push(d);
        }
        let range = TokenRange {
            first: start,
            // Up to the `;`, or the last token before the next statement's word.
            last: if missing.is_some() {
                end - 1
            } else {
                end.min(tokens.len() - 1)
            },
        };
        if start == end {
            parsed.diagnostics.push(Diagnostic::error(
                range,
                "empty statement: remove the extra `;`",
            ));
        } else {
            let mut statement = Statement {
                tokens,
                services: &services,
                names: &names,
                pos: start,
                end,
                diagnostics: &mut parsed.diagnostics,
            };
            match statement.parse() {
                Some(Parsed1::Rules(rules)) => {
                    for rule in rules {
                        let own = rule.matches.combinations();
                        let after = combinations.saturating_add(own);
                        let lists_multiply = own > rule.matches.longest_list();
                        let multiplied_after = match lists_multiply {
                            true => multiplied.saturating_add(own),
                            false => multiplied,
                        };
                        let problem = if after > MAX_COMBINATIONS {
                            Some(too_many_combinations(
                                &rule,
                                range,
                                MAX_COMBINATIONS,
                                "combinations of ports and addresses",
                            ))
                        } else if multiplied_after > MAX_MULTIPLIED {
                            Some(too_many_combinations(
                                &rule,
                                range,
                                MAX_MULTIPLIED,
                                "combinations of ports and addresses from lists that multiply",
                            ))
                        } else {
                            comment_cut(&rule, parsed.rules.len() + 1, range)
                        };
                        if let Some(problem) = problem {
                            // Left out like a rule with an error: later rules are judged
                            // on their own.
                            parsed.diagnostics.push(problem);
                        } else {
                            combinations = after;
                            multiplied = multiplied_after;
                            parsed.rules.push(rule);
                            parsed.rule_tokens.push(range);
                        }
                    }
                    parsed.ends_with_rule = true;
                }
                Some(Parsed1::Nat(rules)) => {
                    for rule in rules {
                        parsed.nat.push(rule);
                        parsed.nat_tokens.push(range);
                    }
                    // NAT statements may stand anywhere, after the catch-alls too.
                    parsed.ends_with_rule = false;
                }
                Some(Parsed1::Assertion(assertion)) => {
                    parsed.assertions.push(assertion);
                    parsed.assertion_tokens.push(range);
                    parsed.ends_with_rule = false;
                }
                Some(Parsed1::Service(service)) => {
                    services.push(service);
                    parsed.ends_with_rule = false;
                }
                Some(Parsed1::Name(name)) => {
                    names.push(name);
                    parsed.ends_with_rule = false;
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
        start = resume;
    }
    parsed
        .diagnostics
        .extend(names.iter().filter(|n| !n.used.get()).map(names::unused));
    parsed.dynamic_sets = names.iter().filter_map(Name::dynamic_set).collect();
    parsed
}

/// The words a statement starts with (`include` aside, which policy files splice).
pub const STATEMENT_WORDS: [&str; 14] = [
    "allow",
    "drop",
    "reject",
    "log",
    "ssh",
    "service",
    "set",
    "ports",
    "assert",
    "dnat",
    "redirect",
    "masquerade",
    "snat",
    "no",
];

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

fn too_many_combinations(rule: &Rule, range: TokenRange, bound: usize, what: &str) -> Diagnostic {
    let m = &rule.matches;
    let mut d = Diagnostic::error(
        range,
        format!(
            "rule `{}` brings the policy over {bound} {what}: \
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
