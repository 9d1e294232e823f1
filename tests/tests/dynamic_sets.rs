//! Dynamic sets in the language and the model: `set banned dynamic;`, used as `src
//! $banned`, rendered to one ipset per family, decided as empty unless told otherwise,
//! and warned about where a ban could reach the operator's network.

use fwdsl::{Action, Family, Packet, Policy};

use tests::policy_errors as errors;

#[test]
fn a_dynamic_set_renders_to_one_ipset_per_family_created_empty() {
    let policy =
        Policy::parse("set banned dynamic;\ndrop src $banned;\nallow out dst $banned;\nallow ssh;\ndrop all;\nallow out established;\ndrop out all;\n")
            .unwrap();
    assert_eq!(policy.dynamic_sets(), ["banned"]);
    assert_eq!(policy.rules()[0].text, "drop src $banned");
    let v4: Vec<String> = policy
        .iptables_rules(Family::V4)
        .iter()
        .map(|r| r.to_command_line())
        .collect();
    assert_eq!(
        v4[0],
        "-m set --match-set fwdsl-d4-banned src -m comment --comment \"fwdsl:1 drop src $banned\" -j DROP"
    );
    let v6 = policy.iptables_rules(Family::V6);
    assert!(v6
        .iter()
        .any(|r| r.args.contains(&"fwdsl-d6-banned".to_string())));
    for family in [Family::V4, Family::V6] {
        let sets: Vec<fwdsl::IpSet> = policy
            .ipsets(family)
            .into_iter()
            .filter(|s| s.dynamic)
            .collect();
        assert_eq!(sets.len(), 1, "{family:?}: one set for both rules");
        let restore = sets[0].to_restore();
        assert_eq!(
            restore.lines().count(),
            1,
            "created, never filled by an apply: {restore}"
        );
        assert!(restore.contains(&format!("maxelem {}", fwdsl::DYNAMIC_SET_MAX)));
    }
}

#[test]
fn decide_takes_the_sets_as_empty_and_decide_with_as_told() {
    let policy = fwdsl::firewall! { set banned dynamic; drop src $banned; allow tcp 22; allow tcp 80; drop all; };
    let web = Packet::tcp([203, 0, 113, 9], 80);
    assert_eq!(policy.decide(&web).action(), Action::Allow);
    let listed = |set: &str, address: std::net::IpAddr| set == "banned" && address == web.src;
    let decided = policy.decide_with(&web, &listed).unwrap();
    assert_eq!((decided.index, decided.action()), (0, Action::Drop));
    let other = Packet::tcp([203, 0, 113, 10], 80);
    assert_eq!(policy.decide_with(&other, &listed).unwrap().index, 2);
}

#[test]
fn a_rule_on_a_dynamic_set_hides_nothing_and_is_hidden_like_any_rule() {
    // The set may be empty: `allow tcp 80` after a ban is still reached.
    assert!(Policy::parse(
        "set banned dynamic;\ndrop src $banned;\nallow ssh;\nallow tcp 80;\ndrop all;"
    )
    .is_ok());
    // An earlier rule that takes every packet hides the ban, whatever its members.
    let hidden = errors("set banned dynamic;\nallow ssh;\ndrop tcp 22 src $banned;\ndrop all;");
    assert!(
        hidden[0]
            .contains("line 3, column 1: error: rule `drop tcp 22 src $banned` is never reached"),
        "{hidden:?}"
    );
}

#[test]
fn a_ban_that_could_reach_the_operator_network_is_a_warning_with_the_exemption() {
    let text = "ssh 22 from 10.0.0.0/8;\nset banned dynamic;\ndrop src $banned;\nallow tcp 22 src 10.0.0.0/8;\ndrop all;";
    let policy = Policy::parse(text).unwrap();
    let warning = &policy.warnings()[0];
    assert_eq!(warning.line, Some(3));
    assert!(
        warning.message.contains(
            "would lock the operator out if an address of 10.0.0.0/8 were added to `banned`"
        ),
        "{}",
        warning.message
    );
    assert!(
        warning
            .to_string()
            .contains("put `allow tcp 22 src 10.0.0.0/8;` before line 3"),
        "{warning}"
    );
    // Exempted: no warning.
    let exempt = "ssh 22 from 10.0.0.0/8;\nset banned dynamic;\nallow tcp 22 src 10.0.0.0/8;\ndrop src $banned;\nallow tcp 80;\nallow established;\ndrop all;";
    assert!(Policy::parse(exempt).unwrap().warnings().is_empty());
    // Without a declared operator network, banning SSH clients is the set's purpose.
    assert!(Policy::parse(
        "set banned dynamic;\ndrop src $banned;\nallow ssh;\nallow established;\ndrop all;"
    )
    .unwrap()
    .warnings()
    .is_empty());
}

#[test]
fn misuses_of_a_dynamic_set_are_errors_at_the_use() {
    let in_list =
        errors("set banned dynamic;\nset more = $banned;\ndrop src $more;\nallow ssh;\ndrop all;");
    assert!(
        in_list[0].contains(
            "line 2, column 12: error: a dynamic set's members are known only at run time"
        ),
        "{in_list:?}"
    );
    let long = errors("set banned_by_the_intrusion_detector dynamic;\ndrop src $banned_by_the_intrusion_detector;\nallow ssh;\ndrop all;");
    assert!(long[0].contains("longer than 22 bytes"), "{long:?}");
    let unused = Policy::parse("set banned dynamic;\nallow ssh;\ndrop all;").unwrap();
    assert!(unused.warnings()[0]
        .message
        .contains("`banned` is defined but never used"));
    let twice =
        errors("set banned dynamic;\ndrop src $banned src 10.0.0.1;\nallow ssh;\ndrop all;");
    assert!(
        twice[0].contains("source address is given twice"),
        "{twice:?}"
    );
}

#[test]
fn lifetimes_are_declared_and_checked() {
    let policy = Policy::parse(
        "set banned dynamic timeout 1h max 30d;\nset kept dynamic;\nallow established;\ndrop src $banned;\ndrop src $kept;\nallow ssh;\ndrop all;",
    )
    .unwrap();
    let banned = policy.dynamic_set("banned").unwrap();
    assert_eq!(
        (banned.timeout, banned.max),
        (Some(3600), Some(30 * 86_400))
    );
    let kept = policy.dynamic_set("kept").unwrap();
    assert_eq!((kept.timeout, kept.max), (None, None));
    // The macro says the same.
    let macro_policy = fwdsl::firewall! {
        set banned dynamic timeout 1h max 30d; set kept dynamic; allow established;
        drop src $banned; drop src $kept; allow ssh; drop all;
    };
    assert_eq!(
        macro_policy.dynamic_set("banned"),
        policy.dynamic_set("banned")
    );
    for (text, expected) in [
        (
            "timeout 2d max 1d",
            "the default lifetime (2d) is longer than `max` (1d)",
        ),
        (
            "timeout 0",
            "a `timeout` of 0 would make members expire at once",
        ),
        ("timeout 1y", "the unit is s, m, h, d or w"),
        ("timeout 3651d", "longer than ten years"),
        ("forever", "expected `timeout` or `max` after `dynamic`"),
        ("timeout 1h timeout 2h", "`timeout` is given twice"),
        ("max", "expected a duration after `max`"),
    ] {
        let e = errors(&format!(
            "set banned dynamic {text};\ndrop src $banned;\nallow ssh;\ndrop all;"
        ));
        assert!(e.iter().any(|e| e.contains(expected)), "{text}: {e:?}");
    }
}
