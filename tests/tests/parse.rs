//! `Policy::parse`: the runtime front end gives the macro's errors, with line and column.

use fwdsl::Policy;

use tests::policy_errors as errors;

#[test]
fn reports_every_error_with_line_and_column() {
    let found =
        errors("allow ssh;\nallow tcp 0;\nallow src 10.0.0.1/8;\nallow postgres;\ndrop all;\n");
    assert_eq!(found.len(), 3);
    assert!(
        found[0].starts_with("line 2, column 11: error: port 0 is not a valid port"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("line 3, column 11: error: `10.0.0.1/8` has host bits set"),
        "{}",
        found[1]
    );
    assert!(
        found[2].contains("line 4, column 7: error: unknown service or match `postgres`"),
        "{}",
        found[2]
    );
    assert!(found[2].contains("help: did you mean `postgresql`?"));
}

#[test]
fn reports_shadowing_ordering_and_lockout_like_the_macro() {
    let shadowed = errors("allow ssh;\ndrop tcp 1-1024;\nallow tcp 80;\ndrop all;");
    assert_eq!(shadowed, ["line 3, column 1: error: rule `allow tcp 80` is never reached: `drop tcp 1-1024` on line 2 already drops every packet it matches\n  help: move it above line 2, or remove it"]);
    let after = errors("allow ssh;\ndrop all;\nallow tcp 80;");
    assert!(after[0].contains("line 3, column 1: error: rule `allow tcp 80` is never reached: the catch-all `drop all` on line 2"));
    let locked = errors("allow tcp 80;\ndrop all;");
    assert!(
        locked[0].contains("line 2, column 1: error: rule `drop all` would lock the operator out")
    );
}

#[test]
fn reads_files_with_comments_and_unquoted_ipv6() {
    let policy = Policy::parse(
        "# web server\nssh 22 from 2001:db8::/32;\nallow tcp 22 src 2001:db8::/32; // operators\nallow https;\nallow src 2001:db8:1e::1;\ndrop all;\n",
    )
    .unwrap();
    assert_eq!(policy.rules().len(), 4);
    assert_eq!(policy.rules()[2].line, 5);
    assert_eq!(policy.access().to_string(), "ssh 22 from 2001:db8::/32");
}

#[test]
fn lexer_errors_have_a_place_too() {
    let found = errors("allow ssh;\nallow src \"10.0.0.1;\n");
    assert_eq!(
        found,
        ["line 2, column 11: error: string is not closed before the end of the line"]
    );
}

#[test]
fn long_address_lists_render_to_one_ipset_match() {
    let hosts: Vec<String> = (1..=20).map(|i| format!("198.51.100.{i}")).collect();
    let text = format!("drop src [{}];\nallow ssh;\ndrop all;\n", hosts.join(", "));
    let policy = Policy::parse(&text).unwrap();
    assert_eq!(
        policy.rules()[0].text,
        "drop src [198.51.100.1, 198.51.100.2, 198.51.100.3, … 17 more]"
    );
    let sets = policy.ipsets(fwdsl::Family::V4);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].members.len(), 20);
    let rules = policy.iptables_rules(fwdsl::Family::V4);
    assert_eq!(rules[0].to_command_line(), format!("-m set --match-set {} src -m comment --comment \"fwdsl:1 drop src [198.51.100.1, 198.51.100.2, 198.51.100.3, … 17 more]\" -j DROP", sets[0].name));
    assert!(
        policy.ipsets(fwdsl::Family::V6).is_empty(),
        "an IPv4 list has no IPv6 side"
    );
    // Named after the contents: the same members in another order give the same set.
    let mut reversed = hosts.clone();
    reversed.reverse();
    let again = Policy::parse(&format!(
        "drop src [{}];\nallow ssh;\ndrop all;\n",
        reversed.join(", ")
    ))
    .unwrap();
    assert_eq!(again.ipsets(fwdsl::Family::V4)[0].name, sets[0].name);
}

#[test]
fn a_list_covering_a_later_rule_shadows_it() {
    let found = errors(
        "allow ssh;\ndrop src [10.0.0.0/9, 10.128.0.0/9];\nallow tcp 80 src 10.1.2.3;\ndrop all;\n",
    );
    assert!(found[0].contains("line 3, column 1: error: rule `allow tcp 80 src 10.1.2.3` is never reached: `drop src [10.0.0.0/9, 10.128.0.0/9]` on line 2"), "{found:?}");
}

#[test]
fn interface_names_that_read_as_something_else_are_refused() {
    for name in ["-j", "--dport", "ACCEPT", ".", "..", "eth0/1"] {
        let found = errors(&format!("allow ssh;\nallow in \"{name}\";\ndrop all;\n"));
        assert!(
            found[0].contains(&format!("`{name}` is not a valid interface name")),
            "{name}: {found:?}"
        );
    }
    assert!(Policy::parse("allow ssh;\nallow in \"br-1a2b.100\";\ndrop all;\n").is_ok());
}

#[test]
fn comments_that_would_make_the_listing_lie_are_refused() {
    for c in ['\u{202E}', '\u{200B}', '\u{2028}', '\u{FEFF}'] {
        let found = errors(&format!(
            "allow ssh;\nallow tcp 80 comment \"web{c}site\";\ndrop all;\n"
        ));
        assert!(
            found[0].contains(&format!("U+{:04X}", c as u32)),
            "{c:?}: {found:?}"
        );
    }
    assert!(
        Policy::parse("allow ssh;\nallow tcp 80 comment \"für die Webseite\";\ndrop all;\n")
            .is_ok()
    );
}

#[test]
fn a_comment_that_would_be_cut_is_an_error() {
    let ports: Vec<String> = (0..40).map(|i| (10000 + 3 * i).to_string()).collect();
    let comment = "x".repeat(100);
    let found = errors(&format!(
        "allow ssh;\nallow tcp {} comment \"{comment}\";\ndrop all;\n",
        ports.join(", ")
    ));
    assert!(
        found[0].contains("line 2, column 1: error: the comment would be cut"),
        "{found:?}"
    );
    // The same rule without a comment is fine: only fwdsl's own text is shortened.
    assert!(Policy::parse(&format!(
        "allow ssh;\nallow tcp {};\ndrop all;\n",
        ports.join(", ")
    ))
    .is_ok());
}

#[test]
fn lists_that_multiply_past_the_bound_are_refused_at_once() {
    let list = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(", ");
    let n = 40;
    let text = format!(
        "allow ssh;\nallow tcp {} sport {} src [{}] dst [{}];\ndrop all;\n",
        list(n, &|i| (1000 + 2 * i).to_string()),
        list(n, &|i| (3000 + 2 * i).to_string()),
        list(n, &|i| format!("10.1.0.{}", 2 * i)),
        list(n, &|i| format!("10.2.0.{}", 2 * i)),
    );
    let start = std::time::Instant::now();
    let found = errors(&text);
    assert!(
        found[0].contains(
            "40 destination ports × 40 source ports × 40 sources × 40 destinations = 2560000"
        ),
        "{found:?}"
    );
    // Refused before any expansion (it took 13 s and 5.7 GB when it was expanded).
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn lines_end_at_cr_lf_or_a_lone_cr() {
    for eol in ["\r", "\r\n", "\n"] {
        let text = ["allow ssh;", "allow tcp 0;", "drop all;", ""].join(eol);
        let found = errors(&text);
        assert!(
            found[0].starts_with("line 2, column 11:"),
            "{eol:?}: {found:?}"
        );
    }
}

#[test]
fn icmp_types_by_name_render_per_family_and_numbers_are_ipv4() {
    use fwdsl::{Action, Family, Packet};
    let policy = Policy::parse(
        "allow ssh;\nallow icmp echo-request;\nallow icmp 13;\nallow icmp packet-too-big;\ndrop all;\n",
    )
    .unwrap();
    let v4: Vec<String> = tests::command_lines(&policy, Family::V4);
    let v6: Vec<String> = tests::command_lines(&policy, Family::V6);
    assert!(
        v4.iter()
            .any(|r| r.starts_with("-p icmp -m icmp --icmp-type 8 ")),
        "{v4:?}"
    );
    assert!(
        v4.iter()
            .any(|r| r.starts_with("-p icmp -m icmp --icmp-type 13 ")),
        "{v4:?}"
    );
    assert!(
        v6.iter()
            .any(|r| r.starts_with("-p ipv6-icmp -m icmp6 --icmpv6-type 128 ")),
        "{v6:?}"
    );
    assert!(
        v6.iter()
            .any(|r| r.starts_with("-p ipv6-icmp -m icmp6 --icmpv6-type 2 ")),
        "{v6:?}"
    );
    assert!(
        !v6.iter().any(|r| r.contains("fwdsl:3")),
        "`icmp 13` is IPv4 only: {v6:?}"
    );
    let ping = Packet::icmp([198, 51, 100, 7]);
    assert_eq!(policy.decide(&ping).index, 1);
    assert_eq!(
        policy.decide(&ping.clone().icmp_type(0)).action(),
        Action::Drop
    );
    assert_eq!(
        policy.decide(&Packet::icmp([0u16; 8]).icmp_type(128)).index,
        1
    );
    let found = errors("allow ssh;\nallow icmp echo-requst;\ndrop all;\n");
    assert!(
        found[0].contains("unknown ICMP type `echo-requst`"),
        "{found:?}"
    );
    let found = errors("allow ssh;\nallow icmp 13 src \"2001:db8::1\";\ndrop all;\n");
    assert!(found[0].contains("does not exist in V6"), "{found:?}");
}

#[test]
fn connection_states_new_and_invalid() {
    use fwdsl::{Action, Packet};
    let policy =
        Policy::parse("drop invalid;\nallow new tcp 22;\nallow established;\ndrop all;\n").unwrap();
    let ssh = Packet::tcp([198, 51, 100, 7], 22);
    assert_eq!(policy.decide(&ssh).index, 1);
    assert_eq!(policy.decide(&ssh.clone().invalid()).index, 0);
    assert_eq!(policy.decide(&ssh.clone().established()).index, 2);
    assert_eq!(policy.decide(&ssh.invalid()).action(), Action::Drop);
    let rules: Vec<String> = tests::command_lines(&policy, fwdsl::Family::V4);
    assert!(
        rules[0].starts_with("-m conntrack --ctstate INVALID "),
        "{rules:?}"
    );
    assert!(
        rules[1].contains("-m conntrack --ctstate NEW "),
        "{rules:?}"
    );
}

#[test]
fn services_of_the_guide_servers_and_the_policy_itself() {
    use fwdsl::{Action, Packet};
    let policy = Policy::parse(
        "service app = tcp 8000-8010, udp 9000;\nallow ssh;\nallow www;\nallow ntp;\nallow submission;\nallow app;\ndrop all;\n",
    )
    .unwrap();
    let client = [198, 51, 100, 7];
    for (packet, index) in [
        (Packet::tcp(client, 80), 1),
        (Packet::udp(client, 123), 2),
        (Packet::tcp(client, 587), 3),
        (Packet::tcp(client, 8005), 4),
        (Packet::udp(client, 9000), 5),
    ] {
        let d = policy.decide(&packet);
        assert_eq!((d.action(), d.index), (Action::Allow, index), "{packet:?}");
    }
    assert_eq!(
        policy.decide(&Packet::udp(client, 8005)).action(),
        Action::Drop
    );
    assert_eq!(policy.rules()[4].text, "allow app");
    let found = errors("service http = tcp 81;\nallow ssh;\ndrop all;\n");
    assert!(
        found[0].contains("service `http` exists already"),
        "{found:?}"
    );
}

#[test]
fn other_protocols_by_name_or_number() {
    use fwdsl::{Action, Family, Packet};
    let policy =
        Policy::parse("allow ssh;\nallow proto esp;\nallow proto 47;\ndrop all;\n").unwrap();
    let rules: Vec<String> = tests::command_lines(&policy, Family::V4);
    assert!(rules[1].starts_with("-p esp "), "{rules:?}");
    assert!(rules[2].starts_with("-p gre "), "{rules:?}");
    assert_eq!(policy.rules()[2].text, "allow proto gre");
    let peer = [198, 51, 100, 7];
    assert_eq!(policy.decide(&Packet::other(50, peer)).index, 1);
    assert_eq!(policy.decide(&Packet::other(47, peer)).index, 2);
    assert_eq!(
        policy.decide(&Packet::other(51, peer)).action(),
        Action::Drop
    );
    let found = errors("allow ssh;\nallow proto 6;\ndrop all;\n");
    assert!(found[0].contains("write `tcp`"), "{found:?}");
}

#[test]
fn interface_wildcards_match_every_name_they_start() {
    use fwdsl::{Action, Packet};
    let policy =
        Policy::parse("allow ssh;\nallow in \"veth+\";\nallow in eth0 tcp 80;\ndrop all;\n")
            .unwrap();
    let client = [198, 51, 100, 7];
    assert_eq!(
        policy
            .decide(&Packet::udp(client, 53).iface("veth3a"))
            .index,
        1
    );
    assert_eq!(
        policy.decide(&Packet::udp(client, 53).iface("veth")).index,
        1
    );
    assert_eq!(
        policy
            .decide(&Packet::udp(client, 53).iface("eth0"))
            .action(),
        Action::Drop
    );
    let rules: Vec<String> = tests::command_lines(&policy, fwdsl::Family::V4);
    assert!(rules[1].starts_with("-i veth+ "), "{rules:?}");
    // A wildcard before a name it covers hides it.
    let hidden =
        Policy::parse("allow ssh;\nallow in \"eth+\";\nallow in eth0 tcp 80;\ndrop all;\n")
            .unwrap();
    let warning = &hidden.warnings()[0];
    assert_eq!(warning.line, Some(3));
    assert!(
        warning.message.contains("redundant: `allow in eth+`"),
        "{warning:?}"
    );
    let found = errors("allow ssh;\nallow in \"l+\";\ndrop all;\n");
    assert!(found[0].contains("matches `lo`"), "{found:?}");
}

#[test]
fn an_ipv4_only_loopback_rule_is_warned_about() {
    let warned = Policy::parse("allow ssh;\nallow src 127.0.0.1;\ndrop all;\n").unwrap();
    assert!(
        warned.warnings()[0].message.contains("IPv6 loopback"),
        "{:?}",
        warned.warnings()
    );
    let fine = Policy::parse(
        "allow ssh;\nallow src 127.0.0.1;\nallow src ::1;\nallow established;\ndrop all;\n",
    )
    .unwrap();
    assert!(fine.warnings().is_empty(), "{:?}", fine.warnings());
}

#[test]
fn a_missing_semicolon_is_reported_where_it_is_missing() {
    let found = errors("allow ssh;\nallow tcp 22\nallow htps;\ndrop all;\n");
    assert!(
        found[0].starts_with("line 2, column 11: error: expected `;` at the end of this rule"),
        "{found:?}"
    );
    // The next line is parsed on its own: its typo is still found.
    assert!(
        found[1].contains("line 3") && found[1].contains("did you mean `https`?"),
        "{found:?}"
    );
}

#[test]
fn ssh_for_an_admin_network_suggests_declaring_it_before_opening_ssh() {
    let found = errors("allow ssh src 10.0.0.0/8;\ndrop all;\n");
    assert!(
        found[0].contains("declare it: `ssh 22 from 10.0.0.0/8;`"),
        "{found:?}"
    );
    let help = found[0].split("help: ").nth(1).unwrap();
    assert!(
        help.find("ssh 22 from") < help.find("allow tcp 22;"),
        "{help}"
    );
}

#[test]
fn named_sets_and_port_lists() {
    use fwdsl::{Action, Packet};
    let policy = Policy::parse(
        "set admins = [10.0.0.0/8, 192.0.2.0/24];\nports web = 80, 443;\nallow tcp $web;\nallow ssh src $admins;\ndrop all;\n",
    );
    // `allow ssh src $admins` alone would lock out the default `ssh 22` from anywhere.
    let found = match policy {
        Err(fwdsl::Error::Policy(p)) => p.0.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(found[0].contains("lock the operator out"), "{found:?}");
    let policy = Policy::parse(
        "set admins = [10.0.0.0/8, 192.0.2.0/24];\nports web = 80, 443;\nssh 22 from 10.0.0.0/8;\nallow tcp $web;\nallow ssh src $admins;\ndrop all;\n",
    )
    .unwrap();
    assert_eq!(
        policy.decide(&Packet::tcp([198, 51, 100, 7], 443)).action(),
        Action::Allow
    );
    assert_eq!(policy.decide(&Packet::tcp([192, 0, 2, 9], 22)).index, 1);
    assert_eq!(
        policy.decide(&Packet::tcp([198, 51, 100, 7], 22)).action(),
        Action::Drop
    );
    let found = errors("set admins = [10.0.0.0/8];\nssh none;\nallow ssh src $admns;\ndrop all;\n");
    assert!(
        found[0].contains("unknown set `$admns`") && found[0].contains("did you mean `$admins`?"),
        "{found:?}"
    );
    let unused = Policy::parse("ports web = 80, 443;\nallow ssh;\ndrop all;\n").unwrap();
    assert!(
        unused.warnings()[0]
            .message
            .contains("ports `web` is defined but never used"),
        "{:?}",
        unused.warnings()
    );
}

#[test]
fn policy_files_include_pieces_and_name_the_file_of_every_problem() {
    let dir = std::env::temp_dir().join(format!("fwdsl-include-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pieces")).unwrap();
    std::fs::write(
        dir.join("pieces/base.policy"),
        "# every host\nssh 22 from 10.0.0.0/8;\nallow ssh src 10.0.0.0/8;\nallow established;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("web.policy"),
        "include \"pieces/base.policy\";\nallow https;\ndrop all;\n",
    )
    .unwrap();
    let web = Policy::from_file(dir.join("web.policy")).unwrap();
    assert_eq!(web.rules().len(), 4);
    assert_eq!(web.rules()[0].text, "allow ssh src 10.0.0.0/8");
    // Problems in both files, each named with its file and line, and the line shown.
    std::fs::write(dir.join("pieces/bad.policy"), "allow tcp 0;\n").unwrap();
    std::fs::write(
        dir.join("db.policy"),
        "include \"pieces/bad.policy\";\nallow ssh;\nallow tcp 70000;\ndrop all;\n",
    )
    .unwrap();
    let err = Policy::from_file(dir.join("db.policy")).unwrap_err();
    let text = err.to_string();
    let bad = dir.join("pieces/bad.policy").display().to_string();
    let db = dir.join("db.policy").display().to_string();
    assert!(
        text.contains(&format!("{bad}:1:11: error: port 0")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{db}:3:11: error: port `70000`")),
        "{text}"
    );
    assert!(text.contains("    3 | allow tcp 70000;"), "{text}");
    // A file that includes itself is refused.
    std::fs::write(
        dir.join("loop.policy"),
        "include \"loop.policy\";\ndrop all;\n",
    )
    .unwrap();
    let err = Policy::from_file(dir.join("loop.policy")).unwrap_err();
    assert!(err.to_string().contains("includes itself"), "{err}");
    // A diamond (each file includes the next twice: 2^13 copies of the last) is refused
    // at the second include, instead of expanding for ever.
    for i in 0..13 {
        let text = match i < 12 {
            true => format!(
                "include \"d{0}.policy\";\ninclude \"d{0}.policy\";\n",
                i + 1
            ),
            false => "allow ssh;\ndrop all;\n".to_string(),
        };
        std::fs::write(dir.join(format!("d{i}.policy")), text).unwrap();
    }
    let err = Policy::from_file(dir.join("d0.policy")).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "{}:2:1: error: `{}` is included already",
            dir.join("d11.policy").display(),
            dir.join("d12.policy").display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Thousands of copies of one rule: every copy after the first is redundant, found
/// without comparing each copy with every copy before it (the index keeps the first
/// only). The time it takes is in BENCHMARKS.md ("copies"); here, the answer.
#[test]
fn copies_of_one_rule_are_each_redundant_with_the_first() {
    let text = format!("allow ssh;\n{}drop all;\n", "allow tcp 80;\n".repeat(4096));
    let policy = Policy::parse(&text).unwrap();
    let redundant = policy
        .warnings()
        .iter()
        .filter(|w| {
            w.message
                .contains("is redundant: `allow tcp 80` on line 2 already accepts")
        })
        .count();
    assert_eq!(redundant, 4095);
}

#[test]
fn address_lists_from_files_in_policy_files() {
    let dir = std::env::temp_dir().join(format!("fwdsl-lists-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(
        dir.join("lists/drop.txt"),
        "# published drop list\n198.51.100.7\n\n203.0.113.0/24   # a whole net\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("web.policy"),
        "drop src [file \"lists/drop.txt\", 192.0.2.99];\nallow ssh;\ndrop all;\n",
    )
    .unwrap();
    let web = Policy::from_file(dir.join("web.policy")).unwrap();
    for (source, listed) in [
        ([198, 51, 100, 7], true),
        ([203, 0, 113, 200], true),
        ([192, 0, 2, 99], true),
        ([198, 51, 100, 8], false),
    ] {
        let d = web.decide(&fwdsl::Packet::tcp(source, 22));
        assert_eq!(d.index == 0, listed, "{source:?}: {}", d.rule.text);
    }
    // A bad line is named by its file and line, and shown.
    std::fs::write(dir.join("lists/bad.txt"), "10.0.0.1\n\n10.0.0.1/8\n").unwrap();
    std::fs::write(
        dir.join("bad.policy"),
        "drop src [file \"lists/bad.txt\"];\nallow ssh;\ndrop all;\n",
    )
    .unwrap();
    let text = Policy::from_file(dir.join("bad.policy"))
        .unwrap_err()
        .to_string();
    let bad = dir.join("lists/bad.txt").display().to_string();
    assert!(
        text.contains(&format!("{bad}:3:1: error: `10.0.0.1/8` has host bits set")),
        "{text}"
    );
    assert!(text.contains("    3 | 10.0.0.1/8"), "{text}");
    // Text has no directory to read a list from.
    let err = Policy::parse("drop src [file \"drop.txt\"];\nallow ssh;\ndrop all;\n").unwrap_err();
    assert!(err.to_string().contains("needs a policy file"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn what_a_new_user_writes_gets_the_fix() {
    let said = |text: &str| fwdsl::Policy::parse(text).unwrap_err().to_string();
    // iptables' range syntax.
    let e = said("allow tcp 8000:9000;\ndrop all;\n");
    assert!(
        e.contains("port ranges are written with `-`") && e.contains("write `8000-9000`"),
        "{e}"
    );
    // An unquoted IPv6 address Rust reads part of as a number.
    let e = said("ssh none;\nallow src 2001:db8:::1;\ndrop all;\n");
    assert!(e.contains("write an IPv6 address as a string"), "{e}");
    // The policy's own service, misspelt.
    let e = said("service app = tcp 8000;\nallow apq;\ndrop all;\n");
    assert!(e.contains("did you mean `app`?"), "{e}");
    // Any word a statement can start with is named.
    let e = said("permit tcp 22;\ndrop all;\n");
    assert!(
        e.contains("expected a statement, found `permit`") && e.contains("`dnat`"),
        "{e}"
    );
}
