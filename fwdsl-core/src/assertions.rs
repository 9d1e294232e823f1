//! Proving assertions: `assert closed …` fails iff some new connection of its region is
//! accepted, `assert open …` iff some is not, first match as the kernel walks the
//! chain (the region queries of [`queries`](crate::queries): `log` rules aside, a
//! rate-limited `allow` accepting, dynamic sets empty). The region leaves out the host
//! talking to itself over loopback unless the assertion names an interface: `allow in
//! lo;` does not break `assert closed tcp 3306;`, and `assert closed tcp 3306 in lo;`
//! speaks of loopback. A failure names the rule that
//! decides against the assertion and one witness packet, written as the `Packet` a
//! `decide` test can take.

use crate::diag::Diagnostic;
use crate::model::{Assertion, Direction, Expect, Rule};
use crate::packet::{decide, Packet, Proto};
use crate::parse::Parsed;
use crate::queries;
use std::net::IpAddr;

/// A packet that breaks an assertion, and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// A new connection of the assertion's region decided against it.
    pub witness: Packet,
    /// The rule that accepts it (`closed`) or drops or rejects it (`open`); `None`
    /// when no rule of the policy matches it.
    pub rule: Option<usize>,
}

/// Whether `rules` keep `assertion`; the first packet that breaks it if not.
pub fn violation(rules: &[Rule], assertion: &Assertion) -> Option<Violation> {
    assertion.parts.iter().find_map(|part| {
        let (m, direction) = (&part.matches, part.direction);
        let off_loopback = m.iface.is_none() && m.oface.is_none();
        match assertion.expect {
            Expect::Closed => {
                let witness = queries::witness(rules, direction, m, true, off_loopback)?;
                // (A witness is a new connection, never built-in neighbour discovery.)
                let rule =
                    decide(rules, &witness).and_then(|d| d.builtin.is_none().then_some(d.index));
                Some(Violation { witness, rule })
            }
            Expect::Open => queries::refused_witness(rules, direction, m, off_loopback)
                .map(|(witness, rule)| Violation { witness, rule }),
        }
    })
}

/// Each assertion of a complete policy proved: an error at the assertion for each one
/// broken (with the witness), and one at the rule that breaks it.
pub(crate) fn check(parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    for (assertion, &at) in parsed.assertions.iter().zip(&parsed.assertion_tokens) {
        let direction = assertion.parts[0].direction;
        if !parsed.rules.iter().any(|r| r.direction == direction) {
            let name = direction.name();
            let catch_all = match direction.keyword() {
                "" => "drop all;".to_string(),
                word => format!("drop {word} all;"),
            };
            let mut d = Diagnostic::error(
                at,
                format!(
                    "`{assertion}` is about {name} packets, and the policy has no {name} rules: the host's built-in chain decides those"
                ),
            );
            d.help(format!(
                "add the {name} rules it speaks of, ending with their catch-all (`{catch_all}`), or remove the assertion"
            ));
            out.push(d);
            continue;
        }
        let Some(broken) = violation(&parsed.rules, assertion) else {
            // Closed here, but perhaps open on a host behind this one, through a dnat.
            let through = assertion.parts.iter().find_map(|part| {
                crate::check_nat::closed_through_nat(parsed, assertion.expect, &part.matches)
            });
            if let Some((nat, witness)) = through {
                let mut d = Diagnostic::error(
                    at,
                    format!(
                        "`{assertion}` does not hold: `{}` (line {}) lets a new connection {} on to a host behind this one",
                        nat.text,
                        nat.line,
                        shown(&witness)
                    ),
                );
                d.help("narrow the dnat's sources, or drop those connections in the forward rules");
                out.push(d);
            }
            continue;
        };
        let what = match assertion.expect {
            Expect::Closed => "accepts",
            Expect::Open => "does not accept",
        };
        let by = match broken.rule {
            Some(j) => format!(
                "rule `{}` (line {}) {}s",
                parsed.rules[j].text,
                parsed.rules[j].line,
                parsed.rules[j].action.verb()
            ),
            None => format!("no rule matches, so the policy {what}"),
        };
        let mut d = Diagnostic::error(
            at,
            format!(
                "`{assertion}` does not hold: {by} a new connection {}",
                shown(&broken.witness)
            ),
        );
        d.help(format!(
            "witness for a `decide` test: `{}`",
            rust(&broken.witness)
        ));
        out.push(d);
        if let Some(j) = broken.rule {
            let mut note = Diagnostic::error(
                parsed.rule_tokens[j],
                format!("this rule breaks `{assertion}` (line {})", assertion.line),
            );
            note.help(match assertion.expect {
                Expect::Closed => "narrow its sources or ports, or put a `drop` for the asserted packets before it",
                Expect::Open => "let the asserted packets through before it, or narrow it",
            });
            out.push(note);
        }
    }
}

/// `from 203.0.113.9 to 192.0.2.1 tcp port 3306` (and the interface, where one).
fn shown(p: &Packet) -> String {
    let what = match p.proto {
        Proto::Tcp => format!("tcp port {}", p.dport),
        Proto::Udp => format!("udp port {}", p.dport),
        Proto::Icmp => format!("icmp type {}", p.icmp_type),
        Proto::Other(n) => format!("protocol {n}"),
    };
    let mut text = format!("from {} to {} {what}", p.src, p.dst);
    if let Some(i) = &p.iface {
        text.push_str(&format!(" in {i}"));
    }
    if let Some(o) = &p.oface {
        text.push_str(&format!(" via {o}"));
    }
    text
}

/// The packet as Rust: `Packet::tcp([203, 0, 113, 9], 3306).sport(49152).dst([192, 0, 2, 1])`.
pub fn rust(p: &Packet) -> String {
    let address = |a: IpAddr| match a {
        IpAddr::V4(a) => format!("{:?}", a.octets()),
        IpAddr::V6(a) => {
            let segments: Vec<String> = a.segments().iter().map(|s| format!("{s:#x}")).collect();
            format!("[{}]", segments.join(", "))
        }
    };
    let mut text = match p.proto {
        Proto::Tcp => format!(
            "Packet::tcp({}, {}).sport({})",
            address(p.src),
            p.dport,
            p.sport
        ),
        Proto::Udp => format!(
            "Packet::udp({}, {}).sport({})",
            address(p.src),
            p.dport,
            p.sport
        ),
        Proto::Icmp => format!(
            "Packet::icmp({}).icmp_type({})",
            address(p.src),
            p.icmp_type
        ),
        Proto::Other(n) => format!("Packet::other({n}, {})", address(p.src)),
    };
    text.push_str(&format!(".dst({})", address(p.dst)));
    if let Some(i) = &p.iface {
        text.push_str(&format!(".iface({i:?})"));
    }
    if let Some(o) = &p.oface {
        text.push_str(&format!(".via({o:?})"));
    }
    match p.direction {
        Direction::In => {}
        Direction::Out => text.push_str(".outgoing()"),
        Direction::Forward => text.push_str(".forwarded()"),
    }
    text
}
