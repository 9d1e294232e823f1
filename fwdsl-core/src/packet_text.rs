//! A packet in one line, both ways: what `fwdsl explain` reads and what a witness
//! prints, so a packet a report shows can be pasted back into a question.
//!
//! ```text
//! [out|forward] PROTO SRC[:SPORT] -> [DST][:DPORT] [type ICMP-TYPE] [new|established|invalid]
//!               [in IFACE] [via IFACE] [hop-limit N]
//! ```
//!
//! `to` may stand for `->` (a shell takes an unquoted `>` as a redirection). `PROTO`
//! is `tcp`, `udp`, `icmp` or `proto NAME|NUMBER`; an IPv6 address with a port
//! is written in brackets (`[2001:db8::1]:443`); a missing destination is "this host"
//! (the unspecified address), a missing source port 49152, a missing state `new`.

use crate::model::{ConnState, Direction, ICMP_TYPES, PROTOCOLS};
use crate::packet::{Packet, Proto};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a line is not a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSyntaxError(pub String);

impl fmt::Display for PacketSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (a packet reads like `tcp 203.0.113.9 -> 192.0.2.1:443`, `out udp 192.0.2.1 -> 198.51.100.53:53`, `icmp 203.0.113.9 -> 192.0.2.1 type echo-request`)",
            self.0
        )
    }
}

impl std::error::Error for PacketSyntaxError {}

/// The words after the destination (which may be left out).
const TAIL_WORDS: [&str; 8] = [
    "new",
    "established",
    "invalid",
    "in",
    "via",
    "type",
    "hop-limit",
    "ttl",
];

fn host(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

impl fmt::Display for Packet {
    /// `tcp 203.0.113.9:49152 -> 192.0.2.1:8080 new`, `forward udp … in eth0 via br0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.direction != Direction::In {
            write!(f, "{} ", self.direction.keyword())?;
        }
        let dst = match self.dst.is_unspecified() {
            true => String::new(),
            false => host(self.dst),
        };
        match self.proto {
            Proto::Tcp | Proto::Udp => write!(
                f,
                "{} {}:{} -> {dst}:{}",
                if self.proto == Proto::Tcp {
                    "tcp"
                } else {
                    "udp"
                },
                host(self.src),
                self.sport,
                self.dport
            )?,
            Proto::Icmp => write!(
                f,
                "icmp {} ->{}{dst} type {}",
                host(self.src),
                if dst.is_empty() { "" } else { " " },
                self.icmp_type
            )?,
            Proto::Other(n) => write!(
                f,
                "proto {} {} ->{}{dst}",
                crate::model::protocol_name(n),
                host(self.src),
                if dst.is_empty() { "" } else { " " }
            )?,
        }
        f.write_str(match self.state {
            ConnState::New => " new",
            ConnState::Established => " established",
            ConnState::Invalid => " invalid",
        })?;
        if let Some(i) = &self.iface {
            write!(f, " in {i}")?;
        }
        if let Some(o) = &self.oface {
            write!(f, " via {o}")?;
        }
        if self.hop_limit != 64 {
            write!(f, " hop-limit {}", self.hop_limit)?;
        }
        Ok(())
    }
}

/// `ADDR` or `ADDR:PORT`, IPv6 in brackets when a port follows; `None` address for an
/// empty host part (`:443`).
fn endpoint(text: &str) -> Result<(Option<IpAddr>, Option<u16>), PacketSyntaxError> {
    let bad = || {
        PacketSyntaxError(format!(
            "`{text}` is not an address, `ADDR:PORT` or `:PORT`"
        ))
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| PacketSyntaxError(format!("`{p}` is not a port (0-65535)")))
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        return match after {
            "" => Ok((Some(addr.into()), None)),
            _ => Ok((
                Some(addr.into()),
                Some(port(after.strip_prefix(':').ok_or_else(bad)?)?),
            )),
        };
    }
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok((Some(addr), None));
    }
    let (addr, p) = text.rsplit_once(':').ok_or_else(bad)?;
    let addr = match addr {
        "" => None,
        a => Some(a.parse::<Ipv4Addr>().map_err(|_| bad())?.into()),
    };
    Ok((addr, Some(port(p)?)))
}

impl FromStr for Packet {
    type Err = PacketSyntaxError;

    fn from_str(text: &str) -> Result<Packet, PacketSyntaxError> {
        let mut words = text.split_whitespace().peekable();
        let err = |m: String| Err(PacketSyntaxError(m));
        let direction = match words.peek() {
            Some(&"in") => {
                words.next();
                Direction::In
            }
            Some(&"out") => {
                words.next();
                Direction::Out
            }
            Some(&"forward") => {
                words.next();
                Direction::Forward
            }
            _ => Direction::In,
        };
        let proto = match words.next() {
            Some("tcp") => Proto::Tcp,
            Some("udp") => Proto::Udp,
            Some("icmp" | "icmpv6") => Proto::Icmp,
            Some("proto") => {
                let name = words.next().unwrap_or_default();
                match PROTOCOLS.iter().find(|(n, _)| *n == name) {
                    Some(&(_, n)) => Proto::Other(n),
                    None => match name.parse::<u8>() {
                        Ok(n) => Proto::Other(n),
                        Err(_) => {
                            return err(format!("`proto {name}`: not a protocol name or number"))
                        }
                    },
                }
            }
            Some(other) => {
                return err(format!(
                    "`{other}` is not a protocol: write tcp, udp, icmp or `proto NAME`"
                ))
            }
            None => return err("no packet given".into()),
        };
        let (src, sport) = endpoint(words.next().unwrap_or_default())?;
        let Some(src) = src else {
            return err("the packet needs a source address".into());
        };
        // `to` for a shell, where an unquoted `->` is a redirection.
        if !matches!(words.next(), Some("->" | "to")) {
            return err("expected `->` (or `to`) after the source".into());
        }
        let (dst, dport) = match words.peek() {
            Some(w) if !TAIL_WORDS.contains(w) => {
                let w = words.next().unwrap_or_default();
                endpoint(w)?
            }
            _ => (None, None),
        };
        if let Some(dst) = dst {
            if dst.is_ipv4() != src.is_ipv4() {
                return err("source and destination are of different families".into());
            }
        }
        let needs_port = matches!(proto, Proto::Tcp | Proto::Udp);
        let mut packet = match proto {
            Proto::Tcp | Proto::Udp => {
                let Some(dport) = dport else {
                    return err("a TCP or UDP packet needs a destination port (`-> 192.0.2.1:443` or `-> :443`)".into());
                };
                match proto {
                    Proto::Tcp => Packet::tcp(src, dport),
                    _ => Packet::udp(src, dport),
                }
            }
            Proto::Icmp => Packet::icmp(src),
            Proto::Other(n) => Packet::other(n, src),
        };
        if !needs_port && (sport.is_some() || dport.is_some()) {
            return err("only TCP and UDP packets have ports".into());
        }
        if let Some(p) = sport {
            packet = packet.sport(p);
        }
        if let Some(dst) = dst {
            packet = packet.dst(dst);
        }
        packet.direction = direction;
        while let Some(word) = words.next() {
            let mut value = |what: &str| {
                words
                    .next()
                    .ok_or_else(|| PacketSyntaxError(format!("`{word}` needs {what}")))
            };
            match word {
                "new" => packet.state = ConnState::New,
                "established" => packet.state = ConnState::Established,
                "invalid" => packet.state = ConnState::Invalid,
                "in" => packet.iface = Some(value("an interface")?.to_string()),
                "via" => packet.oface = Some(value("an interface")?.to_string()),
                "hop-limit" | "ttl" => {
                    let v = value("a number")?;
                    packet.hop_limit = v
                        .parse()
                        .map_err(|_| PacketSyntaxError(format!("`{v}` is not a hop limit (0-255)")))?;
                }
                "type" if proto == Proto::Icmp => {
                    let v = value("an ICMP type")?;
                    let v6 = src.is_ipv6();
                    packet.icmp_type = match ICMP_TYPES.iter().find(|(n, _, _)| *n == v) {
                        Some(&(_, four, six)) => match if v6 { six } else { four } {
                            Some(t) => t,
                            None => return err(format!("`{v}` is not an ICMP type of this family")),
                        },
                        None => v.parse().map_err(|_| {
                            PacketSyntaxError(format!("`{v}` is not an ICMP type name or number"))
                        })?,
                    };
                }
                other => return err(format!("`{other}` is not part of a packet: expected a state (new, established, invalid), `in IFACE`, `via IFACE`{}", if proto == Proto::Icmp { " or `type NAME`" } else { "" })),
            }
        }
        Ok(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes() {
        for p in [
            Packet::tcp([203, 0, 113, 9], 443).dst([192, 0, 2, 1]),
            Packet::udp([192, 0, 2, 1], 53)
                .dst([198, 51, 100, 53])
                .outgoing()
                .sport(40000),
            Packet::icmp("2001:db8::9".parse::<IpAddr>().unwrap())
                .icmp_type(135)
                .hop_limit(255),
            Packet::tcp([10, 0, 0, 1], 8080)
                .forwarded()
                .iface("eth0")
                .via("br0")
                .established(),
            Packet::other(50, [10, 0, 0, 1]).invalid(),
        ] {
            let text = p.to_string();
            assert_eq!(text.parse::<Packet>(), Ok(p), "{text}");
        }
    }

    #[test]
    fn reads_the_short_forms() {
        let p: Packet = "tcp 203.0.113.9 -> :443".parse().unwrap();
        assert_eq!(p, Packet::tcp([203, 0, 113, 9], 443));
        assert_eq!("tcp 203.0.113.9 to :443".parse(), Ok(p));
        let p: Packet = "icmp 203.0.113.9 -> 192.0.2.1 type echo-request"
            .parse()
            .unwrap();
        assert_eq!(p.icmp_type, 8);
        let p: Packet = "icmp [2001:db8::9] -> type echo-request".parse().unwrap();
        assert_eq!(p.icmp_type, 128);
        for bad in [
            "",
            "tcp",
            "tcp 1.2.3.4 -> 5.6.7.8",
            "sctp 1.2.3.4 -> :1",
            "tcp 1.2.3.4 -> :1 sideways",
            "icmp 1.2.3.4 -> [::1]",
        ] {
            assert!(bad.parse::<Packet>().is_err(), "{bad}");
        }
    }
}
