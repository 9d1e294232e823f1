//! A blocklist of 100,000 networks from a file and a dynamic set, in a real kernel:
//! applied as one ipset and one transaction, probed from a listed and an unlisted
//! source, re-applied as a no-op, banned and unbanned live without an apply (probed
//! again, `decide_with` agreeing), saved and replayed as a boot, and uninstalled
//! without leaving a set; on each backend (ipsets for iptables, sets of fwdsl's table
//! for nftables). Namespaces and files are this test's own.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Policy, SaveTarget};
use ipnet::IpNet;
use std::net::IpAddr;
use tests::each_backend;
use tests::probe::{on_backend, sandbox, saved_rules, Outcome, Probe, Servers};

/// How many networks the list file holds (`FWDSL_BLOCKLIST_SIZE` for more).
fn size() -> usize {
    tests::child::env_count("FWDSL_BLOCKLIST_SIZE", 100_000) as usize
}

/// The names of the server's sets: its ipsets, or the sets of its nftables tables.
fn sets(sb: &Sandbox, backend: Backend) -> Vec<String> {
    let out = match backend {
        Backend::Iptables => sb.server.exec("ipset", &["list", "-n"]),
        Backend::Nftables => sb.server.exec("nft", &["list", "sets"]),
    };
    let mut names: Vec<String> = String::from_utf8_lossy(&out.unwrap().stdout)
        .lines()
        .filter_map(|l| match backend {
            Backend::Iptables => Some(l),
            Backend::Nftables => l.trim().strip_prefix("set ")?.strip_suffix(" {"),
        })
        .map(String::from)
        .collect();
    names.sort();
    names
}

/// fwdsl's rules as the backend lists them: `iptables-save`, or fwdsl's table.
fn rules(sb: &Sandbox, backend: Backend) -> String {
    match backend {
        Backend::Iptables => saved_rules(sb, "iptables-save"),
        Backend::Nftables => {
            let out = sb
                .server
                .exec("nft", &["-s", "list", "table", "inet", "fwdsl"]);
            String::from_utf8_lossy(&out.unwrap().stdout).into_owned()
        }
    }
}

fn web(src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> Probe {
    Probe::Tcp {
        src: src.into(),
        dst: dst.into(),
        port: 8080,
    }
}

each_backend! {
fn a_large_file_list_and_a_dynamic_set_live(backend) {
    let Some(sb) = sandbox("fwdsl-bl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The generated list, and the client's second address in it.
    let list = tests::blocklist(size(), 14) + "192.0.2.3\n";
    std::fs::write(dir.path().join("drop.txt"), list).unwrap();
    std::fs::write(
        dir.path().join("host.policy"),
        "set banned dynamic;\ndrop src [file \"drop.txt\"];\ndrop src $banned;\nallow tcp 8080;\nallow ssh;\ndrop all;\n",
    )
    .unwrap();
    let policy = Policy::from_file(dir.path().join("host.policy")).unwrap();
    assert_eq!(policy.rules()[0].matches.src.len(), size() + 1);

    let report = on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply");
    assert!(report.changed);
    let names = sets(&sb, backend);
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("fwdsl-d"))
            .collect::<Vec<_>>(),
        ["fwdsl-d4-banned", "fwdsl-d6-banned"]
    );
    assert_eq!(
        names.len(),
        3,
        "the list's set and the dynamic pair: {names:?}"
    );
    let servers = Servers::start(&sb, &[8080], &[]);
    let (v4, v6) = (Sandbox::SERVER_V4, Sandbox::SERVER_V6);
    web(Sandbox::CLIENT_V4_ALT, v4).check(&sb, &servers, &policy, Outcome::Dropped);
    web(Sandbox::CLIENT_V4, v4).check(&sb, &servers, &policy, Outcome::Delivered);
    web(Sandbox::CLIENT_V6, v6).check(&sb, &servers, &policy, Outcome::Delivered);

    let again = on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("re-apply");
    assert_eq!((again.changed, again.commands), (false, 0), "{again:?}");

    // A ban, live: one batch for both families.
    let client_v4 = IpNet::from(IpAddr::from(Sandbox::CLIENT_V4));
    let client_v6 = IpNet::from(IpAddr::from(Sandbox::CLIENT_V6));
    on_backend(&sb, backend, |fw| fw.set_add("banned", &[client_v4, client_v6])).expect("set_add");
    let members = on_backend(&sb, backend, |fw| fw.set_members("banned")).unwrap();
    assert_eq!(members, [client_v4, client_v6]);
    let banned = |set: &str, a: IpAddr| set == "banned" && members.iter().any(|m| m.contains(&a));
    for (probe, expected) in [
        (web(Sandbox::CLIENT_V4, v4), Outcome::Dropped),
        (web(Sandbox::CLIENT_V6, v6), Outcome::Dropped),
    ] {
        let (outcome, sport) = probe.send(&sb, &servers);
        assert_eq!(outcome, expected, "kernel: {probe:?}");
        let Probe::Tcp { src, dst, port } = probe else {
            unreachable!()
        };
        let packet = fwdsl::Packet::tcp(src, port).dst(dst).sport(sport);
        let decided = policy.decide_with(&packet, &banned).unwrap();
        assert_eq!((decided.index, Outcome::of(decided.action())), (1, outcome));
    }
    // Re-applying (the same policy, or any that declares the set) keeps the members.
    let kept = on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("re-apply with members");
    assert!(!kept.changed);
    assert_eq!(
        on_backend(&sb, backend, |fw| fw.set_members("banned")).unwrap(),
        [client_v4, client_v6]
    );

    // Saved and replayed as a boot: the list, the rules and the members come back.
    let target = SaveTarget::in_dir(dir.path().join("saved"));
    std::fs::create_dir_all(dir.path().join("saved")).unwrap();
    let saved = on_backend(&sb, backend, |fw| fw.save(&target)).expect("save");
    let boot = sandbox("fwdsl-blboot").unwrap();
    for command in saved.boot_commands() {
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        boot.server.exec(&command[0], &args).expect("boot command");
    }
    assert_eq!(rules(&boot, backend), rules(&sb, backend));
    assert_eq!(sets(&boot, backend), sets(&sb, backend));
    assert_eq!(
        on_backend(&boot, backend, |fw| fw.set_members("banned")).unwrap(),
        [client_v4, client_v6]
    );
    drop(boot);

    // Unbanned, live.
    on_backend(&sb, backend, |fw| fw.set_remove("banned", &[client_v4])).expect("set_remove");
    web(Sandbox::CLIENT_V4, v4).check(&sb, &servers, &policy, Outcome::Delivered);

    // What is refused changes nothing.
    let unknown = on_backend(&sb, backend, |fw| fw.set_add("nosuch", &[client_v4])).unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("dynamic set `nosuch`: no live set holds it"),
        "{unknown}"
    );
    let everything = on_backend(&sb, backend, |fw| {
        fw.set_add("banned", &["0.0.0.0/0".parse().unwrap()])
    })
    .unwrap_err();
    assert!(
        everything.to_string().contains("is every address"),
        "{everything}"
    );
    // A typo with host bits would ban a whole /8 for one address: refused.
    let typo = on_backend(&sb, backend, |fw| {
        fw.set_add("banned", &["1.2.3.4/8".parse().unwrap()])
    })
    .unwrap_err();
    assert!(
        typo.to_string().contains("`1.2.3.4/8` has host bits set"),
        "{typo}"
    );
    assert_eq!(
        on_backend(&sb, backend, |fw| fw.set_members("banned")).unwrap(),
        [client_v6]
    );

    on_backend(&sb, backend, |fw| fw.uninstall()).expect("uninstall");
    assert!(sets(&sb, backend).is_empty(), "{:?}", sets(&sb, backend));
}
}
