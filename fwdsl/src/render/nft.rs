//! The nftables rendering of [`Clauses`]: each rule as the statements of one nft rule in
//! libnftables' JSON, written in the numeric form `nft -j -n list` prints back, so that
//! what is live compares with what was meant value for value. Both families share one
//! `inet` table: a rule renders once where both families read it the same way, else
//! once per family. Lists stay in one rule (anonymous sets; a long list is a named
//! interval set), so a rule of the policy is one nft rule (two where it logs too).

use super::clauses::{Addresses, Clauses, Protocol};
use super::{fnv1a, IpSet, COMMENT_PREFIX};
use crate::Policy;
use fwdsl_core::{Action, ConnState, Direction, Family, NatKind, PortRange, Rate};
use ipnet::IpNet;
use serde_json::{json, Value};

/// nft keeps comments of at most this many bytes.
pub(crate) const MAX_COMMENT: usize = 128;

/// One nft rule of a generation chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftRule {
    /// The policy rule it comes from (0-based); `None` for what fwdsl adds itself
    /// (IPv6 neighbour discovery).
    pub rule: Option<usize>,
    /// Its statements, as `nft -j -n` lists them (counters without their values).
    pub expr: Vec<Value>,
    /// Its comment: `fwdsl:N text`, how a live rule is told to be fwdsl's, and which.
    pub comment: String,
}

/// A named set the policy's nft rules use, declared in fwdsl's table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
pub(crate) enum NftSet<'p> {
    /// A long address list (named after its members, as its ipset is).
    List(&'p IpSet),
    /// A dynamic set's members in one family, which no apply changes.
    Dynamic(String, Family),
    /// The per-source buckets of a rate limit (`limit` on a rule), in one family, each
    /// forgotten after `timeout` seconds without packets.
    Meter(String, Family, u64),
}

impl NftSet<'_> {
    /// The set's name.
    #[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
    pub(crate) fn name(&self) -> &str {
        match self {
            NftSet::List(set) => &set.name,
            NftSet::Dynamic(name, _) | NftSet::Meter(name, _, _) => name,
        }
    }

    /// Whether an apply keeps its members (a list's are part of its name; a dynamic set's
    /// and a meter's are the kernel's).
    #[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
    pub(crate) fn declaration(&self, table: &str) -> Value {
        let family = |f: &Family| match f {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        };
        match self {
            NftSet::List(set) => json!({"set": {
                "family": "inet", "table": table, "name": set.name,
                "type": family(&set.family), "flags": ["interval"],
                "elem": IpNet::aggregate(&set.members).iter().map(net).collect::<Vec<_>>(),
            }}),
            NftSet::Dynamic(name, f) => json!({"set": {
                "family": "inet", "table": table, "name": name,
                "type": family(f), "flags": ["interval", "timeout"],
                "size": super::DYNAMIC_SET_MAX,
            }}),
            NftSet::Meter(name, f, timeout) => json!({"set": {
                "family": "inet", "table": table, "name": name,
                "type": family(f), "flags": ["timeout"], "timeout": timeout,
                "size": 65_536,
            }}),
        }
    }
}

impl Policy {
    /// The nftables rules of one direction's generation chain, both families, in chain
    /// order: what the nftables backend installs in `table inet fwdsl`.
    ///
    /// ```
    /// use fwdsl::Direction;
    /// let policy = fwdsl::firewall! { ssh none; allow established; allow tcp 80, 443; drop all; };
    /// let rules = policy.nft_rules(Direction::In); // neighbour discovery first
    /// assert_eq!(rules[2].comment, "fwdsl:2 allow tcp 80,443");
    /// assert_eq!(
    ///     rules[2].expr[0].to_string(),
    ///     r#"{"match":{"left":{"payload":{"field":"dport","protocol":"tcp"}},"op":"==","right":{"set":[80,443]}}}"#
    /// );
    /// ```
    pub fn nft_rules(&self, direction: Direction) -> Vec<NftRule> {
        let mut out = Vec::new();
        if fwdsl_core::neighbour_discovery_in(direction) && self.uses(direction) {
            out.push(neighbour_discovery());
        }
        for (index, rule) in self.rules().iter().enumerate() {
            if rule.direction != direction {
                continue;
            }
            let per_family: Vec<Vec<(Vec<Value>, String)>> = rule
                .matches
                .families()
                .iter()
                .map(|&f| {
                    rules(
                        &Clauses::of(rule, index, f, &self.list_sets()[index]),
                        false,
                    )
                })
                .collect();
            // Both families alike: one rule serves both. Else each its own, marked
            // with its family where nothing else in it says which.
            let rendered = match &per_family[..] {
                [v4, v6] if v4 != v6 => rule
                    .matches
                    .families()
                    .iter()
                    .flat_map(|&f| {
                        rules(&Clauses::of(rule, index, f, &self.list_sets()[index]), true)
                    })
                    .collect(),
                _ => per_family.into_iter().next().unwrap_or_default(),
            };
            out.extend(rendered.into_iter().map(|(expr, comment)| NftRule {
                rule: Some(index),
                expr,
                comment,
            }));
        }
        out
    }

    /// The nft rules of the policy's NAT statements that rewrite the destination
    /// (`destination`: `dnat`, `redirect`, for the prerouting chain) or the source
    /// (`masquerade`, `snat`, for the postrouting chain). A statement that translates
    /// to an address is of that address's family; nft adds the family match itself.
    pub fn nft_nat_rules(&self, destination: bool) -> Vec<NftRule> {
        let mut out = Vec::new();
        for (index, rule) in self.nat().iter().enumerate() {
            if rule.kind.is_destination() != destination {
                continue;
            }
            let per_family: Vec<Vec<(Vec<Value>, String)>> = rule
                .families()
                .iter()
                .map(|&f| rules(&Clauses::of_nat(rule, index, f), false))
                .collect();
            let rendered = match &per_family[..] {
                [v4, v6] if v4 != v6 => rule
                    .families()
                    .iter()
                    .flat_map(|&f| rules(&Clauses::of_nat(rule, index, f), true))
                    .collect(),
                _ => per_family.into_iter().next().unwrap_or_default(),
            };
            out.extend(rendered.into_iter().map(|(expr, comment)| NftRule {
                rule: None,
                expr,
                comment,
            }));
        }
        out
    }

    /// The named sets the nft rules use: long lists, dynamic sets, rate limits' buckets.
    #[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
    pub(crate) fn nft_sets(&self) -> Vec<NftSet<'_>> {
        let mut out: Vec<NftSet<'_>> = Vec::new();
        for family in [Family::V4, Family::V6] {
            for set in self.ipset_refs(family) {
                out.push(match set {
                    std::borrow::Cow::Borrowed(list) => NftSet::List(list),
                    std::borrow::Cow::Owned(dynamic) => NftSet::Dynamic(dynamic.name, family),
                });
            }
        }
        for (index, rule) in self.rules().iter().enumerate() {
            if let Some(rate) = rule.limit {
                for &family in rule.matches.families() {
                    out.push(NftSet::Meter(
                        meter_name(&rule.text, rate, family),
                        family,
                        meter_timeout(rate),
                    ));
                }
            }
            let _ = index;
        }
        out.sort_by(|a, b| a.name().cmp(b.name()));
        out.dedup_by(|a, b| a.name() == b.name());
        out
    }
}

impl NftRule {
    /// The rule in one line, as status and plan show it: its statements as nft lists
    /// them, and its comment.
    pub fn to_text(&self) -> String {
        format!("{} comment {:?}", Value::from(self.listed()), self.comment)
    }

    /// The statements as `nft -j -n list` prints them back: nft leaves out a `meta
    /// nfproto` match that a later statement implies (`ip saddr`, `icmp type`, `meta
    /// l4proto icmp`), though the kernel keeps it.
    pub fn listed(&self) -> Vec<Value> {
        let nfproto = |s: &Value| {
            (s.pointer("/match/left/meta/key").and_then(Value::as_str) == Some("nfproto"))
                .then(|| s.pointer("/match/right").and_then(Value::as_u64))
                .flatten()
        };
        // The family a statement's payloads or protocol say (2: IPv4, 10: IPv6).
        let says = |s: &Value| -> Vec<u64> {
            let text = s.to_string();
            let mut out = Vec::new();
            for (needle, family) in [
                (r#""protocol":"ip""#, 2),
                (r#""protocol":"icmp""#, 2),
                (r#""protocol":"ip6""#, 10),
                (r#""protocol":"icmpv6""#, 10),
                (r#""family":"ip""#, 2),
                (r#""family":"ip6""#, 10),
            ] {
                if text.contains(needle) {
                    out.push(family);
                }
            }
            if s.pointer("/match/left/meta/key").and_then(Value::as_str) == Some("l4proto") {
                match s.pointer("/match/right").and_then(Value::as_u64) {
                    Some(1) => out.push(2),
                    Some(58) => out.push(10),
                    _ => {}
                }
            }
            out
        };
        // (Not across a `fib` match, which nft lists after the `meta nfproto` it keeps;
        // and `-n` lists `fib daddr type local` by its number, 2.)
        let fib = |s: &Value| s.pointer("/match/left/fib").is_some();
        self.expr
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                nfproto(s).is_none_or(|f| {
                    let later = &self.expr[i + 1..];
                    later.iter().any(fib) || !later.iter().any(|l| says(l).contains(&f))
                })
            })
            .map(|(_, s)| {
                let mut s = s.clone();
                if fib(&s) && s.pointer("/match/right") == Some(&json!("local")) {
                    s["match"]["right"] = json!(2);
                }
                s
            })
            .collect()
    }
}

/// Neighbour discovery ahead of the policy (see [`fwdsl_core::Builtin`]): one rule for
/// the four types, hop limit 255 only.
fn neighbour_discovery() -> NftRule {
    let types: Vec<u8> = fwdsl_core::NEIGHBOUR_DISCOVERY
        .iter()
        .map(|(t, _)| *t)
        .collect();
    NftRule {
        rule: None,
        expr: vec![
            matches(payload("icmpv6", "type"), json!({"set": types})),
            matches(payload("ip6", "hoplimit"), json!(fwdsl_core::ND_HOP_LIMIT)),
            counter(),
            json!({"accept": null}),
        ],
        comment: format!("{COMMENT_PREFIX}nd neighbour discovery"),
    }
}

/// The nft rules (statements and comment) of one rule's clauses: a log rule before the
/// verdict's where it logs; one pair per protocol. `marked`: the rule renders per
/// family, and says its family where nothing else in it does.
fn rules(c: &Clauses<'_>, marked: bool) -> Vec<(Vec<Value>, String)> {
    // The port a connection was opened to is matched one port or range a rule: nft
    // keeps no type for a set of `ct original proto-dst` values.
    let originals: Vec<&[PortRange]> = match c.original_dports {
        true => c.dports.chunks(1).collect(),
        false => vec![&[]],
    };
    let mut out = Vec::new();
    for original in originals {
        let one = Clauses {
            dports: match c.original_dports {
                true => original,
                false => c.dports,
            },
            ..c.clone()
        };
        out.extend(rules_of(&one, marked));
    }
    out
}

fn rules_of(c: &Clauses<'_>, marked: bool) -> Vec<(Vec<Value>, String)> {
    let comment = cut(&c.note);
    let mut out = Vec::new();
    for &proto in &c.protocols {
        let mut m = Vec::new();
        let implied = matches!(c.src, Addresses::Nets(_) | Addresses::Set(_))
            || matches!(c.dst, Addresses::Nets(_) | Addresses::Set(_))
            || c.icmp_type.is_some();
        if marked && !implied {
            m.push(nfproto(c.family));
        }
        m.extend(address(c.family, "saddr", &c.src));
        m.extend(address(c.family, "daddr", &c.dst));
        m.extend(interface("iifname", c.iface));
        m.extend(interface("oifname", c.oface));
        if c.local {
            let fib = json!({"fib": {"result": "type", "flags": ["daddr"]}});
            m.push(matches(fib, json!("local")));
        }
        m.extend(protocol(c, proto));
        m.extend(state(c.state));
        if let Some(rate) = c.log.map(|l| l.rate) {
            let mut logged = m.clone();
            logged.push(limit(rate));
            logged.push(json!({"log": {"prefix": c.log_prefix()}}));
            logged.push(counter());
            out.push((logged, comment.clone()));
        }
        if c.action == Action::Log {
            continue;
        }
        if let Some(rate) = c.limit {
            m.push(meter(c, rate));
        }
        m.push(counter());
        m.push(match c.nat {
            Some(nat) => translation(nat),
            None => verdict(c.action),
        });
        out.push((m, comment.clone()));
    }
    out
}

/// The comment, cut to what nft keeps.
pub(crate) fn cut(text: &str) -> String {
    let mut cut = text.len().min(MAX_COMMENT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_string()
}

/// A NAT statement's translation, as `nft -j list` prints it.
fn translation(nat: NatKind) -> Value {
    let family = |a: &std::net::IpAddr| match a {
        std::net::IpAddr::V4(_) => "ip",
        std::net::IpAddr::V6(_) => "ip6",
    };
    match nat {
        NatKind::Dnat { addr, port } => {
            let mut body = json!({"family": family(&addr), "addr": addr.to_string()});
            if let Some(port) = port {
                body["port"] = json!(port);
            }
            json!({ "dnat": body })
        }
        NatKind::Redirect { port } => json!({"redirect": {"port": port}}),
        NatKind::Masquerade => json!({"masquerade": null}),
        // fwdsl's statements end here for these packets (no later one translates them).
        NatKind::Exempt { .. } => json!({"return": null}),
        NatKind::Snat { addr } => {
            json!({"snat": {"family": family(&addr), "addr": addr.to_string()}})
        }
    }
}

fn matches(left: Value, right: Value) -> Value {
    json!({"match": {"op": "==", "left": left, "right": right}})
}

fn payload(protocol: &str, field: &str) -> Value {
    json!({"payload": {"protocol": protocol, "field": field}})
}

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn counter() -> Value {
    json!({"counter": null})
}

/// `meta nfproto ipv4` (2) or `ipv6` (10).
fn nfproto(family: Family) -> Value {
    matches(
        meta("nfproto"),
        json!(match family {
            Family::V4 => 2,
            Family::V6 => 10,
        }),
    )
}

/// A network as nft writes it: an address, or a prefix.
fn net(net: &IpNet) -> Value {
    match net.prefix_len() == net.max_prefix_len() {
        true => json!(net.addr().to_string()),
        false => json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}}),
    }
}

/// `ip saddr 10.0.0.0/8`, `ip saddr { … }`, `ip saddr @set`: one rule holds the whole
/// list. A list that covers its family whole (`0.0.0.0/0`) only says the family.
fn address(family: Family, field: &str, addresses: &Addresses<'_>) -> Vec<Value> {
    let protocol = match family {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    };
    match addresses {
        Addresses::Any => Vec::new(),
        Addresses::Set(name) => vec![matches(payload(protocol, field), json!(format!("@{name}")))],
        Addresses::Nets(nets) => match &IpNet::aggregate(&nets.to_vec())[..] {
            [all] if all.prefix_len() == 0 => vec![nfproto(family)],
            [one] => vec![matches(payload(protocol, field), net(one))],
            many => vec![matches(
                payload(protocol, field),
                json!({"set": many.iter().map(net).collect::<Vec<_>>()}),
            )],
        },
    }
}

/// `iifname "eth0"`; a `veth+` wildcard is nft's `veth*`.
fn interface(key: &str, name: Option<&str>) -> Vec<Value> {
    name.map(|n| {
        let n = n
            .strip_suffix('+')
            .map_or(n.to_string(), |p| format!("{p}*"));
        matches(meta(key), json!(n))
    })
    .into_iter()
    .collect()
}

/// Ports as nft writes them: a port, a range, or a set of both.
fn ports(ranges: &[PortRange]) -> Value {
    let one = |r: &PortRange| match r.first == r.last {
        true => json!(r.first),
        false => json!({"range": [r.first, r.last]}),
    };
    match ranges {
        [r] => one(r),
        many => json!({"set": many.iter().map(one).collect::<Vec<_>>()}),
    }
}

/// The protocol and what it carries: ports (`tcp dport 22`, which implies the
/// protocol), the ICMP type (`icmp type 8`), the ports the connection was opened to
/// (`ct original proto-dst`), or the protocol alone (`meta l4proto 47`).
fn protocol(c: &Clauses<'_>, proto: Option<Protocol>) -> Vec<Value> {
    let Some(proto) = proto else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let name = match proto {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp if c.family == Family::V4 => "icmp",
        Protocol::Icmp => "icmpv6",
        Protocol::Number(_) => "",
    };
    let header_ports = match c.original_dports {
        true => (c.sports, &[][..]),
        false => (c.sports, c.dports),
    };
    let payloads: Vec<Value> = match proto {
        Protocol::Tcp | Protocol::Udp => [("sport", header_ports.0), ("dport", header_ports.1)]
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(field, p)| matches(payload(name, field), ports(p)))
            .collect(),
        Protocol::Icmp => c
            .icmp_type
            .map(|t| matches(payload(name, "type"), json!(t)))
            .into_iter()
            .collect(),
        Protocol::Number(_) => Vec::new(),
    };
    if payloads.is_empty() {
        out.push(matches(meta("l4proto"), json!(proto.number(c.family))));
    }
    out.extend(payloads);
    if c.original_dports {
        out.push(matches(
            json!({"ct": {"key": "proto-dst", "dir": "original"}}),
            ports(c.dports),
        ));
    }
    out
}

/// `ct state new` (8), `established,related` (2, 4), `invalid` (1).
fn state(state: Option<ConnState>) -> Vec<Value> {
    state
        .map(|s| {
            let bits = match s {
                ConnState::New => json!(8),
                ConnState::Established => json!([2, 4]),
                ConnState::Invalid => json!(1),
            };
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": bits}})
        })
        .into_iter()
        .collect()
}

/// A rate as nft's `limit` counts it: a whole number per second, minute, hour or day.
fn limit(rate: Rate) -> Value {
    let (count, per) = per_unit(rate);
    json!({"limit": {"rate": count, "burst": rate.burst, "per": per}})
}

fn per_unit(rate: Rate) -> (u64, &'static str) {
    let text = rate
        .iptables()
        .expect("the parser takes only rates iptables can count");
    let (count, unit) = text.split_once('/').expect("N/unit");
    let per = match unit {
        "sec" => "second",
        "min" => "minute",
        "hour" => "hour",
        _ => "day",
    };
    (count.parse().expect("a whole number"), per)
}

/// The per-source limit: the packet's source is counted in the rule's meter set, and
/// the rule goes on only while that source is under the rate (`update @m { ip saddr
/// limit rate … }`); above it, the next rule decides, as with hashlimit.
fn meter(c: &Clauses<'_>, rate: Rate) -> Value {
    let protocol = match c.family {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    };
    json!({"set": {
        "op": "update",
        "elem": payload(protocol, "saddr"),
        "set": format!("@{}", meter_name(c.text, rate, c.family)),
        "stmt": [limit(rate)],
    }})
}

/// The meter set of a limited rule in one family: named after the rule and its rate, so
/// that re-applying the same rule keeps its counts (as hashlimit's table does).
pub(crate) fn meter_name(text: &str, rate: Rate, family: Family) -> String {
    let digit = match family {
        Family::V4 => 4,
        Family::V6 => 6,
    };
    format!(
        "fwdsl-m{digit}-{:08x}",
        fnv1a(format!("{text} {rate}")) as u32
    )
}

/// How long a source's bucket is kept without packets: once it could have refilled,
/// forgetting it changes nothing.
#[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
fn meter_timeout(rate: Rate) -> u64 {
    (rate.burst as u64 * rate.seconds as u64).div_ceil(rate.count.max(1) as u64) + 1
}

fn verdict(action: Action) -> Value {
    match action {
        Action::Allow => json!({"accept": null}),
        Action::Drop | Action::Log => json!({"drop": null}),
        // ICMP port unreachable (ICMPv6 on IPv6), as the iptables rendering answers.
        Action::Reject => json!({"reject": {"type": "icmpx", "expr": 1}}),
    }
}
