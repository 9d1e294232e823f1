//! The sockets of the calling thread's network namespace, read from
//! `/proc/thread-self/net/{tcp,tcp6,udp,udp6}` (`/proc/net` would show the process's
//! first thread's namespace, not the one a thread entered), with the name of the
//! process holding each where `/proc/PID/fd` can be read: the listening ones (for the
//! exposure report) and the established SSH sessions (for the session guard).

use crate::error::Error;
use procfs::net::{TcpNetEntries, TcpState, UdpNetEntries, UdpState};
use procfs::FromReadSI;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

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

fn table_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/thread-self/net/{name}"))
}

fn unreadable(name: &str, e: procfs::ProcError) -> Error {
    Error::Io {
        path: table_path(name),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Every TCP socket of the calling thread's namespace, both families.
fn tcp_sockets() -> Result<Vec<procfs::net::TcpNetEntry>, Error> {
    let info = procfs::current_system_info();
    let mut out = Vec::new();
    for name in ["tcp", "tcp6"] {
        let entries =
            TcpNetEntries::from_file(table_path(name), info).map_err(|e| unreadable(name, e))?;
        out.extend(entries.0);
    }
    Ok(out)
}

/// Every listening TCP and bound UDP socket of the calling thread's namespace.
pub(crate) fn listening() -> Result<Vec<Socket>, Error> {
    let info = procfs::current_system_info();
    let mut found: Vec<(Transport, SocketAddr, u64)> = tcp_sockets()?
        .into_iter()
        .filter(|e| e.state == TcpState::Listen)
        .map(|e| (Transport::Tcp, e.local_address, e.inode))
        .collect();
    for name in ["udp", "udp6"] {
        let entries =
            UdpNetEntries::from_file(table_path(name), info).map_err(|e| unreadable(name, e))?;
        found.extend(
            entries
                .0
                .into_iter()
                .filter(|e| e.state == UdpState::Close && e.remote_address.port() == 0)
                .map(|e| (Transport::Udp, e.local_address, e.inode)),
        );
    }
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
    let Ok(processes) = procfs::process::all_processes() else {
        return owners;
    };
    for process in processes.flatten() {
        let Ok(fds) = process.fd() else {
            continue;
        };
        let mut comm = None;
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(inode) = fd.target {
                if !wanted(inode) || owners.contains_key(&inode) {
                    continue;
                }
                if comm.is_none() {
                    comm = process.stat().ok().map(|s| s.comm);
                }
                if let Some(comm) = &comm {
                    owners.insert(inode, comm.clone());
                }
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
    let sockets = tcp_sockets()?;
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let established: Vec<_> = sockets
        .iter()
        .filter(|e| e.state == TcpState::Established)
        .collect();
    if established.is_empty() {
        return Ok(Vec::new());
    }
    let ports: Vec<u16> = established.iter().map(|e| e.local_address.port()).collect();
    let listeners: Vec<_> = sockets
        .iter()
        .filter(|e| e.state == TcpState::Listen && ports.contains(&e.local_address.port()))
        .collect();
    let wanted: Vec<u64> = established
        .iter()
        .chain(&listeners)
        .map(|e| e.inode)
        .collect();
    let owners = owners(|inode| wanted.contains(&inode));
    let sshd_listens = |local: SocketAddr| {
        listeners.iter().any(|l| {
            let at = canonical(l.local_address);
            at.port() == local.port()
                && (at.ip().is_unspecified() || at.ip() == local.ip())
                && owners.get(&l.inode).is_some_and(|c| is_sshd(c))
        })
    };
    let mut sessions: Vec<SshSession> = established
        .into_iter()
        .filter_map(|e| {
            let (server, client) = (canonical(e.local_address), canonical(e.remote_address));
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
