//! Whether the host forwards what the policy's NAT sends on: a `dnat` to another host,
//! a `masquerade` or an `snat` on a host whose `net.ipv4.ip_forward` (or
//! `net.ipv6.conf.all.forwarding`) is 0 does nothing at all, so an apply refuses it
//! ([`Error::ForwardingDisabled`]) or, when asked, sets the sysctl. Read and written
//! through `/proc/sys/net` from the calling thread: the network namespace it is in.

use crate::error::Error;
use crate::Policy;
use fwdsl_core::{Family, NatKind};

fn sysctl(family: Family) -> (&'static str, &'static str) {
    match family {
        Family::V4 => ("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"),
        Family::V6 => (
            "net.ipv6.conf.all.forwarding",
            "/proc/sys/net/ipv6/conf/all/forwarding",
        ),
    }
}

fn label(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// The families the policy's NAT needs forwarded, with the first statement that needs
/// each: those of the addresses a statement names, IPv4 for one that names none (IPv6
/// NAT is rare, and an IPv4-only host would be refused for nothing). A `redirect`
/// stays on this host; an exemption translates nothing.
fn needed(policy: &Policy) -> Vec<(Family, &fwdsl_core::NatRule)> {
    let mut out: Vec<(Family, &fwdsl_core::NatRule)> = Vec::new();
    for rule in policy.nat() {
        if matches!(rule.kind, NatKind::Redirect { .. } | NatKind::Exempt { .. }) {
            continue;
        }
        let families = match rule.kind.family().or_else(|| {
            let by_address = rule.matches.families();
            (by_address.len() == 1).then(|| by_address[0])
        }) {
            Some(family) => family,
            None => Family::V4,
        };
        if !out.iter().any(|(f, _)| *f == families) {
            out.push((families, rule));
        }
    }
    out
}

/// Refuses a policy whose NAT the host would not forward, or (with `enable`) says which
/// sysctls to set after the switch.
pub(super) fn check(policy: &Policy, enable: bool) -> Result<Vec<Family>, Error> {
    let mut to_enable = Vec::new();
    for (family, rule) in needed(policy) {
        let (name, path) = sysctl(family);
        let on = std::fs::read_to_string(path).is_ok_and(|v| v.trim() != "0");
        match (on, enable) {
            (true, _) => {}
            (false, true) => to_enable.push(family),
            (false, false) => {
                return Err(Error::ForwardingDisabled {
                    statement: rule.text.to_string(),
                    line: rule.line,
                    family: label(family),
                    sysctl: name,
                })
            }
        }
    }
    Ok(to_enable)
}

/// Sets the forwarding sysctl of each family.
pub(super) fn enable(families: &[Family]) -> Result<(), Error> {
    for &family in families {
        let (_, path) = sysctl(family);
        std::fs::write(path, "1").map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
    }
    Ok(())
}
