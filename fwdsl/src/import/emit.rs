//! Flattened rules written in the policy language, one statement a line, each after a
//! `# from FILE:LINE (CHAIN)` note of where it comes from.

use super::flatten::Flat;
use fwdsl_core::{Action, ConnState, Direction, Family, Matches, ProtoSet, ICMP_TYPES};
use ipnet::IpNet;

fn net(n: &IpNet) -> String {
    let text = match n.prefix_len() == n.max_prefix_len() {
        true => n.addr().to_string(),
        false => n.to_string(),
    };
    match n {
        // Quoted: a policy file reads IPv6 either way, a `firewall!` only quoted.
        IpNet::V6(_) => format!("\"{text}\""),
        IpNet::V4(_) => text,
    }
}

fn nets(word: &str, list: &[IpNet]) -> Option<String> {
    match list {
        [] => None,
        [one] => Some(format!("{word} {}", net(one))),
        many => Some(format!(
            "{word} [{}]",
            many.iter().map(net).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn ports(list: &[fwdsl_core::PortRange]) -> String {
    list.iter()
        .map(|p| match p.first == p.last {
            true => p.first.to_string(),
            false => format!("{}-{}", p.first, p.last),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn iface(name: &str) -> String {
    match name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        true => name.to_string(),
        false => format!("\"{name}\""),
    }
}

/// The match as the language writes it (`tcp 80, 443 src 10.0.0.0/8 in eth0`), `all`
/// for every packet.
pub(crate) fn matches(m: &Matches) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(state) = m.state {
        parts.push(
            match state {
                ConnState::New => "new",
                ConnState::Established => "established",
                ConnState::Invalid => "invalid",
            }
            .into(),
        );
    }
    let proto = match m.protocols {
        p if p == ProtoSet::TCP => Some("tcp"),
        p if p == ProtoSet::UDP => Some("udp"),
        _ => None,
    };
    match (proto, m.protocols) {
        (Some(name), _) if m.dports.is_empty() => parts.push(name.into()),
        (Some(name), _) => parts.push(format!("{name} {}", ports(&m.dports))),
        (None, p) if p == ProtoSet::ICMP => match m.icmp_type {
            None => parts.push("icmp".into()),
            Some(t) => {
                let named = ICMP_TYPES.iter().find(|(_, v4, v6)| {
                    t.v4.is_some_and(|n| Some(n) == *v4) || t.v6.is_some_and(|n| Some(n) == *v6)
                });
                match (named, t.v4) {
                    (Some((name, _, _)), _) => parts.push(format!("icmp {name}")),
                    (None, Some(n)) => parts.push(format!("icmp {n}")),
                    (None, None) => parts.push("icmp".into()),
                }
            }
        },
        (None, p) if p == ProtoSet::OTHER => {
            if let Some(n) = m.protocol {
                parts.push(format!("proto {n}"));
            }
        }
        _ => {}
    }
    if !m.sports.is_empty() {
        parts.push(format!("sport {}", ports(&m.sports)));
    }
    parts.extend(nets("src", &m.src));
    parts.extend(nets("dst", &m.dst));
    if let Some(i) = &m.iface {
        parts.push(format!("in {}", iface(i)));
    }
    if let Some(o) = &m.oface {
        parts.push(format!("via {}", iface(o)));
    }
    match parts.is_empty() {
        true => "all".into(),
        false => parts.join(" "),
    }
}

/// A comment the language keeps: no quotes or backslashes, at most 200 bytes.
fn comment(text: &str) -> String {
    let mut clean: String = text.chars().filter(|c| *c != '"' && *c != '\\').collect();
    while clean.len() > 200 {
        clean.pop();
    }
    clean
}

/// Where `flat` of `file` comes from: `rules.v4:12 (INPUT)`, or `rules.v4: the policy of
/// INPUT`.
pub(crate) fn origin(flat: &Flat, file: &str) -> String {
    match flat.line {
        Some(line) => format!("{file}:{line} ({})", flat.chain),
        None => format!("{file}: the policy of {}", flat.chain),
    }
}

/// One statement for `flat` of `direction`, after its provenance note (`from`).
pub(crate) fn statement(flat: &Flat, direction: Direction, from: &str) -> String {
    let from = format!("# from {from}\n");
    let verb = match flat.action {
        Action::Allow => "allow",
        Action::Drop => "drop",
        Action::Reject => "reject",
        Action::Log => "log",
    };
    let mut text = verb.to_string();
    if !direction.keyword().is_empty() {
        text.push(' ');
        text.push_str(direction.keyword());
    }
    let what = matches(&flat.matches);
    // A log rule with no match logs everything: `log` alone says it.
    if !(flat.action == Action::Log && what == "all") {
        text.push(' ');
        text.push_str(&what);
    }
    if let Some(prefix) = &flat.log_prefix {
        text.push_str(&format!(" prefix \"{}\"", comment(prefix.trim())));
    }
    if let Some(c) = flat
        .comment
        .as_deref()
        .map(comment)
        .filter(|c| !c.is_empty())
    {
        text.push_str(&format!(" comment \"{c}\""));
    }
    format!("{from}{text};\n")
}

/// `src 0.0.0.0/0` (or `::/0`) where a rule names no address: what keeps a rule of one
/// family's file to that family when both files are imported into one policy.
pub(crate) fn only(m: &Matches, family: Family) -> Matches {
    if !m.src.is_empty() || !m.dst.is_empty() {
        return m.clone();
    }
    let any: IpNet = match family {
        Family::V4 => "0.0.0.0/0".parse().expect("a network"),
        Family::V6 => "::/0".parse().expect("a network"),
    };
    Matches {
        src: vec![any].into(),
        ..m.clone()
    }
}

/// One NAT statement for `flat` (`dnat tcp 8080 in eth0 to 10.0.0.5:80;`), after its
/// provenance note.
pub(crate) fn nat_statement(flat: &Flat, kind: fwdsl_core::NatKind, file: &str) -> String {
    let from = match flat.line {
        Some(line) => format!("# from {file}:{line} (nat {})\n", flat.chain),
        None => String::new(),
    };
    let what = matches(&flat.matches);
    let mut text = kind.keyword().to_string();
    if flat.path.local {
        text.push_str(" local");
    }
    if what != "all" {
        text.push(' ');
        text.push_str(&what);
    }
    let target = kind.to_string();
    if !target.is_empty() {
        // IPv6 with a port is bracketed (`[2001:db8::5]:80`): quoted for the language.
        match target.contains('[') || target.matches(':').count() > 1 {
            true => text.push_str(&format!(" to \"{target}\"")),
            false => text.push_str(&format!(" to {target}")),
        }
    }
    format!("{from}{text};\n")
}
