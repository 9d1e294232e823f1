//! NAT through a real gateway: client, gateway (running the policy) and backend
//! namespaces this test creates. Listeners tell each client the address they see it
//! come from, so that a test sees what `masquerade` does; every connection is compared
//! with `decide`, conntrack is asked for the translation, and uninstall leaves the nat
//! table as it was (a Docker-like rule of its own kept). On both backends.

use fwdsl::sandbox::Netns;
use fwdsl::{Action, Backend, Error, Packet, Policy};
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::each_backend;
use tests::probe::{firewall_on, sandbox, snapshot_of};
use tests::routed::{Routed, BACKEND, CLIENT, CLIENT_ALT, ROUTER_INSIDE, ROUTER_OUTSIDE};

/// A listener in a namespace that writes each client's address, as it sees it, and
/// hangs up; it stops when dropped (or after a minute).
struct PeerReporter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeerReporter {
    fn start(ns: &Netns, addr: Ipv4Addr, port: u16) -> PeerReporter {
        let listener = ns
            .run(|| TcpListener::bind((addr, port)))
            .unwrap()
            .expect("bind the reporter");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !stopped.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                match listener.accept() {
                    Ok((mut stream, peer)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.write_all(peer.ip().to_string().as_bytes());
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
        });
        PeerReporter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PeerReporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Connects from `src` (in `ns`) to `dst:port` and returns the address the far end
/// saw the connection come from; `None` when no connection was made.
fn ask(ns: &Netns, src: Ipv4Addr, dst: Ipv4Addr, port: u16) -> Option<IpAddr> {
    ns.run(|| -> std::io::Result<String> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.bind(&SocketAddr::from((src, 0)).into())?;
        socket.connect_timeout(
            &SocketAddr::from((dst, port)).into(),
            Duration::from_millis(1500),
        )?;
        let mut stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut seen = String::new();
        stream.read_to_string(&mut seen)?;
        Ok(seen)
    })
    .unwrap()
    .ok()
    .and_then(|seen| seen.parse().ok())
}

fn apply(net: &Routed, backend: Backend, policy: &Policy) -> bool {
    net.router
        .run(|| firewall_on(backend).apply(policy))
        .unwrap()
        .unwrap_or_else(|e| panic!("apply: {e}"))
        .changed
}

const GATEWAY: &str = "ssh none;
allow all;
allow forward established;
allow forward tcp 8080 src 198.51.100.2 dst 203.0.113.2;
drop forward all;
dnat tcp 8080 to 203.0.113.2:80;
redirect tcp 8081 to 9090;
";

each_backend! {
/// A `dnat` reaches the backend on the translated port, from the allowed client only;
/// the backend sees the client, or the gateway under `masquerade`; a `redirect` reaches
/// the gateway's own listener. Every connection as `decide` says.
fn dnat_redirect_and_masquerade_through_the_gateway(backend) {
    if sandbox("fwdsl-natprobe").is_none() {
        return;
    }
    let net = Routed::new("fwdsl-nat");
    // Docker's own NAT on the gateway, which fwdsl must leave alone.
    let docker = ["-t", "nat", "-A", "POSTROUTING", "-s", "172.17.0.0/16", "!", "-o", "docker0", "-j", "MASQUERADE"];
    net.router.exec("iptables", &docker).unwrap();
    let pristine = snapshot_of(&net.router);
    let _backend = PeerReporter::start(&net.backend, BACKEND, 80);
    let _local = PeerReporter::start(&net.router, ROUTER_OUTSIDE, 9090);
    let policy = Policy::parse(GATEWAY).unwrap();
    let plan = |policy: &Policy| net.router.run(|| firewall_on(backend).plan(policy)).unwrap().unwrap();
    let before = plan(&policy);
    assert!(!before.nat.is_empty(), "the prerouting chains to fill: {before}");
    assert!(before.to_string().contains("redirect tcp 8081 to 9090"), "{before}");
    assert!(apply(&net, backend, &policy));
    assert!(plan(&policy).nat.is_empty(), "{}", plan(&policy));

    let published = |src: Ipv4Addr| Packet::tcp(src, 8080).dst(ROUTER_OUTSIDE);
    let seen = ask(&net.client, CLIENT, ROUTER_OUTSIDE, 8080);
    assert_eq!(seen, Some(CLIENT.into()), "the backend sees the client");
    let d = policy.decide(&published(CLIENT));
    assert_eq!(d.action(), Action::Allow);
    let to = &d.nat.as_ref().expect("translated").packet;
    assert_eq!((to.dst, to.dport), (IpAddr::from(BACKEND), 80));
    assert_eq!(ask(&net.client, CLIENT_ALT, ROUTER_OUTSIDE, 8080), None);
    assert_eq!(policy.decide(&published(CLIENT_ALT)).action(), Action::Drop);
    // The kernel's translation, as conntrack keeps it.
    let tracked = net
        .router
        .exec("conntrack", &["-L", "-p", "tcp", "--orig-port-dst", "8080"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(tracked.contains("src=203.0.113.2") && tracked.contains("sport=80"), "{tracked}");

    // The redirect: to the gateway's own port 9090.
    let redirected = Packet::tcp(CLIENT, 8081).dst(ROUTER_OUTSIDE);
    assert_eq!(ask(&net.client, CLIENT, ROUTER_OUTSIDE, 8081), Some(CLIENT.into()));
    let d = policy.decide(&redirected);
    assert_eq!((d.action(), d.nat.as_ref().map(|t| t.packet.dport)), (Action::Allow, Some(9090)));

    assert!(!apply(&net, backend, &policy), "re-apply is a no-op");

    // Masqueraded on the way in: the backend sees the gateway.
    let masqueraded = Policy::parse(&format!("{GATEWAY}masquerade src 198.51.100.0/24 via inside;\n")).unwrap();
    assert!(apply(&net, backend, &masqueraded));
    assert_eq!(ask(&net.client, CLIENT, ROUTER_OUTSIDE, 8080), Some(ROUTER_INSIDE.into()));
    let d = masqueraded.decide(&published(CLIENT).via("inside"));
    assert_eq!((d.action(), d.source_nat), (Action::Allow, Some(2)));

    net.router
        .run(|| firewall_on(backend).uninstall())
        .unwrap()
        .expect("uninstall");
    assert_eq!(snapshot_of(&net.router), pristine, "Docker's rule kept, fwdsl's gone");
    assert_eq!(ask(&net.client, CLIENT, ROUTER_OUTSIDE, 8080), None);
}
}

each_backend! {
/// The VPN case: clients on the gateway's inside link (a WireGuard interface, say) go
/// out to the Internet under the gateway's address.
fn clients_behind_the_gateway_are_masqueraded_out(backend) {
    if sandbox("fwdsl-natprobe").is_none() {
        return;
    }
    let net = Routed::new("fwdsl-vpn");
    let _internet = PeerReporter::start(&net.client, CLIENT, 7000);
    let text = "ssh none;\nallow all;\nallow forward established;\nallow forward in inside;\ndrop forward all;\n";
    let plain = Policy::parse(text).unwrap();
    apply(&net, backend, &plain);
    assert_eq!(ask(&net.backend, BACKEND, CLIENT, 7000), Some(BACKEND.into()));
    let vpn = Policy::parse(&format!("{text}masquerade src 203.0.113.0/24 via outside;\n")).unwrap();
    apply(&net, backend, &vpn);
    assert_eq!(ask(&net.backend, BACKEND, CLIENT, 7000), Some(ROUTER_OUTSIDE.into()));
    let out = Packet::tcp(BACKEND, 7000).dst(CLIENT).forwarded().iface("inside").via("outside");
    let d = vpn.decide(&out);
    assert_eq!((d.action(), d.source_nat), (Action::Allow, Some(0)));
}
}

each_backend! {
/// NAT on a host that does not forward does nothing: the apply is refused and changes
/// nothing, unless fwdsl is asked to turn forwarding on.
fn nat_without_forwarding_is_refused_or_turned_on(backend) {
    if sandbox("fwdsl-natprobe").is_none() {
        return;
    }
    let net = Routed::new("fwdsl-nofwd");
    net.router.exec("sysctl", &["-q", "-w", "net.ipv4.ip_forward=0"]).unwrap();
    let before = snapshot_of(&net.router);
    let policy = Policy::parse(GATEWAY).unwrap();
    let refused = net.router.run(|| firewall_on(backend).apply(&policy)).unwrap();
    assert!(
        matches!(&refused, Err(Error::ForwardingDisabled { sysctl: "net.ipv4.ip_forward", .. })),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("`dnat tcp 8080 to 203.0.113.2:80` (line 6)"));
    assert_eq!(snapshot_of(&net.router), before);
    net.router
        .run(|| firewall_on(backend).enable_forwarding(true).apply(&policy))
        .unwrap()
        .expect("apply, forwarding turned on");
    let on = net.router.exec("sysctl", &["-n", "net.ipv4.ip_forward"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&on.stdout).trim(), "1");
}
}
