//! What the `firewall!` expansion calls: short `const fn` constructors, so a policy
//! compiles to one `static` array of plain data. Not public API.

pub use crate::Policy;
pub use fwdsl_core::{
    Access, Assertion, ConnState, DynamicSet, IcmpType, Matches, NatKind, NatRule, PortRange,
    ProtoSet, Rule,
};
use fwdsl_core::{Action, Direction, Expect, Log, Rate};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
pub use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ALLOW: Action = Action::Allow;
pub const DROP: Action = Action::Drop;
pub const REJECT: Action = Action::Reject;
pub const LOG: Action = Action::Log;

pub const fn rate(count: u32, seconds: u32, burst: u32) -> Rate {
    Rate {
        count,
        seconds,
        burst,
    }
}
pub const CONSOLE: Access = Access::Console;
pub const IN: Direction = Direction::In;
pub const OUT: Direction = Direction::Out;
pub const FORWARD: Direction = Direction::Forward;

const fn name(name: Option<&'static str>) -> Option<Cow<'static, str>> {
    match name {
        Some(name) => Some(Cow::Borrowed(name)),
        None => None,
    }
}

pub const fn ports(first: u16, last: u16) -> PortRange {
    PortRange::new(first, last)
}

pub const fn v4(octets: [u8; 4], prefix: u8) -> IpNet {
    let [a, b, c, d] = octets;
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix))
}

pub const fn v6(bits: u128, prefix: u8) -> IpNet {
    IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from_bits(bits), prefix))
}

/// One rule: its action and direction, its [`Matches`] (written out by the expansion
/// as a struct, field by field), limit, logging, text, comment and line.
#[allow(clippy::too_many_arguments)]
pub const fn rule(
    action: Action,
    direction: Direction,
    matches: Matches,
    limit: Option<Rate>,
    log: Option<(Option<&'static str>, Rate)>,
    text: &'static str,
    comment: Option<&'static str>,
    line: u32,
) -> Rule {
    Rule {
        action,
        limit,
        log: match log {
            Some((prefix, rate)) => Some(Log {
                prefix: name(prefix),
                rate,
            }),
            None => None,
        },
        direction,
        matches,
        text: Cow::Borrowed(text),
        comment: name(comment),
        line,
    }
}

pub const fn ssh(port: u16, from: Option<IpNet>, iface: Option<&'static str>) -> Access {
    Access::Ssh {
        port,
        from,
        iface: name(iface),
    }
}

/// The checked rules, NAT statements and assertions of a `firewall!`, wrapped without
/// copying.
pub fn policy(
    rules: &'static [Rule],
    nat: &'static [NatRule],
    access: Access,
    assertions: &'static [Assertion],
    sets: &'static [DynamicSet],
) -> Policy {
    Policy::from_checked(
        Cow::Borrowed(rules),
        access,
        Cow::Borrowed(assertions),
        Vec::new(),
    )
    .with_nat(Cow::Borrowed(nat))
    .with_dynamic_sets(Cow::Borrowed(sets))
}

/// One dynamic set's declaration: its name and lifetimes in seconds.
pub const fn dynamic_set(name: &'static str, timeout: Option<u64>, max: Option<u64>) -> DynamicSet {
    DynamicSet {
        name: Cow::Borrowed(name),
        timeout,
        max,
    }
}

/// One NAT statement: what it rewrites, its matches, its text, comment and line, and
/// whether it is `local`.
pub const fn nat(
    kind: NatKind,
    matches: Matches,
    text: &'static str,
    comment: Option<&'static str>,
    line: u32,
    local: bool,
) -> NatRule {
    NatRule {
        kind,
        matches,
        text: Cow::Borrowed(text),
        comment: name(comment),
        line,
        local,
    }
}

/// `dnat … to ADDR[:PORT]` (`port` 0: kept).
pub const fn dnat(addr: IpAddr, port: u16) -> NatKind {
    NatKind::Dnat {
        addr,
        port: match port {
            0 => None,
            p => Some(p),
        },
    }
}

/// An IPv4 address.
pub const fn ip4(octets: [u8; 4]) -> IpAddr {
    let [a, b, c, d] = octets;
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// An IPv6 address.
pub const fn ip6(bits: u128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from_bits(bits))
}

/// One assertion: `open`, its parts (rules whose matches it speaks of), its text, line.
pub const fn assertion(
    open: bool,
    parts: &'static [Rule],
    text: &'static str,
    line: u32,
) -> Assertion {
    Assertion {
        expect: if open { Expect::Open } else { Expect::Closed },
        parts: Cow::Borrowed(parts),
        text: Cow::Borrowed(text),
        line,
    }
}

/// Stands in for the policy when the macro reported errors, so the user's code sees
/// a `Policy` and only the real errors are shown. Never runs: the crate does not compile.
pub fn placeholder() -> Policy {
    Policy::from_checked(
        Cow::Borrowed(&[]),
        Access::Console,
        Cow::Borrowed(&[]),
        Vec::new(),
    )
}
