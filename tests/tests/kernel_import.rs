//! Import against the kernel, with rulesets made by the tools that make them: the
//! reference guide's commands, run in namespace A and saved with `iptables-save`; the
//! import applied by fwdsl in namespace B (on each backend); the same real probes sent to
//! both, every verdict equal. Nothing is written by hand but the commands the guide
//! prints.

use fwdsl::import::{iptables_save, nft_json, SavedFile};
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

/// Applies `policy` with fwdsl on `backend` in a new namespace B and sends every probe
/// (IPv4's only with `v4_only`) to both A (the original) and B: the same verdict each.
fn kernel_agrees(
    a: &Sandbox,
    policy: &Policy,
    backend: fwdsl::Backend,
    b_name: &str,
    v4_only: bool,
) {
    let b = sandbox(b_name).unwrap();
    let fw = match v4_only {
        true => firewall_on(backend).families(&[fwdsl::Family::V4]),
        false => firewall_on(backend),
    };
    b.server.run(|| fw.apply(policy)).unwrap().unwrap();
    let (servers_a, servers_b) = (
        Servers::start(a, &TCP, &UDP),
        Servers::start(&b, &TCP, &UDP),
    );
    let v6 = |p: &Probe| {
        matches!(
            p,
            Probe::Tcp {
                dst: IpAddr::V6(_),
                ..
            } | Probe::Udp {
                dst: IpAddr::V6(_),
                ..
            }
        )
    };
    for probe in probes().into_iter().filter(|p| !(v4_only && v6(p))) {
        let (original, _) = probe.send(a, &servers_a);
        let (imported, _) = probe.send(&b, &servers_b);
        assert_eq!(imported, original, "{probe:?}\n{policy:?}");
    }
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
    kernel_agrees(&a, &Policy::parse(&import.text).unwrap(), backend, "fwdsl-impb", false);
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
    let v4 = f2b.until_banned(|| a.server.saved("iptables-save").unwrap(), "-A f2b-test -s 192.0.2.2/32 -j REJECT");
    drop(f2b);
    let import = iptables_save(Some(SavedFile { name: "rules.v4", text: &v4 }), None, "", false).unwrap();
    assert!(import.is_equivalent(), "{import}\n{v4}\n{}", import.text);
    assert!(import.text.contains("(f2b-test)"), "{}", import.text);
    kernel_agrees(&a, &Policy::parse(&import.text).unwrap(), backend, "fwdsl-impg", true);
}
}

/// Runs `commands` (ufw's own, `ufw allow 22/tcp`) in namespace `ns`, in a private mount
/// namespace over a copy of ufw's configuration: the machine's ufw is never touched.
/// Returns (iptables-save, ip6tables-save) after them.
fn ufw(ns: &fwdsl::sandbox::Netns, commands: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        let out = std::process::Command::new("cp")
            .args(["-a", from])
            .arg(dir.path().join(to))
            .output()
            .unwrap();
        assert!(out.status.success(), "copy {from}");
    };
    copy("/etc/ufw", "etc-ufw");
    copy("/etc/default/ufw", "default-ufw");
    let d = dir.path().display();
    let script = format!(
        "mount --bind {d}/etc-ufw /etc/ufw && mount --bind {d}/default-ufw /etc/default/ufw && ufw --force enable >/dev/null && {} && iptables-save > {d}/v4 && ip6tables-save > {d}/v6",
        commands.iter().map(|c| format!("{c} >/dev/null")).collect::<Vec<_>>().join(" && ")
    );
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "unshare",
            "-m",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ufw: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| {
        fwdsl::sandbox::without_counters(&std::fs::read_to_string(dir.path().join(f)).unwrap())
    };
    (read("v4"), read("v6"))
}

const UFW: [&str; 12] = [
    "ufw default deny incoming",
    "ufw default allow outgoing",
    "ufw allow 22/tcp",
    "ufw allow 80,443/tcp",
    "ufw deny 3306",
    "ufw limit 2222/tcp",
    "ufw allow from 192.0.2.3 to any port 5432 proto tcp",
    "ufw deny from 203.0.113.0/24",
    "ufw allow 8080/tcp",
    // Planted: shadowed by the allow before it.
    "ufw deny from 192.0.2.0/24 to any port 8080 proto tcp",
    "ufw reject 25/tcp",
    "ufw allow 53/udp",
];

each_backend! {
/// Debian's ufw, a dozen of its commands, in a namespace: its ruleset imports with what
/// the language cannot say refused by line and reason (`-m recent` of `ufw limit`, hop
/// limits, address types, unnamed ICMPv6 types), `--partial` writes the rest, and every
/// probe that none of the refused rules concerns is decided by the kernel alike.
fn ufws_ruleset_imports_partially_and_the_kernel_agrees(backend) {
    let Some(a) = sandbox("fwdsl-impu") else { return };
    if std::process::Command::new("ufw").arg("--version").output().is_err() {
        tests::skip("it needs Debian's ufw (run .ci/run)");
        return;
    }
    let (v4, v6) = ufw(&a.server, &UFW);
    let files = (SavedFile { name: "rules.v4", text: &v4 }, SavedFile { name: "rules.v6", text: &v6 });
    let refused = iptables_save(Some(files.0), Some(files.1), "", false).unwrap();
    assert!(!refused.is_equivalent() && refused.text.is_empty(), "{refused}");
    let reasons: Vec<&str> = refused.refused.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("`recent`") || r.contains("`hl`") || r.contains("`addrtype`")), "{reasons:?}");
    let import = iptables_save(Some(files.0), Some(files.1), "", true).unwrap();
    assert!(import.refused.iter().any(|r| r.reason.contains("`recent`")), "{import}");
    assert!(import.differences.is_empty(), "{import}");
    // Lint names the planted shadowed rule by its line in ufw's own chain.
    let planted = v4.lines().position(|l| l.contains("-s 192.0.2.0/24") && l.contains("--dport 8080")).unwrap() + 1;
    let findings = import.lint();
    assert!(findings.iter().any(|f| f.file == "rules.v4" && f.line == planted && f.message.contains("never decides")), "{planted}: {findings:?}");
    kernel_agrees(&a, &Policy::parse(&import.text).unwrap(), backend, "fwdsl-impv", false);
}
}

/// `nft -j list ruleset` in namespace `ns`.
fn nft_ruleset(ns: &fwdsl::sandbox::Netns) -> String {
    let out = ns.exec("nft", &["-j", "list", "ruleset"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

each_backend! {
/// An nftables host, every part of it made by its own tool: the guide's commands run
/// through `iptables-nft` (table `ip filter`, priority 0) and fail2ban's
/// `nftables-multiport` action banning a real client in a table of its own (`inet
/// f2b-table`, priority -1, a set of banned addresses): two base chains on one hook.
/// `nft -j list ruleset` imports exactly (fail2ban's reject first, the guide's rules
/// after its accept), and the kernel agrees probe by probe.
fn an_nftables_hosts_ruleset_imports_and_the_kernel_agrees(backend) {
    let Some(a) = sandbox("fwdsl-impn") else { return };
    if !tests::fail2ban::available() {
        tests::skip("it needs Debian's fail2ban (run .ci/run)");
        return;
    }
    // The guide's rules, and a host's usual first rule, which iptables-nft writes with an
    // `xt` expression (conntrack) that only its own save decodes.
    let established = "-I INPUT 1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
    for command in GUIDE.into_iter().chain([established]) {
        let args: Vec<&str> = command.split(' ').collect();
        let out = a.server.exec("iptables-nft", &args).unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let dir = tempfile::tempdir().unwrap();
    let f2b = tests::fail2ban::Fail2ban::start(
        a.server.name(),
        &dir.path().join("f2b"),
        "nftables-multiport[name=test, port=\"22,80\", protocol=tcp]",
        600,
        &[
            std::path::Path::new("/etc/fail2ban/action.d/nftables-multiport.conf"),
            std::path::Path::new("/etc/fail2ban/action.d/nftables.conf"),
        ],
    );
    f2b.fail_logins(Sandbox::CLIENT_V4.into());
    let json = f2b.until_banned(|| nft_ruleset(&a.server), &Sandbox::CLIENT_V4.to_string());
    drop(f2b);
    let v4 = a.server.saved("iptables-nft-save").unwrap();
    let file = SavedFile { name: "ruleset.json", text: &json };
    let blind = nft_json(file, None, None, false).unwrap();
    assert!(blind.refused.iter().any(|r| r.reason.contains("`xt`")), "{blind}");
    let import = nft_json(file, Some(SavedFile { name: "rules.v4", text: &v4 }), None, false).unwrap();
    assert!(import.is_equivalent(), "{import}\n{json}\n{}", import.text);
    assert!(import.text.contains("(inet f2b-table f2b-chain then ip filter INPUT)"), "{}", import.text);
    assert!(import.text.contains("(ip filter INPUT)"), "{}", import.text);
    kernel_agrees(&a, &Policy::parse(&import.text).unwrap(), backend, "fwdsl-impo", false);
}
}

each_backend! {
/// Debian's example ruleset for a workstation (`tests/rulesets/workstation.nft`, from the
/// nftables package): loaded with `nft -f`, listed, imported exactly, with one statement
/// for both families where they agree and its ICMPv6 types by name, and the kernel
/// agrees.
fn debians_workstation_ruleset_imports_and_the_kernel_agrees(backend) {
    let Some(a) = sandbox("fwdsl-impw") else { return };
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/rulesets/workstation.nft");
    let out = a.server.exec("nft", &["-f", file]).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = nft_ruleset(&a.server);
    let import = nft_json(SavedFile { name: "workstation.json", text: &json }, None, None, false).unwrap();
    assert!(import.is_equivalent(), "{import}\n{}", import.text);
    for both in ["\nallow in lo;", "\nallow established;", "\ndrop all;", "allow icmp mld-listener-query src \"fe80::/10\";"] {
        assert!(import.text.contains(both), "{both}: {}", import.text);
    }
    kernel_agrees(&a, &Policy::parse(&import.text).unwrap(), backend, "fwdsl-impx", false);
}
}

each_backend! {
/// Docker's own layout: Debian's Docker daemon in namespace A publishing a real
/// container's port (`-p 8080:8080`). Its `DOCKER-USER`, isolation and `DOCKER` chains
/// import exactly, and so does its nat table: the published port's DNAT behind
/// `--dst-type LOCAL` as `dnat local`, its `RETURN` for the bridge and its `! -o
/// docker0` masquerade through `no dnat`/`no snat`; only the DNAT of the host's own
/// connections (nat `OUTPUT`) is refused, by line and reason. Namespace B gets the same
/// topology by hand (a `docker0` bridge, a namespace at the container's address
/// listening on 8080) and the import applied by fwdsl: connections from outside to the
/// published port, to the container's address and to the host are decided alike.
fn dockers_layout_imports_and_the_kernel_agrees(backend) {
    use fwdsl::sandbox::Netns;
    use tests::probe::{connect, listen, Outcome};
    let Some(a) = sandbox("fwdsl-impd") else { return };
    if !tests::docker::available() {
        tests::skip("it needs Debian's docker.io and busybox-static (run .ci/run)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let docker = tests::docker::Docker::start(&a.server, dir.path());
    let image = docker.busybox_image();
    docker.run(&["run", "-d", "--name", "web", "-p", "8080:8080", image, "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]);
    let container: IpAddr = docker.run(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]).trim().parse().unwrap();
    let v4 = a.server.saved("iptables-save").unwrap();
    let v6 = a.server.saved("ip6tables-save").unwrap();
    let files = (SavedFile { name: "rules.v4", text: &v4 }, SavedFile { name: "rules.v6", text: &v6 });
    let strict = iptables_save(Some(files.0), Some(files.1), "", false).unwrap();
    let own = v4.lines().position(|l| l.starts_with("-A OUTPUT") && l.contains("-j DOCKER")).unwrap() + 1;
    let lines: Vec<usize> = strict.refused.iter().map(|r| r.line).collect();
    assert!(strict.text.is_empty() && lines == [own], "{strict}\n{v4}");
    let import = iptables_save(Some(files.0), Some(files.1), "", true).unwrap();
    assert!(import.differences.is_empty(), "{import}\n{}", import.text);
    for said in ["(DOCKER)", "\nno dnat local src 0.0.0.0/0 in docker0;", "\ndnat local tcp 8080 src 0.0.0.0/0 to 172.17.0.2:8080;", "\nno snat src 172.17.0.0/16 via docker0;", "\nmasquerade src 172.17.0.0/16;"] {
        assert!(import.text.contains(said), "{said}\n{}", import.text);
    }
    let policy = Policy::parse(&import.text).unwrap();
    // B: Docker's topology, without Docker.
    let b = sandbox("fwdsl-impe").unwrap();
    let ctr = Netns::create("fwdsl-ctr").unwrap();
    let ip = |ns: &Netns, args: &str| {
        let args: Vec<&str> = args.split(' ').collect();
        let out = ns.exec("ip", &args).unwrap();
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ip(&b.server, "link add docker0 type bridge");
    ip(&b.server, "addr add 172.17.0.1/16 dev docker0");
    ip(&b.server, "link set docker0 up");
    ip(&b.server, &format!("link add vethctr type veth peer name eth0 netns {}", ctr.name()));
    ip(&b.server, "link set vethctr master docker0 up");
    ip(&ctr, &format!("addr add {container}/16 dev eth0"));
    ip(&ctr, "link set eth0 up");
    ip(&ctr, "route add default via 172.17.0.1");
    assert!(b.server.exec("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]).unwrap().status.success());
    for sb in [&a, &b] {
        ip(&sb.client, &format!("route add 172.17.0.0/16 via {}", Sandbox::SERVER_V4));
    }
    let _web = listen(&ctr, &[container], &[8080]);
    b.server.run(|| firewall_on(backend).apply(&policy)).unwrap().unwrap();
    // What fwdsl wrote for `local` and the exemptions reads back as written.
    let again = b.server.run(|| firewall_on(backend).plan(&policy)).unwrap().unwrap();
    assert!(again.nat.is_empty(), "{again}");
    let server: IpAddr = Sandbox::SERVER_V4.into();
    for src in [Sandbox::CLIENT_V4, Sandbox::CLIENT_V4_ALT].map(IpAddr::from) {
        // 172.17.0.3:8080 passes through this host: a `dnat` without `local` would send
        // it to the container.
        let passing = IpAddr::from([172, 17, 0, 3]);
        for (dst, port) in [(server, 8080), (container, 8080), (passing, 8080), (container, 80), (container, 22), (server, 22)] {
            let original = connect(&a.client, src, dst, port).0;
            assert_eq!(connect(&b.client, src, dst, port).0, original, "{src} -> {dst}:{port}\n{}", import.text);
        }
    }
    // The probes above are not vacuous: the published port and the container answer.
    assert_eq!(connect(&b.client, Sandbox::CLIENT_V4.into(), server, 8080).0, Outcome::Delivered, "the published port");
    assert_eq!(connect(&b.client, Sandbox::CLIENT_V4.into(), container, 22).0, Outcome::Dropped);
    assert_eq!(connect(&b.client, Sandbox::CLIENT_V4.into(), IpAddr::from([172, 17, 0, 3]), 8080).0, Outcome::Dropped, "passing through");
}
}

/// A gateway's policy with everything an import must read back from fwdsl's own rules:
/// forward rules on the port the client connected to (`--ctorigdstport`, `ct original
/// proto-dst`), a port-changing `dnat local`, exemptions, a masquerade.
const GATEWAY: &str = "ssh none;
allow established;
allow tcp 22 src 10.0.0.0/8;
drop all;
allow forward established;
allow forward tcp 8080 dst 172.17.0.2;
drop forward all;
no dnat local in docker0;
dnat local tcp 8080 to 172.17.0.2:80;
no snat via docker0;
masquerade src 172.17.0.0/16;
";

each_backend! {
/// fwdsl's own rules, applied on each backend and read back from the live ruleset
/// (`iptables-save`, or `nft -j list ruleset`): the import is proved equivalent to them,
/// and decides every packet as the policy that wrote them.
fn fwdsls_own_rules_import_back_exactly(backend) {
    let Some(a) = sandbox("fwdsl-impr") else { return };
    assert!(a.server.exec("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]).unwrap().status.success());
    let policy = Policy::parse(GATEWAY).unwrap();
    a.server.run(|| firewall_on(backend).families(&[fwdsl::Family::V4]).apply(&policy)).unwrap().unwrap();
    let import = match backend {
        fwdsl::Backend::Iptables => {
            let v4 = a.server.saved("iptables-save").unwrap();
            iptables_save(Some(SavedFile { name: "rules.v4", text: &v4 }), None, "", false).unwrap()
        }
        fwdsl::Backend::Nftables => {
            let json = nft_ruleset(&a.server);
            nft_json(SavedFile { name: "ruleset.json", text: &json }, None, None, false).unwrap()
        }
    };
    assert!(import.is_equivalent(), "{import}\n{}", import.text);
    let back = Policy::parse(&import.text).unwrap();
    let v4 = |p: &Policy| -> Vec<fwdsl_core::Rule> {
        p.rules().iter().filter(|r| r.matches.families().contains(&fwdsl::Family::V4)).cloned().collect()
    };
    let differences = fwdsl_core::differences(&v4(&policy), &v4(&back));
    assert!(differences.is_empty(), "{differences:?}\n{}", import.text);
    for (from, port, to_host) in [([198, 51, 100, 7], 8080, true), ([198, 51, 100, 7], 8080, false), ([10, 1, 1, 1], 22, true)] {
        let packet = fwdsl::Packet::tcp(from, port);
        let packet = match to_host {
            true => packet.dst([192, 0, 2, 1]),
            false => packet.dst([198, 51, 100, 200]).forwarded(),
        };
        let (d, e) = (policy.decide(&packet), back.decide(&packet));
        assert_eq!((d.action(), d.nat.map(|t| t.packet)), (e.action(), e.nat.map(|t| t.packet)), "{packet:?}");
    }
}
}
