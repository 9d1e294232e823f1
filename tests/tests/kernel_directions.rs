//! Outgoing and forwarded traffic against the kernel: egress from the server namespace,
//! routing through a router namespace between a client and a backend, and Docker's
//! chain layout rebuilt by hand (DOCKER-USER, a DNAT'ed published port) with fwdsl's
//! forward rules hooked into it, and Docker 29's nftables layout (no DOCKER-USER: its
//! own `docker-bridges` table). Every probe's fate is compared with `decide`, on both
//! backends. All of it happens in namespaces this test creates.

use fwdsl::sandbox::{Netns, Sandbox};
use fwdsl::{Action, Backend, Direction, Error, Packet, Policy};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;
use tests::each_backend;
use tests::probe::{connect, firewall_on, listen, sandbox, saved_rules, snapshot, Outcome};
use tests::routed::{Routed, BACKEND, CLIENT, CLIENT_ALT, ROUTER_OUTSIDE};

fn apply(ns: &Netns, backend: Backend, policy: &Policy) {
    ns.run(|| firewall_on(backend).apply(policy))
        .unwrap()
        .unwrap_or_else(|e| panic!("apply: {e}"));
}

/// Sends a TCP probe and asserts the kernel did what `decide` says for `packet`.
fn check(
    ns: &Netns,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    port: u16,
    policy: &Policy,
    packet: Packet,
    expected: Outcome,
) {
    let (outcome, sport) = connect(ns, src.into(), dst.into(), port);
    let decided = Outcome::of(policy.decide(&packet.sport(sport)).action());
    assert_eq!(outcome, expected, "kernel: {src} -> {dst}:{port}");
    assert_eq!(decided, outcome, "decide vs kernel: {src} -> {dst}:{port}");
}

each_backend! {
fn egress_rules_decide_what_the_host_may_send(backend) {
    let Some(sb) = sandbox("fwdsl-egress") else {
        return;
    };
    let (server, client) = (Sandbox::SERVER_V4, Sandbox::CLIENT_V4);
    let _remote = listen(&sb.client, &[client.into()], &[8443, 25, 9000]);
    let ssh = listen(&sb.server, &[server.into()], &[22]);
    // The host is under fwdsl already (its `allow established` has connection tracking
    // running), then the operator's session opens, then the out policy goes live.
    let input_only = fwdsl::firewall! { allow ssh; allow established; drop all; };
    apply(&sb.server, backend, &input_only);
    let mut session = sb
        .client
        .run(|| TcpStream::connect_timeout(&(server, 22).into(), Duration::from_secs(2)))
        .unwrap()
        .expect("ssh-like session");
    let (mut accepted, _) = ssh[0].accept().unwrap();
    let policy = fwdsl::firewall! {
        allow ssh;
        allow established;
        drop all;
        allow out established;
        allow out tcp 8443;
        reject out tcp 25;
        allow out dns;
        drop out all;
    };
    apply(&sb.server, backend, &policy);
    let out = |port| Packet::tcp(server, port).dst(client).outgoing();
    check(
        &sb.server,
        server,
        client,
        8443,
        &policy,
        out(8443),
        Outcome::Delivered,
    );
    check(
        &sb.server,
        server,
        client,
        25,
        &policy,
        out(25),
        Outcome::Refused,
    );
    check(
        &sb.server,
        server,
        client,
        9000,
        &policy,
        out(9000),
        Outcome::Dropped,
    );
    // The session survives: this host's replies leave as `established`.
    accepted.write_all(b"still here").unwrap();
    session
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 10];
    session
        .read_exact(&mut buf)
        .expect("the session's replies get out");
    assert_eq!(&buf, b"still here");
    let reply = Packet::tcp(server, 50000)
        .sport(22)
        .dst(client)
        .established()
        .outgoing();
    assert_eq!(policy.decide(&reply).action(), Action::Allow);
    // Uninstall takes OUTPUT's hook and chain too.
    sb.server.run(|| firewall_on(backend).uninstall()).unwrap().unwrap();
    assert!(!snapshot(&sb).to_lowercase().contains("fwdsl"));
}
}

each_backend! {
fn forward_rules_decide_what_the_host_routes(backend) {
    if sandbox_missing() {
        return;
    }
    let net = Routed::new("fwdsl-fwd");
    let _backend = listen(&net.backend, &[BACKEND.into()], &[80, 8081]);
    let policy = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow forward tcp 80 src 198.51.100.2;
        allow forward established;
        drop forward all;
    };
    apply(&net.router, backend, &policy);
    let fwd = |src: Ipv4Addr, port| Packet::tcp(src, port).dst(BACKEND).forwarded();
    check(
        &net.client,
        CLIENT,
        BACKEND,
        80,
        &policy,
        fwd(CLIENT, 80),
        Outcome::Delivered,
    );
    check(
        &net.client,
        CLIENT_ALT,
        BACKEND,
        80,
        &policy,
        fwd(CLIENT_ALT, 80),
        Outcome::Dropped,
    );
    check(
        &net.client,
        CLIENT,
        BACKEND,
        8081,
        &policy,
        fwd(CLIENT, 8081),
        Outcome::Dropped,
    );
    let status = net.router.run(|| firewall_on(backend).status()).unwrap().unwrap();
    assert!(
        status.iter().any(|s| s.direction == Direction::Forward && s.hooked),
        "{status}"
    );
}
}

fn sandbox_missing() -> bool {
    sandbox("fwdsl-probe-tools").is_none()
}

/// The client connects to the host's port 8080, forwarded to the container's port 80:
/// the policy (`allow forward tcp 8080 src CLIENT; … drop forward all;`, which names
/// the published port) lets `CLIENT` in and drops `CLIENT_ALT`, as `decide` says.
fn only_client_reaches_published_port(net: &Routed, policy: &Policy) {
    let published = |src: Ipv4Addr| Packet::tcp(src, 8080).dst(BACKEND).forwarded();
    for (src, expected) in [(CLIENT, Outcome::Delivered), (CLIENT_ALT, Outcome::Dropped)] {
        check(
            &net.client,
            src,
            ROUTER_OUTSIDE,
            8080,
            policy,
            published(src),
            expected,
        );
    }
}

/// Docker's filter and nat layout for one published port (host 8080 -> container 80),
/// as `dockerd` writes it, with the router as the Docker host and the backend as the
/// container.
const DOCKER_RULES: [&str; 10] = [
    "-N DOCKER",
    "-N DOCKER-USER",
    "-A DOCKER-USER -j RETURN",
    "-P FORWARD DROP",
    "-A FORWARD -j DOCKER-USER",
    "-A FORWARD -o inside -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A FORWARD -o inside -j DOCKER",
    "-A FORWARD -i inside -j ACCEPT",
    "-A DOCKER -d 203.0.113.2/32 ! -i inside -o inside -p tcp -m tcp --dport 80 -j ACCEPT",
    "-t nat -A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 203.0.113.2:80",
];

each_backend! {
fn a_docker_published_port_obeys_the_forward_rules(backend) {
    if sandbox_missing() {
        return;
    }
    let net = Routed::new("fwdsl-docker");
    for rule in DOCKER_RULES {
        let args: Vec<&str> = rule.split(' ').collect();
        net.router.exec("iptables", &args).unwrap();
    }
    net.router
        .exec(
            "iptables",
            &[
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                "203.0.113.0/24",
                "!",
                "-o",
                "inside",
                "-j",
                "MASQUERADE",
            ],
        )
        .unwrap();
    let _container = listen(&net.backend, &[BACKEND.into()], &[80]);
    // Before fwdsl: Docker lets every client in, `drop all` on INPUT or not.
    let (before, _) = connect(&net.client, CLIENT_ALT.into(), ROUTER_OUTSIDE.into(), 8080);
    assert_eq!(
        before,
        Outcome::Delivered,
        "the Docker layout publishes 8080"
    );
    let docker = net.saved("iptables-save");
    let policy = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow forward tcp 8080 src 198.51.100.2;
        allow forward established;
        drop forward all;
    };
    apply(&net.router, backend, &policy);
    // On iptables fwdsl hooks into DOCKER-USER; on nftables its forward chain runs
    // before iptables-nft's FORWARD (priority -10 against 0) and drops first.
    if backend == Backend::Iptables {
        let saved = net.saved("iptables-save");
        assert!(
            saved.contains("-A DOCKER-USER -m comment --comment \"fwdsl:hook\" -j FWDSL-FORWARD\n-A DOCKER-USER -j RETURN"),
            "{saved}"
        );
    }
    only_client_reaches_published_port(&net, &policy);
    // Docker's own chains are as they were once fwdsl is gone.
    net.router
        .run(|| firewall_on(backend).uninstall())
        .unwrap()
        .expect("uninstall");
    assert_eq!(net.saved("iptables-save"), docker);
    assert!(!net.saved("ip6tables-save").contains("FWDSL"));
    let (after, _) = connect(&net.client, CLIENT_ALT.into(), ROUTER_OUTSIDE.into(), 8080);
    assert_eq!(after, Outcome::Delivered);
}
}

/// Docker 29's nftables layout for the same published port (`--firewall-backend=
/// nftables`, after moby's nftablesdoc): its own `ip docker-bridges` table with base
/// chains at the standard priorities, a verdict map per bridge, and no DOCKER-USER.
const DOCKER_NFT: &str = r#"
table ip docker-bridges {
    map filter-forward-in-jumps {
        type ifname : verdict
        elements = { "inside" : jump filter-forward-in__inside }
    }
    map filter-forward-out-jumps {
        type ifname : verdict
        elements = { "inside" : jump filter-forward-out__inside }
    }
    chain filter-FORWARD {
        type filter hook forward priority filter; policy accept;
        oifname vmap @filter-forward-in-jumps
        iifname vmap @filter-forward-out-jumps
    }
    chain filter-forward-in__inside {
        ct state established,related counter accept
        iifname != "inside" ip daddr 203.0.113.2 tcp dport 80 counter accept comment "PUBLISHED PORT"
        counter drop comment "DROP DIRECT ACCESS"
    }
    chain filter-forward-out__inside {
        ct state established,related counter accept
        counter accept comment "OUTGOING"
    }
    chain nat-PREROUTING {
        type nat hook prerouting priority dstnat; policy accept;
        fib daddr type local counter jump nat-prerouting-and-output
    }
    chain nat-prerouting-and-output {
        iifname != "inside" tcp dport 8080 counter dnat to 203.0.113.2:80 comment "DNAT"
    }
    chain nat-POSTROUTING {
        type nat hook postrouting priority srcnat; policy accept;
        oifname != "inside" ip saddr 203.0.113.0/24 counter masquerade
    }
}
"#;

/// On a host where Docker speaks nftables there is no DOCKER-USER to hook into: fwdsl's
/// forward chain runs before Docker's (priority -10 against 0), its drops are final,
/// status names Docker's chain as one that can drop too, and uninstall leaves Docker's
/// table exactly as it was.
#[test]
fn a_docker_published_port_in_nftables_mode_obeys_the_forward_rules() {
    if sandbox_missing() {
        return;
    }
    let backend = Backend::Nftables;
    let net = Routed::new("fwdsl-dnft");
    let docker_table = || net.saved_nft("docker-bridges");
    net.router.exec("nft", &[DOCKER_NFT]).unwrap();
    let docker = docker_table();
    let _container = listen(&net.backend, &[BACKEND.into()], &[80]);
    let (before, _) = connect(&net.client, CLIENT_ALT.into(), ROUTER_OUTSIDE.into(), 8080);
    assert_eq!(before, Outcome::Delivered, "Docker's table publishes 8080");
    let policy = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow forward tcp 8080 src 198.51.100.2;
        allow forward established;
        drop forward all;
    };
    apply(&net.router, backend, &policy);
    only_client_reaches_published_port(&net, &policy);
    // What else decides forwarded packets: Docker's chain, after fwdsl's, able to drop.
    let status = net
        .router
        .run(|| firewall_on(backend).status())
        .unwrap()
        .unwrap();
    let theirs = status
        .others
        .iter()
        .find(|o| o.table == "docker-bridges" && o.chain == "filter-FORWARD")
        .unwrap_or_else(|| panic!("Docker's chain not named:\n{status}"));
    assert!(theirs.can_drop && !theirs.before_fwdsl(), "{theirs:?}");
    assert!(status.to_string().contains("docker-bridges"), "{status}");
    net.router
        .run(|| firewall_on(backend).uninstall())
        .unwrap()
        .expect("uninstall");
    assert_eq!(docker_table(), docker);
    let (after, _) = connect(&net.client, CLIENT_ALT.into(), ROUTER_OUTSIDE.into(), 8080);
    assert_eq!(after, Outcome::Delivered);
}

each_backend! {
fn a_direction_the_policy_drops_is_unhooked_and_foreign_rules_stay(backend) {
    let Some(sb) = sandbox("fwdsl-dirswitch") else {
        return;
    };
    for (program, chain) in [("iptables", "OUTPUT"), ("iptables", "FORWARD")] {
        sb.server
            .exec(program, &["-A", chain, "-d", "192.0.2.99/32", "-j", "DROP"])
            .unwrap();
    }
    let pristine = snapshot(&sb);
    let hooked = |direction| {
        let status = sb.server.run(|| firewall_on(backend).status()).unwrap().unwrap();
        status.iter().any(|s| s.direction == direction && s.hooked)
    };
    let with_out = fwdsl::firewall! { allow ssh; drop all; allow out established; allow out dns; drop out all; };
    apply(&sb.server, backend, &with_out);
    assert!(hooked(Direction::Out));
    let saved = saved_rules(&sb, "iptables-save");
    assert!(saved.contains("-A OUTPUT -d 192.0.2.99/32 -j DROP"), "{saved}");
    let input_only = fwdsl::firewall! { allow ssh; drop all; };
    apply(&sb.server, backend, &input_only);
    assert!(!hooked(Direction::Out));
    // A failure at every step of a switch that adds out and forward leaves it as it was.
    let everything = fwdsl::firewall! {
        allow ssh; drop all;
        allow out established; allow out dns; drop out all;
        allow forward established; drop forward all;
    };
    let before = snapshot(&sb);
    let mut position = 0;
    while let Err(e) = sb
        .server
        .run(|| firewall_on(backend).inject_fault(position).apply(&everything))
        .unwrap()
    {
        assert!(matches!(e, Error::Iptables(_)), "{e}");
        assert_eq!(
            snapshot(&sb),
            before,
            "after a failure at step {position}"
        );
        position += 1;
        assert!(position < 20);
    }
    let status = sb.server.run(|| firewall_on(backend).status()).unwrap().unwrap();
    // Three directions, for each family on iptables, for both at once on nftables.
    let families = match backend {
        Backend::Iptables => 2,
        Backend::Nftables => 1,
    };
    assert_eq!(status.len(), 3 * families, "{status:?}");
    sb.server.run(|| firewall_on(backend).uninstall()).unwrap().unwrap();
    assert_eq!(snapshot(&sb), pristine);
}
}

each_backend! {
/// `drop out all` must not cut IPv6 off: the host's own neighbour solicitations and
/// advertisements are not tracked by conntrack (neither `allow out established` nor
/// any `new` rule lets them out), so fwdsl accepts them ahead of the `out` rules as it
/// does on input (hop limit 255 only). With the neighbour caches flushed, a ping over
/// IPv6 needs both directions of neighbour discovery to work again.
fn neighbour_discovery_survives_an_out_policy(backend) {
    let Some(sb) = sandbox("fwdsl-ndout") else {
        return;
    };
    let policy =
        Policy::parse("ssh none;\nallow all;\nallow out established;\ndrop out all;\n").unwrap();
    apply(&sb.server, backend, &policy);
    for ns in [&sb.server, &sb.client] {
        ns.exec("ip", &["-6", "neigh", "flush", "all"]).unwrap();
    }
    let server = Sandbox::SERVER_V6.to_string();
    let ping = sb
        .client
        .exec("ping", &["-6", "-c", "1", "-W", "3", &server])
        .map(|_| ());
    assert!(
        ping.is_ok(),
        "ping -6 after the neighbour caches were flushed: {ping:?}"
    );
    // `decide` says what the kernel did: the host's solicitation leaves (hop limit
    // 255), one claiming to come from off the link (hop limit 64) meets `drop out all`.
    let solicitation = Packet::icmp(Sandbox::SERVER_V6)
        .icmp_type(135)
        .dst(Sandbox::CLIENT_V6)
        .invalid()
        .outgoing();
    let on_link = policy.decide(&solicitation.clone().hop_limit(255));
    assert_eq!(on_link.action(), Action::Allow);
    assert_eq!(on_link.builtin, Some(fwdsl::Builtin::NeighbourDiscovery));
    assert_eq!(policy.decide(&solicitation).rule.text, "drop out all");
}
}
