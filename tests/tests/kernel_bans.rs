//! Bans that expire, judged by the kernel from a client namespace, on both backends: a
//! member with a 3 s lifetime blocks a real client and then lets it back by itself;
//! adding again extends and never shortens; a network member blocks every address of
//! it; `set_sync` makes a set of 10,000 members exactly a list, in one batch; a
//! lifetime above `max` or longer than the backend holds is refused; save and restore
//! keep what remains of each lifetime.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Error, Policy, SaveTarget};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tests::each_backend;
use tests::probe::{connect, listen, on_backend, sandbox, Outcome};

const SERVER: IpAddr = IpAddr::V4(Sandbox::SERVER_V4);
const CLIENT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4);
const CLIENT_ALT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4_ALT);

const POLICY: &str = "ssh none;\nset banned dynamic timeout 1h max 20d;\nallow established;\ndrop src $banned;\nallow tcp 80;\ndrop all;\n";

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn host(a: IpAddr) -> IpNet {
    IpNet::from(a)
}

fn web(sb: &Sandbox, src: IpAddr) -> Outcome {
    connect(&sb.client, src, SERVER, 80).0
}

/// The sandbox with the policy applied and a listener on port 80.
fn banning(prefix: &str, backend: Backend) -> Option<(Sandbox, Vec<std::net::TcpListener>)> {
    let sb = sandbox(prefix)?;
    let listeners = listen(&sb.server, &[SERVER], &[80]);
    let policy = Policy::parse(POLICY).unwrap();
    on_backend(&sb, backend, |fw| fw.apply(&policy)).unwrap();
    Some((sb, listeners))
}

/// What remains of `member`'s lifetime in the live set.
fn remaining(sb: &Sandbox, backend: Backend, member: IpNet) -> Option<Duration> {
    let entries = on_backend(sb, backend, |fw| fw.set_entries("banned")).unwrap();
    entries
        .into_iter()
        .find(|m| m.net == member)
        .expect("a member")
        .remaining
}

each_backend! {
/// A 3 s ban: the client is cut off, then let back by the kernel alone.
fn a_lifetime_blocks_then_ends_by_itself(backend) {
    let Some((sb, _l)) = banning("fwdsl-ttl", backend) else { return };
    assert_eq!(web(&sb, CLIENT), Outcome::Delivered);
    let banned_at = Instant::now();
    on_backend(&sb, backend, |fw| fw.set_add_for("banned", &[host(CLIENT)], Some(Duration::from_secs(3)))).unwrap();
    assert_eq!(web(&sb, CLIENT), Outcome::Dropped);
    assert_eq!(web(&sb, CLIENT_ALT), Outcome::Delivered, "only the banned address");
    let mut back = None;
    while banned_at.elapsed() < Duration::from_secs(12) {
        if web(&sb, CLIENT) == Outcome::Delivered {
            back = Some(banned_at.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let back = back.expect("the ban ended by itself");
    assert!(back >= Duration::from_secs(2), "ended after {back:?}, before its 3 s");
    let left = on_backend(&sb, backend, |fw| fw.set_members("banned")).unwrap();
    assert!(left.is_empty(), "{left:?}");
}
}

each_backend! {
/// Adding again keeps the later end; the set's default applies without a lifetime.
fn adding_again_extends_and_never_shortens(backend) {
    let Some((sb, _l)) = banning("fwdsl-ext", backend) else { return };
    let me = host(CLIENT);
    let add = |d: Option<u64>| on_backend(&sb, backend, |fw| fw.set_add_for("banned", &[me], d.map(Duration::from_secs))).unwrap();
    add(Some(60));
    assert!(remaining(&sb, backend, me).unwrap() <= Duration::from_secs(60));
    add(Some(600));
    let extended = remaining(&sb, backend, me).unwrap();
    assert!(extended > Duration::from_secs(590), "{extended:?}");
    add(Some(5));
    assert!(remaining(&sb, backend, me).unwrap() > Duration::from_secs(590), "shortened");
    // No lifetime: the declared default (1h), longer than what remains.
    add(None);
    assert!(remaining(&sb, backend, me).unwrap() > Duration::from_secs(3500));
    assert_eq!(web(&sb, CLIENT), Outcome::Dropped);
}
}

each_backend! {
/// A network member blocks every address of it; one address inside it is no hole.
fn a_network_member_blocks_each_address_of_it(backend) {
    let Some((sb, _l)) = banning("fwdsl-net", backend) else { return };
    on_backend(&sb, backend, |fw| fw.set_add_for("banned", &[net("192.0.2.0/24")], Some(Duration::from_secs(600)))).unwrap();
    assert_eq!(web(&sb, CLIENT), Outcome::Dropped);
    assert_eq!(web(&sb, CLIENT_ALT), Outcome::Dropped);
    // A longer ban of one address inside: the network is not shortened for it (nft
    // holds no overlap: the network then lives as long).
    on_backend(&sb, backend, |fw| fw.set_add_for("banned", &[host(CLIENT)], Some(Duration::from_secs(1200)))).unwrap();
    let entries = on_backend(&sb, backend, |fw| fw.set_entries("banned")).unwrap();
    assert!(entries.iter().any(|m| m.net.contains(&CLIENT) && m.remaining > Some(Duration::from_secs(1100))), "{entries:?}");
    assert_eq!(web(&sb, CLIENT_ALT), Outcome::Dropped);
}
}

each_backend! {
/// `set_sync` of 10,000 members: added, kept, extended, removed, exactly as listed,
/// and the kernel follows (the client on the list or not).
fn sync_makes_a_set_exactly_a_list(backend) {
    let Some((sb, _l)) = banning("fwdsl-sync", backend) else { return };
    let many = |from: u32, n: u32| -> Vec<(IpNet, Option<Duration>)> {
        (from..from + n)
            .map(|i| (IpNet::from(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))), Some(Duration::from_secs(600))))
            .collect()
    };
    let mut first = many(0, 9_999);
    first.push((host(CLIENT), Some(Duration::from_secs(600))));
    let report = on_backend(&sb, backend, |fw| fw.set_sync("banned", &first)).unwrap();
    assert_eq!((report.added.len(), report.removed.len()), (10_000, 0), "{report}");
    assert_eq!(web(&sb, CLIENT), Outcome::Dropped);
    // Half kept (with what remains of them: a manager's list counts down too), half
    // new, the client gone, one lifetime longer.
    let live = on_backend(&sb, backend, |fw| fw.set_entries("banned")).unwrap();
    let mut second = many(4_999, 10_000);
    for (net, lifetime) in second.iter_mut() {
        if let Some(m) = live.iter().find(|m| m.net == *net) {
            *lifetime = m.remaining;
        }
    }
    second[0].1 = Some(Duration::from_secs(3_000));
    let report = on_backend(&sb, backend, |fw| fw.set_sync("banned", &second)).unwrap();
    assert_eq!(report.added.len(), 5_000, "{report}");
    assert_eq!(report.removed.len(), 5_000, "{report}"); // 4,999 old and the client
    assert!(report.shortened.is_empty(), "{report}");
    assert!(report.extended == vec![second[0].0], "{report}");
    assert_eq!(web(&sb, CLIENT), Outcome::Delivered);
    let members = on_backend(&sb, backend, |fw| fw.set_members("banned")).unwrap();
    assert_eq!(members.len(), 10_000);
    // The list as the kernel holds it now: nothing to do.
    let now: Vec<(IpNet, Option<Duration>)> = on_backend(&sb, backend, |fw| fw.set_entries("banned"))
        .unwrap()
        .into_iter()
        .map(|m| (m.net, m.remaining))
        .collect();
    let report = on_backend(&sb, backend, |fw| fw.set_sync("banned", &now)).unwrap();
    assert!(report == fwdsl::SyncReport::default(), "{report}");
}
}

each_backend! {
/// Above `max`, or longer than the backend holds: refused, nothing changed.
fn lifetimes_beyond_the_bounds_are_refused(backend) {
    let Some((sb, _l)) = banning("fwdsl-max", backend) else { return };
    let day = Duration::from_secs(86_400);
    let e = on_backend(&sb, backend, |fw| fw.set_add_for("banned", &[host(CLIENT)], Some(day * 21))).unwrap_err();
    assert!(e.to_string().contains("above the set's `max 20d`"), "{e}");
    assert!(on_backend(&sb, backend, |fw| fw.set_members("banned")).unwrap().is_empty());
    // A policy whose bound the backend cannot hold.
    let long = Policy::parse(&POLICY.replace("max 20d", "max 30d")).unwrap();
    let applied = on_backend(&sb, backend, |fw| fw.apply(&long));
    match backend {
        Backend::Iptables => {
            let e = applied.unwrap_err();
            assert!(matches!(e, Error::SetChange { .. }) && e.to_string().contains("2147483 s"), "{e}");
        }
        Backend::Nftables => {
            applied.unwrap();
            on_backend(&sb, backend, |fw| fw.set_add_for("banned", &[host(CLIENT)], Some(day * 30))).unwrap();
            assert!(remaining(&sb, backend, host(CLIENT)).unwrap() > day * 29);
        }
    }
}
}

each_backend! {
/// Save keeps each member's remaining lifetime, and a restore brings it back.
fn save_and_restore_keep_what_remains(backend) {
    let Some((sb, _l)) = banning("fwdsl-bsave", backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let target = SaveTarget::in_dir(dir.path());
    on_backend(&sb, backend, |fw| {
        fw.set_add_for("banned", &[host(CLIENT)], Some(Duration::from_secs(300)))?;
        fw.set_add_for("banned", &[net("198.51.100.0/24")], None)?;
        fw.save(&target)
    })
    .unwrap();
    on_backend(&sb, backend, |fw| fw.uninstall()).unwrap();
    assert_eq!(web(&sb, CLIENT), Outcome::Delivered);
    on_backend(&sb, backend, |fw| fw.restore(&target)).unwrap();
    let left = remaining(&sb, backend, host(CLIENT)).unwrap();
    assert!(left <= Duration::from_secs(300) && left > Duration::from_secs(250), "{left:?}");
    assert!(remaining(&sb, backend, net("198.51.100.0/24")).unwrap() > Duration::from_secs(3000));
    assert_eq!(web(&sb, CLIENT), Outcome::Dropped);
}
}

each_backend! {
/// A boot gives each member only what is left of its lifetime: one whose end passed
/// while the host was down is gone, a longer one keeps what remains, one without a
/// lifetime stays. The boot commands, replayed in a fresh namespace as the unit runs
/// them; the same through `Firewall::restore`.
fn a_boot_gives_members_only_what_is_left(backend) {
    let Some((sb, _l)) = banning("fwdsl-bboot", backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let target = SaveTarget::in_dir(dir.path());
    let report = on_backend(&sb, backend, |fw| {
        fw.set_add_for("banned", &[host(CLIENT)], Some(Duration::from_secs(2)))?;
        fw.set_add_for("banned", &[host(CLIENT_ALT)], Some(Duration::from_secs(300)))?;
        fw.set_add_for("banned", &[net("198.51.100.0/24")], Some(Duration::from_secs(86_400)))?;
        fw.save(&target)
    })
    .unwrap();
    let expiries = std::fs::read_to_string(target.expiries()).unwrap();
    assert_eq!(expiries.lines().count(), 3, "{expiries}");
    assert!(report.boot_commands().last().unwrap()[0] == "sh", "{:?}", report.boot_commands());
    // The host is "down" for 4 s.
    std::thread::sleep(Duration::from_secs(4));
    let booted = sandbox("fwdsl-bboot2").unwrap();
    for command in report.boot_commands() {
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        let out = booted.server.exec(&command[0], &args).unwrap();
        assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let members = on_backend(&booted, backend, |fw| fw.set_entries("banned")).unwrap();
    // nft keeps an ended member for its last second.
    let alive: Vec<_> = members.iter().filter(|m| m.remaining > Some(Duration::from_secs(1))).collect();
    assert!(!alive.iter().any(|m| m.net == host(CLIENT)), "{members:?}");
    let alt = alive.iter().find(|m| m.net == host(CLIENT_ALT)).expect("the 300 s ban");
    assert!(alt.remaining <= Some(Duration::from_secs(297)), "{alt:?}");
    assert!(alive.iter().any(|m| m.net == net("198.51.100.0/24")));
    // Through restore, in the namespace it was saved from.
    on_backend(&sb, backend, |fw| fw.restore(&target)).unwrap();
    let alt = remaining(&sb, backend, host(CLIENT_ALT)).unwrap();
    assert!(alt <= Duration::from_secs(297), "{alt:?}");
}
}
