//! The sockets of the calling thread's network namespace, asked of the kernel
//! ([`diag`](super::diag)), with the name of the process holding each where
//! `/proc/PID/fd` can be read: the listening ones (for the exposure report) and the
//! established SSH sessions (for the session guard).

use super::diag::{self, Entry, Protocol, States};
use crate::error::Error;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// The transport of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// A listening TCP socket.
    Tcp,
    /// A bound, unconnected UDP socket.
    Udp,
}

impl Transport {
    /// `tcp` or `udp`, as the policy language writes them.
    pub fn keyword(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// A socket waiting for new connections or datagrams.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Socket {
    /// TCP or UDP.
    pub transport: Transport,
    /// The address it is bound to (`0.0.0.0` and `::` for every address).
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// The process that holds it (its `comm`), where that can be read.
    pub process: Option<String>,
}

impl Socket {
    /// Whether only this host can reach it (bound to 127.0.0.0/8 or `::1`).
    pub fn loopback_only(&self) -> bool {
        self.address.to_canonical().is_loopback()
    }
}

/// A dump of `protocol`'s sockets in `states`, or why it could not be had.
fn sockets(protocol: Protocol, states: States) -> Result<Vec<Entry>, Error> {
    diag::dump(protocol, states).map_err(|source| Error::Io {
        path: "NETLINK_SOCK_DIAG".into(),
        source,
    })
}

/// Every listening TCP and bound UDP socket of the calling thread's namespace.
pub(crate) fn listening() -> Result<Vec<Socket>, Error> {
    let mut found: Vec<(Transport, SocketAddr, u64)> = sockets(Protocol::Tcp, States::LISTEN)?
        .into_iter()
        .map(|e| (Transport::Tcp, e.local, e.inode))
        .collect();
    found.extend(
        sockets(Protocol::Udp, States::CLOSE)?
            .into_iter()
            .filter(|e| e.state == diag::CLOSE && e.remote.port() == 0)
            .map(|e| (Transport::Udp, e.local, e.inode)),
    );
    let owners = owners(|_| true);
    let mut sockets: Vec<Socket> = found
        .into_iter()
        .map(|(transport, at, inode)| Socket {
            transport,
            address: at.ip(),
            port: at.port(),
            process: owners.get(&inode).cloned(),
        })
        .collect();
    sockets.sort();
    sockets.dedup();
    Ok(sockets)
}

/// Socket inode to the name of a process holding it, for the inodes `wanted` keeps:
/// best effort (another user's processes cannot be read without root, and processes
/// come and go meanwhile).
fn owners(wanted: impl Fn(u64) -> bool) -> HashMap<u64, String> {
    let mut owners = HashMap::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return owners;
    };
    for process in processes.flatten() {
        let pid = process.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        let mut comm = None;
        for fd in fds.flatten() {
            // A socket's descriptor links to `socket:[INODE]`.
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            if !wanted(inode) || owners.contains_key(&inode) {
                continue;
            }
            if comm.is_none() {
                comm = std::fs::read_to_string(process.path().join("comm"))
                    .ok()
                    .map(|c| c.trim_end().to_string());
            }
            if let Some(comm) = &comm {
                owners.insert(inode, comm.clone());
            }
        }
    }
    owners
}

/// An established TCP connection to this host's SSH server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshSession {
    /// The client's address and port.
    pub client: SocketAddr,
    /// This host's address and port.
    pub server: SocketAddr,
    /// The process holding this host's end, where it can be read.
    pub process: Option<String>,
}

/// Whether a process name (`comm`) is OpenSSH's server: `sshd`, or `sshd-session`
/// (OpenSSH 9.8 and later), truncated to 15 characters by the kernel.
fn is_sshd(comm: &str) -> bool {
    comm == "sshd" || comm.starts_with("sshd-")
}

/// The established TCP connections of the calling thread's namespace that are SSH
/// sessions to this host: those whose local end sshd holds, or whose local port an
/// sshd listens on (there, or on every address), or whose local port is `declared`
/// (the policy's `ssh PORT`). Read from the kernel, not from `$SSH_CONNECTION`, which
/// `sudo` and Ansible's `become` drop.
pub(crate) fn ssh_sessions(declared: Option<u16>) -> Result<Vec<SshSession>, Error> {
    let sockets = sockets(Protocol::Tcp, States::ESTABLISHED | States::LISTEN)?;
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let established: Vec<_> = sockets
        .iter()
        .filter(|e| e.state == diag::ESTABLISHED)
        .collect();
    if established.is_empty() {
        return Ok(Vec::new());
    }
    let ports: Vec<u16> = established.iter().map(|e| e.local.port()).collect();
    let listeners: Vec<_> = sockets
        .iter()
        .filter(|e| e.state == diag::LISTEN && ports.contains(&e.local.port()))
        .collect();
    let wanted: Vec<u64> = established
        .iter()
        .chain(&listeners)
        .map(|e| e.inode)
        .collect();
    let owners = owners(|inode| wanted.contains(&inode));
    let sshd_listens = |local: SocketAddr| {
        listeners.iter().any(|l| {
            let at = canonical(l.local);
            at.port() == local.port()
                && (at.ip().is_unspecified() || at.ip() == local.ip())
                && owners.get(&l.inode).is_some_and(|c| is_sshd(c))
        })
    };
    let mut sessions: Vec<SshSession> = established
        .into_iter()
        .filter_map(|e| {
            let (server, client) = (canonical(e.local), canonical(e.remote));
            let process = owners.get(&e.inode).cloned();
            let ssh = process.as_deref().is_some_and(is_sshd)
                || sshd_listens(server)
                || declared == Some(server.port());
            ssh.then_some(SshSession {
                client,
                server,
                process,
            })
        })
        .collect();
    sessions.sort_by_key(|s| (s.server, s.client));
    sessions.dedup_by_key(|s| (s.server, s.client));
    Ok(sessions)
}
