//! The reference VPS guide's rule list, written in the DSL, renders to the same matches
//! and targets as the guide's own iptables commands, and decides packets as they do.

use fwdsl::{Action, Family, Packet, Policy};
use std::collections::BTreeSet;
use tests::guide_policy;

/// The guide's INPUT rules, verbatim, in its order.
const GUIDE_COMMANDS: [&str; 9] = [
    "iptables -A INPUT -j ACCEPT -p tcp --dport 22",
    "iptables -A INPUT -j ACCEPT -p tcp --dport 80",
    "iptables -A INPUT -j ACCEPT -p tcp --dport 25",
    "iptables -A INPUT -j ACCEPT -p tcp -m tcp --sport 25",
    "iptables -A INPUT -p tcp -m tcp --sport 53 -j ACCEPT",
    "iptables -A INPUT -p udp -m udp --sport 53 -j ACCEPT",
    "iptables -A INPUT -j ACCEPT --source 127.0.0.1",
    "iptables -A INPUT -p icmp -j ACCEPT",
    "iptables -A INPUT -j DROP -p all",
];

/// The meaning of one iptables rule: its (option, value) pairs, with spellings that
/// mean the same thing made equal and what only annotates dropped.
fn meaning(args: &[String]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < args.len() {
        let (flag, value) = (
            args[i].as_str(),
            args.get(i + 1).cloned().unwrap_or_default(),
        );
        i += 2;
        match (flag, value.as_str()) {
            ("-A", _) => {}
            ("-m", "tcp" | "udp" | "comment") | ("-p", "all") => {}
            ("--comment", _) => {}
            ("--source" | "-s", v) => {
                out.insert(("-s".into(), v.trim_end_matches("/32").into()));
            }
            (f, v) => {
                out.insert((f.into(), v.into()));
            }
        }
    }
    out
}

/// The commands above are this test's own data (facts quoted from the reference VPS
/// guide, which lives outside this repository): no test reads anything outside it. To
/// check the quotes against a copy of the guide, name it: `FWDSL_GUIDE=path/to/guide.txt
/// cargo test -p tests --test guide`.
#[test]
fn the_guide_commands_are_quoted_from_the_guide() {
    let Some(path) = std::env::var_os("FWDSL_GUIDE") else {
        eprintln!("FWDSL_GUIDE is not set: the quotes stand alone");
        return;
    };
    let guide = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("FWDSL_GUIDE={}: {e}", path.to_string_lossy()));
    for command in GUIDE_COMMANDS {
        assert!(
            guide.contains(command),
            "the guide does not say `{command}`"
        );
    }
}

#[test]
fn guide_policy_renders_to_the_guides_matches_and_targets() {
    let rendered = guide_policy().iptables_rules(Family::V4);
    assert_eq!(rendered.len(), GUIDE_COMMANDS.len());
    for (ours, guide) in rendered.iter().zip(GUIDE_COMMANDS) {
        let guide_args: Vec<String> = guide.split(' ').skip(1).map(String::from).collect();
        assert_eq!(
            meaning(&ours.args),
            meaning(&guide_args),
            "`{}` vs `{guide}`",
            ours.to_command_line()
        );
    }
}

#[test]
fn guide_policy_on_ipv6_leaves_out_the_ipv4_loopback_rule() {
    let v6 = guide_policy().iptables_rules(Family::V6);
    let from_rules: Vec<usize> = v6.iter().filter_map(|r| r.rule).collect();
    assert_eq!(
        from_rules,
        vec![0, 1, 2, 3, 4, 5, 7, 8],
        "rule 6 (`allow src 127.0.0.1`) is IPv4 only"
    );
    assert!(v6.iter().any(|r| r.rule.is_none()
        && r.to_command_line().contains(
            "--icmpv6-type 135 -m hl --hl-eq 255 -m comment --comment \"fwdsl:nd neighbour-solicitation\""
        )));
    assert!(v6
        .iter()
        .any(|r| r.args.contains(&"ipv6-icmp".to_string()) && r.rule == Some(7)));
}

#[test]
fn guide_policy_decides_like_the_guide() {
    let policy = guide_policy();
    let outside = [198, 51, 100, 7];
    let cases = [
        (Packet::tcp(outside, 22), Action::Allow, 0),
        (Packet::tcp(outside, 80), Action::Allow, 1),
        (Packet::tcp(outside, 25), Action::Allow, 2),
        (Packet::tcp(outside, 3306), Action::Drop, 8),
        // The hole the guide leaves: anything sent from port 53 is let in.
        (Packet::udp(outside, 3306).sport(53), Action::Allow, 5),
        (Packet::tcp(outside, 6379).sport(25), Action::Allow, 3),
        (Packet::tcp([127, 0, 0, 1], 6379), Action::Allow, 6),
        (Packet::icmp(outside), Action::Allow, 7),
        (Packet::udp(outside, 161), Action::Drop, 8),
        (Packet::other(47, outside), Action::Drop, 8),
    ];
    for (packet, action, index) in cases {
        let decision = policy.decide(&packet);
        assert_eq!(
            (decision.action(), decision.index),
            (action, index),
            "{packet:?} decided by `{}`",
            decision.rule.text
        );
    }
}

#[test]
fn guide_policy_warns_about_its_source_port_and_loopback_rules_at_run_time_too() {
    let text = "allow tcp 22;\nallow tcp 80;\nallow tcp 25;\nallow tcp sport 25;\nallow tcp sport 53;\nallow udp sport 53;\nallow src 127.0.0.1;\nallow icmp;\ndrop all;\n";
    let parsed = Policy::parse(text).unwrap();
    let warned: Vec<Option<u32>> = parsed.warnings().iter().map(|w| w.line).collect();
    // Three rules trust a source port; `allow src 127.0.0.1` leaves `::1` dropped; the
    // guide has no `allow established;`, so `drop all` drops the host's own replies.
    assert_eq!(warned, vec![Some(4), Some(5), Some(6), Some(7), Some(9)]);
    assert!(
        parsed.warnings()[3].message.contains("IPv6 loopback"),
        "{:?}",
        parsed.warnings()[3]
    );
    assert_eq!(
        parsed.rules(),
        guide_policy()
            .rules()
            .iter()
            .zip(parsed.rules())
            .map(|(m, p)| fwdsl::Rule {
                line: p.line,
                ..m.clone()
            })
            .collect::<Vec<_>>()
            .as_slice()
    );
}
