//! What only a whole rule can tell: the checks that look at several of its clauses at
//! once, one named function each (as serde_derive's `internals/check.rs` has them).
//! Each reports its problem at the clause at fault, and every check runs, so a rule's
//! mistakes are all said at once. `Statement::rule` runs [`CHECKS`], then builds the
//! rule if none failed.

use super::addresses::Addresses;
use super::statement::{Clauses, Seen, Statement};
use crate::diag::Diagnostic;
use crate::model::{nets_text, ports_text, Action, Direction, Family, ProtoSet};
use ipnet::IpNet;

/// A rule as its checks see it: its verb, its direction, its clauses.
pub(super) struct Whole<'c> {
    pub action: Action,
    pub direction: Direction,
    pub c: &'c Clauses,
}

type Check = fn(&mut Statement<'_, '_>, &Whole<'_>);

/// Every check, in the order their messages read best.
pub(super) const CHECKS: [Check; 7] = [
    check_interfaces,
    check_service_and_protocol,
    check_all_and_protocol,
    check_ports_have_a_protocol,
    check_icmp_type_family,
    check_address_families,
    check_own_service_alone,
];

/// The networks an address clause names, if it names networks.
pub(super) fn nets_of(seen: &Seen<Addresses>) -> Option<&[IpNet]> {
    seen.as_ref().and_then(|(a, _)| a.nets())
}

/// Whether an address clause admits addresses of `family` (any clause but a list or
/// set of the other family's networks does).
fn has_family(seen: &Seen<Addresses>, family: Family) -> bool {
    nets_of(seen).is_none_or(|nets| nets.iter().any(|n| Family::of(n) == family))
}

/// The families a rule is about: those its addresses have in common.
pub(super) fn families(c: &Clauses) -> Vec<Family> {
    [Family::V4, Family::V6]
        .into_iter()
        .filter(|&f| [&c.src, &c.dst].iter().all(|a| has_family(a, f)))
        .collect()
}

/// `in` is where a packet arrives, `via` where it leaves: an incoming packet leaves
/// through no interface, an outgoing one arrives on none.
fn check_interfaces(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    match (w.direction, &w.c.iface, &w.c.oface) {
        (Direction::In, _, Some((name, range))) => {
            st.push(Diagnostic::error(
                *range,
                format!("an incoming packet leaves through no interface: `via {name}` is for `out` and `forward` rules"),
            ))
            .help(format!("write `in {name}` for the interface it arrives on"));
        }
        (Direction::Out, Some((name, range)), _) => {
            st.push(Diagnostic::error(
                *range,
                format!("an outgoing packet arrives on no interface: `in {name}` is for input and `forward` rules"),
            ))
            .help(format!("write `via {name}` for the interface it leaves through"));
        }
        _ => {}
    }
}

/// A service names its protocol and port: neither again.
fn check_service_and_protocol(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    let Some((service, range)) = w.c.service else {
        return;
    };
    let keyword = w.action.keyword();
    if let Some(((_, name), _)) = w.c.proto {
        st.push(Diagnostic::error(
            range,
            format!(
                "`{}` already names its protocol; `{name}` is not needed",
                service.name
            ),
        ))
        .help(format!(
            "write `{keyword} {}` alone, or `{keyword} {name} {}`",
            service.name, service.port
        ));
    }
    if let Some((_, ports)) = &w.c.dports {
        st.push(Diagnostic::error(
            *ports,
            format!(
                "`{}` already names its port ({})",
                service.name, service.port
            ),
        ))
        .help("write the service or the ports, not both");
    }
}

/// `all` is every protocol: not one besides.
fn check_all_and_protocol(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    if let (Some(all), true) = (w.c.all, w.c.proto.is_some() || w.c.service.is_some()) {
        st.push(Diagnostic::error(
            all,
            "`all` means every protocol, but the rule also names one",
        ))
        .help("remove `all`, or the protocol");
    }
}

/// Ports belong to TCP and UDP: a port clause needs one of them.
fn check_ports_have_a_protocol(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    let c = w.c;
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
            st.push(Diagnostic::error(*range, problem)).help(format!(
                "name the protocol: `tcp {keyword} {shown}` or `udp {keyword} {shown}`"
            ));
        }
    }
}

/// An ICMP type of a family the rule's addresses are not of can never match.
fn check_icmp_type_family(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    let c = w.c;
    let Some((t, range)) = &c.icmp_type else {
        return;
    };
    if nets_of(&c.src).or(nets_of(&c.dst)).is_none() {
        return;
    }
    let families = families(c);
    if !families.iter().any(|&f| t.of(f).is_some()) {
        st.push(Diagnostic::error(
            *range,
            format!(
                "this ICMP type does not exist in {:?}, the family of the rule's addresses",
                families.first().copied().unwrap_or(Family::V4)
            ),
        ))
        .help("name a type of that family, or write one rule per family");
    }
}

/// Sources and destinations of no common family can never match together.
fn check_address_families(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    let c = w.c;
    if let (Some(src), Some(dst), Some((_, range))) = (nets_of(&c.src), nets_of(&c.dst), &c.dst) {
        if families(c).is_empty() {
            st.push(Diagnostic::error(
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
}

/// A service of the policy's own names its protocols and ports: none besides.
fn check_own_service_alone(st: &mut Statement<'_, '_>, w: &Whole<'_>) {
    let c = w.c;
    if let (Some((_, range)), true) = (
        &c.user_service,
        c.proto.is_some() || c.dports.is_some() || c.service.is_some(),
    ) {
        st.push(Diagnostic::error(
            *range,
            "a service of the policy's own names its protocols and ports already",
        ))
        .help("write the service alone, or the protocol and ports");
    }
}
