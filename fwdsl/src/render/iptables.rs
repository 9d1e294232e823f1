//! The iptables rendering of [`Clauses`]: the arguments of one `iptables -A` per rendered
//! rule, written the way `iptables -S` prints them back, so that what is live compares
//! with what was meant string for string. A list expands here: a rule per network of a
//! short list, per 15 ports of a long port list (multiport's limit), and per
//! forwarded destination port (conntrack's original port takes one port or range).

use super::clauses::{Addresses, Clauses, Protocol};
use super::fnv1a;
use fwdsl_core::{Action, ConnState, Family, NatKind, PortRange, Rate};
use ipnet::IpNet;

/// iptables refuses comments longer than this.
const MAX_COMMENT: usize = fwdsl_core::IPTABLES_COMMENT_MAX;
/// iptables' multiport match takes at most 15 ports, a range counting as two.
const MULTIPORT_MAX: usize = 15;

/// Every `iptables -A` argument list one rule's clauses render to, in chain order.
pub(crate) fn rules(c: &Clauses<'_>) -> Vec<Vec<String>> {
    let srcs = address_choices(&c.src);
    let dsts = address_choices(&c.dst);
    // A forwarded packet's destination port is matched as the client sent it: one
    // original port or range per rule.
    let dport_groups: Vec<&[PortRange]> = match c.original_dports {
        true => c.dports.chunks(1).collect(),
        false => port_chunks(c.dports),
    };
    let mut out = Vec::new();
    for &proto in &c.protocols {
        for src in &srcs {
            for dst in &dsts {
                for sports in port_chunks(c.sports) {
                    for &dports in &dport_groups {
                        out.extend(one(c, proto, [src, dst], sports, dports));
                    }
                }
            }
        }
    }
    out
}

/// The rules (a `LOG` rule before the verdict's, where the rule logs) of one expansion.
fn one(
    c: &Clauses<'_>,
    proto: Option<Protocol>,
    [src, dst]: [&Option<Choice<'_>>; 2],
    sports: &[PortRange],
    dports: &[PortRange],
) -> Vec<Vec<String>> {
    let (dports, original) = match (c.original_dports, dports) {
        (true, [one]) => (&[][..], Some(one)),
        _ => (dports, None),
    };
    let mut args = Vec::new();
    args.extend(address("-s", src));
    args.extend(address("-d", dst));
    args.extend(interface("-i", c.iface));
    args.extend(interface("-o", c.oface));
    // `-m addrtype` where iptables prints it: after `-p`, before the protocol's match.
    let local = match c.local {
        true => strings(&["-m", "addrtype", "--dst-type", "LOCAL"]),
        false => Vec::new(),
    };
    if let Some(proto) = proto {
        let name = protocol_name(proto, c.family);
        args.extend(["-p".to_string(), name.clone()]);
        args.extend(local);
        args.extend(icmp_type(c.icmp_type, c.family));
        args.extend(ports(&name, sports, dports));
    } else {
        args.extend(local);
    }
    args.extend(set_match(src, "src"));
    args.extend(set_match(dst, "dst"));
    args.extend(conntrack(c.state, original));
    let mut out = Vec::new();
    if let Some(rate) = c.log.map(|l| l.rate) {
        let mut logged = args.clone();
        logged.extend(limit(rate));
        logged.extend(comment(&c.note));
        logged.extend(strings(&["-j", "LOG", "--log-prefix"]));
        logged.extend(c.log_prefix());
        out.push(logged);
    }
    if c.action == Action::Log {
        return out;
    }
    args.extend(
        c.limit
            .map(|rate| hashlimit(rate, c.text))
            .unwrap_or_default(),
    );
    args.extend(comment(&c.note));
    args.extend(match c.nat {
        Some(nat) => translation(nat),
        None => verdict(c.action, c.family),
    });
    out.push(args);
    out
}

/// How one address clause renders in one rule: a network, or a set.
enum Choice<'a> {
    Net(&'a IpNet),
    Set(&'a str),
}

/// One choice per rendered rule: any address (`None`), each network, or the set.
fn address_choices<'a>(addresses: &'a Addresses<'_>) -> Vec<Option<Choice<'a>>> {
    match addresses {
        Addresses::Any => vec![None],
        Addresses::Nets(nets) => nets.iter().map(|n| Some(Choice::Net(n))).collect(),
        Addresses::Set(name) => vec![Some(Choice::Set(name))],
    }
}

/// `-s NET` (`iptables -S` prints single hosts with their prefix, and leaves out
/// `0.0.0.0/0`, which matches every packet of the family).
fn address(flag: &str, choice: &Option<Choice<'_>>) -> Vec<String> {
    match choice {
        Some(Choice::Net(net)) if net.prefix_len() > 0 => vec![flag.into(), net.to_string()],
        _ => Vec::new(),
    }
}

/// `-m set --match-set NAME src`, after the protocol's matches as `iptables -S` has it.
fn set_match(choice: &Option<Choice<'_>>, direction: &str) -> Vec<String> {
    match choice {
        Some(Choice::Set(name)) => strings(&["-m", "set", "--match-set", name, direction]),
        _ => Vec::new(),
    }
}

fn interface(flag: &str, name: Option<&str>) -> Vec<String> {
    name.map(|n| vec![flag.to_string(), n.to_string()])
        .unwrap_or_default()
}

/// `-p` as `iptables -S` names protocols (`ipv6-icmp`, `gre`, or a number).
fn protocol_name(proto: Protocol, family: Family) -> String {
    match (proto, family) {
        (Protocol::Tcp, _) => "tcp".into(),
        (Protocol::Udp, _) => "udp".into(),
        (Protocol::Icmp, Family::V4) => "icmp".into(),
        (Protocol::Icmp, Family::V6) => "ipv6-icmp".into(),
        (Protocol::Number(n), _) => fwdsl_core::protocol_name(n),
    }
}

/// `--icmp-type N` (by number, as `iptables -S` prints it).
fn icmp_type(icmp_type: Option<u8>, family: Family) -> Vec<String> {
    let Some(t) = icmp_type else {
        return Vec::new();
    };
    let (module, flag) = match family {
        Family::V4 => ("icmp", "--icmp-type"),
        Family::V6 => ("icmp6", "--icmpv6-type"),
    };
    vec!["-m".into(), module.into(), flag.into(), t.to_string()]
}

/// The port matches: one `-m tcp --sport A --dport B` for a single pair (as `iptables
/// -S` prints it), else one per direction.
fn ports(proto: &str, sports: &[PortRange], dports: &[PortRange]) -> Vec<String> {
    if let ([s], [d]) = (sports, dports) {
        return vec![
            "-m".into(),
            proto.into(),
            "--sport".into(),
            port_text(s),
            "--dport".into(),
            port_text(d),
        ];
    }
    let mut out = port_match(proto, "sport", sports);
    out.extend(port_match(proto, "dport", dports));
    out
}

fn port_match(proto: &str, flag: &str, ports: &[PortRange]) -> Vec<String> {
    match ports {
        [] => Vec::new(),
        [one] => vec![
            "-m".into(),
            proto.into(),
            format!("--{flag}"),
            port_text(one),
        ],
        many => vec![
            "-m".into(),
            "multiport".into(),
            format!("--{flag}s"),
            many.iter().map(port_text).collect::<Vec<_>>().join(","),
        ],
    }
}

fn port_text(r: &PortRange) -> String {
    if r.first == r.last {
        r.first.to_string()
    } else {
        format!("{}:{}", r.first, r.last)
    }
}

/// Splits a port list into groups that fit one multiport match each.
fn port_chunks(ranges: &[PortRange]) -> Vec<&[PortRange]> {
    if ranges.is_empty() {
        return vec![ranges];
    }
    let mut chunks = Vec::new();
    let (mut start, mut weight) = (0, 0);
    for (i, r) in ranges.iter().enumerate() {
        let w = if r.first == r.last { 1 } else { 2 };
        if weight + w > MULTIPORT_MAX {
            chunks.push(&ranges[start..i]);
            start = i;
            weight = 0;
        }
        weight += w;
    }
    chunks.push(&ranges[start..]);
    chunks
}

/// `-m conntrack --ctstate … --ctorigdstport …`.
fn conntrack(state: Option<ConnState>, original: Option<&PortRange>) -> Vec<String> {
    if state.is_none() && original.is_none() {
        return Vec::new();
    }
    let mut out = strings(&["-m", "conntrack"]);
    if let Some(state) = state {
        out.extend(strings(&["--ctstate", state.ctstate()]));
    }
    if let Some(port) = original {
        out.extend(["--ctorigdstport".into(), port_text(port)]);
    }
    out
}

/// `-m limit` for logging, as `iptables -S` prints it (the burst only when not 5).
fn limit(rate: Rate) -> Vec<String> {
    let mut args = strings(&["-m", "limit", "--limit"]);
    args.push(
        rate.iptables()
            .expect("the parser takes only rates iptables can count"),
    );
    if rate.burst != 5 {
        args.extend(["--limit-burst".to_string(), rate.burst.to_string()]);
    }
    args
}

/// `-m hashlimit` for a per-source connection limit: one bucket per source address,
/// in a table named after the rule (so that re-applying the same rule keeps its
/// counts).
fn hashlimit(rate: Rate, text: &str) -> Vec<String> {
    let mut args = strings(&["-m", "hashlimit", "--hashlimit-upto"]);
    args.push(
        rate.iptables()
            .expect("the parser takes only rates iptables can count"),
    );
    args.extend(["--hashlimit-burst".to_string(), rate.burst.to_string()]);
    args.extend(strings(&["--hashlimit-mode", "srcip", "--hashlimit-name"]));
    args.push(format!(
        "fwdsl-{:08x}",
        fnv1a(format!("{text} {rate}")) as u32
    ));
    args
}

/// `-m comment --comment TEXT`, cut to what iptables keeps.
pub(super) fn comment(text: &str) -> Vec<String> {
    let mut cut = text.len().min(MAX_COMMENT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    vec![
        "-m".into(),
        "comment".into(),
        "--comment".into(),
        text[..cut].to_string(),
    ]
}

/// `-j TARGET`, and how a reject answers.
fn verdict(action: Action, family: Family) -> Vec<String> {
    let mut out = vec!["-j".to_string(), action.target().to_string()];
    if action == Action::Reject {
        let with = match family {
            Family::V4 => "icmp-port-unreachable",
            Family::V6 => "icmp6-port-unreachable",
        };
        out.extend(["--reject-with".to_string(), with.to_string()]);
    }
    out
}

/// A NAT statement's target, as `iptables -t nat -S` prints it.
fn translation(nat: NatKind) -> Vec<String> {
    let to = |addr: std::net::IpAddr, port: Option<u16>| match (addr, port) {
        (std::net::IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    };
    match nat {
        NatKind::Dnat { addr, port } => vec![
            "-j".into(),
            "DNAT".into(),
            "--to-destination".into(),
            to(addr, port),
        ],
        NatKind::Redirect { port } => vec![
            "-j".into(),
            "REDIRECT".into(),
            "--to-ports".into(),
            port.to_string(),
        ],
        NatKind::Masquerade => strings(&["-j", "MASQUERADE"]),
        // fwdsl's statements end here for these packets (no later one translates them).
        NatKind::Exempt { .. } => strings(&["-j", "RETURN"]),
        NatKind::Snat { addr } => vec![
            "-j".into(),
            "SNAT".into(),
            "--to-source".into(),
            to(addr, None),
        ],
    }
}

pub(super) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}
