//! Checks made before anything changes: permissions, the network namespace, the
//! xtables lock, and the SSH session the new rules must not cut.

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
    if namespaces_only && !in_own_namespace() {
        return Err(Error::RootNamespace);
    }
    Ok(())
}

/// The calling thread's network namespace (its inode), `None` where /proc cannot tell.
pub(crate) fn namespace_id() -> Option<u64> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .ok()
}

/// Whether the calling thread (whose namespace fwdsl's iptables processes inherit) is
/// in a network namespace other than the one this process started in and, where it
/// can be read, other than PID 1's.
pub(crate) fn in_own_namespace() -> bool {
    let inode = |path: &str| std::fs::metadata(path).map(|m| m.ino()).ok();
    let Some(thread) = inode("/proc/thread-self/ns/net") else {
        return false;
    };
    // /proc/self is the main thread's view: the namespace the process started in.
    let started = inode("/proc/self/ns/net");
    started.is_some_and(|s| s != thread)
        && inode("/proc/1/ns/net").is_none_or(|init| init != thread)
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

/// The session `$SSH_CONNECTION` describes: `client_ip client_port server_ip server_port`.
fn parse_session(connection: &str) -> Option<(IpAddr, u16, IpAddr, u16)> {
    let mut parts = connection.split_whitespace();
    let client = parts.next()?.parse().ok()?;
    let client_port = parts.next()?.parse().ok()?;
    let server = parts.next()?.parse().ok()?;
    let server_port = parts.next()?.parse().ok()?;
    Some((client, client_port, server, server_port))
}

/// Refuses a policy that would drop the current SSH session's packets, or a new
/// connection from the same client (the reconnect after a dropped session).
pub(crate) fn check_session(policy: &Policy, connection: Option<&str>) -> Result<(), Error> {
    let Some((client, client_port, server, server_port)) = connection.and_then(parse_session)
    else {
        return Ok(());
    };
    let new = Packet::tcp(client, server_port)
        .sport(client_port)
        .dst(server);
    for packet in [new.clone().established(), new] {
        let decision = policy.decide(&packet);
        if decision.action() != Action::Allow {
            return Err(Error::WouldCutSession {
                rule: RuleRef::new(decision.index, decision.rule),
                client,
                port: server_port,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
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
