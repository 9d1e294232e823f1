//! What is exposed, in a real namespace: listeners on a few ports (one on loopback
//! only, one the policy drops, one UDP, one for the operator network only), a policy
//! with an opening nothing listens behind; the report puts each in its group and real
//! probes confirm each "reachable" and "dropped". Then the rule counters of `status`:
//! N connections grow their rule's packet counter by N, and no other rule's.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Exposure, Policy, Transport};
use std::net::{IpAddr, TcpListener};
use tests::each_backend;
use tests::probe::{on_backend, sandbox, Outcome, Probe, Servers};

const POLICY: &str = "ssh 22 from 10.0.0.0/8;
allow established;
allow in lo;
allow tcp 22 src 10.0.0.0/8;
allow tcp 8080;
allow udp 5353;
allow tcp 8443;
allow tcp 9000 src 10.0.0.0/8;
drop all;
";

fn ports(group: &[fwdsl::Exposed]) -> Vec<(Transport, u16)> {
    let mut out: Vec<(Transport, u16)> = group
        .iter()
        .map(|e| (e.socket.transport, e.socket.port))
        .collect();
    out.sort();
    out.dedup();
    out
}

each_backend! {
fn listening_sockets_against_the_policy_and_the_rule_counters(backend) {
    let Some(sb) = sandbox("fwdsl-exp") else {
        return;
    };
    let policy = Policy::parse(POLICY).unwrap();
    let servers = Servers::start(&sb, &[8080, 5432, 9000], &[5353]);
    let _loopback = sb
        .server
        .run(|| TcpListener::bind(("127.0.0.1", 6379)).expect("listen on loopback"))
        .unwrap();

    // Reading needs no rules applied and no root: it reads /proc.
    let report = sb
        .server
        .run(|| Exposure::read(&policy))
        .unwrap()
        .expect("exposure");
    assert_eq!(
        ports(&report.world),
        [(Transport::Tcp, 8080), (Transport::Udp, 5353)],
        "{report}"
    );
    assert_eq!(
        ports(&report.operator_only),
        [(Transport::Tcp, 9000)],
        "{report}"
    );
    // 9000 on IPv6 too: the operator network is IPv4, so nothing reaches that socket.
    assert_eq!(
        ports(&report.dropped),
        [(Transport::Tcp, 5432), (Transport::Tcp, 9000)],
        "{report}"
    );
    assert_eq!(
        ports(&report.loopback_only),
        [(Transport::Tcp, 6379)],
        "{report}"
    );
    let dropped_by = report.dropped[0]
        .dropped_by
        .as_ref()
        .expect("the deciding rule");
    assert_eq!(dropped_by.text, "drop all");
    let unused: Vec<(Transport, &str)> = report
        .unused
        .iter()
        .map(|u| (u.transport, u.rule.text.as_str()))
        .collect();
    assert_eq!(
        unused,
        [
            (Transport::Tcp, "allow tcp 22 src 10.0.0.0/8"),
            (Transport::Tcp, "allow tcp 8443")
        ],
        "{report}"
    );
    assert!(
        report.world.iter().all(|e| e.loopback),
        "`allow in lo`: {report}"
    );
    assert!(
        report.world[0].socket.process.is_some(),
        "the test process holds the socket: {report}"
    );
    let shown = report.to_string();
    assert!(
        shown.contains("listening, but dropped by the policy (intended?):"),
        "{shown}"
    );
    assert!(shown.contains("by rule 8 `drop all` (line 9)"), "{shown}");

    // The kernel agrees with each "reachable" and "dropped" entry.
    on_backend(&sb, backend, |fw| fw.apply(&policy)).expect("apply");
    let (client, server) = (
        IpAddr::from(Sandbox::CLIENT_V4),
        IpAddr::from(Sandbox::SERVER_V4),
    );
    let tcp = |port| Probe::Tcp {
        src: client,
        dst: server,
        port,
    };
    tcp(8080).check(&sb, &servers, &policy, Outcome::Delivered);
    tcp(5432).check(&sb, &servers, &policy, Outcome::Dropped);
    tcp(9000).check(&sb, &servers, &policy, Outcome::Dropped);
    Probe::Udp {
        src: client,
        dst: server,
        sport: 40999,
        port: 5353,
    }
    .check(&sb, &servers, &policy, Outcome::Delivered);

    // Counters: N new connections to 8080 are N packets of `allow tcp 8080` (the rest
    // of each connection is `allow established`'s).
    let counted = |text: &str| -> u64 {
        let status = on_backend(&sb, backend, |fw| fw.status()).expect("status");
        status
            .iter()
            // The IPv4 chain on iptables, the one for both families on nftables.
            .filter(|s| s.family != Some(fwdsl::Family::V6))
            .flat_map(|s| &s.rules)
            .filter(|r| r.spec.contains(&format!("\"fwdsl:{text}")))
            .map(|r| r.packets)
            .sum()
    };
    let (before, other) = (counted("4 allow tcp 8080"), counted("5 allow udp 5353"));
    let n = 5;
    for _ in 0..n {
        tcp(8080).check(&sb, &servers, &policy, Outcome::Delivered);
    }
    assert_eq!(counted("4 allow tcp 8080") - before, n);
    assert_eq!(counted("5 allow udp 5353"), other);
    let status = on_backend(&sb, backend, |fw| fw.status()).unwrap();
    assert!(status[0].to_string().contains("packets"), "{}", status[0]);
}
}
