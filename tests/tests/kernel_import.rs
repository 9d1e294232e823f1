//! Import against the kernel, with rulesets made by the tools that make them: the
//! reference guide's commands, run in namespace A and saved with `iptables-save`; the
//! import applied by fwdsl in namespace B (on each backend); the same real probes sent to
//! both, every verdict equal. Nothing is written by hand but the commands the guide
//! prints.

use fwdsl::import::{iptables_save, SavedFile};
use fwdsl::sandbox::Sandbox;
use fwdsl::Policy;
use std::net::IpAddr;
use tests::each_backend;
use tests::probe::{firewall_on, sandbox, Probe, Servers};

/// The guide's commands (its rule list, in its order, with the sites' HTTPS added as
/// its "[port number]" line invites).
const GUIDE: [&str; 10] = [
    "-A INPUT -j ACCEPT -p tcp --dport 22",
    "-A INPUT -j ACCEPT -p tcp --dport 80",
    "-A INPUT -j ACCEPT -p tcp --dport 25",
    "-A INPUT -j ACCEPT -p tcp -m tcp --sport 25",
    "-A INPUT -p tcp -m tcp --sport 53 -j ACCEPT",
    "-A INPUT -p udp -m udp --sport 53 -j ACCEPT",
    "-A INPUT -j ACCEPT -p tcp --dport 443",
    "-A INPUT -j ACCEPT --source 127.0.0.1",
    "-A INPUT -p icmp -j ACCEPT",
    "-A INPUT -j DROP -p all",
];

const TCP: [u16; 6] = [22, 25, 80, 443, 3306, 8080];
const UDP: [u16; 2] = [53, 5353];

/// Probes of both families from both client addresses, to every listening port, and UDP
/// from source ports the rules name and others.
fn probes() -> Vec<Probe> {
    let mut out = Vec::new();
    let v4: IpAddr = Sandbox::SERVER_V4.into();
    let v6: IpAddr = Sandbox::SERVER_V6.into();
    for (src, dst) in [
        (IpAddr::from(Sandbox::CLIENT_V4), v4),
        (IpAddr::from(Sandbox::CLIENT_V4_ALT), v4),
        (IpAddr::from(Sandbox::CLIENT_V6), v6),
    ] {
        for port in TCP {
            out.push(Probe::Tcp { src, dst, port });
        }
        for (sport, port) in [(53, 5353), (40000, 53), (40001, 5353)] {
            out.push(Probe::Udp {
                src,
                dst,
                sport,
                port,
            });
        }
    }
    out.push(Probe::Ping { dst: v4 });
    out
}

each_backend! {
/// The guide's ruleset: imported exactly, and the kernel agrees probe by probe.
fn the_guides_ruleset_imports_and_the_kernel_agrees(backend) {
    let Some(a) = sandbox("fwdsl-impa") else { return };
    for command in GUIDE {
        let args: Vec<&str> = command.split(' ').collect();
        let out = a.server.exec("iptables", &args).unwrap();
        assert!(out.status.success(), "{command}");
    }
    let v4 = a.server.saved("iptables-save").unwrap();
    let v6 = a.server.saved("ip6tables-save").unwrap();
    let import = iptables_save(
        Some(SavedFile { name: "rules.v4", text: &v4 }),
        Some(SavedFile { name: "rules.v6", text: &v6 }),
        "",
        false,
    )
    .unwrap();
    assert!(import.is_equivalent(), "{import}\n{}", import.text);
    let policy = Policy::parse(&import.text).unwrap();
    let b = sandbox("fwdsl-impb").unwrap();
    b.server
        .run(|| firewall_on(backend).apply(&policy))
        .unwrap()
        .unwrap();
    let (servers_a, servers_b) = (Servers::start(&a, &TCP, &UDP), Servers::start(&b, &TCP, &UDP));
    for probe in probes() {
        let (original, _) = probe.send(&a, &servers_a);
        let (imported, _) = probe.send(&b, &servers_b);
        assert_eq!(imported, original, "{probe:?}\n{}", import.text);
    }
}
}

each_backend! {
/// fail2ban's own `f2b-*` chain, as its `iptables-multiport` action makes it (a jump
/// from INPUT for the jail's ports, a REJECT per banned address, a RETURN), made by a real
/// fail2ban banning a real client: imported exactly, and the kernel agrees.
fn fail2bans_chains_import_and_the_kernel_agrees(backend) {
    let Some(a) = sandbox("fwdsl-impf") else { return };
    if !tests::fail2ban::available() {
        tests::skip("it needs Debian's fail2ban (run .ci/run)");
        return;
    }
    for command in ["-P INPUT DROP", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "-A INPUT -p tcp -m multiport --dports 22,80 -j ACCEPT"] {
        let args: Vec<&str> = command.split(' ').collect();
        assert!(a.server.exec("iptables", &args).unwrap().status.success(), "{command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let f2b = tests::fail2ban::Fail2ban::start(
        a.server.name(),
        &dir.path().join("f2b"),
        "iptables-multiport[name=test, port=\"22,80\", protocol=tcp]",
        600,
        // Debian's own action files, as the package installs them.
        &[
            std::path::Path::new("/etc/fail2ban/action.d/iptables-multiport.conf"),
            std::path::Path::new("/etc/fail2ban/action.d/iptables.conf"),
        ],
    );
    f2b.fail_logins(Sandbox::CLIENT_V4.into());
    let start = std::time::Instant::now();
    let v4 = loop {
        let saved = a.server.saved("iptables-save").unwrap();
        if saved.contains("-A f2b-test -s 192.0.2.2/32 -j REJECT") {
            break saved;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "fail2ban did not ban: {}\n{saved}", f2b.log());
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    drop(f2b);
    let import = iptables_save(Some(SavedFile { name: "rules.v4", text: &v4 }), None, "", false).unwrap();
    assert!(import.is_equivalent(), "{import}\n{v4}\n{}", import.text);
    assert!(import.text.contains("(f2b-test)"), "{}", import.text);
    let policy = Policy::parse(&import.text).unwrap();
    let b = sandbox("fwdsl-impg").unwrap();
    b.server.run(|| firewall_on(backend).families(&[fwdsl::Family::V4]).apply(&policy)).unwrap().unwrap();
    let (servers_a, servers_b) = (Servers::start(&a, &TCP, &UDP), Servers::start(&b, &TCP, &UDP));
    for probe in probes().into_iter().filter(|p| !matches!(p, Probe::Tcp { dst: IpAddr::V6(_), .. } | Probe::Udp { dst: IpAddr::V6(_), .. })) {
        let (original, _) = probe.send(&a, &servers_a);
        let (imported, _) = probe.send(&b, &servers_b);
        assert_eq!(imported, original, "{probe:?}\n{}", import.text);
    }
}
}
