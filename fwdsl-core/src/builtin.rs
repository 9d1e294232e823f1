//! What fwdsl puts ahead of a policy's own rules in every chain it owns, because the
//! host cannot work without it: IPv6 neighbour discovery. Modelled here so that
//! [`decide`](crate::decide) says what the kernel does with those packets.
//!
//! Neighbour discovery is not tracked by connection tracking (conntrack calls it
//! `INVALID`), so no `established` rule lets it through: without these accepts, an
//! input policy's `drop all` or an `out` policy's `drop out all` cuts IPv6 off as soon
//! as the neighbour caches expire. They match hop limit 255 only: RFC 4861 makes hosts
//! discard neighbour discovery with any other, and a packet from off the link cannot
//! arrive with it (every router on the way lowers it). A forwarded packet never has
//! it either (the kernel lowers the hop limit before the forward hook), so the forward
//! chain needs none.
//!
//! The analysis needs no dimension for the hop limit: no rule of the language matches
//! on it, so every rule also sees hop limits other than 255 and the built-in accept
//! never hides one (it decides a part of a rule's packets, as a rate-limited rule
//! does); and the questions about regions ask about new connections, which neighbour
//! discovery never is.

use crate::model::{Action, Direction, Family, Matches, ProtoSet, Rule};
use crate::packet::{Packet, Proto};
use std::borrow::Cow;

/// A rule fwdsl adds itself, ahead of the policy's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// The accept of ICMPv6 router and neighbour solicitations and advertisements
    /// (types 133 to 136) with hop limit 255, in the input and `out` chains.
    NeighbourDiscovery,
}

/// The ICMPv6 types of neighbour discovery, by number and by `ip6tables` name.
pub const NEIGHBOUR_DISCOVERY: [(u8, &str); 4] = [
    (133, "router-solicitation"),
    (134, "router-advertisement"),
    (135, "neighbour-solicitation"),
    (136, "neighbour-advertisement"),
];

/// The only hop limit neighbour discovery is accepted with.
pub const ND_HOP_LIMIT: u8 = 255;

/// The directions whose chains get the accepts: those a packet with hop limit 255 can
/// traverse.
pub fn neighbour_discovery_in(direction: Direction) -> bool {
    matches!(direction, Direction::In | Direction::Out)
}

const fn nd_rule(direction: Direction, text: &'static str) -> Rule {
    Rule {
        action: Action::Allow,
        limit: None,
        log: None,
        direction,
        matches: Matches {
            protocols: ProtoSet::ICMP,
            ..Matches::ANY
        },
        text: Cow::Borrowed(text),
        comment: None,
        line: 0,
    }
}

/// What a [`Decision`](crate::Decision) by the built-in accept refers to as its rule.
static ND_IN: Rule = nd_rule(
    Direction::In,
    "allow icmp neighbour discovery (built in, hop limit 255)",
);
static ND_OUT: Rule = nd_rule(
    Direction::Out,
    "allow out icmp neighbour discovery (built in, hop limit 255)",
);

/// The built-in rule that takes `packet` ahead of a policy whose `rules` have a chain
/// for its direction (`uses`), if one does.
pub(crate) fn builtin_for(packet: &Packet, uses: bool) -> Option<(Builtin, &'static Rule)> {
    let nd = uses
        && neighbour_discovery_in(packet.direction)
        && packet.family() == Family::V6
        && packet.proto == Proto::Icmp
        && packet.hop_limit == ND_HOP_LIMIT
        && NEIGHBOUR_DISCOVERY
            .iter()
            .any(|&(t, _)| t == packet.icmp_type);
    let rule = match packet.direction {
        Direction::Out => &ND_OUT,
        _ => &ND_IN,
    };
    nd.then_some((Builtin::NeighbourDiscovery, rule))
}
