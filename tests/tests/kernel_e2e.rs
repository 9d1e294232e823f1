//! End-to-end against the real kernel: policies applied with fwdsl inside a network
//! namespace this test creates, probed with real TCP, UDP and ICMP from a second one.
//! Nothing here runs in the machine's own namespace: every apply goes through
//! `Netns::run`, which checks the thread is inside the sandbox, and a
//! `namespaces_only()` firewall, which refuses the machine's own namespace by itself.
//! What both backends do is tested on each (`each_backend!`).

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Error, Firewall, LoadPath, Policy, RuleSelector, SaveTarget};
use std::net::IpAddr;
use std::time::Duration;
use tests::child;
use tests::each_backend;
use tests::guide_policy;
use tests::probe::{
    both_saved, firewall, firewall_on, on_backend, on_server, sandbox, snapshot, Outcome, Probe,
    Servers,
};

/// A TCP probe from `src` to the server's IPv4 address.
fn tcp4(src: std::net::Ipv4Addr, port: u16) -> Probe {
    Probe::Tcp {
        src: src.into(),
        dst: Sandbox::SERVER_V4.into(),
        port,
    }
}

fn v4() -> (IpAddr, IpAddr) {
    (Sandbox::CLIENT_V4.into(), Sandbox::SERVER_V4.into())
}

fn v6() -> (IpAddr, IpAddr) {
    (Sandbox::CLIENT_V6.into(), Sandbox::SERVER_V6.into())
}

each_backend! {
fn guide_policy_lets_in_exactly_what_it_says_on_both_families(backend) {
    let Some(sb) = sandbox("fwdsl-guide") else {
        return;
    };
    let servers = Servers::start(&sb, &[22, 80, 3306], &[3306]);
    let policy = guide_policy();
    let report = sb
        .server
        .run(|| firewall_on(backend).apply(&policy))
        .unwrap()
        .expect("apply");
    assert!(report.changed);
    assert_eq!(report.backend, backend);
    for (client, server) in [v4(), v6()] {
        let tcp = |port| Probe::Tcp {
            src: client,
            dst: server,
            port,
        };
        tcp(22).check(&sb, &servers, &policy, Outcome::Delivered);
        tcp(80).check(&sb, &servers, &policy, Outcome::Delivered);
        tcp(3306).check(&sb, &servers, &policy, Outcome::Dropped);
        Probe::Ping { dst: server }.check(&sb, &servers, &policy, Outcome::Delivered);
        // The guide's hole, confirmed by the kernel: a datagram "from port 53" gets in.
        Probe::Udp {
            src: client,
            dst: server,
            sport: 53,
            port: 3306,
        }
        .check(&sb, &servers, &policy, Outcome::Delivered);
        Probe::Udp {
            src: client,
            dst: server,
            sport: 40053,
            port: 3306,
        }
        .check(&sb, &servers, &policy, Outcome::Dropped);
    }
}
}

each_backend! {
fn src_rule_admits_exactly_that_source_and_icmp_only_where_allowed(backend) {
    let Some(sb) = sandbox("fwdsl-src") else {
        return;
    };
    let servers = Servers::start(&sb, &[22, 8080, 113], &[]);
    let policy = fwdsl::firewall! {
        allow tcp 22;
        allow tcp 8080 src 192.0.2.2;
        reject tcp 113;
        drop all;
    };
    on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply");
    let server: IpAddr = Sandbox::SERVER_V4.into();
    tcp4(Sandbox::CLIENT_V4, 8080).check(&sb, &servers, &policy, Outcome::Delivered);
    tcp4(Sandbox::CLIENT_V4_ALT, 8080).check(&sb, &servers, &policy, Outcome::Dropped);
    tcp4(Sandbox::CLIENT_V4, 113).check(&sb, &servers, &policy, Outcome::Refused);
    Probe::Ping { dst: server }.check(&sb, &servers, &policy, Outcome::Dropped);
    // IPv6 has no `src` rule for 8080: dropped, while neighbour discovery keeps 22 reachable.
    let (c6, s6) = v6();
    Probe::Tcp {
        src: c6,
        dst: s6,
        port: 8080,
    }
    .check(&sb, &servers, &policy, Outcome::Dropped);
    Probe::Tcp {
        src: c6,
        dst: s6,
        port: 22,
    }
    .check(&sb, &servers, &policy, Outcome::Delivered);
    Probe::Ping { dst: s6 }.check(&sb, &servers, &policy, Outcome::Dropped);
}
}

each_backend! {
fn applying_twice_changes_nothing(backend) {
    let Some(sb) = sandbox("fwdsl-twice") else {
        return;
    };
    let policy = guide_policy();
    // (How small generations load is iptables' knob; nftables always loads one batch.)
    for batch_above in [1000, 0] {
        let fw = firewall_on(backend).batch_above(batch_above);
        sb.server
            .run(|| fw.apply(&policy))
            .unwrap()
            .expect("first apply");
        let before = snapshot(&sb);
        let again = sb
            .server
            .run(|| fw.apply(&policy))
            .unwrap()
            .expect("second apply");
        assert!(!again.changed, "{again:?}");
        assert_eq!(again.commands, 0);
        assert!(again.families.iter().all(|f| f.loaded.is_none()));
        assert_eq!(snapshot(&sb), before);
        let plan = sb.server.run(|| fw.plan(&policy)).unwrap().expect("plan");
        assert!(
            plan.iter()
                .all(|p| p.add.is_empty() && p.remove.is_empty() && !p.hook),
            "{plan:?}"
        );
    }
}
}

each_backend! {
fn a_failure_at_every_position_leaves_the_rules_as_they_were(backend) {
    let Some(sb) = sandbox("fwdsl-fault") else {
        return;
    };
    sb.server
        .exec(
            "iptables",
            &["-A", "INPUT", "-s", "198.51.100.0/24", "-j", "DROP"],
        )
        .unwrap();
    let old = fwdsl::firewall! { allow ssh; allow tcp 8080; drop all; };
    let new = fwdsl::firewall! { allow ssh; allow http; allow https; allow icmp; reject tcp 113; drop all; };
    on_backend(&sb, backend, |fw| fw.apply(&old)).expect("install the previous policy");
    let before = snapshot(&sb);
    // iptables loads per rule or in one transaction per family; nftables in one batch.
    let paths = match backend {
        Backend::Iptables => vec![(LoadPath::PerRule, 1000), (LoadPath::Batch, 0)],
        Backend::Nftables => vec![(LoadPath::Batch, 0)],
    };
    for (path, batch_above) in paths {
        let mut position = 0;
        let report = loop {
            assert!(position < 200, "apply never completed");
            let fw = firewall_on(backend).batch_above(batch_above).inject_fault(position);
            match sb.server.run(|| fw.apply(&new)).unwrap() {
                Ok(report) => break report,
                Err(Error::Iptables(failed)) => {
                    assert!(!failed.stderr.is_empty(), "{failed}");
                    if backend == Backend::Iptables {
                        assert!(failed.command.contains("FWDSL-INJECTED-FAULT"), "{failed}");
                    }
                }
                Err(other) => panic!("step {position}: unexpected error {other}"),
            }
            assert_eq!(
                snapshot(&sb),
                before,
                "{path:?}: rules changed after a failure at step {position}"
            );
            position += 1;
        };
        // Per rule: the chain, each rule, then the switch; batched: one transaction
        // per family (one for both, on nftables).
        let least = match (backend, path) {
            (Backend::Nftables, _) => 1,
            (_, LoadPath::PerRule) => 5,
            _ => 2,
        };
        assert!(position >= least, "{path:?}: only {position} steps");
        assert!(report.families.iter().all(|f| f.loaded == Some(path)));
        // Back to the old policy for the next round.
        on_backend(&sb, backend, |fw| fw.apply(&old)).expect("reinstall");
        assert_eq!(snapshot(&sb), before);
    }
}
}

#[test]
fn a_rule_the_kernel_refuses_is_named_with_iptables_own_message() {
    let Some(sb) = sandbox("fwdsl-named") else {
        return;
    };
    let good = fwdsl::firewall! { allow ssh; drop all; };
    on_server(&sb, |fw| fw.apply(&good)).expect("apply");
    let before = both_saved(&sb);
    // The third mutating step of a per-rule apply appends the policy's second rule.
    let bad = fwdsl::firewall! { allow ssh; allow tcp 80; drop all; };
    let err = sb
        .server
        .run(|| firewall().batch_above(1000).inject_fault(2).apply(&bad))
        .unwrap()
        .unwrap_err();
    let Error::Iptables(failed) = &err else {
        panic!("{err}")
    };
    let rule = failed
        .rule
        .as_ref()
        .expect("the failing step names its rule");
    assert_eq!((rule.number, rule.text.as_str()), (2, "allow tcp 80"));
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        err.to_string()
            .contains("while installing rule 2 `allow tcp 80`"),
        "{err}"
    );
    assert_eq!(both_saved(&sb), before);
}

each_backend! {
fn foreign_rules_survive_apply_and_uninstall(backend) {
    let Some(sb) = sandbox("fwdsl-foreign") else {
        return;
    };
    sb.server
        .exec(
            "iptables",
            &[
                "-A",
                "INPUT",
                "-s",
                "198.51.100.0/24",
                "-m",
                "comment",
                "--comment",
                "fail2ban",
                "-j",
                "DROP",
            ],
        )
        .unwrap();
    sb.server
        .exec(
            "ip6tables",
            &["-A", "INPUT", "-s", "2001:db8:bad::/48", "-j", "DROP"],
        )
        .unwrap();
    sb.server.exec("iptables", &["-N", "DOCKER-USER"]).unwrap();
    // Someone else's nftables table on the same hook, with a set of its own.
    sb.server
        .exec(
            "nft",
            &["add table inet theirs; add set inet theirs banned { type ipv4_addr; elements = { 203.0.113.9 } }; add chain inet theirs input { type filter hook input priority 0; policy accept; }; add rule inet theirs input ip saddr @banned drop"],
        )
        .unwrap();
    let pristine = snapshot(&sb);
    let policy = guide_policy();
    on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply");
    let (v4_rules, v6_rules) = both_saved(&sb);
    assert!(
        v4_rules.contains("-A INPUT -s 198.51.100.0/24 -m comment --comment fail2ban -j DROP"),
        "{v4_rules}"
    );
    assert!(v4_rules.contains(":DOCKER-USER"));
    assert!(
        v6_rules.contains("-A INPUT -s 2001:db8:bad::/48 -j DROP"),
        "{v6_rules}"
    );
    on_backend(&sb, backend, |fw| fw.uninstall()).expect("uninstall");
    assert_eq!(snapshot(&sb), pristine);
}
}

each_backend! {
fn status_remove_flush_and_save_do_what_the_guide_does_by_hand(backend) {
    let Some(sb) = sandbox("fwdsl-manage") else {
        return;
    };
    let servers = Servers::start(&sb, &[22, 80, 443], &[]);
    let policy = fwdsl::firewall! { allow ssh; allow http; allow https; drop all; };
    on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply");
    let status = sb
        .server
        .run(|| firewall_on(backend).status())
        .unwrap()
        .expect("status");
    // Numbered like the policy; fwdsl's own rules (IPv6 neighbour discovery) are not.
    let numbers: Vec<usize> = status[0].rules.iter().filter_map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert!(status.iter().all(|s| s.hooked));

    // `iptables -D INPUT 2`, by number; then by text.
    let removed = sb
        .server
        .run(|| firewall_on(backend).remove_rule(&RuleSelector::Number(2)))
        .unwrap()
        .expect("remove");
    // iptables has a rule per family, nftables one for both (table inet).
    let per_rule = match backend {
        Backend::Iptables => 2,
        Backend::Nftables => 1,
    };
    assert_eq!(removed, per_rule);
    let (c, s) = v4();
    Probe::Tcp {
        src: c,
        dst: s,
        port: 80,
    }
    .send(&sb, &servers)
    .0
    .eq(&Outcome::Dropped)
    .then_some(())
    .expect("80 dropped after removal");
    sb.server
        .run(|| firewall_on(backend).remove_rule(&RuleSelector::Text("allow https".into())))
        .unwrap()
        .expect("remove by text");
    assert_eq!(
        Probe::Tcp {
            src: c,
            dst: s,
            port: 443
        }
        .send(&sb, &servers)
        .0,
        Outcome::Dropped
    );
    let plan = sb
        .server
        .run(|| firewall_on(backend).plan(&policy))
        .unwrap()
        .expect("plan");
    assert_eq!(plan[0].add.len(), 2, "{plan:?}");
    let missing = sb
        .server
        .run(|| firewall_on(backend).remove_rule(&RuleSelector::Number(9)))
        .unwrap();
    assert!(matches!(missing, Err(Error::NoSuchRule(_))));

    // `iptables -F`: fwdsl's rules only; packets then fall through to INPUT's ACCEPT policy.
    let flushed = on_backend(&sb, backend, |fw| fw.flush()).expect("flush");
    // The return value says what the guide leaves implicit: the host is open now.
    assert!(flushed.host_is_open(), "{flushed:?}");
    assert_eq!(flushed.open.len(), 2, "input of both families: {flushed:?}");
    let open = flushed.to_string();
    assert!(open.contains("IPv4 ") && open.contains(": policy ACCEPT, OPEN"), "{open}");
    assert_eq!(
        Probe::Tcp {
            src: c,
            dst: s,
            port: 443
        }
        .send(&sb, &servers)
        .0,
        Outcome::Delivered
    );
    assert!(sb
        .server
        .run(|| firewall_on(backend).status())
        .unwrap()
        .unwrap()
        .iter()
        .all(|s| s.rules.is_empty()));

    // Save twice: the second save backs up the first file under a dated name, the
    // third does not overwrite that backup.
    on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply again");
    let dir = std::env::temp_dir().join(format!("fwdsl-save-{}", sb.server.name()));
    let target = SaveTarget::in_dir(&dir);
    let first = sb
        .server
        .run(|| firewall_on(backend).save(&target))
        .unwrap()
        .expect("save");
    assert!(first.backups.is_empty());
    let file = match backend {
        Backend::Iptables => &target.v4,
        Backend::Nftables => &target.nft,
    };
    let saved = std::fs::read_to_string(file).unwrap();
    assert!(saved.contains("fwdsl:2 allow http"), "{saved}");
    let second = sb
        .server
        .run(|| firewall_on(backend).save(&target))
        .unwrap()
        .expect("save again");
    let third = sb
        .server
        .run(|| firewall_on(backend).save(&target))
        .unwrap()
        .expect("save a third time");
    assert_eq!(second.backups.len(), per_rule, "a backup per file");
    assert_ne!(second.backups[0], third.backups[0]);
    assert!(second.backups[0].to_string_lossy().contains(".bak-20"));
    // The saved file restores: load it into a fresh namespace and compare.
    let fresh = sandbox("fwdsl-restored").unwrap();
    let (load, list): (&[&str], &[&str]) = match backend {
        Backend::Iptables => (&["iptables-restore"], &["iptables-save"]),
        Backend::Nftables => (&["nft", "-f", "-"], &["nft", "-s", "list", "table", "inet", "fwdsl"]),
    };
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", fresh.server.name()])
        .args(load)
        .stdin(std::fs::File::open(file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let listed = |sb: &Sandbox| {
        let out = sb.server.exec(list[0], &list[1..]).unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // iptables-save's header and footer carry the time.
        text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(listed(&fresh), listed(&sb));
    std::fs::remove_dir_all(dir).unwrap();
}
}

each_backend! {
fn confirm_or_revert(backend) {
    let Some(sb) = sandbox("fwdsl-confirm") else {
        return;
    };
    let servers = Servers::start(&sb, &[22, 80], &[]);
    let first = fwdsl::firewall! { allow ssh; drop all; };
    let second = fwdsl::firewall! { allow ssh; allow http; drop all; };
    on_backend(&sb, backend, |fw| fw.apply(&first)).expect("apply");
    let before = snapshot(&sb);
    let (c, s) = v4();
    let web = Probe::Tcp {
        src: c,
        dst: s,
        port: 80,
    };

    let refused = sb
        .server
        .run(|| firewall_on(backend).apply_with_confirm(&second, Duration::from_secs(2), || false))
        .unwrap();
    assert!(
        matches!(refused, Err(Error::NotConfirmed(_))),
        "{refused:?}"
    );
    assert_eq!(snapshot(&sb), before);

    let silent = sb.server.run(|| {
        firewall_on(backend).apply_with_confirm(&second, Duration::from_millis(300), || {
            std::thread::sleep(Duration::from_secs(2));
            true
        })
    });
    assert!(matches!(silent.unwrap(), Err(Error::NotConfirmed(_))));
    assert_eq!(snapshot(&sb), before);
    assert_eq!(web.send(&sb, &servers).0, Outcome::Dropped);

    on_backend(&sb, backend, |fw| {
        fw.apply_with_confirm(&second, Duration::from_secs(2), || true)
    })
    .expect("confirmed");
    web.check(&sb, &servers, &second, Outcome::Delivered);
}
}

each_backend! {
fn guards_refuse_before_anything_changes(backend) {
    let Some(sb) = sandbox("fwdsl-guards") else {
        return;
    };
    let policy =
        fwdsl::firewall! { ssh 22 from 192.0.2.0/24; allow tcp 22 src 192.0.2.0/24; drop all; };
    let pristine = snapshot(&sb);

    // An SSH session from an address the policy drops.
    let session = sb
        .server
        .run(|| {
            Firewall::new()
                .backend(backend)
                .namespaces_only()
                .ssh_connection(Some("198.51.100.9 50000 192.0.2.1 22"))
                .apply(&policy)
        })
        .unwrap();
    assert!(
        matches!(session, Err(Error::WouldCutSession { port: 22, .. })),
        "{session:?}"
    );
    assert_eq!(snapshot(&sb), pristine);

    // The xtables lock held by someone else: a bounded wait, then a clear error. (nft
    // has no such lock: its batches are transactions of the kernel's.)
    if backend == Backend::Iptables {
    let lock = std::env::temp_dir().join(format!("fwdsl-lock-{}", sb.server.name()));
    let holder = std::fs::File::create(&lock).unwrap();
    holder.lock().unwrap();
    let held = sb
        .server
        .run(|| {
            firewall()
                .lock(&lock, Duration::from_millis(300))
                .apply(&policy)
        })
        .unwrap();
    assert!(matches!(held, Err(Error::LockHeld { .. })), "{held:?}");
    assert_eq!(snapshot(&sb), pristine);
    holder.unlock().unwrap();
    sb.server
        .run(|| {
            firewall()
                .lock(&lock, Duration::from_millis(300))
                .apply(&policy)
        })
        .unwrap()
        .expect("lock free again");
    std::fs::remove_file(lock).unwrap();
    }

    // A namespaces-only handle refuses the machine's own namespace without running iptables.
    assert!(matches!(
        firewall_on(backend).apply(&policy),
        Err(Error::RootNamespace(_))
    ));
}
}

fn is_child(test: &str) -> bool {
    child::role().as_deref() == Some(test)
}

/// Reruns this test binary's `test` inside the sandbox's server namespace, behind
/// `wrapper` (a program that changes what the child may do), and asserts it passed and
/// that the server's rules did not change.
fn run_child_in_sandbox(sb: &Sandbox, test: &str, wrapper: &[String]) {
    let pristine = both_saved(sb);
    let (passed, output) = child::finish(child::spawn(&sb.server, test, wrapper, &[]));
    assert!(
        passed,
        "the child running `{test}` failed its assertions:\n{output}"
    );
    assert_eq!(both_saved(sb), pristine);
}

#[test]
fn without_net_admin_apply_is_refused_and_nothing_changes() {
    const TEST: &str = "without_net_admin_apply_is_refused_and_nothing_changes";
    let policy = fwdsl::firewall! { allow ssh; drop all; };
    if is_child(TEST) {
        // The child: inside the sandbox namespace, stripped of CAP_NET_ADMIN.
        let fw = Firewall::new().ssh_connection(None);
        let err = fw.apply(&policy).unwrap_err();
        assert!(matches!(err, Error::NotPermitted), "{err}");
        // Reading needs it too: a typed error, not iptables' own message.
        assert!(matches!(fw.plan(&policy), Err(Error::NotPermitted)));
        assert!(matches!(fw.status(), Err(Error::NotPermitted)));
        return;
    }
    let Some(sb) = sandbox("fwdsl-nocap") else {
        return;
    };
    let wrapper = [
        "setpriv",
        "--inh-caps=-net_admin",
        "--bounding-set=-net_admin",
    ];
    run_child_in_sandbox(&sb, TEST, &wrapper.map(String::from));
}

/// The sets of the server namespace, one line each, sorted: `ipset save` on iptables,
/// `nft list sets` on nftables.
fn sets(sb: &Sandbox, backend: Backend) -> String {
    let out = match backend {
        Backend::Iptables => sb.server.exec("ipset", &["save"]),
        Backend::Nftables => sb.server.exec("nft", &["list", "sets"]),
    }
    .expect("list the sets");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines.join("\n")
}

/// A blocklist long enough to become an ipset, holding the client's second address.
fn blocklist(extra: &str) -> Policy {
    let hosts: Vec<String> = (1..=12).map(|i| format!("198.51.100.{i}")).collect();
    Policy::parse(&format!(
        "drop src [192.0.2.3, {}{extra}];\nallow ssh;\ndrop all;\n",
        hosts.join(", ")
    ))
    .unwrap()
}

each_backend! {
fn long_lists_become_sets_that_apply_creates_reuses_and_removes(backend) {
    let Some(sb) = sandbox("fwdsl-ipset") else {
        return;
    };
    let servers = Servers::start(&sb, &[22], &[]);
    let policy = blocklist("");
    let set = &policy.ipsets(fwdsl::Family::V4)[0];
    on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply");
    let created = match backend {
        Backend::Iptables => format!("create {} hash:net family inet", set.name),
        Backend::Nftables => format!("set {} {{", set.name),
    };
    assert!(
        sets(&sb, backend).contains(&created),
        "{}",
        sets(&sb, backend)
    );
    tcp4(Sandbox::CLIENT_V4_ALT, 22).check(&sb, &servers, &policy, Outcome::Dropped);
    tcp4(Sandbox::CLIENT_V4, 22).check(&sb, &servers, &policy, Outcome::Delivered);

    let before = (snapshot(&sb), sets(&sb, backend));
    let again = sb
        .server
        .run(|| firewall_on(backend).apply(&policy))
        .unwrap()
        .expect("re-apply");
    assert_eq!((again.changed, again.commands), (false, 0));
    assert_eq!((snapshot(&sb), sets(&sb, backend)), before);

    // Another list: a failure at any step leaves rules and sets as they were.
    let other = blocklist(", 203.0.113.7");
    let mut position = 0;
    while let Err(e) = sb
        .server
        .run(|| firewall_on(backend).inject_fault(position).apply(&other))
        .unwrap()
    {
        assert!(matches!(e, Error::Iptables(_)), "{e}");
        assert_eq!(
            (snapshot(&sb), sets(&sb, backend)),
            before,
            "after a failure at step {position}"
        );
        position += 1;
        assert!(position < 50);
    }
    // It went through: the old set is gone, the new one serves.
    assert!(!sets(&sb, backend).contains(&set.name));
    assert!(sets(&sb, backend).contains(&other.ipsets(fwdsl::Family::V4)[0].name));
    on_backend(&sb, backend, |fw| fw.uninstall()).expect("uninstall");
    assert!(!sets(&sb, backend).contains("fwdsl-"), "{}", sets(&sb, backend));
}
}

#[test]
fn without_iptables_apply_is_a_typed_error_and_nothing_changes() {
    const TEST: &str = "without_iptables_apply_is_a_typed_error_and_nothing_changes";
    let policy = fwdsl::firewall! { allow ssh; drop all; };
    if is_child(TEST) {
        // The child: inside the sandbox namespace, with an empty PATH.
        let err = Firewall::new()
            .ssh_connection(None)
            .apply(&policy)
            .unwrap_err();
        assert!(
            matches!(&err, Error::ProgramMissing { program, .. } if program == "iptables"),
            "{err}"
        );
        assert!(
            err.to_string().contains("install the `iptables` package"),
            "{err}"
        );
        return;
    }
    let Some(sb) = sandbox("fwdsl-nobin") else {
        return;
    };
    let empty = std::env::temp_dir().join(format!("fwdsl-empty-path-{}", sb.server.name()));
    std::fs::create_dir_all(&empty).unwrap();
    // `env` sets the child's PATH; `ip` and `env` themselves are found on ours.
    run_child_in_sandbox(
        &sb,
        TEST,
        &["env".into(), format!("PATH={}", empty.display())],
    );
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn without_ipset_a_policy_with_a_long_list_names_the_ipset_package() {
    const TEST: &str = "without_ipset_a_policy_with_a_long_list_names_the_ipset_package";
    if is_child(TEST) {
        // The child: iptables on PATH, ipset not.
        let err = Firewall::new()
            .namespaces_only()
            .ssh_connection(None)
            .apply(&blocklist(""))
            .unwrap_err();
        assert!(
            matches!(&err, Error::ProgramMissing { program, package: "ipset", .. } if program == "ipset"),
            "{err}"
        );
        assert!(
            err.to_string().contains("install the `ipset` package"),
            "{err}"
        );
        return;
    }
    let Some(sb) = sandbox("fwdsl-noipset") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("fwdsl-no-ipset-{}", sb.server.name()));
    std::fs::create_dir_all(&dir).unwrap();
    for program in [
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
        "ip",
    ] {
        let real = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .unwrap();
        let real = String::from_utf8(real.stdout).unwrap();
        std::os::unix::fs::symlink(real.trim(), dir.join(program)).unwrap();
    }
    run_child_in_sandbox(
        &sb,
        TEST,
        &["env".into(), format!("PATH={}", dir.display())],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
