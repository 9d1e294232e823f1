//! Throwaway network namespaces: a "server" whose firewall fwdsl changes and a "client"
//! that sends it real packets over a veth pair. What tests, benchmarks and the example's
//! `--sandbox` mode apply policies in, so the machine's own firewall is never touched.
//!
//! Needs root and `ip` (iproute2). Every namespace gets a unique name and is deleted
//! when its [`Netns`] is dropped, also when a test panics.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn ip(args: &[&str]) -> io::Result<Output> {
    let output = Command::new("ip").args(args).output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output)
}

/// `iptables-save` (or `ip6tables-save`) output without what changes by itself: the
/// comment lines with their time stamps and the chains' packet counters, so that two
/// saves of the same rules compare equal.
pub fn without_counters(saved: &str) -> String {
    saved
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.find(" [") {
            // Only chain lines (`:INPUT ACCEPT [0:0]`): a rule's comment may hold ` [`.
            Some(i) if l.starts_with(':') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A network namespace this process created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace named `{prefix}-{pid}-{n}`, with loopback up.
    pub fn create(prefix: &str) -> io::Result<Netns> {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.exec("ip", &["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (`ip netns exec NAME …`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `program` inside the namespace and waits for it; an error if it fails.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// `program` (`iptables-save`, `ip6tables-save`) run inside the namespace, as
    /// [`without_counters`] leaves it.
    pub fn saved(&self, program: &str) -> io::Result<String> {
        let output = self.exec(program, &[])?;
        Ok(without_counters(&String::from_utf8_lossy(&output.stdout)))
    }

    /// What the names of the files fwdsl keeps for this namespace in its state
    /// directory start with (`ns-<inode>-<cookie>`), for tests that look at them.
    pub fn state_prefix(&self) -> io::Result<String> {
        self.run(|| format!("ns-{}", crate::live::namespace_key()))
    }

    /// Runs `f` on a thread that has entered the namespace: sockets it opens and
    /// programs it starts (iptables among them) live there. Before `f` runs, the
    /// thread's namespace is checked to be this one and not the machine's own.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let file = File::open(&path)?;
                    // SAFETY: setns on a namespace file descriptor we hold open; it only
                    // changes the calling thread, which is ours alone.
                    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    let here = std::fs::metadata("/proc/thread-self/ns/net")?.ino();
                    if here != std::fs::metadata(&path)?.ino() || !crate::live::in_own_namespace() {
                        return Err(io::Error::other(
                            "thread did not enter the sandbox namespace",
                        ));
                    }
                    Ok(f())
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

fn has_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| crate::live::has_net_admin(&s))
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A server and a client namespace joined by a veth pair, with IPv4 and IPv6
/// addresses from the documentation ranges (they exist only inside the sandbox).
#[derive(Debug)]
pub struct Sandbox {
    /// Where policies are applied.
    pub server: Netns,
    /// Where probes come from.
    pub client: Netns,
}

impl Sandbox {
    /// The server's IPv4 address.
    pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    /// The client's IPv4 address.
    pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    /// The client's second IPv4 address, for tests of `src` rules.
    pub const CLIENT_V4_ALT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
    /// The server's IPv6 address.
    pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 1);
    /// The client's IPv6 address.
    pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 2);

    /// Creates both namespaces and the link between them.
    pub fn new(prefix: &str) -> io::Result<Sandbox> {
        if !has_root() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "creating network namespaces needs root or CAP_NET_ADMIN, and this process has neither",
            ));
        }
        let server = Netns::create(&format!("{prefix}-srv"))?;
        let client = Netns::create(&format!("{prefix}-cli"))?;
        // The veth pair is created inside the server namespace with its peer placed
        // straight into the client's: no link ever appears in the machine's namespace.
        server.exec(
            "ip",
            &[
                "link",
                "add",
                "veth0",
                "type",
                "veth",
                "peer",
                "name",
                "veth0",
                "netns",
                client.name(),
            ],
        )?;
        for (ns, v4, extra, v6) in [
            (&server, Self::SERVER_V4, None, Self::SERVER_V6),
            (
                &client,
                Self::CLIENT_V4,
                Some(Self::CLIENT_V4_ALT),
                Self::CLIENT_V6,
            ),
        ] {
            ns.exec("ip", &["addr", "add", &format!("{v4}/24"), "dev", "veth0"])?;
            if let Some(extra) = extra {
                ns.exec(
                    "ip",
                    &["addr", "add", &format!("{extra}/24"), "dev", "veth0"],
                )?;
            }
            ns.exec(
                "ip",
                &[
                    "-6",
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    "veth0",
                    "nodad",
                ],
            )?;
            ns.exec("ip", &["link", "set", "veth0", "up"])?;
        }
        Ok(Sandbox { server, client })
    }

    /// What this machine lacks to make sandboxes, apply policies in them and probe
    /// them: root (or CAP_NET_ADMIN), and each program with the package that has it.
    /// Empty when nothing is missing.
    pub fn missing() -> Vec<String> {
        const PROGRAMS: [(&str, &str); 11] = [
            ("ip", "iproute2"),
            ("nft", "nftables"),
            ("iptables", "iptables"),
            ("ip6tables", "iptables"),
            ("iptables-restore", "iptables"),
            ("ip6tables-restore", "iptables"),
            ("iptables-save", "iptables"),
            ("ip6tables-save", "iptables"),
            ("ipset", "ipset"),
            ("ping", "iputils-ping"),
            ("setpriv", "util-linux"),
        ];
        let mut missing = Vec::new();
        if !has_root() {
            missing.push("root or CAP_NET_ADMIN".to_string());
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        for (program, package) in PROGRAMS {
            if !std::env::split_paths(&path).any(|dir| dir.join(program).is_file()) {
                missing.push(format!("`{program}` (package `{package}`)"));
            }
        }
        missing
    }

    /// Whether this machine can make sandboxes: see [`Sandbox::missing`].
    pub fn available() -> bool {
        Self::missing().is_empty()
    }
}
