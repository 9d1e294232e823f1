//! One saved rule read as the language's match and a target, or refused with the reason:
//! nothing is guessed. What the language can say is read (`-p`, `-s`, `-d`, `-i`, `-o`,
//! ports and multiport lists, conntrack and state, ICMP types, comments, ipsets whose
//! members are given); anything else (a negation, `-m recent`, `-m limit` on a verdict,
//! `MARK`, TCP flags, …) is refused by name.

use fwdsl_core::{
    ConnState, Family, IcmpType, Matches, NatKind, PortRange, ProtoSet, ICMP_TYPES, PROTOCOLS,
};
use ipnet::IpNet;
use std::borrow::Cow;
use std::collections::HashMap;

/// Where a rule sends the packets it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Accept,
    Drop,
    Reject,
    /// `LOG`, with its prefix: the packet goes on.
    Log(Option<String>),
    Return,
    Jump(String),
    Goto(String),
    /// A translation of the nat table (`DNAT`, `REDIRECT`, `MASQUERADE`, `SNAT`).
    Nat(NatKind),
}

/// A rule read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    pub matches: Matches,
    pub target: Target,
    pub comment: Option<String>,
    /// `-m limit` (on a LOG, or on a RETURN the walk judges).
    pub limited: bool,
    /// Matches no packet of fwdsl's model (`--dst-type MULTICAST` in the input chain:
    /// the model's packets are unicast to this host).
    pub never: bool,
    /// The negated parts (`! -i docker0`): a packet that one of them holds skips the
    /// rule (the walk writes what follows for those packets first).
    pub negated: Vec<Matches>,
    /// `--dst-type LOCAL` in nat PREROUTING: only packets addressed to this host.
    pub local: bool,
    /// A destination port as the packet has it when the rule sees it (`--dport`: in
    /// FORWARD, after a DNAT), not the one the client connected to.
    pub translated_ports: bool,
}

fn ports(text: &str) -> Result<Vec<PortRange>, String> {
    text.split(',')
        .map(|p| {
            let (a, b) = p.split_once(':').unwrap_or((p, p));
            let a: u16 = a.parse().map_err(|_| format!("port `{p}`"))?;
            let b: u16 = b.parse().map_err(|_| format!("port `{p}`"))?;
            Ok(PortRange::new(a, b))
        })
        .collect()
}

fn net(text: &str, family: Family) -> Result<IpNet, String> {
    let parsed = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not an address"))?;
    if Family::of(&parsed) != family {
        return Err(format!("`{text}` is not of this file's family"));
    }
    Ok(parsed.trunc())
}

/// The state list of `--ctstate`/`--state`, as the language's states.
fn state(text: &str) -> Result<ConnState, String> {
    let mut states: Vec<&str> = text.split(',').collect();
    states.sort_unstable();
    match &states[..] {
        ["NEW"] => Ok(ConnState::New),
        ["ESTABLISHED", "RELATED"] => Ok(ConnState::Established),
        ["INVALID"] => Ok(ConnState::Invalid),
        _ => Err(format!(
            "connection states `{text}`: fwdsl tells NEW, RELATED,ESTABLISHED and INVALID apart, not these"
        )),
    }
}

fn icmp(text: &str, family: Family) -> Result<IcmpType, String> {
    let number: Option<u8> = text.split('/').next().and_then(|t| t.parse().ok());
    let by_name = ICMP_TYPES.iter().find(|(n, _, _)| *n == text);
    // A number is a name where one exists (ICMPv6 numbers have no other spelling in
    // the language: `icmp 8` is an IPv4 type).
    let by_name = by_name.or_else(|| {
        let n = number?;
        ICMP_TYPES.iter().find(|(_, v4, v6)| match family {
            Family::V4 => *v4 == Some(n),
            Family::V6 => *v6 == Some(n),
        })
    });
    let (v4, v6) = match (number, by_name) {
        (_, Some(&(_, v4, v6))) if !text.contains('/') => match family {
            Family::V4 => (v4, None),
            Family::V6 => (None, v6),
        },
        (Some(n), None) if !text.contains('/') && family == Family::V4 => (Some(n), None),
        (Some(n), None) if !text.contains('/') => {
            return Err(format!(
                "ICMPv6 type {n}: the language names ICMPv6 types by name, and this one has none"
            ))
        }
        (_, Some(&(_, v4, v6))) => match family {
            Family::V4 => (v4, None),
            Family::V6 => (None, v6),
        },
        _ => {
            return Err(format!(
                "ICMP type `{text}` (a code, or a name fwdsl does not know)"
            ))
        }
    };
    if v4.or(v6).is_none() {
        return Err(format!("ICMP type `{text}` does not exist in this family"));
    }
    Ok(IcmpType { v4, v6 })
}

/// A nat target with its `--to-…` value: one address (and port), or one port; ranges
/// and round robins have no equivalent in the language.
fn nat_kind(target: &str, to: Option<&str>, family: Family) -> Result<NatKind, String> {
    let refuse = |why: &str| {
        Err(format!(
            "`{target}{}`: {why}",
            to.map_or(String::new(), |t| format!(" --to {t}"))
        ))
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}`: one port (a range has no equivalent in the language)"))
    };
    let addr = |a: &str| -> Result<std::net::IpAddr, String> {
        let a = a.trim_start_matches('[').trim_end_matches(']');
        let parsed: std::net::IpAddr = a.parse().map_err(|_| {
            format!("`{a}`: one address (a range has no equivalent in the language)")
        })?;
        match Family::of(&IpNet::from(parsed)) == family {
            true => Ok(parsed),
            false => Err(format!("`{a}` is not of this file's family")),
        }
    };
    match (target, to) {
        ("MASQUERADE", None) => Ok(NatKind::Masquerade),
        ("MASQUERADE", Some(_)) => refuse("masquerading to given ports"),
        ("REDIRECT", Some(p)) => Ok(NatKind::Redirect { port: port(p)? }),
        ("SNAT", Some(a)) if !a.contains(':') || family == Family::V6 && !a.starts_with('[') => {
            Ok(NatKind::Snat { addr: addr(a)? })
        }
        ("SNAT", Some(_)) => refuse("source ports"),
        ("DNAT", Some(a)) => {
            // `ADDR`, `ADDR:PORT`, `[V6]:PORT`, or a bare IPv6 address.
            let (host, p) = match a.rsplit_once(':') {
                Some((h, p)) if family == Family::V4 || h.ends_with(']') => (h, Some(p)),
                _ => (a, None),
            };
            Ok(NatKind::Dnat {
                addr: addr(host)?,
                port: p.map(port).transpose()?,
            })
        }
        _ => refuse("this form"),
    }
}

/// Where a rule is walked, which some matches depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The filter table's INPUT chain: every packet of fwdsl's model is unicast to this
    /// host (`--dst-type LOCAL`), none multicast or broadcast.
    Input,
    /// The filter table's FORWARD chain: `--ctorigdstport` is the port the client
    /// connected to, what fwdsl's forward rules match.
    Forward,
    /// The nat table's PREROUTING chain: `--dst-type LOCAL` is the statement's `local`
    /// (packets addressed to this host, not those it routes).
    Prerouting,
    /// Elsewhere.
    Other,
}

/// Reads `words` (after `-A CHAIN`) of a rule of `family`; `sets` holds the members of
/// the ipsets the rules may name; `place` is where the rule is walked.
pub(crate) fn read(
    words: &[String],
    family: Family,
    place: Place,
    sets: &HashMap<String, Vec<IpNet>>,
) -> Result<Read, String> {
    let mut m = Matches::ANY;
    let mut target = None;
    let mut comment = None;
    let mut log_prefix = None;
    let mut limited = false;
    let mut never = false;
    let mut local = false;
    let mut translated_ports = false;
    let mut negated: Vec<Matches> = Vec::new();
    let mut hop_limit: Option<String> = None;
    // A nat target and its `--to-…` value, read together at the end.
    let mut nat_target: Option<String> = None;
    let mut nat_to: Option<String> = None;
    let mut at = 0;
    let next = |at: &mut usize| -> Result<&str, String> {
        *at += 1;
        words
            .get(*at)
            .map(String::as_str)
            .ok_or_else(|| format!("`{}` without its value", words[*at - 1]))
    };
    while at < words.len() {
        // `! OPTION VALUE`: the option fills a part of its own, which the rule excludes.
        let negate = words[at] == "!";
        if negate {
            at += 1;
            negated.push(Matches::ANY);
        }
        let Some(word) = words.get(at).map(String::as_str) else {
            return Err("`!` at the end of the rule".into());
        };
        const NEGATABLE: [&str; 14] = [
            "-p",
            "--protocol",
            "-s",
            "--source",
            "-d",
            "--destination",
            "-i",
            "--in-interface",
            "-o",
            "--out-interface",
            "--dport",
            "--sport",
            "--dports",
            "--sports",
        ];
        if negate && !NEGATABLE.contains(&word) {
            return Err(format!("a negation of `{word}`: only addresses, interfaces, protocols and ports are negated"));
        }
        let m: &mut Matches = match negate {
            true => negated.last_mut().expect("pushed above"),
            false => &mut m,
        };
        match word {
            "-p" | "--protocol" => {
                let p = next(&mut at)?;
                let (set, number) = match p {
                    "tcp" => (ProtoSet::TCP, None),
                    "udp" => (ProtoSet::UDP, None),
                    "icmp" if family == Family::V4 => (ProtoSet::ICMP, None),
                    "ipv6-icmp" | "icmpv6" if family == Family::V6 => (ProtoSet::ICMP, None),
                    "all" => (ProtoSet::ALL, None),
                    other => {
                        let n = PROTOCOLS
                            .iter()
                            .find(|(name, _)| *name == other)
                            .map(|(_, n)| *n)
                            .or_else(|| other.parse().ok())
                            .ok_or(format!("protocol `{other}`"))?;
                        match n {
                            6 => (ProtoSet::TCP, None),
                            17 => (ProtoSet::UDP, None),
                            _ => (ProtoSet::OTHER, Some(n)),
                        }
                    }
                };
                m.protocols = set;
                m.protocol = number;
            }
            "-s" | "--source" => m.src = vec![net(next(&mut at)?, family)?].into(),
            "-d" | "--destination" => m.dst = vec![net(next(&mut at)?, family)?].into(),
            "-i" | "--in-interface" => m.iface = Some(Cow::Owned(next(&mut at)?.to_string())),
            "-o" | "--out-interface" => m.oface = Some(Cow::Owned(next(&mut at)?.to_string())),
            "-m" | "--match" => match next(&mut at)? {
                "tcp" | "udp" | "icmp" | "icmp6" | "conntrack" | "state" | "comment"
                | "multiport" | "set" => {}
                // On a LOG rule only (below): it bounds log lines, not verdicts.
                "limit" => limited = true,
                "addrtype" | "hl" => {}
                other => {
                    return Err(format!(
                        "the `{other}` match has no equivalent in the language"
                    ))
                }
            },
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                m.dports = ports(next(&mut at)?)?.into();
                translated_ports = true;
            }
            // The port the client connected to: fwdsl's forward rules' own port.
            "--ctorigdstport" if place == Place::Forward && !negate => {
                m.dports = ports(next(&mut at)?)?.into()
            }
            "--sport" | "--source-port" | "--sports" | "--source-ports" => {
                m.sports = ports(next(&mut at)?)?.into()
            }
            "--ctstate" | "--state" => m.state = Some(state(next(&mut at)?)?),
            "--icmp-type" | "--icmpv6-type" => m.icmp_type = Some(icmp(next(&mut at)?, family)?),
            "--comment" => comment = Some(next(&mut at)?.to_string()),
            "--match-set" => {
                let name = next(&mut at)?.to_string();
                let side = next(&mut at)?.to_string();
                let members = sets.get(&name).ok_or(format!(
                    "ipset `{name}`: its members were not given (`ipset save` output)"
                ))?;
                if members.is_empty() {
                    return Err(format!("ipset `{name}` is empty: a rule on it matches nothing today, and whatever is added later"));
                }
                let members: Vec<IpNet> = members
                    .iter()
                    .copied()
                    .filter(|n| Family::of(n) == family)
                    .collect();
                match side.as_str() {
                    "src" => m.src = members.into(),
                    "dst" => m.dst = members.into(),
                    other => return Err(format!("ipset `{name}` matched on `{other}`")),
                }
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                let to = next(&mut at)?.to_string();
                target = Some(match (word, to.as_str()) {
                    ("-g" | "--goto", _) => Target::Goto(to),
                    (_, "ACCEPT") => Target::Accept,
                    (_, "DROP") => Target::Drop,
                    (_, "REJECT") => Target::Reject,
                    (_, "LOG") => Target::Log(None),
                    (_, "RETURN") => Target::Return,
                    (_, "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT") => {
                        nat_target = Some(to.clone());
                        Target::Return // replaced below
                    }
                    // A chain of the table, or a target the language lacks (the walk
                    // tells them apart: it knows the chains).
                    _ => Target::Jump(to),
                });
            }
            // The address type of the destination, modelled where fwdsl's model decides
            // it: every packet of the input chain is unicast to this host (LOCAL), and
            // none is multicast or broadcast (the model has no such packets); in nat
            // PREROUTING LOCAL is the statement's `local`, which has no negation.
            "--dst-type" if place == Place::Prerouting && negate => {
                return Err("`! --dst-type`: the language keeps a NAT statement to this host's addresses (`local`), not to the others".into())
            }
            "--dst-type" if matches!(place, Place::Input | Place::Prerouting) => match next(&mut at)? {
                "LOCAL" => local = place == Place::Prerouting,
                "MULTICAST" | "BROADCAST" => never = true,
                other => {
                    return Err(format!(
                        "`--dst-type {other}`: only LOCAL, MULTICAST and BROADCAST are modelled"
                    ))
                }
            },
            "--dst-type" => {
                return Err("`--dst-type` outside the filter table's INPUT and the nat table's PREROUTING chains: the language cannot restrict a rule to this host's own addresses there".into())
            }
            "--hl-eq" => hop_limit = Some(next(&mut at)?.to_string()),
            "--to-destination" | "--to-source" | "--to-ports" => {
                nat_to = Some(next(&mut at)?.to_string())
            }
            "--reject-with" => {
                // Any reject is `reject` (fwdsl's analysis does not tell the messages apart).
                next(&mut at)?;
            }
            "--log-prefix" => log_prefix = Some(next(&mut at)?.to_string()),
            "--log-level" | "--limit" | "--limit-burst" => {
                next(&mut at)?;
            }
            other => return Err(format!("`{other}` has no equivalent in the language")),
        }
        at += 1;
    }
    // Neighbour discovery from the link itself (ICMPv6 133-136, hop limit 255) accepted:
    // fwdsl accepts exactly these ahead of every input policy (`Builtin`), so the rule
    // adds nothing to the imported policy; any other hop-limit match is refused.
    if let Some(hl) = &hop_limit {
        let nd = m
            .icmp_type
            .and_then(|t| t.v6)
            .is_some_and(|t| (133..=136).contains(&t));
        if hl == "255" && nd && family == Family::V6 && matches!(target, Some(Target::Accept)) {
            never = true;
        } else {
            return Err(format!("a hop-limit match (`--hl-eq {hl}`) other than neighbour discovery's, which fwdsl accepts itself"));
        }
    }
    if limited && !matches!(target, Some(Target::Log(_) | Target::Return)) {
        return Err("`-m limit` on a verdict: above the limit the next rule decides, which the language says with `limit` on an allow only".into());
    }
    if let Some(kind) = nat_target {
        target = Some(Target::Nat(nat_kind(&kind, nat_to.as_deref(), family)?));
    }
    let target = match target {
        Some(Target::Log(_)) => Target::Log(log_prefix),
        Some(t) => t,
        None => return Err("a rule without a target (a counter) decides nothing; left out".into()),
    };
    let has_ports = !m.dports.is_empty() || !m.sports.is_empty();
    let ported = m.protocols == ProtoSet::TCP || m.protocols == ProtoSet::UDP;
    if has_ports && !ported {
        return Err("ports without `-p tcp` or `-p udp`".into());
    }
    if m.icmp_type.is_some() && m.protocols != ProtoSet::ICMP {
        return Err("an ICMP type without `-p icmp`".into());
    }
    Ok(Read {
        matches: m,
        target,
        comment,
        limited,
        never,
        negated,
        local,
        translated_ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in(
        words: &[String],
        family: Family,
        sets: &HashMap<String, Vec<IpNet>>,
    ) -> Result<Read, String> {
        read(words, family, Place::Input, sets)
    }

    fn w(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn reads_what_the_language_says_and_refuses_the_rest() {
        let none = HashMap::new();
        let r = read_in(
            &w("-s 10.0.0.0/8 -p tcp -m multiport --dports 80,443,8000:8010 -j ACCEPT"),
            Family::V4,
            &none,
        )
        .unwrap();
        assert_eq!(r.target, Target::Accept);
        assert_eq!(r.matches.dports.len(), 3);
        assert_eq!(r.matches.dports[2], PortRange::new(8000, 8010));
        let r = read_in(
            &w("-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            Family::V4,
            &none,
        )
        .unwrap();
        assert_eq!(r.matches.state, Some(ConnState::Established));
        let r = read_in(
            &w("-p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT"),
            Family::V6,
            &none,
        )
        .unwrap();
        assert_eq!(
            r.matches.icmp_type,
            Some(IcmpType {
                v4: None,
                v6: Some(128)
            })
        );
        for (bad, why) in [
            (
                "-m conntrack ! --ctstate NEW -j DROP",
                "a negation of `--ctstate`",
            ),
            ("-m recent --set -j DROP", "`recent` match"),
            (
                "-m set --match-set blocked src -j DROP",
                "members were not given",
            ),
            (
                "-m conntrack --ctstate ESTABLISHED -j ACCEPT",
                "connection states",
            ),
            ("-p tcp --tcp-flags SYN SYN -j DROP", "`--tcp-flags`"),
        ] {
            let e = read_in(&w(bad), Family::V4, &none).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
