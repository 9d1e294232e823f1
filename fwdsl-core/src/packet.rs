//! Packets and first-match evaluation: the simulator that decides which rule takes a
//! packet, exactly as the kernel walks an iptables chain.

use crate::builtin::Builtin;
use crate::model::{Action, ConnState, Direction, Family, Matches, ProtoSet, Rule};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP protocol of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (ICMPv6 on IPv6): an echo request, unless the packet is established.
    Icmp,
    /// Any other protocol, by number (47 for GRE, …).
    Other(u8),
}

impl Proto {
    fn bit(self) -> ProtoSet {
        match self {
            Proto::Tcp => ProtoSet::TCP,
            Proto::Udp => ProtoSet::UDP,
            Proto::Icmp => ProtoSet::ICMP,
            Proto::Other(_) => ProtoSet::OTHER,
        }
    }

    fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp)
    }
}

/// A packet, to ask a policy what it would do with it.
///
/// Built with [`Packet::tcp`], [`Packet::udp`] or [`Packet::icmp`] and refined with the
/// builder methods. Unless set: the packet comes in to this host ([`Packet::outgoing`]
/// and [`Packet::forwarded`] change that), the destination is the unspecified address
/// of the source's family, the source port is 49152 (the start of the ephemeral range),
/// the state is `New`, the hop limit (TTL) 64, and it arrives on (and leaves through)
/// an interface no rule names.
///
/// For a forwarded packet behind NAT (a port Docker publishes), `dport` is the port the
/// client connected to, before the translation, and `dst` the address the packet is
/// sent on to, after it: what fwdsl's `forward` rules match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// Protocol.
    pub proto: Proto,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (TCP and UDP only).
    pub sport: u16,
    /// Destination port (TCP and UDP only).
    pub dport: u16,
    /// Input interface; `None` is an interface that no rule names.
    pub iface: Option<String>,
    /// Output interface (of outgoing and forwarded packets); `None` is an interface
    /// that no rule names.
    pub oface: Option<String>,
    /// Whether the packet comes in, goes out, or is forwarded.
    pub direction: Direction,
    /// The ICMP (ICMPv6) type of an ICMP packet: an echo request unless set.
    pub icmp_type: u8,
    /// Connection state.
    pub state: ConnState,
    /// The hop limit (IPv6) or TTL (IPv4) it has when the chain sees it: 255 only for
    /// neighbour discovery from the link itself, which fwdsl accepts ahead of the
    /// policy ([`Builtin::NeighbourDiscovery`](crate::Builtin)).
    pub hop_limit: u8,
}

impl Packet {
    fn new(proto: Proto, src: IpAddr, dport: u16) -> Packet {
        let dst = match src {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Packet {
            proto,
            src,
            dst,
            sport: 49152,
            dport,
            iface: None,
            oface: None,
            direction: Direction::In,
            icmp_type: match src {
                IpAddr::V4(_) => 8,
                IpAddr::V6(_) => 128,
            },
            state: ConnState::New,
            hop_limit: 64,
        }
    }

    /// A new TCP connection from `src` to port `dport`.
    pub fn tcp(src: impl Into<IpAddr>, dport: u16) -> Packet {
        Packet::new(Proto::Tcp, src.into(), dport)
    }

    /// A UDP datagram from `src` to port `dport`.
    pub fn udp(src: impl Into<IpAddr>, dport: u16) -> Packet {
        Packet::new(Proto::Udp, src.into(), dport)
    }

    /// An ICMP (ICMPv6) echo request from `src`; [`Packet::icmp_type`] makes it
    /// another type.
    pub fn icmp(src: impl Into<IpAddr>) -> Packet {
        Packet::new(Proto::Icmp, src.into(), 0)
    }

    /// A packet of another protocol, by number.
    pub fn other(protocol: u8, src: impl Into<IpAddr>) -> Packet {
        Packet::new(Proto::Other(protocol), src.into(), 0)
    }

    /// Sets the source port.
    pub fn sport(mut self, port: u16) -> Packet {
        self.sport = port;
        self
    }

    /// Sets the destination address.
    pub fn dst(mut self, dst: impl Into<IpAddr>) -> Packet {
        self.dst = dst.into();
        self
    }

    /// Sets the input interface.
    pub fn iface(mut self, name: impl Into<String>) -> Packet {
        self.iface = Some(name.into());
        self
    }

    /// Sets the ICMP (ICMPv6) type: 13 is an ICMP timestamp request.
    pub fn icmp_type(mut self, icmp_type: u8) -> Packet {
        self.icmp_type = icmp_type;
        self
    }

    /// Sets the output interface (`via` in rules).
    pub fn via(mut self, name: impl Into<String>) -> Packet {
        self.oface = Some(name.into());
        self
    }

    /// Sets the hop limit (TTL): `Packet::icmp(addr).icmp_type(135).hop_limit(255)` is
    /// a neighbour solicitation as the link's own hosts send it.
    pub fn hop_limit(mut self, hop_limit: u8) -> Packet {
        self.hop_limit = hop_limit;
        self
    }

    /// Makes it a packet this host sends (`out` rules decide it): `src` is then this
    /// host's address and `dst` the remote one.
    pub fn outgoing(mut self) -> Packet {
        self.direction = Direction::Out;
        self
    }

    /// Makes it a packet this host routes (`forward` rules decide it).
    pub fn forwarded(mut self) -> Packet {
        self.direction = Direction::Forward;
        self
    }

    /// Marks the packet as one conntrack calls `INVALID` (belonging to no known
    /// connection and not starting one, such as a stray ACK).
    pub fn invalid(mut self) -> Packet {
        self.state = ConnState::Invalid;
        self
    }

    /// Marks the packet as part of an established (or related) connection.
    pub fn established(mut self) -> Packet {
        self.state = ConnState::Established;
        self
    }

    /// The packet's address family (that of its source).
    pub fn family(&self) -> Family {
        match self.src {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// Whether an address is in a dynamic set: what only the kernel knows, given by the
/// caller of [`decide_with`] (`|set, address| …`).
pub type Members<'m> = &'m dyn Fn(&str, IpAddr) -> bool;

/// Every dynamic set empty, as the sets are when a policy is first applied.
fn no_members(_: &str, _: IpAddr) -> bool {
    false
}

impl Matches {
    /// Whether the packet matches, exactly as iptables would evaluate the rendered rule,
    /// with every dynamic set empty.
    pub fn matches(&self, packet: &Packet) -> bool {
        self.matches_with(packet, &no_members)
    }

    /// Whether the packet matches, with the dynamic sets' members as `members` says.
    pub fn matches_with(&self, packet: &Packet, members: Members<'_>) -> bool {
        let in_set = |set: &Option<std::borrow::Cow<'static, str>>, address: IpAddr| {
            set.as_deref().is_none_or(|name| members(name, address))
        };
        let in_ports = |ranges: &[crate::PortRange], port: u16| {
            ranges.is_empty() || ranges.iter().any(|r| r.contains(port))
        };
        self.protocols.contains(packet.proto.bit())
            && (packet.proto.has_ports() || self.dports.is_empty() && self.sports.is_empty())
            && in_ports(&self.dports, packet.dport)
            && in_ports(&self.sports, packet.sport)
            && (self.src.is_empty() || self.src.iter().any(|net| net.contains(&packet.src)))
            && (self.dst.is_empty() || self.dst.iter().any(|net| net.contains(&packet.dst)))
            && self.families().contains(&packet.family())
            && self
                .protocol
                .is_none_or(|n| packet.proto == Proto::Other(n))
            && self.icmp_type.is_none_or(|t| {
                packet.proto == Proto::Icmp && t.of(packet.family()) == Some(packet.icmp_type)
            })
            && self
                .iface
                .as_deref()
                .is_none_or(|name| iface_matches(name, packet.iface.as_deref()))
            && self
                .oface
                .as_deref()
                .is_none_or(|name| iface_matches(name, packet.oface.as_deref()))
            && self.state.is_none_or(|state| packet.state == state)
            && in_set(&self.src_set, packet.src)
            && in_set(&self.dst_set, packet.dst)
    }
}

/// Which rule decided a packet, which rule decides instead when the packet's source is
/// over that rule's rate limit, and which `log` rules logged it on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    /// 0-based position of the rule in the policy; `usize::MAX` for a rule fwdsl adds
    /// itself ([`Decision::builtin`]).
    pub index: usize,
    /// The rule itself (its text and line are there; line 0 for a built-in rule).
    pub rule: &'a Rule,
    /// The rule fwdsl adds ahead of the policy's own that took the packet, if one did
    /// (IPv6 neighbour discovery).
    pub builtin: Option<Builtin>,
    /// For a rate-limited rule: the next rule that matches the packet, which takes it
    /// when its source is over the limit (`None`: the built-in chain does).
    pub above_limit: Option<usize>,
    /// The `log` rules the packet passed on its way, in order.
    pub logged_by: Vec<usize>,
    /// The `dnat` or `redirect` that rewrote the packet before the filter saw it, and
    /// where it really goes; the rule above decided the packet as translated.
    pub nat: Option<crate::nat::Translation<'a>>,
    /// The `masquerade` or `snat` (0-based among the NAT statements) that rewrites the
    /// source of the accepted packet as it leaves.
    pub source_nat: Option<usize>,
}

impl<'a> Decision<'a> {
    /// What happens to the packet.
    pub fn action(&self) -> Action {
        self.rule.action
    }

    /// The rule's 1-based number in the policy (as in the `fwdsl:N` comments); `None`
    /// for a built-in rule.
    pub fn number(&self) -> Option<usize> {
        self.builtin.is_none().then(|| self.index + 1)
    }

    /// The decision of a rule fwdsl puts ahead of a policy with rules for the packet's
    /// direction (`uses`), if one takes the packet.
    pub(crate) fn by_builtin(packet: &Packet, uses: bool) -> Option<Decision<'a>> {
        let (builtin, rule) = crate::builtin::builtin_for(packet, uses)?;
        Some(Decision {
            index: usize::MAX,
            rule,
            builtin: Some(builtin),
            above_limit: None,
            logged_by: Vec::new(),
            nat: None,
            source_nat: None,
        })
    }
}

/// Whether a rule's interface (`eth0`, or the wildcard `veth+`) matches a packet's.
fn iface_matches(rule: &str, packet: Option<&str>) -> bool {
    let Some(packet) = packet else { return false };
    match rule.strip_suffix('+') {
        Some(prefix) => packet.starts_with(prefix),
        None => packet == rule,
    }
}

/// Whether `rule` matches `packet` (and is of its direction), every dynamic set empty.
pub(crate) fn sees(rule: &Rule, packet: &Packet) -> bool {
    sees_with(rule, packet, &no_members)
}

fn sees_with(rule: &Rule, packet: &Packet, members: Members<'_>) -> bool {
    rule.direction == packet.direction && rule.matches.matches_with(packet, members)
}

/// The first rule of the packet's direction that matches it and is not a `log` rule,
/// as the kernel walks that chain (after what fwdsl adds ahead of the policy's rules:
/// [`Builtin`]) (a rate-limited rule counts: under its limit it takes
/// the packet); `None` when no rule matches (the packet then goes back to the built-in
/// chain). Dynamic sets are empty: [`decide_with`] fills them.
pub fn decide<'a>(rules: &'a [Rule], packet: &Packet) -> Option<Decision<'a>> {
    decide_with(rules, packet, &no_members)
}

/// [`decide`] with the dynamic sets' members as `members` says (`members("banned",
/// address)`: whether `address` is in the set `banned`).
pub fn decide_with<'a>(
    rules: &'a [Rule],
    packet: &Packet,
    members: Members<'_>,
) -> Option<Decision<'a>> {
    let uses = rules.iter().any(|r| r.direction == packet.direction);
    if let Some(builtin) = Decision::by_builtin(packet, uses) {
        return Some(builtin);
    }
    let first = rules
        .iter()
        .position(|rule| rule.action != Action::Log && sees_with(rule, packet, members))?;
    Some(decision(rules, packet, first, members))
}

/// The decision of rule `index`, the first non-`log` rule that matches `packet`: with
/// the rule above its limit and the `log` rules before it.
fn decision<'a>(
    rules: &'a [Rule],
    packet: &Packet,
    index: usize,
    members: Members<'_>,
) -> Decision<'a> {
    let rule = &rules[index];
    let above_limit = rule.limit.and_then(|_| {
        (index + 1..rules.len())
            .find(|&j| rules[j].action != Action::Log && sees_with(&rules[j], packet, members))
    });
    let logged_by = (0..index)
        .filter(|&j| rules[j].action == Action::Log && sees_with(&rules[j], packet, members))
        .collect();
    Decision {
        index,
        rule,
        builtin: None,
        above_limit,
        logged_by,
        nat: None,
        source_nat: None,
    }
}
