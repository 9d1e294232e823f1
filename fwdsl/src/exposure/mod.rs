//! What is actually exposed: the host's listening sockets against a policy, the
//! guide's first step (`netstat -an`) answered instead of eyeballed. Each socket gets
//! the policy's exact verdict for new connections from the world, from the declared
//! operator network and from loopback (region queries of the analysis, with a
//! witness packet), and the report groups them: reachable from the world, reachable
//! from the operator network only, dropped, bound to loopback only; and the openings
//! of the policy that no socket listens behind.

mod diag;
mod sockets;

pub(crate) use sockets::ssh_sessions;
pub use sockets::{Socket, Transport};

use crate::error::{Error, RuleRef};
use crate::Policy;
use fwdsl_core::{Access, Action, Direction, Matches, Packet, PortRange, ProtoSet};
use ipnet::IpNet;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// One socket with the policy's verdicts for new connections to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    /// The socket.
    pub socket: Socket,
    /// A connection from outside the operator network that the policy accepts, if
    /// there is one: reachable from the world.
    pub world: Option<Packet>,
    /// Whether the declared operator network reaches it (`None`: no network is
    /// declared, so the world is the operator's).
    pub operator: Option<bool>,
    /// Whether a connection from this host to itself (over `lo`) is accepted.
    pub loopback: bool,
    /// For a socket nothing outside reaches: the rule that decides a connection from
    /// the world (`None` where no rule of the policy does).
    pub dropped_by: Option<RuleRef>,
}

/// A port the policy opens that no socket listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    /// The `allow` rule.
    pub rule: RuleRef,
    /// The transport of the opening.
    pub transport: Transport,
    /// The rule's destination ports.
    pub ports: Vec<PortRange>,
}

/// The sockets of a host against a policy, grouped by what the policy lets reach them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exposure {
    /// Listening, and reachable from the world: the list to read first.
    pub world: Vec<Exposed>,
    /// Listening, and reachable from the declared operator network only.
    pub operator_only: Vec<Exposed>,
    /// Listening, but nothing from outside gets through: intended?
    pub dropped: Vec<Exposed>,
    /// Bound to loopback: not exposed, whatever the policy says.
    pub loopback_only: Vec<Exposed>,
    /// Openings of the policy that nothing listens behind.
    pub unused: Vec<Unused>,
}

impl Exposure {
    /// The listening sockets of the calling thread's network namespace against
    /// `policy`. Reads `/proc` only: no root needed, nothing changed.
    pub fn read(policy: &Policy) -> Result<Exposure, Error> {
        Ok(Exposure::of(policy, sockets::listening()?))
    }

    /// `sockets` against `policy`.
    pub fn of(policy: &Policy, sockets: Vec<Socket>) -> Exposure {
        let v6only =
            std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "1");
        let mut out = Exposure::default();
        for (transport, protocols) in [
            (Transport::Tcp, ProtoSet::TCP),
            (Transport::Udp, ProtoSet::UDP),
        ] {
            for (index, rule) in policy.rules().iter().enumerate() {
                let opens = rule.direction == Direction::In
                    && rule.action == Action::Allow
                    && rule.matches.protocols.contains(protocols)
                    && !rule.matches.dports.is_empty()
                    && rule.matches.iface.as_deref() != Some("lo");
                let behind = |s: &Socket| {
                    s.transport == transport
                        && !s.loopback_only()
                        && rule.matches.dports.iter().any(|r| r.contains(s.port))
                };
                if opens && !sockets.iter().any(behind) {
                    out.unused.push(Unused {
                        rule: RuleRef::new(index, rule),
                        transport,
                        ports: rule.matches.dports.to_vec(),
                    });
                }
            }
        }
        for socket in sockets {
            let exposed = verdicts(policy, socket, v6only);
            let group = match &exposed {
                e if e.socket.loopback_only() => &mut out.loopback_only,
                e if e.world.is_some() => &mut out.world,
                e if e.operator == Some(true) => &mut out.operator_only,
                _ => &mut out.dropped,
            };
            group.push(exposed);
        }
        out
    }
}

/// The families a socket receives: a socket on `::` takes IPv4 too unless the host
/// binds IPv6 sockets to IPv6 only.
fn families(address: IpAddr, v6only: bool) -> Vec<IpNet> {
    let any_v4 = IpNet::new(IpAddr::from([0u8; 4]), 0).expect("a /0");
    let any_v6 = IpNet::new(IpAddr::from([0u16; 8]), 0).expect("a /0");
    match address {
        IpAddr::V4(_) => vec![any_v4],
        IpAddr::V6(a) if a.is_unspecified() && !v6only => vec![any_v4, any_v6],
        IpAddr::V6(_) => vec![any_v6],
    }
}

fn verdicts(policy: &Policy, socket: Socket, v6only: bool) -> Exposed {
    let rules = policy.rules();
    let operator = match policy.access() {
        Access::Ssh {
            from: Some(net), ..
        } => Some(*net),
        _ => None,
    };
    let protocols = match socket.transport {
        Transport::Tcp => ProtoSet::TCP,
        Transport::Udp => ProtoSet::UDP,
    };
    let to = |family: &IpNet, src: Vec<IpNet>| Matches {
        protocols,
        dports: Cow::Owned(vec![PortRange::new(socket.port, socket.port)]),
        src: Cow::Owned(src),
        // A socket on the unspecified address takes any destination of its family.
        dst: Cow::Owned(match socket.address.is_unspecified() {
            true => vec![*family],
            false => vec![IpNet::from(socket.address.to_canonical())],
        }),
        ..Matches::ANY
    };
    let served = families(socket.address, v6only);
    // A socket bound to loopback takes nothing from outside, whatever the rules say
    // of packets to 127.0.0.1 (the kernel drops those arriving on another interface).
    let outside_reaches = !socket.loopback_only();
    // The world: every source outside the operator network.
    let world = served
        .iter()
        .filter(|_| outside_reaches)
        .find_map(|family| {
            let sources = outside(family, operator.as_ref());
            (!sources.is_empty())
                .then(|| fwdsl_core::accepted_from_outside(rules, &to(family, sources)))
                .flatten()
        });
    let operator_reaches = operator.map(|net| {
        outside_reaches
            && served
                .iter()
                .filter(|f| fwdsl_core::Family::of(f) == fwdsl_core::Family::of(&net))
                .any(|f| fwdsl_core::accepted_from_outside(rules, &to(f, vec![net])).is_some())
    });
    let loopback = served.iter().any(|family| {
        let own: IpNet = match family {
            IpNet::V4(_) => "127.0.0.0/8".parse().expect("a network"),
            IpNet::V6(_) => "::1/128".parse().expect("a network"),
        };
        let matches = Matches {
            iface: Some(Cow::Borrowed("lo")),
            ..to(family, vec![own])
        };
        fwdsl_core::accepted_witness(rules, Direction::In, &matches, true).is_some()
    });
    let dropped_by = match (&world, operator_reaches) {
        _ if !outside_reaches => None,
        (None, Some(true)) | (Some(_), _) => None,
        _ => served.first().and_then(|family| {
            let source = outside(family, operator.as_ref()).first()?.addr();
            let source = representative(source);
            let dst = match socket.address.is_unspecified() {
                true => source,
                false => socket.address,
            };
            let packet = match socket.transport {
                Transport::Tcp => Packet::tcp(source, socket.port),
                Transport::Udp => Packet::udp(source, socket.port),
            }
            .dst(dst);
            let decision = policy.try_decide(&packet)?;
            Some(RuleRef::new(decision.index, decision.rule))
        }),
    };
    Exposed {
        socket,
        world,
        operator: operator_reaches,
        loopback,
        dropped_by,
    }
}

/// A source to show for "the world": a documentation address where the first address
/// outside the operator network is the unspecified one.
fn representative(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::from([203, 0, 113, 1]),
        IpAddr::V6(a) if a.is_unspecified() => "2001:db8::1".parse().expect("an address"),
        other => other,
    }
}

/// The networks of `family` (a /0) outside `operator`: all of it when the operator
/// network is of the other family or not declared; else the sibling of each of the
/// operator network's enclosing prefixes (at most one per prefix bit).
fn outside(family: &IpNet, operator: Option<&IpNet>) -> Vec<IpNet> {
    let Some(net) =
        operator.filter(|n| fwdsl_core::Family::of(n) == fwdsl_core::Family::of(family))
    else {
        return vec![*family];
    };
    (1..=net.prefix_len())
        .filter_map(|len| {
            let enclosing = IpNet::new(net.addr(), len).ok()?.trunc();
            let parent = enclosing.supernet()?;
            parent.subnets(len).ok()?.find(|s| *s != enclosing)
        })
        .collect()
}

fn verdict(open: bool) -> &'static str {
    match open {
        true => "open",
        false => "closed",
    }
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, e: &Exposed, note: String| {
            let s = &e.socket;
            let at = match s.address {
                IpAddr::V6(a) => format!("[{a}]:{}", s.port),
                a => format!("{a}:{}", s.port),
            };
            writeln!(
                f,
                "  {:<4} {:<24} {:<16} {note}",
                s.transport.keyword(),
                at,
                s.process.as_deref().unwrap_or("?")
            )
        };
        let groups: [(&str, &Vec<Exposed>); 4] = [
            (
                "listening and reachable from the world (read these first)",
                &self.world,
            ),
            (
                "listening, reachable from the operator network only",
                &self.operator_only,
            ),
            (
                "listening, but dropped by the policy (intended?)",
                &self.dropped,
            ),
            ("bound to loopback only (not exposed)", &self.loopback_only),
        ];
        for (title, group) in groups {
            if group.is_empty() {
                continue;
            }
            writeln!(f, "{title}:")?;
            for e in group {
                let note = match (&e.world, &e.dropped_by) {
                    // The witness is the region's lowest packet: shown where it says
                    // more than "from address zero".
                    (Some(w), _) if !w.src.is_unspecified() => format!(
                        "world: open (e.g. from {}), loopback: {}",
                        w.src,
                        verdict(e.loopback)
                    ),
                    (Some(_), _) => format!("world: open, loopback: {}", verdict(e.loopback)),
                    (None, Some(rule)) if e.operator != Some(true) => format!("by {rule}"),
                    _ => format!(
                        "world: closed, operator: {}, loopback: {}",
                        verdict(e.operator == Some(true)),
                        verdict(e.loopback)
                    ),
                };
                line(f, e, note)?;
            }
        }
        if !self.unused.is_empty() {
            writeln!(f, "allowed by the policy, but nothing listens:")?;
            for u in &self.unused {
                let ports: Vec<String> = u.ports.iter().map(|p| p.to_string()).collect();
                writeln!(
                    f,
                    "  {:<4} {:<24} {}",
                    u.transport.keyword(),
                    ports.join(","),
                    u.rule
                )?;
            }
        }
        Ok(())
    }
}
