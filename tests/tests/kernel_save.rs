//! Saving loses nothing and a reboot brings back exactly what was running: rules of
//! every table and the ipsets they use are saved from one network namespace, and the
//! boot commands the save reports are replayed in a fresh one, which must then hold the
//! same rules and sets and decide real packets as `decide` says. Everything happens in
//! namespaces and a temporary directory this test creates. On both backends: iptables
//! saves every table and the ipsets, nftables fwdsl's own table (the other tables are
//! their owners' files, `/etc/nftables.conf`).

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Boot, Error, Policy, SaveTarget};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tests::each_backend;
use tests::probe::{firewall_on, sandbox, saved_rules, Outcome, Probe, Servers};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fwdsl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything a boot must bring back: both families' tables and the sets on iptables;
/// fwdsl's table (its sets in it) on nftables.
fn state(sb: &Sandbox, backend: Backend) -> (String, String, String) {
    if backend == Backend::Nftables {
        let out = sb
            .server
            .exec("nft", &["-s", "list", "table", "inet", "fwdsl"]);
        let table = String::from_utf8_lossy(&out.unwrap().stdout).into_owned();
        return (table, String::new(), String::new());
    }
    let sets = sb.server.exec("ipset", &["save"]).unwrap();
    let mut sets: Vec<String> = String::from_utf8_lossy(&sets.stdout)
        .lines()
        .map(String::from)
        .collect();
    sets.sort();
    (
        saved_rules(sb, "iptables-save"),
        saved_rules(sb, "ip6tables-save"),
        sets.join("\n"),
    )
}

/// A blocklist long enough to become an ipset, holding the client's second address.
fn blocklist() -> Policy {
    let hosts: Vec<String> = (1..=12).map(|i| format!("198.51.100.{i}")).collect();
    Policy::parse(&format!(
        "drop src [192.0.2.3, {}];\nallow ssh;\ndrop all;\n",
        hosts.join(", ")
    ))
    .unwrap()
}

/// The files a save writes: the rules (and sets) files, then the fail-closed state.
fn files(target: &SaveTarget, backend: Backend) -> (Vec<PathBuf>, Vec<PathBuf>) {
    use fwdsl::Family::{V4, V6};
    match backend {
        Backend::Iptables => (
            vec![target.v4.clone(), target.v6.clone(), target.ipsets.clone()],
            vec![target.fallback(V4), target.fallback(V6)],
        ),
        Backend::Nftables => (vec![target.nft.clone()], vec![target.nft_fallback()]),
    }
}

fn run_in(sb: &Sandbox, command: &[String]) {
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    sb.server
        .exec(&command[0], &args)
        .unwrap_or_else(|e| panic!("boot command {command:?}: {e}"));
}

each_backend! {
fn a_reboot_brings_back_exactly_what_was_running(backend) {
    let Some(a) = sandbox("fwdsl-save") else {
        return;
    };
    let policy = blocklist();
    a.server
        .run(|| firewall_on(backend).apply(&policy))
        .unwrap()
        .expect("apply");
    // What a VPN host has besides fwdsl: NAT, and a rule of the admin's own (saved
    // with fwdsl's on iptables, where one file holds a table).
    a.server
        .exec(
            "iptables",
            &[
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                "10.9.0.0/24",
                "-j",
                "MASQUERADE",
            ],
        )
        .unwrap();
    a.server
        .exec(
            "iptables",
            &["-A", "INPUT", "-s", "203.0.113.9/32", "-j", "DROP"],
        )
        .unwrap();
    let dir = temp_dir(&format!("save-{backend}"));
    let target = SaveTarget::in_dir(&dir);
    let (rules, fallbacks) = files(&target, backend);
    // The rules file there already: root-only, owned by someone else, as a VPN host has it.
    std::fs::write(&rules[0], "*nat\nCOMMIT\n").unwrap();
    std::fs::set_permissions(&rules[0], std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&rules[0], Some(4242), Some(4243)).unwrap();

    let report = a
        .server
        .run(|| firewall_on(backend).save(&target))
        .unwrap()
        .expect("save");
    assert_eq!(report.backend, backend);
    assert_eq!(report.ipsets, backend == Backend::Iptables, "{report:?}");
    assert_eq!(report.written, [rules.clone(), fallbacks].concat());
    assert_eq!(report.fallback_access, "ssh 22");
    assert_eq!(report.backups.len(), 1);
    assert_eq!(
        report.boot,
        Boot::Nothing,
        "nothing loads a temporary directory at boot"
    );
    let meta = std::fs::metadata(&rules[0]).unwrap();
    assert_eq!(
        (meta.mode() & 0o777, meta.uid(), meta.gid()),
        (0o600, 4242, 4243)
    );
    assert_eq!(
        std::fs::metadata(rules.last().unwrap()).unwrap().mode() & 0o777,
        0o600
    );
    let saved = std::fs::read_to_string(&rules[0]).unwrap();
    match backend {
        Backend::Iptables => assert!(
            saved.contains("*nat") && saved.contains("MASQUERADE"),
            "{saved}"
        ),
        Backend::Nftables => assert!(saved.contains("table inet fwdsl {"), "{saved}"),
    }

    // The boot: a fresh namespace, the commands the report gives, in order.
    let commands = report.boot_commands();
    // The first closes the input hook, and needs no file.
    let first = match backend {
        Backend::Iptables => "iptables -w -P INPUT DROP",
        Backend::Nftables => "nft add table inet fwdsl",
    };
    assert_eq!(commands[0].join(" "), first);
    let b = sandbox("fwdsl-boot").unwrap();
    for command in commands {
        run_in(&b, command);
    }
    assert_eq!(state(&b, backend), state(&a, backend));
    let servers = Servers::start(&b, &[22], &[]);
    let ssh = |src: std::net::Ipv4Addr| Probe::Tcp {
        src: src.into(),
        dst: Sandbox::SERVER_V4.into(),
        port: 22,
    };
    ssh(Sandbox::CLIENT_V4).check(&b, &servers, &policy, Outcome::Delivered);
    ssh(Sandbox::CLIENT_V4_ALT).check(&b, &servers, &policy, Outcome::Dropped);

    // `restore` brings the same into another fresh namespace, through fwdsl.
    let c = sandbox("fwdsl-restore").unwrap();
    c.server
        .run(|| firewall_on(backend).restore(&target))
        .unwrap()
        .expect("restore");
    assert_eq!(state(&c, backend), state(&a, backend));

    // A unit that runs exactly those commands, enabled, and gone again with uninstall.
    let systemd = dir.join("systemd");
    let fw = || firewall_on(backend).systemd_dir(&systemd);
    let boot = a
        .server
        .run(|| fw().persist_at_boot(&target))
        .unwrap()
        .unwrap();
    let unit = systemd.join("fwdsl-restore.service");
    assert_eq!(boot, Boot::FwdslUnit(unit.clone()));
    let text = std::fs::read_to_string(&unit).unwrap();
    let exec: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .collect();
    assert_eq!(exec.len(), commands.len());
    for (line, command) in exec.iter().zip(commands) {
        let (program, args) = line.split_once(' ').unwrap();
        assert!(program.ends_with(&format!("/{}", command[0])), "{line}");
        // The unit quotes what has spaces or `;` in it (nft's chain declaration).
        let quoted: Vec<String> = command[1..]
            .iter()
            .map(|a| match a.contains([' ', ';']) {
                true => format!("\"{a}\""),
                false => a.clone(),
            })
            .collect();
        assert_eq!(args, quoted.join(" "));
    }
    assert!(systemd
        .join("multi-user.target.wants/fwdsl-restore.service")
        .exists());
    verify_unit(&unit);
    let again = a.server.run(|| fw().save(&target)).unwrap().unwrap();
    assert_eq!(again.boot, Boot::FwdslUnit(unit.clone()));
    assert!(again.boot.fails_closed());
    a.server
        .run(|| fw().uninstall())
        .unwrap()
        .expect("uninstall");
    assert!(!unit.exists());
    assert!(!systemd
        .join("multi-user.target.wants/fwdsl-restore.service")
        .exists());
    std::fs::remove_dir_all(dir).unwrap();
}
}

/// `systemd-analyze verify`, where the tool exists.
fn verify_unit(unit: &Path) {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(unit)
        .output()
    else {
        eprintln!("no systemd-analyze here: the unit is not verified");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
}

each_backend! {
fn a_saved_file_that_does_not_load_changes_nothing(backend) {
    let Some(sb) = sandbox("fwdsl-badfile") else {
        return;
    };
    let fw = || firewall_on(backend);
    let policy = blocklist();
    sb.server.run(|| fw().apply(&policy)).unwrap().expect("apply");
    let dir = temp_dir(&format!("badfile-{backend}"));
    let good = SaveTarget::in_dir(dir.join("good"));
    sb.server.run(|| fw().save(&good)).unwrap().expect("save");
    // A different policy is live when the bad files are restored.
    let other = fwdsl::firewall! { allow ssh; allow http; drop all; };
    sb.server.run(|| fw().apply(&other)).unwrap().unwrap();
    let before = state(&sb, backend);
    let (good_files, _) = files(&good, backend);
    let text = std::fs::read_to_string(&good_files[0]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // A rule the kernel refuses, in the middle of the rules.
    let (at, bad) = match backend {
        Backend::Iptables => (lines.len() / 2, "-A INPUT -p tcp -m tcp --dport 99999 -j ACCEPT"),
        Backend::Nftables => (
            lines.iter().position(|l| l.contains("\"fwdsl:2 ")).unwrap() + 1,
            "\t\ttcp dport 99999 accept",
        ),
    };
    let mut bad_line = lines.clone();
    bad_line.insert(at, bad);
    let mut cases = vec![
        ("truncated", lines[..lines.len() / 2].join("\n"), None),
        ("bad line", bad_line.join("\n") + "\n", None),
    ];
    if backend == Backend::Iptables {
        let ipsets = std::fs::read_to_string(&good.ipsets).unwrap();
        let no_sets: Vec<&str> = ipsets.lines().filter(|l| !l.contains("fwdsl-")).collect();
        cases.push(("set missing", text.clone(), Some(no_sets.join("\n"))));
    }
    for (what, rules, sets) in cases {
        let target = SaveTarget::in_dir(dir.join(what.replace(' ', "-")));
        std::fs::create_dir_all(target.v4.parent().unwrap()).unwrap();
        let (files, _) = files(&target, backend);
        for (from, to) in good_files.iter().zip(&files) {
            std::fs::copy(from, to).unwrap();
        }
        std::fs::write(&files[0], rules).unwrap();
        if let Some(sets) = sets {
            std::fs::write(&target.ipsets, sets).unwrap();
        }
        let err = sb
            .server
            .run(|| fw().restore(&target))
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&err, Error::BadSavedFile { path, .. } if *path == files[0]),
            "{what}: {err}"
        );
        if what == "bad line" {
            assert!(
                matches!(&err, Error::BadSavedFile { line: Some(l), .. } if *l == at + 1),
                "{what}: {err}"
            );
        }
        assert_eq!(state(&sb, backend), before, "{what}: the host changed");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
}

/// Replays `commands` in order as a oneshot unit runs them: stops at the first that
/// fails. Says which one failed, if one did.
fn boot_as_a_unit(sb: &Sandbox, commands: &[Vec<String>]) -> Option<String> {
    commands.iter().find_map(|command| {
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        sb.server
            .exec(&command[0], &args)
            .err()
            .map(|_| command.join(" "))
    })
}

each_backend! {
/// A boot fails closed: whatever is wrong with the saved files (missing, truncated,
/// empty, a set the rules use missing, the fail-closed state itself missing), the boot
/// commands, run as a oneshot unit runs them, leave both families filtered: nothing
/// but the operator's SSH gets in, and where even the fail-closed state is gone,
/// nothing at all. With good files the saved policy is back. Each case boots a fresh
/// namespace and probes it from its own client.
fn a_boot_with_bad_files_leaves_the_host_filtered(backend) {
    let Some(a) = sandbox("fwdsl-bootsrc") else {
        return;
    };
    let hosts: Vec<String> = (1..=12).map(|i| format!("198.51.100.{i}")).collect();
    let policy = Policy::parse(&format!(
        "ssh 22 from 192.0.2.0/24;\ndrop src [{}];\nallow tcp 22 src 192.0.2.0/24;\nallow tcp 22 src \"2001:db8:f::/64\";\nallow tcp 8080;\ndrop all;\n",
        hosts.join(", ")
    ))
    .unwrap();
    a.server
        .run(|| firewall_on(backend).apply(&policy))
        .unwrap()
        .expect("apply");
    let dir = temp_dir(&format!("failclosed-{backend}"));
    let good = SaveTarget::in_dir(dir.join("good"));
    let report = a
        .server
        .run(|| firewall_on(backend).save(&good))
        .unwrap()
        .expect("save");
    assert_eq!(report.fallback_access, "ssh 22 from 192.0.2.0/24");
    let (good_files, good_fallbacks) = files(&good, backend);
    let rules = good_files[0].clone();
    let text = std::fs::read_to_string(&rules).unwrap();
    let half = text[..text.len() / 2].to_string();
    // (case, what to do to a copy of the good files, whether SSH still gets in)
    type Spoil = Box<dyn Fn(&SaveTarget)>;
    let main = move |t: &SaveTarget| files(t, backend).0[0].clone();
    let mut cases: Vec<(&str, Spoil, bool)> = vec![
        (
            "no rules file",
            Box::new(move |t| std::fs::remove_file(main(t)).unwrap()),
            true,
        ),
        (
            "truncated rules",
            Box::new(move |t| std::fs::write(main(t), &half).unwrap()),
            true,
        ),
        (
            "empty rules",
            Box::new(move |t| std::fs::write(main(t), "").unwrap()),
            true,
        ),
        (
            "no fail-closed state either",
            Box::new(move |t| {
                for file in files(t, backend).1 {
                    std::fs::remove_file(file).unwrap();
                }
                std::fs::remove_file(main(t)).unwrap();
            }),
            false,
        ),
    ];
    if backend == Backend::Iptables {
        let ipsets = std::fs::read_to_string(&good.ipsets).unwrap();
        let no_sets: String = ipsets
            .lines()
            .filter(|l| !l.contains("fwdsl-"))
            .map(|l| format!("{l}\n"))
            .collect();
        cases.extend([
            (
                "no ipsets file",
                Box::new(|t: &SaveTarget| std::fs::remove_file(&t.ipsets).unwrap()) as Spoil,
                true,
            ),
            (
                "no rules.v6",
                Box::new(|t: &SaveTarget| std::fs::remove_file(&t.v6).unwrap()),
                true,
            ),
            (
                "a set missing",
                Box::new(move |t: &SaveTarget| std::fs::write(&t.ipsets, &no_sets).unwrap()),
                true,
            ),
        ]);
    }
    let (ssh_v4, ssh_v6): (std::net::IpAddr, std::net::IpAddr) =
        (Sandbox::SERVER_V4.into(), Sandbox::SERVER_V6.into());
    let probe = |sb: &Sandbox, servers: &Servers, dst: std::net::IpAddr, port: u16| {
        let src: std::net::IpAddr = match dst {
            std::net::IpAddr::V4(_) => Sandbox::CLIENT_V4.into(),
            std::net::IpAddr::V6(_) => Sandbox::CLIENT_V6.into(),
        };
        Probe::Tcp { src, dst, port }.send(sb, servers).0
    };
    for (case, spoil, ssh) in &cases {
        let target = SaveTarget::in_dir(dir.join(case.replace(' ', "-")));
        std::fs::create_dir_all(target.v4.parent().unwrap()).unwrap();
        let (files, fallbacks) = files(&target, backend);
        let copies = good_files.iter().chain(&good_fallbacks);
        for (from, to) in copies.zip(files.iter().chain(&fallbacks)) {
            std::fs::copy(from, to).unwrap();
        }
        spoil(&target);
        let commands = report
            .boot_commands()
            .iter()
            .map(|c| {
                c.iter()
                    .map(|w| {
                        w.replace(
                            &*good.v4.parent().unwrap().to_string_lossy(),
                            &target.v4.parent().unwrap().to_string_lossy(),
                        )
                    })
                    .collect()
            })
            .collect::<Vec<Vec<String>>>();
        let b = sandbox("fwdsl-badboot").unwrap();
        let failed = boot_as_a_unit(&b, &commands);
        assert!(
            failed.is_some(),
            "{case}: the unit succeeded: its failure would not show"
        );
        let servers = Servers::start(&b, &[22, 8080], &[]);
        for dst in [ssh_v4, ssh_v6] {
            assert_eq!(
                probe(&b, &servers, dst, 8080),
                Outcome::Dropped,
                "{case}: {dst} port 8080 after `{failed:?}` failed"
            );
        }
        let expected = if *ssh {
            Outcome::Delivered
        } else {
            Outcome::Dropped
        };
        assert_eq!(
            probe(&b, &servers, ssh_v4, 22),
            expected,
            "{case}: SSH from the operator network"
        );
    }
    // The good files: the unit succeeds and the saved policy is back, 8080 open.
    let b = sandbox("fwdsl-goodboot").unwrap();
    assert_eq!(boot_as_a_unit(&b, report.boot_commands()), None);
    let servers = Servers::start(&b, &[22, 8080], &[]);
    assert_eq!(probe(&b, &servers, ssh_v4, 8080), Outcome::Delivered);
    assert_eq!(probe(&b, &servers, ssh_v6, 8080), Outcome::Delivered);
    std::fs::remove_dir_all(dir).unwrap();
}
}
