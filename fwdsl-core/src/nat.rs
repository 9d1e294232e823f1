//! Network address translation: `dnat`, `redirect`, `masquerade` and `snat`
//! statements, the exemptions `no dnat` and `no snat`, and how a packet goes through
//! them. The kernel translates the first
//! packet of a connection (conntrack keeps the translation for the rest, so replies
//! and later packets follow it without the rules): `dnat` and `redirect` before the
//! filter sees the packet (PREROUTING), `masquerade` and `snat` after (POSTROUTING).
//!
//! What the filter then sees: a `dnat` to another host makes the packet a forwarded
//! one, to the new address, and fwdsl's forward rules match the port the client
//! connected to (`allow forward tcp 8080 dst 10.0.0.5;` for `dnat tcp 8080 to
//! 10.0.0.5:80;`); a `redirect` keeps it an incoming one, to the new port.

use crate::model::{ConnState, Direction, Family, Matches};
use crate::packet::Packet;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// What a NAT statement rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// `dnat … to ADDR[:PORT]`: the destination, to another host (the port kept when
    /// none is given).
    Dnat {
        /// The new destination address.
        addr: IpAddr,
        /// The new destination port, if it changes.
        port: Option<u16>,
    },
    /// `redirect … to PORT`: to a port of this host itself.
    Redirect {
        /// The local port.
        port: u16,
    },
    /// `masquerade …`: the source, to the address of the interface the packet leaves by.
    Masquerade,
    /// `snat … to ADDR`: the source, to a fixed address.
    Snat {
        /// The new source address.
        addr: IpAddr,
    },
    /// `no dnat …` (`destination`) or `no snat …`: these packets are translated by no
    /// later statement of that side (a `RETURN` from fwdsl's chain, nft's `return`):
    /// what says "except" (`masquerade src 10.0.0.0/8` but not to the VPN).
    Exempt {
        /// `no dnat` (destination NAT: `dnat`, `redirect`); else `no snat` (`masquerade`,
        /// `snat`).
        destination: bool,
    },
}

impl NatKind {
    /// The statement's word.
    pub fn keyword(self) -> &'static str {
        match self {
            NatKind::Dnat { .. } => "dnat",
            NatKind::Redirect { .. } => "redirect",
            NatKind::Masquerade => "masquerade",
            NatKind::Snat { .. } => "snat",
            NatKind::Exempt { destination: true } => "no dnat",
            NatKind::Exempt { destination: false } => "no snat",
        }
    }

    /// Whether it rewrites the destination, before the filter (PREROUTING); else the
    /// source, after it (POSTROUTING).
    pub fn is_destination(self) -> bool {
        matches!(
            self,
            NatKind::Dnat { .. } | NatKind::Redirect { .. } | NatKind::Exempt { destination: true }
        )
    }
}

impl fmt::Display for NatKind {
    /// The target as the statement's text shows it after `to` (an IPv6 address with a
    /// port in brackets, no quotes: the text goes into rule comments), empty for
    /// `masquerade` and the exemptions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatKind::Dnat {
                addr: IpAddr::V6(a),
                port: Some(p),
            } => write!(f, "[{a}]:{p}"),
            NatKind::Dnat {
                addr,
                port: Some(p),
            } => write!(f, "{addr}:{p}"),
            NatKind::Dnat { addr, port: None } | NatKind::Snat { addr } => write!(f, "{addr}"),
            NatKind::Redirect { port } => write!(f, "{port}"),
            NatKind::Masquerade | NatKind::Exempt { .. } => Ok(()),
        }
    }
}

/// One NAT statement: what it rewrites, which packets, and how it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NatRule {
    /// What it rewrites, and to what.
    pub kind: NatKind,
    /// Which first packets of connections it rewrites (`state` is always `None`: NAT
    /// sees only first packets).
    pub matches: Matches,
    /// The statement in canonical form (`dnat tcp 8080 to 10.0.0.5:80`).
    pub text: Cow<'static, str>,
    /// The user's own note (`comment "…"`).
    pub comment: Option<Cow<'static, str>>,
    /// The 1-based line it starts on.
    pub line: u32,
    /// `local` (`dnat local …`): only packets addressed to this host itself (`fib daddr
    /// type local`, `-m addrtype --dst-type LOCAL`), not those it routes; what Docker's
    /// published ports do.
    pub local: bool,
}

impl NatKind {
    /// The family of the address it translates to, if it names one.
    pub fn family(self) -> Option<Family> {
        match self {
            NatKind::Dnat { addr, .. } | NatKind::Snat { addr } => Some(match addr {
                IpAddr::V4(_) => Family::V4,
                IpAddr::V6(_) => Family::V6,
            }),
            NatKind::Redirect { .. } | NatKind::Masquerade | NatKind::Exempt { .. } => None,
        }
    }
}

impl NatRule {
    /// The families it applies to: its target's, where it names an address, else those
    /// of its match.
    pub fn families(&self) -> &'static [Family] {
        match self.kind.family() {
            Some(Family::V4) => &[Family::V4],
            Some(Family::V6) => &[Family::V6],
            None => self.matches.families(),
        }
    }

    /// Whether it translates `packet` (a first packet, as the kernel's NAT sees it).
    fn takes(&self, packet: &Packet) -> bool {
        self.families().contains(&packet.family())
            && self.matches.matches(packet)
            && (!self.local || packet.direction == Direction::In)
    }
}

impl fmt::Display for NatRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A packet's way through a `dnat` or `redirect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation<'a> {
    /// 0-based position of the NAT statement among the policy's NAT statements.
    pub index: usize,
    /// The statement.
    pub rule: &'a NatRule,
    /// The packet as it leaves the translation: where it really goes.
    pub packet: Packet,
}

/// The translation of `packet` by the first `dnat` or `redirect` that matches it (none
/// where a `no dnat` matches it first) (the
/// first packet of a connection arriving at this host, to it or through it), and the
/// packet as the filter then sees it: forwarded to the new address with the port the
/// client connected to (fwdsl's forward rules match that one), or incoming to the
/// redirect's port.
pub fn translate<'a>(nat: &'a [NatRule], packet: &Packet) -> Option<(Translation<'a>, Packet)> {
    if packet.state != ConnState::New || packet.direction == Direction::Out {
        return None;
    }
    let (index, rule) = nat
        .iter()
        .enumerate()
        .find(|(_, r)| r.kind.is_destination() && r.takes(packet))?;
    let mut real = packet.clone();
    let mut seen = packet.clone();
    match rule.kind {
        NatKind::Dnat { addr, port } => {
            real.dst = addr;
            real.dport = port.unwrap_or(packet.dport);
            real.direction = Direction::Forward;
            seen.dst = addr;
            seen.direction = Direction::Forward;
        }
        NatKind::Redirect { port } => {
            real.dport = port;
            seen.dport = port;
        }
        NatKind::Exempt { .. } => return None,
        NatKind::Masquerade | NatKind::Snat { .. } => unreachable!("a source NAT"),
    }
    Some((
        Translation {
            index,
            rule,
            packet: real,
        },
        seen,
    ))
}

/// The first `masquerade` or `snat` that rewrites `packet`'s source as it leaves (none
/// where a `no snat` matches it first) (a
/// forwarded or outgoing packet the filter let through), if one does.
pub fn source_nat(nat: &[NatRule], packet: &Packet) -> Option<usize> {
    if packet.state != ConnState::New || packet.direction == Direction::In {
        return None;
    }
    let first = nat
        .iter()
        .position(|r| !r.kind.is_destination() && r.takes(packet))?;
    (!matches!(nat[first].kind, NatKind::Exempt { .. })).then_some(first)
}
