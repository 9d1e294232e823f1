//! The NAT statements against the filter rules, exactly where it matters:
//!
//! - a `dnat` whose connections the forward rules drop, every one of them, or a
//!   `redirect` whose connections the input rules drop, is dead: an **error** at it,
//!   naming the rule that drops and the rule to add (in fwdsl's forward semantics: the
//!   port the client connected to, the address after the translation);
//! - a filter rule written for what a translation rewrites first never sees those
//!   connections: an input rule for a port a `dnat` sends elsewhere, a forward rule for
//!   the translated port (forward rules match the port the client connected to): a
//!   **warning** saying what to match instead;
//! - a `masquerade` or `snat` whose sources the forward rules drop: a **warning**;
//! - `assert closed` holds through NAT: a `dnat` that lets a new connection from
//!   outside reach an asserted port of a host behind this one breaks it.
//!
//! Only where the policy has rules of the direction concerned: without forward rules
//! the host's own FORWARD chain decides, which fwdsl cannot see.

use crate::diag::Diagnostic;
use crate::meet::{nets_meet, ranges_meet};
use crate::model::{Action, Direction, Expect, Matches, PortRange, ProtoSet, Rule};
use crate::nat::{NatKind, NatRule};
use crate::parse::Parsed;
use crate::queries;
use ipnet::IpNet;

/// The new connections a `dnat` with match `taken` sends on, as the forward rules see
/// them: to its address, with the port the client connected to.
fn forwarded(taken: &Matches, addr: std::net::IpAddr) -> Matches {
    Matches {
        dst: vec![IpNet::from(addr)].into(),
        dst_set: None,
        state: None,
        ..taken.clone()
    }
}

/// The match part of a NAT statement's text: `tcp 8080 in eth0` of `dnat tcp 8080 in
/// eth0 to 10.0.0.5:80`.
fn match_text(nat: &NatRule) -> &str {
    let rest = nat
        .text
        .strip_prefix(nat.kind.keyword())
        .unwrap_or(&nat.text)
        .trim();
    let rest = rest.strip_prefix("local ").unwrap_or(rest);
    rest.rsplit_once(" to ").map_or(rest, |(m, _)| m)
}

fn uses(rules: &[Rule], direction: Direction) -> bool {
    rules.iter().any(|r| r.direction == direction)
}

pub(crate) fn check(parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    let rules = &parsed.rules;
    for (nat, &at) in parsed.nat.iter().zip(&parsed.nat_tokens) {
        match nat.kind {
            NatKind::Dnat { addr, .. } if uses(rules, Direction::Forward) => {
                let region = forwarded(&nat.matches, addr);
                if queries::witness(rules, Direction::Forward, &region, true, false).is_none() {
                    out.push(dead(
                        parsed,
                        nat,
                        at,
                        Direction::Forward,
                        &region,
                        &format!(
                            "allow forward {} dst {}",
                            match_text(nat),
                            crate::model::net_text(&IpNet::from(addr))
                        ),
                    ));
                }
            }
            NatKind::Redirect { port } if uses(rules, Direction::In) => {
                let region = Matches {
                    dports: vec![PortRange::new(port, port)].into(),
                    state: None,
                    ..nat.matches.clone()
                };
                if queries::witness(rules, Direction::In, &region, true, false).is_none() {
                    let protocol = match nat.matches.protocols {
                        p if p == ProtoSet::UDP => "udp",
                        _ => "tcp",
                    };
                    out.push(dead(
                        parsed,
                        nat,
                        at,
                        Direction::In,
                        &region,
                        &format!("allow {protocol} {port}"),
                    ));
                }
            }
            NatKind::Masquerade | NatKind::Snat { .. } if uses(rules, Direction::Forward) => {
                let region = Matches {
                    state: None,
                    ..nat.matches.clone()
                };
                if queries::witness(rules, Direction::Forward, &region, true, false).is_none() {
                    let mut d = Diagnostic::warning(
                        at,
                        "source_nat_dropped",
                        format!(
                            "`{}` translates connections the forward rules drop, every one of them: it only applies to this host's own",
                            nat.text
                        ),
                    );
                    d.help(format!(
                        "let them through: `allow forward {}`",
                        match_text(nat)
                    ));
                    out.push(d);
                }
            }
            _ => {}
        }
    }
    check_blind_rules(parsed, out);
}

/// The error at a `dnat` or `redirect` whose every new connection the filter drops.
fn dead(
    parsed: &Parsed,
    nat: &NatRule,
    at: crate::diag::TokenRange,
    direction: Direction,
    region: &Matches,
    fix: &str,
) -> Diagnostic {
    let rules = &parsed.rules;
    let dropper =
        queries::refused_witness(rules, direction, region, false).and_then(|(_, rule)| rule);
    let (by, before) = match dropper {
        Some(j) => (
            format!("`{}` (line {}) drops them", rules[j].text, rules[j].line),
            format!(" before line {}", rules[j].line),
        ),
        None => ("no rule accepts them".to_string(), String::new()),
    };
    let whose = match direction {
        Direction::Forward => "the forward rules drop every connection it sends on",
        _ => "the input rules drop every connection it redirects",
    };
    let why = match direction {
        Direction::Forward => " (forward rules match the port the client connected to, and the address after the translation)",
        _ => "",
    };
    let mut d = Diagnostic::error(at, format!("`{}` is dead: {whose}; {by}", nat.text));
    d.help(format!("add `{fix};`{before}{why}"));
    d
}

/// Filter rules that never see the connections a `dnat` rewrites first.
fn check_blind_rules(parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    let contains = |outer: &[PortRange], inner: &[PortRange]| {
        !outer.is_empty()
            && !inner.is_empty()
            && inner
                .iter()
                .all(|i| outer.iter().any(|o| o.first <= i.first && i.last <= o.last))
    };
    for nat in &parsed.nat {
        let NatKind::Dnat { addr, port } = nat.kind else {
            continue;
        };
        let m = &nat.matches;
        for (rule, &at) in parsed.rules.iter().zip(&parsed.rule_tokens) {
            let r = &rule.matches;
            if rule.action != Action::Allow || rule.matches.state.is_some() {
                continue;
            }
            // An input rule for ports a dnat sends on, from every source it does and on
            // every interface: the new connections it means go to the forward chain.
            // (A rule of the other family only, `allow dst "2001:db8::1" tcp 8443`,
            // meets none of the IPv4 dnat's connections.)
            let families = nat.families();
            let covers = m.src.is_empty()
                && m.dst.is_empty()
                && r.families().iter().any(|f| families.contains(f))
                && m.iface.as_ref().is_none_or(|i| r.iface.as_ref() == Some(i))
                && m.protocols.contains(r.protocols)
                && contains(&m.dports, &r.dports);
            let (message, fix) = if rule.direction == Direction::In && covers {
                (
                    format!(
                        "rule `{}` never sees the new connections it is written for: `{}` (line {}) sends them on to {addr} first",
                        rule.text, nat.text, nat.line
                    ),
                    format!(
                        "write `allow forward {} dst {}` for them",
                        match_text(nat),
                        crate::model::net_text(&IpNet::from(addr))
                    ),
                )
            } else if rule.direction == Direction::Forward
                && port.is_some_and(|p| {
                    contains(&r.dports, &[PortRange::new(p, p)]) && !contains(&r.dports, &m.dports)
                })
                && r.dst.iter().any(|n| n.contains(&addr))
            {
                (
                    format!(
                        "rule `{}` matches the translated port, but forward rules match the port the client connected to: it never sees the connections `{}` (line {}) sends on",
                        rule.text, nat.text, nat.line
                    ),
                    format!("match the port the client connected to: `allow forward {} dst {}`", match_text(nat), crate::model::net_text(&IpNet::from(addr))),
                )
            } else {
                continue;
            };
            let mut d = Diagnostic::warning(at, "blind_to_nat", message);
            d.help(fix);
            out.push(d);
        }
    }
}

/// A `dnat` through which a new connection from outside reaches, on a host behind this
/// one, a port `assert closed` speaks of: (the statement, the connection).
pub(crate) fn closed_through_nat<'p>(
    parsed: &'p Parsed,
    expect: Expect,
    part: &Matches,
) -> Option<(&'p NatRule, crate::packet::Packet)> {
    if expect != Expect::Closed || !uses(&parsed.rules, Direction::Forward) {
        return None;
    }
    parsed.nat.iter().find_map(|nat| {
        let NatKind::Dnat { addr, port } = nat.kind else {
            return None;
        };
        let region = asserted_through(nat, port, part)?;
        queries::witness(
            &parsed.rules,
            Direction::Forward,
            &forwarded(&region, addr),
            true,
            true,
        )
        .map(|w| (nat, w))
    })
}

/// The connections `nat` sends on that an assertion about `part` speaks of, as they
/// arrive (client side): the statement's match narrowed by the assertion's sources,
/// source ports, interface and protocols, and by its ports where they are the ports
/// the backend sees (the translated port, or the one kept). `None`: none of them.
fn asserted_through(nat: &NatRule, port: Option<u16>, part: &Matches) -> Option<Matches> {
    let m = &nat.matches;
    if !m.protocols.intersects(part.protocols) || part.is_dynamic() {
        return None;
    }
    let protocols = ProtoSet::from_bits(m.protocols.bits() & part.protocols.bits());
    let dports = match port {
        // Every port the statement takes lands on `p`.
        Some(p)
            if part.dports.is_empty()
                || part.dports.iter().any(|r| r.first <= p && p <= r.last) =>
        {
            m.dports.to_vec()
        }
        Some(_) => return None,
        None => ranges_meet(&m.dports, &part.dports)?,
    };
    let iface = match (&m.iface, &part.iface) {
        (Some(a), Some(b)) if a != b => return None,
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    Some(Matches {
        protocols,
        dports: dports.into(),
        sports: ranges_meet(&m.sports, &part.sports)?.into(),
        src: nets_meet(&m.src, &part.src)?.into(),
        iface,
        ..m.clone()
    })
}
