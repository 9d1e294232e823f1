//! The matches people reach for, against the kernel: a per-source rate limit, `drop
//! invalid`, ICMP types, logging. Real packets from the client namespace; every
//! outcome compared with `decide`.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Action, Backend, Packet, Policy};
use std::net::Ipv4Addr;
use std::time::Duration;
use tests::each_backend;
use tests::probe::{connect, on_backend, sandbox, Outcome, Probe, Servers};
use tests::raw;

fn apply(sb: &Sandbox, backend: Backend, policy: &Policy) {
    on_backend(sb, backend, |fw| fw.apply(policy)).unwrap_or_else(|e| panic!("apply: {e}"));
}

/// Packet counter of the rule whose listing contains every one of `needles`: the IPv4
/// rule of `iptables -S -v`, or the rule of `nft list table inet fwdsl`.
fn counter(sb: &Sandbox, backend: Backend, needles: &[&str]) -> u64 {
    let (out, before) = match backend {
        Backend::Iptables => (sb.server.exec("iptables", &["-S", "-v"]), " -c "),
        Backend::Nftables => (
            sb.server.exec("nft", &["list", "table", "inet", "fwdsl"]),
            "counter packets ",
        ),
    };
    let listing = String::from_utf8_lossy(&out.unwrap().stdout).into_owned();
    let line = listing
        .lines()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no rule with {needles:?} in\n{listing}"));
    line.split(before)
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

each_backend! {
fn a_limit_counts_each_sources_new_connections(backend) {
    let Some(sb) = sandbox("fwdsl-limit") else {
        return;
    };
    let _servers = Servers::start(&sb, &[8022], &[]);
    let policy =
        Policy::parse("ssh 8022;\nallow established;\nallow tcp 8022 limit 6/30s;\ndrop all;\n")
            .unwrap();
    apply(&sb, backend, &policy);
    let server = Sandbox::SERVER_V4;
    let try_from = |src: Ipv4Addr| connect(&sb.client, src.into(), server.into(), 8022);
    let packet = |src: Ipv4Addr, sport| Packet::tcp(src, 8022).dst(server).sport(sport);
    for n in 1..=6 {
        let (outcome, sport) = try_from(Sandbox::CLIENT_V4);
        assert_eq!(outcome, Outcome::Delivered, "connection {n} of 6");
        let d = policy.decide(&packet(Sandbox::CLIENT_V4, sport));
        assert_eq!((d.action(), d.index), (Action::Allow, 1));
    }
    // The seventh is over the limit: the rule the simulator names for that decides.
    let (outcome, sport) = try_from(Sandbox::CLIENT_V4);
    assert_eq!(outcome, Outcome::Dropped, "the 7th connection within 30 s");
    let d = policy.decide(&packet(Sandbox::CLIENT_V4, sport));
    let above = d
        .above_limit
        .expect("a limited rule says who decides above it");
    assert_eq!(policy.rules()[above].text, "drop all");
    assert_eq!(Outcome::of(policy.rules()[above].action), outcome);
    // Another source has a bucket of its own.
    let (outcome, _) = try_from(Sandbox::CLIENT_V4_ALT);
    assert_eq!(outcome, Outcome::Delivered);
}
}

each_backend! {
fn drop_invalid_drops_a_segment_of_no_connection(backend) {
    let Some(sb) = sandbox("fwdsl-invalid") else {
        return;
    };
    let _servers = Servers::start(&sb, &[22], &[]);
    // Strict tracking in this namespace only: a segment of no connection is invalid
    // rather than picked up as one (the kernel's default picks it up).
    sb.server
        .exec(
            "sysctl",
            &["-q", "-w", "net.netfilter.nf_conntrack_tcp_loose=0"],
        )
        .ok();
    let bare_ack = || {
        raw::send_tcp(
            &sb.client,
            Sandbox::CLIENT_V4,
            40404,
            Sandbox::SERVER_V4,
            22,
            raw::ACK,
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let packet = Packet::tcp(Sandbox::CLIENT_V4, 22).sport(40404).invalid();
    // Without `drop invalid`, `allow tcp 22` takes the stray ACK.
    let lenient = fwdsl::firewall! { allow tcp 22; drop all; };
    apply(&sb, backend, &lenient);
    let before = counter(&sb, backend, &["fwdsl:1 allow tcp 22"]);
    bare_ack();
    assert_eq!(counter(&sb, backend, &["fwdsl:1 allow tcp 22"]), before + 1);
    assert_eq!(lenient.decide(&packet).index, 0);
    let strict = fwdsl::firewall! { drop invalid; allow tcp 22; drop all; };
    apply(&sb, backend, &strict);
    bare_ack();
    assert_eq!(counter(&sb, backend, &["fwdsl:1 drop invalid"]), 1);
    assert_eq!(counter(&sb, backend, &["fwdsl:2 allow tcp 22"]), 0);
    assert_eq!(strict.decide(&packet).index, 0);
    // A real connection is not invalid.
    Probe::Tcp {
        src: Sandbox::CLIENT_V4.into(),
        dst: Sandbox::SERVER_V4.into(),
        port: 22,
    }
    .check(&sb, &_servers, &strict, Outcome::Delivered);
}
}

each_backend! {
fn icmp_types_let_ping_in_and_keep_timestamps_out(backend) {
    let Some(sb) = sandbox("fwdsl-icmptype") else {
        return;
    };
    let servers = Servers::start(&sb, &[], &[]);
    let policy = fwdsl::firewall! { allow ssh; allow icmp echo-request; drop all; };
    let server = Sandbox::SERVER_V4;
    // Before: the host answers timestamp requests (type 13 with 14).
    assert!(raw::icmp_answered(
        &sb.client,
        server,
        13,
        14,
        Duration::from_millis(1500)
    ));
    apply(&sb, backend, &policy);
    Probe::Ping { dst: server.into() }.check(&sb, &servers, &policy, Outcome::Delivered);
    Probe::Ping {
        dst: Sandbox::SERVER_V6.into(),
    }
    .check(&sb, &servers, &policy, Outcome::Delivered);
    let answered = raw::icmp_answered(&sb.client, server, 13, 14, Duration::from_millis(1500));
    assert!(!answered, "a timestamp request got through");
    let timestamp = Packet::icmp(Sandbox::CLIENT_V4).dst(server).icmp_type(13);
    assert_eq!(policy.decide(&timestamp).action(), Action::Drop);
}
}

each_backend! {
fn log_rules_fire_with_their_prefix_and_let_packets_go_on(backend) {
    let Some(sb) = sandbox("fwdsl-log") else {
        return;
    };
    let servers = Servers::start(&sb, &[22, 80], &[]);
    let policy = fwdsl::firewall! {
        log tcp 80 prefix "fw-web: " limit 5/min;
        allow ssh;
        allow tcp 80;
        drop all log;
    };
    apply(&sb, backend, &policy);
    // How each backend lists the logging and the dropping half of `drop all log`.
    let (logged, dropped) = match backend {
        Backend::Iptables => ("--log-prefix \"fwdsl:4 \"", "-j DROP"),
        Backend::Nftables => ("log prefix \"fwdsl:4 \"", "drop comment"),
    };
    let tcp = |port| Probe::Tcp {
        src: Sandbox::CLIENT_V4.into(),
        dst: Sandbox::SERVER_V4.into(),
        port,
    };
    // The logged packet goes on to be accepted; the dropped one is logged first.
    tcp(80).check(&sb, &servers, &policy, Outcome::Delivered);
    assert!(counter(&sb, backend, &["fw-web: "]) >= 1);
    let d = policy.decide(&Packet::tcp(Sandbox::CLIENT_V4, 80));
    assert_eq!((d.index, d.logged_by.as_slice()), (2, &[0][..]));
    tcp(3306).check(&sb, &servers, &policy, Outcome::Dropped);
    assert!(counter(&sb, backend, &[logged]) >= 1);
    assert_eq!(
        counter(&sb, backend, &[logged]),
        counter(&sb, backend, &["fwdsl:4 drop all log", dropped]),
        "every dropped packet is logged (under the log limit)"
    );
}
}
