//! What the `firewall!` expansion calls: short `const fn` constructors, so a policy
//! compiles to one `static` array of plain data. Not public API.

pub use crate::Policy;
pub use fwdsl_core::{Access, Assertion, Matches, PortRange, ProtoSet, Rule};
use fwdsl_core::{Action, ConnState, Direction, Expect, IcmpType, Log, Rate};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

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

#[allow(clippy::too_many_arguments)]
pub const fn rule(
    action: Action,
    direction: Direction,
    protocols: u8,
    dports: &'static [PortRange],
    sports: &'static [PortRange],
    src: &'static [IpNet],
    dst: &'static [IpNet],
    src_set: Option<&'static str>,
    dst_set: Option<&'static str>,
    iface: Option<&'static str>,
    oface: Option<&'static str>,
    icmp_type: Option<(Option<u8>, Option<u8>)>,
    protocol: Option<u8>,
    state: u8,
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
        matches: Matches {
            protocols: ProtoSet::from_bits(protocols),
            dports: Cow::Borrowed(dports),
            sports: Cow::Borrowed(sports),
            src: Cow::Borrowed(src),
            dst: Cow::Borrowed(dst),
            src_set: name(src_set),
            dst_set: name(dst_set),
            iface: name(iface),
            oface: name(oface),
            protocol,
            icmp_type: match icmp_type {
                Some((v4, v6)) => Some(IcmpType { v4, v6 }),
                None => None,
            },
            state: match state {
                1 => Some(ConnState::New),
                2 => Some(ConnState::Established),
                3 => Some(ConnState::Invalid),
                _ => None,
            },
        },
        text: Cow::Borrowed(text),
        comment: match comment {
            Some(c) => Some(Cow::Borrowed(c)),
            None => None,
        },
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

/// The checked rules and assertions of a `firewall!`, wrapped without copying.
pub fn policy(rules: &'static [Rule], access: Access, assertions: &'static [Assertion]) -> Policy {
    Policy::from_checked(
        Cow::Borrowed(rules),
        access,
        Cow::Borrowed(assertions),
        Vec::new(),
    )
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
