//! Which tool fwdsl changes a host's firewall with.

use std::time::Duration;

/// The tool fwdsl speaks to the kernel with. Chosen with
/// [`Firewall::backend`](crate::Firewall::backend); by default
/// [`Backend::detect`] picks it on each host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `iptables`, `ip6tables` and `ipset`: fwdsl's chains in each family's filter table.
    Iptables,
    /// `nft`: fwdsl's own `table inet fwdsl`, both families in one transaction.
    Nftables,
}

impl Backend {
    /// iptables where the `iptables` program runs (what fwdsl has always used), else
    /// nftables where `nft` runs: Debian 13 installs no iptables, RHEL 10 has none.
    /// (With neither, iptables: the error then names the package to install.)
    ///
    /// ```no_run
    /// println!("this host: {}", fwdsl::Backend::detect());
    /// ```
    pub fn detect() -> Backend {
        let runs = |program: &str| {
            super::exec::run(program, &["--version"], None, Duration::from_secs(10))
                .is_ok_and(|out| out.status.success())
        };
        match runs("iptables") || !runs("nft") {
            true => Backend::Iptables,
            false => Backend::Nftables,
        }
    }

    /// `iptables` or `nftables`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Iptables => "iptables",
            Backend::Nftables => "nftables",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    /// `iptables` or `nftables` (`nft` too).
    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "iptables" => Ok(Backend::Iptables),
            "nftables" | "nft" => Ok(Backend::Nftables),
            other => Err(format!("`{other}` is no backend: iptables or nftables")),
        }
    }
}
