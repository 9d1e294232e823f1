//! Real packets through a sandbox: servers listening in the server namespace, probes
//! sent from the client namespace, and what the kernel did with each, compared with
//! what the policy's simulator says it should do.

use fwdsl::sandbox::{Netns, Sandbox};
use fwdsl::{Action, Packet, Policy};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// How long a probe waits for an answer: a dropped packet is one never answered.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

static NEXT_SPORT: AtomicU16 = AtomicU16::new(41000);

/// The skip rule: without root, `ip` or iptables the kernel tests cannot run; under
/// `CI=true` that is a failure, never a skip.
pub fn sandbox(prefix: &str) -> Option<Sandbox> {
    let missing = Sandbox::missing();
    if !missing.is_empty() {
        crate::skip::skip(&format!("this machine lacks {}", missing.join(", ")));
        return None;
    }
    Some(Sandbox::new(prefix).expect("create sandbox namespaces"))
}

/// What the kernel did with a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reached the server (connection made, datagram received, echo answered).
    Delivered,
    /// Never answered.
    Dropped,
    /// Refused (TCP reset or ICMP unreachable came back).
    Refused,
}

impl Outcome {
    /// The outcome a verdict produces.
    pub fn of(action: Action) -> Outcome {
        match action {
            Action::Allow => Outcome::Delivered,
            Action::Drop => Outcome::Dropped,
            Action::Reject => Outcome::Refused,
            Action::Log => unreachable!("a log rule decides nothing"),
        }
    }
}

/// A probe to send.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// A TCP connection from `src` to the server's `port`.
    Tcp { src: IpAddr, dst: IpAddr, port: u16 },
    /// A UDP datagram from `src`:`sport` to the server's `port`.
    Udp {
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        port: u16,
    },
    /// An ICMP echo request from the client's main address.
    Ping { dst: IpAddr },
}

/// Listening TCP and bound UDP sockets in the server namespace, kept open while alive.
pub struct Servers {
    _tcp: Vec<TcpListener>,
    udp: Vec<(u16, IpAddr, UdpSocket)>,
}

impl Servers {
    /// Listens on every port in `tcp` and binds every port in `udp`, on both families.
    pub fn start(sandbox: &Sandbox, tcp: &[u16], udp: &[u16]) -> Servers {
        sandbox
            .server
            .run(|| {
                let mut listeners = Vec::new();
                let mut sockets = Vec::new();
                for addr in [
                    IpAddr::from(Sandbox::SERVER_V4),
                    IpAddr::from(Sandbox::SERVER_V6),
                ] {
                    for &port in tcp {
                        listeners.push(
                            TcpListener::bind((addr, port)).expect("listen in server namespace"),
                        );
                    }
                    for &port in udp {
                        let socket =
                            UdpSocket::bind((addr, port)).expect("bind udp in server namespace");
                        socket.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
                        sockets.push((port, addr, socket));
                    }
                }
                Servers {
                    _tcp: listeners,
                    udp: sockets,
                }
            })
            .expect("enter server namespace")
    }
}

fn domain(addr: IpAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

impl Probe {
    /// The packet the simulator is asked about. `sport` is the source port the probe
    /// used (TCP and UDP).
    fn packet(&self, sport: u16) -> Packet {
        match *self {
            Probe::Tcp { src, dst, port } => Packet::tcp(src, port).dst(dst).sport(sport),
            Probe::Udp { src, dst, port, .. } => Packet::udp(src, port).dst(dst).sport(sport),
            Probe::Ping { dst } => {
                let src: IpAddr = if dst.is_ipv4() {
                    Sandbox::CLIENT_V4.into()
                } else {
                    Sandbox::CLIENT_V6.into()
                };
                Packet::icmp(src).dst(dst)
            }
        }
    }

    /// Sends the probe from the client namespace; returns what happened and the source
    /// port it used.
    pub fn send(&self, sandbox: &Sandbox, servers: &Servers) -> (Outcome, u16) {
        match *self {
            Probe::Tcp { src, dst, port } => connect(&sandbox.client, src, dst, port),
            Probe::Udp {
                src,
                dst,
                sport,
                port,
            } => {
                let marker = format!("fwdsl-probe-{sport}-{port}");
                // Connected, so that an ICMP port unreachable (a reject) comes back to
                // it as ECONNREFUSED; the socket stays in the client's namespace.
                let client = sandbox
                    .client
                    .run(|| {
                        let socket = UdpSocket::bind((src, sport)).expect("bind udp probe");
                        socket.connect((dst, port)).expect("connect udp probe");
                        socket.send(marker.as_bytes()).expect("send udp probe");
                        socket
                    })
                    .expect("enter client namespace");
                let (_, _, server) = servers
                    .udp
                    .iter()
                    .find(|(p, a, _)| *p == port && *a == dst)
                    .expect("a server on that port");
                let mut buf = [0u8; 64];
                // A bounded wait: datagrams that are not this probe's are skipped, at most a few.
                for _ in 0..4 {
                    match server.recv_from(&mut buf) {
                        Ok((n, _)) if &buf[..n] == marker.as_bytes() => {
                            return (Outcome::Delivered, sport)
                        }
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
                client
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let refused = matches!(client.recv(&mut buf), Err(e) if e.kind() == ErrorKind::ConnectionRefused);
                (
                    if refused {
                        Outcome::Refused
                    } else {
                        Outcome::Dropped
                    },
                    sport,
                )
            }
            Probe::Ping { dst } => {
                let wait = format!("{}", PROBE_TIMEOUT.as_secs().max(1));
                let ok = sandbox
                    .client
                    .exec("ping", &["-n", "-c", "1", "-W", &wait, &dst.to_string()])
                    .is_ok();
                (
                    if ok {
                        Outcome::Delivered
                    } else {
                        Outcome::Dropped
                    },
                    0,
                )
            }
        }
    }

    /// Sends the probe, asserts the kernel did `expected`, and that the simulator agrees.
    pub fn check(&self, sandbox: &Sandbox, servers: &Servers, policy: &Policy, expected: Outcome) {
        let outcome = self.agrees(sandbox, servers, policy);
        assert_eq!(outcome, expected, "kernel: {self:?}");
    }

    /// Sends the probe and asserts that the simulator decides it as the kernel did;
    /// returns what the kernel did.
    pub fn agrees(&self, sandbox: &Sandbox, servers: &Servers, policy: &Policy) -> Outcome {
        let (outcome, sport) = self.send(sandbox, servers);
        let decision = policy.decide(&self.packet(sport));
        let simulated = Outcome::of(decision.action());
        // A rejected ping is not answered either: ICMP errors are not sent for ICMP.
        let simulated = match (self, simulated) {
            (Probe::Ping { .. }, Outcome::Refused) => Outcome::Dropped,
            _ => simulated,
        };
        assert_eq!(
            simulated, outcome,
            "simulator vs kernel for {self:?}: `{}` decided it",
            decision.rule.text
        );
        outcome
    }
}

/// A TCP connection from `src` (an address of namespace `ns`) to `dst`:`port`; what
/// happened, and the source port it used.
pub fn connect(ns: &Netns, src: IpAddr, dst: IpAddr, port: u16) -> (Outcome, u16) {
    let sport = NEXT_SPORT.fetch_add(1, Ordering::Relaxed);
    let outcome = ns
        .run(|| {
            let socket = Socket::new(domain(src), Type::STREAM, Some(Protocol::TCP)).unwrap();
            socket.set_reuse_address(true).unwrap();
            socket
                .bind(&SockAddr::from(SocketAddr::new(src, sport)))
                .expect("bind probe source");
            match socket.connect_timeout(&SockAddr::from(SocketAddr::new(dst, port)), PROBE_TIMEOUT)
            {
                Ok(()) => Outcome::Delivered,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => Outcome::Refused,
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                    Outcome::Dropped
                }
                // An ICMP unreachable for a SYN can also come back as "host unreachable".
                Err(e) if e.raw_os_error() == Some(113) => Outcome::Refused,
                Err(e) => panic!("tcp probe {src}:{sport} -> {dst}:{port}: {e}"),
            }
        })
        .expect("enter the probing namespace");
    (outcome, sport)
}

/// TCP listeners on `ports` of `addresses` in namespace `ns`, open while kept.
pub fn listen(ns: &Netns, addresses: &[IpAddr], ports: &[u16]) -> Vec<TcpListener> {
    ns.run(|| {
        addresses
            .iter()
            .flat_map(|&a| ports.iter().map(move |&p| (a, p)))
            .map(|(a, p)| TcpListener::bind((a, p)).expect("listen"))
            .collect()
    })
    .expect("enter the listening namespace")
}

/// `iptables-save` (or `ip6tables-save`) of a namespace, without the lines and counters
/// that change by themselves (timestamps, packet counts).
pub fn saved_rules(sandbox: &Sandbox, program: &str) -> String {
    sandbox.server.saved(program).expect("iptables-save")
}

/// The firewall handle of the kernel tests: namespaces only, no SSH session to guard.
pub fn firewall() -> fwdsl::Firewall {
    fwdsl::Firewall::new()
        .namespaces_only()
        .ssh_connection(None)
}

/// The kernel tests' firewall handle on `backend`.
pub fn firewall_on(backend: fwdsl::Backend) -> fwdsl::Firewall {
    firewall().backend(backend)
}

/// [`on_server`] with the handle on `backend`.
pub fn on_backend<T: Send>(
    sb: &Sandbox,
    backend: fwdsl::Backend,
    f: impl FnOnce(fwdsl::Firewall) -> Result<T, fwdsl::Error> + Send,
) -> Result<T, fwdsl::Error> {
    sb.server
        .run(|| f(firewall_on(backend)))
        .expect("enter the server namespace")
}

/// Everything of the server namespace's firewall, whichever backend wrote it, without
/// counters: both families' iptables tables, the whole nftables ruleset, the ipsets.
pub fn snapshot(sb: &Sandbox) -> String {
    snapshot_of(&sb.server)
}

/// [`snapshot`] of any namespace.
pub fn snapshot_of(ns: &Netns) -> String {
    let saved = |program| ns.saved(program).expect("iptables-save");
    let (v4, v6) = (saved("iptables-save"), saved("ip6tables-save"));
    let nft = ns
        .exec("nft", &["-s", "list", "ruleset"])
        .map(|o| canonical_ruleset(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default();
    let sets = ns
        .exec("ipset", &["save"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let (v4, v6) = (without_empty_tables(&v4), without_empty_tables(&v6));
    format!("{v4}\n{v6}\n{nft}\n{sets}")
}

/// An `iptables-save` listing without the tables that hold nothing but built-in chains
/// of policy ACCEPT: iptables-nft creates a table on first use (a failed transaction
/// or an uninstall can leave it behind), and such a table decides nothing.
fn without_empty_tables(saved: &str) -> String {
    saved
        .split_inclusive("COMMIT\n")
        .filter(|table| {
            !table.lines().all(|l| {
                l.starts_with('*')
                    || l == "COMMIT"
                    || (l.starts_with(':') && l.ends_with(" ACCEPT"))
            })
        })
        .collect()
}

/// An nft ruleset listing with each table's chains and sets in name order: the order
/// nft lists them in follows their creation, which a rollback that re-creates an
/// iptables-nft chain may change without changing what the ruleset does. Empty base
/// chains of policy accept are left out: iptables-nft creates its built-in chains on
/// first use (even in a transaction that fails), and they decide nothing.
fn canonical_ruleset(listing: &str) -> String {
    let mut tables: Vec<String> = Vec::new();
    for table in listing.split("\ntable ").filter(|t| !t.trim().is_empty()) {
        let table = table.trim_start_matches("table ").trim_end();
        let (head, body) = table.split_once('\n').unwrap_or((table, ""));
        let mut blocks: Vec<&str> = body
            .trim_end_matches('}')
            .split("\n\n")
            .map(str::trim)
            .filter(|block| {
                let lines: Vec<&str> = block.lines().map(str::trim).collect();
                !(lines.len() == 3 && lines[1].ends_with("policy accept;") && lines[2] == "}")
            })
            .collect();
        blocks.sort_unstable();
        if blocks.iter().all(|b| b.is_empty()) {
            continue;
        }
        tables.push(format!("table {head}\n{}\n}}", blocks.join("\n\n")));
    }
    tables.sort_unstable();
    tables.join("\n")
}

/// Runs `f` with the tests' firewall handle inside the sandbox's server namespace.
pub fn on_server<T: Send>(
    sb: &Sandbox,
    f: impl FnOnce(fwdsl::Firewall) -> Result<T, fwdsl::Error> + Send,
) -> Result<T, fwdsl::Error> {
    sb.server
        .run(|| f(firewall()))
        .expect("enter the server namespace")
}

/// `iptables-save` and `ip6tables-save` of the server namespace.
pub fn both_saved(sb: &Sandbox) -> (String, String) {
    (
        saved_rules(sb, "iptables-save"),
        saved_rules(sb, "ip6tables-save"),
    )
}
