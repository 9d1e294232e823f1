//! A crate that depends on fwdsl under another name (`fw`).

/// A policy built through the renamed dependency.
pub fn policy() -> fw::Policy {
    fw::firewall! { allow ssh; allow https; allow established; drop all; }
}
