//! Checks made before anything changes: permissions, the network namespace, the
//! xtables lock, and the SSH session the new rules must not cut.

use super::state::NsKey;
use crate::error::{Error, RuleRef};
use crate::Policy;
use fwdsl_core::{Action, Packet};
use std::fs::{File, OpenOptions};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bit of CAP_NET_ADMIN in the capability masks of /proc/self/status.
const CAP_NET_ADMIN: u32 = 12;

/// Whether a `CapEff:` mask from /proc/self/status includes CAP_NET_ADMIN.
pub(crate) fn has_net_admin(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << CAP_NET_ADMIN) != 0)
}

pub(crate) fn check_permissions(namespaces_only: bool) -> Result<(), Error> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if !has_net_admin(&status) {
        return Err(Error::NotPermitted);
    }
    if namespaces_only {
        outside_machine_namespace().map_err(Error::RootNamespace)?;
    }
    Ok(())
}

/// The calling thread's network namespace (its inode), `None` where /proc cannot tell.
pub(crate) fn namespace_id() -> Option<u64> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .ok()
}

/// `SO_NETNS_COOKIE` (asm-generic's number; the libc crate does not export it).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The calling thread's network namespace as fwdsl's state names it: its inode and its
/// cookie, which the kernel never reuses (Linux 5.14 and later; 0 before).
pub(crate) fn namespace_key() -> NsKey {
    NsKey {
        inode: namespace_id().unwrap_or(0),
        cookie: netns_cookie().unwrap_or(0),
    }
}

fn netns_cookie() -> Option<u64> {
    // SAFETY: a socket this function owns, asked one u64 option, and closed.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let mut cookie: u64 = 0;
        let mut len = size_of::<u64>() as libc::socklen_t;
        let got = libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        );
        libc::close(fd);
        (got == 0).then_some(cookie)
    }
}

/// Whether the calling thread (whose namespace fwdsl's iptables processes inherit) is
/// shown to be outside the machine's own network namespace.
#[cfg(feature = "sandbox")]
pub(crate) fn in_own_namespace() -> bool {
    outside_machine_namespace().is_ok()
}

/// Shows that the calling thread is not in the machine's own network namespace, or
/// says precisely why it cannot. The machine's namespace is PID 1's where that can be
/// read; where it cannot (a container, `hidepid`), a namespace made by `ip netns add`
/// (bound under /run/netns) is recognisably not the machine's, whether this process
/// entered it with setns(2) or was started in it by `ip netns exec`.
fn outside_machine_namespace() -> Result<(), String> {
    let thread = namespace_id().ok_or(
        "the calling thread's network namespace cannot be read from /proc/thread-self/ns/net",
    )?;
    match std::fs::metadata("/proc/1/ns/net") {
        Ok(init) if init.ino() == thread => Err(format!(
            "the calling thread is in PID 1's network namespace (net:[{thread}]), the machine's own"
        )),
        Ok(_) => Ok(()),
        Err(_) if named_namespaces().contains(&thread) => Ok(()),
        Err(e) => Err(format!(
            "PID 1's network namespace cannot be read ({e}), and the calling thread's \
             (net:[{thread}]) is not one of the named namespaces in /run/netns"
        )),
    }
}

/// The inodes of the namespaces `ip netns add` created.
fn named_namespaces() -> Vec<u64> {
    std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::metadata(entry.path()).ok())
        .map(|m| m.ino())
        .collect()
}

/// Waits, at most `timeout`, until no other program holds the xtables lock. The
/// `iptables` crate passes a bare `--wait`, which would wait forever.
pub(crate) fn wait_for_lock(path: &Path, timeout: Duration) -> Result<(), Error> {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    else {
        // No lock file we may open: nothing to wait for (nft backends take no lock).
        return Ok(());
    };
    let start = Instant::now();
    loop {
        if try_lock(&file) {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(Error::LockHeld {
                path: path.to_path_buf(),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Takes and at once releases the lock: only whether someone else holds it matters.
fn try_lock(file: &File) -> bool {
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            true
        }
        Err(_) => false,
    }
}

/// An SSH session to protect: the one `$SSH_CONNECTION` describes (`client_ip
/// client_port server_ip server_port`, with addresses as sshd writes them: possibly
/// bracketed, with a zone `%iface` on link-local ones, or IPv4-mapped on a dual-stack
/// socket), or one found established in the kernel's socket tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    client: IpAddr,
    client_port: u16,
    server: IpAddr,
    server_port: u16,
    /// The interface of a link-local address's zone.
    zone: Option<String>,
    /// Where it was found: `$SSH_CONNECTION`, or the process holding it (`sshd`).
    found: String,
}

impl Session {
    /// The client's address.
    pub(crate) fn client(&self) -> IpAddr {
        self.client
    }
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |ip: IpAddr, port: u16| std::net::SocketAddr::new(ip, port);
        write!(
            f,
            "{} -> {} ({})",
            at(self.client, self.client_port),
            at(self.server, self.server_port),
            self.found
        )
    }
}

/// An address as sshd may write it, with its zone; IPv4-mapped IPv6 addresses become
/// the IPv4 addresses they are (the kernel's IPv4 rules see them).
fn parse_address(text: &str) -> Option<(IpAddr, Option<String>)> {
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let (address, zone) = match text.split_once('%') {
        Some((a, z)) if !z.is_empty() => (a, Some(z.to_string())),
        Some(_) => return None,
        None => (text, None),
    };
    let address: IpAddr = address.parse().ok()?;
    Some((address.to_canonical(), zone))
}

fn parse_session(connection: &str) -> Option<Session> {
    let parts: Vec<&str> = connection.split_whitespace().collect();
    let [client, client_port, server, server_port] = parts[..] else {
        return None;
    };
    let (client, client_zone) = parse_address(client)?;
    let (server, server_zone) = parse_address(server)?;
    if client.is_ipv4() != server.is_ipv4() {
        return None;
    }
    Some(Session {
        client,
        client_port: client_port.parse().ok()?,
        server,
        server_port: server_port.parse().ok()?,
        zone: server_zone.or(client_zone),
        found: "$SSH_CONNECTION".into(),
    })
}

/// The sessions to protect: `$SSH_CONNECTION`'s (as `connection` gives it; unreadable is
/// an error, not "none"), and with `kernel` every established SSH session to this host
/// (to a port sshd listens on, or to the policy's declared `ssh PORT`), which `sudo`
/// and Ansible's `become` cannot hide by dropping the variable.
pub(crate) fn sessions(
    connection: Option<&str>,
    kernel: bool,
    declared: Option<u16>,
) -> Result<Vec<Session>, Error> {
    let mut out = Vec::new();
    if let Some(connection) = connection {
        out.push(
            parse_session(connection)
                .ok_or_else(|| Error::UnreadableSession(connection.to_string()))?,
        );
    }
    if kernel {
        // A host whose tables cannot be read has only the variable to go by.
        for s in crate::exposure::ssh_sessions(declared).unwrap_or_default() {
            let session = Session {
                client: s.client.ip(),
                client_port: s.client.port(),
                server: s.server.ip(),
                server_port: s.server.port(),
                zone: None,
                found: s.process.unwrap_or_else(|| "ssh".into()),
            };
            let same = |o: &Session| {
                (o.client, o.client_port, o.server_port)
                    == (session.client, session.client_port, session.server_port)
            };
            if !out.iter().any(same) {
                out.push(session);
            }
        }
    }
    Ok(out)
}

/// The interface that holds `address` (`ip -o addr`), if it can be found.
fn interface_of(address: IpAddr) -> Option<String> {
    if address.is_loopback() {
        return Some("lo".into());
    }
    let output =
        super::exec::run("ip", &["-o", "addr", "show"], None, Duration::from_secs(5)).ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let net = fields.get(3)?;
            let ours = net.split('/').next()?.parse::<IpAddr>().ok()? == address;
            ours.then(|| fields[1].split('@').next().unwrap_or(fields[1]).to_string())
        })
}

/// Refuses a policy that would drop an SSH session's packets, or a new connection from
/// the same client (the reconnect after a dropped session), on the interface the
/// session comes in on, or this host's replies on it. Where that interface cannot be
/// found, every interface the policy names is tried, so that the check fails closed.
/// The refusal names every session the rule cuts.
pub(crate) fn check_sessions(policy: &Policy, sessions: &[Session]) -> Result<(), Error> {
    let mut cut: Option<(RuleRef, Vec<&Session>)> = None;
    for session in sessions {
        let Some(rule) = cutting_rule(policy, session) else {
            continue;
        };
        match &mut cut {
            Some((first, cut)) if *first == rule => cut.push(session),
            Some(_) => {}
            None => cut = Some((rule, vec![session])),
        }
    }
    match cut {
        None => Ok(()),
        Some((rule, cut)) => Err(Error::WouldCutSession {
            rule,
            client: cut[0].client,
            port: cut[0].server_port,
            sessions: cut.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// The rule that drops some packet of `session`, if one does.
fn cutting_rule(policy: &Policy, session: &Session) -> Option<RuleRef> {
    let interfaces: Vec<Option<String>> = match session
        .zone
        .clone()
        .or_else(|| interface_of(session.server))
    {
        Some(iface) => vec![Some(iface)],
        None => std::iter::once(None)
            .chain(
                policy
                    .rules()
                    .iter()
                    .filter_map(|r| r.matches.iface.as_deref())
                    .map(|i| Some(i.to_string())),
            )
            .collect(),
    };
    for iface in interfaces {
        let mut new = Packet::tcp(session.client, session.server_port)
            .sport(session.client_port)
            .dst(session.server);
        // This host's replies on the session, where the policy has `out` rules: they
        // leave through the interface the session comes in on.
        let mut reply = Packet::tcp(session.server, session.client_port)
            .sport(session.server_port)
            .dst(session.client)
            .established()
            .outgoing();
        if let Some(iface) = iface {
            new = new.iface(iface.clone());
            reply = reply.via(iface);
        }
        for packet in [new.clone().established(), new, reply] {
            let Some(decision) = policy.try_decide(&packet) else {
                continue;
            };
            if decision.action() != Action::Allow {
                return Some(RuleRef::new(decision.index, decision.rule));
            }
        }
    }
    None
}

/// [`check_sessions`] for the session `connection` (`$SSH_CONNECTION`) alone.
#[cfg(test)]
fn check_session(policy: &Policy, connection: Option<&str>) -> Result<(), Error> {
    check_sessions(policy, &sessions(connection, false, None)?)
}

#[cfg(test)]
// Minimal policies on purpose: their warnings (no `allow established;`) are beside
// the point here.
#[allow(deprecated)]
mod tests {
    use super::*;

    #[test]
    fn reads_net_admin_from_capability_mask() {
        assert!(has_net_admin("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(!has_net_admin("CapEff:\t0000000000000000\n"));
        assert!(
            !has_net_admin("CapEff:\t0000000000000800\n"),
            "bit 11 is not CAP_NET_ADMIN"
        );
        assert!(has_net_admin("CapEff:\t0000000000001000\n"));
    }

    #[test]
    fn refuses_a_policy_that_cuts_the_session() {
        let policy = crate::firewall! { ssh none; allow tcp 80; drop all; };
        let err = check_session(&policy, Some("198.51.100.7 50022 192.0.2.1 22")).unwrap_err();
        assert!(
            matches!(err, Error::WouldCutSession { ref rule, port: 22, .. } if rule.text == "drop all"),
            "{err}"
        );
        let keeps = crate::firewall! { allow tcp 22; drop all; };
        let ipv4_ban = crate::firewall! { drop src 198.51.100.7; allow tcp 22; drop all; };
        let mapped = check_session(
            &ipv4_ban,
            Some("::ffff:198.51.100.7 50022 ::ffff:192.0.2.1 22"),
        );
        assert!(
            matches!(mapped, Err(Error::WouldCutSession { .. })),
            "{mapped:?}"
        );
        let on_iface =
            Policy::parse("ssh none;\ndrop in veth7 tcp 22;\nallow tcp 22;\ndrop all;").unwrap();
        let zoned = check_session(&on_iface, Some("fe80::2%veth7 50022 fe80::1%veth7 22"));
        assert!(
            matches!(zoned, Err(Error::WouldCutSession { .. })),
            "{zoned:?}"
        );
        // An address on no interface here: every interface the policy names is tried.
        let unknown = check_session(&on_iface, Some("198.51.100.9 50022 203.0.113.77 22"));
        assert!(
            matches!(unknown, Err(Error::WouldCutSession { .. })),
            "{unknown:?}"
        );
        for unreadable in [
            "",
            "198.51.100.7 50022 192.0.2.1",
            "a b c d",
            "fe80::2% 1 fe80::1 22",
            "198.51.100.7 1 ::1 22",
        ] {
            assert!(
                matches!(
                    check_session(&keeps, Some(unreadable)),
                    Err(Error::UnreadableSession(_))
                ),
                "{unreadable:?}"
            );
        }
        assert!(check_session(&keeps, Some("[2001:db8::2] 50022 [2001:db8::1] 22")).is_ok());
        // Out through the session's interface (here, veth7's zone).
        let via = Policy::parse("ssh none;\nallow all;\nallow out tcp 443;\ndrop out via veth7;\nallow out established;\ndrop out all;").unwrap();
        let through = check_session(&via, Some("fe80::2%veth7 50022 fe80::1%veth7 22"));
        assert!(
            matches!(&through, Err(Error::WouldCutSession { rule, .. }) if rule.text == "drop out via veth7"),
            "{through:?}"
        );
        // The session's replies: an out policy is asked about them too.
        let cuts_replies =
            Policy::parse("ssh none;\nallow tcp 22;\ndrop all;\ndrop out all;").unwrap();
        let replies = check_session(&cuts_replies, Some("198.51.100.7 50022 192.0.2.1 22"));
        assert!(
            matches!(&replies, Err(Error::WouldCutSession { rule, .. }) if rule.text == "drop out all"),
            "{replies:?}"
        );
        assert!(check_session(&keeps, Some("198.51.100.7 50022 192.0.2.1 22")).is_ok());
        assert!(check_session(&policy, None).is_ok());
    }

    #[test]
    fn lock_held_by_another_holder_times_out() {
        let path = std::env::temp_dir().join(format!("fwdsl-lock-test-{}", std::process::id()));
        let holder = File::create(&path).unwrap();
        holder.lock().unwrap();
        let err = wait_for_lock(&path, Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(err, Error::LockHeld { waited, .. } if waited >= Duration::from_millis(200))
        );
        holder.unlock().unwrap();
        assert!(wait_for_lock(&path, Duration::from_millis(200)).is_ok());
        let _ = std::fs::remove_file(path);
    }
}
