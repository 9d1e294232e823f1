//! The listening sockets of the calling thread's network namespace, read from
//! `/proc/thread-self/net/{tcp,tcp6,udp,udp6}` (`/proc/net` would show the process's
//! first thread's namespace, not the one a thread entered), with the name of the
//! process holding each where `/proc/PID/fd` can be read.

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

/// Every listening TCP and bound UDP socket of the calling thread's namespace.
pub(crate) fn listening() -> Result<Vec<Socket>, Error> {
    let info = procfs::current_system_info();
    let path = |name: &str| PathBuf::from(format!("/proc/thread-self/net/{name}"));
    let failed = |name: &str, e: procfs::ProcError| Error::Io {
        path: path(name),
        source: std::io::Error::other(e.to_string()),
    };
    let mut found: Vec<(Transport, SocketAddr, u64)> = Vec::new();
    for name in ["tcp", "tcp6"] {
        let entries = TcpNetEntries::from_file(path(name), info).map_err(|e| failed(name, e))?;
        found.extend(
            entries
                .0
                .into_iter()
                .filter(|e| e.state == TcpState::Listen)
                .map(|e| (Transport::Tcp, e.local_address, e.inode)),
        );
    }
    for name in ["udp", "udp6"] {
        let entries = UdpNetEntries::from_file(path(name), info).map_err(|e| failed(name, e))?;
        found.extend(
            entries
                .0
                .into_iter()
                .filter(|e| e.state == UdpState::Close && e.remote_address.port() == 0)
                .map(|e| (Transport::Udp, e.local_address, e.inode)),
        );
    }
    let owners = owners();
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

/// Socket inode to the name of a process holding it: best effort (another user's
/// processes cannot be read without root, and processes come and go meanwhile).
fn owners() -> HashMap<u64, String> {
    let mut owners = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else {
        return owners;
    };
    for process in processes.flatten() {
        let (Ok(stat), Ok(fds)) = (process.stat(), process.fd()) else {
            continue;
        };
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(inode) = fd.target {
                owners.entry(inode).or_insert_with(|| stat.comm.clone());
            }
        }
    }
    owners
}
