//! Host firewall rules as a checked Rust DSL.
//!
//! ```
//! let policy: fwdsl::Policy = fwdsl::firewall! {
//!     allow established;
//!     allow tcp 22;
//!     allow tcp 80;
//!     allow in lo;
//!     drop all;
//! };
//! assert_eq!(policy.rules().len(), 5);
//! ```
//!
//! At compile time [`firewall!`] parses the rules and rejects, each at its own span and
//! all at once: bad ports and addresses, rules that can never match because earlier
//! rules already decide every packet they would see, anything after the final catch-all,
//! and a policy that would lock the operator out of SSH. Redundant rules and rules that
//! trust the source port are warnings. At run time the [`Policy`] is data: render it
//! ([`Policy::iptables_rules`], [`Policy::to_restore`]), ask it which rule decides a
//! packet ([`Policy::decide`]) in unit tests without root, or read one from a file with
//! [`Policy::parse`], which runs the very same checks.
//!
//! # The language
//!
//! | statement | meaning |
//! |---|---|
//! | `allow tcp 22;` `allow udp 53;` | new inbound to a destination port |
//! | `allow tcp 80, 443;` `allow tcp 6000-6010;` | several ports, a range |
//! | `allow tcp sport 25;` | by source port (warned about: `allow established;` is the safe form) |
//! | `allow src 10.0.0.0/8;` `allow tcp 80 dst 192.0.2.10;` | by source or destination address |
//! | `allow src "2001:db8:1e::1";` `allow src ::1;` | IPv6, quoted where rustc cannot read it |
//! | `allow icmp;` `allow established;` `allow in lo;` | ICMP(v6), return traffic, by interface |
//! | `allow ssh;` `allow https;` … | a service of the reference guide's port table |
//! | `drop …;` `reject …;` | the other verdicts |
//! | `drop all;` | the catch-all every policy ends with |
//! | `ssh 2222 from 10.0.0.0/8;` `ssh none;` | the operator's access path, for the lockout check |
//! | `allow out tcp 443;` `drop out all;` | packets this host sends |
//! | `allow forward tcp 8080;` `drop forward all;` | packets it routes (Docker's published ports) |
//! | `allow out tcp 587 via eth0;` | the interface a packet leaves through |
//! | `allow ssh limit 6/30s;` | at most 6 new connections per source in 30 s; above, the next rule decides |
//! | `log prefix "fw: ";` `drop all log;` | log (rate-limited) and go on; log, then decide |
//! | `allow new tcp 22;` `drop invalid;` | by connection state |
//! | `allow icmp echo-request;` `allow proto esp;` | ICMP types, other protocols |
//! | `allow in "veth+";` | every interface whose name starts `veth` |
//! | `service app = tcp 8000-8010, udp 9000;` | a service of the policy's own |
//!
//! A rule with an IPv4 (IPv6) address applies to that family only; a rule without an
//! address to both. A rule without `out` or `forward` is an input rule; each direction
//! a policy uses ends with its own catch-all.
#![warn(missing_docs, rust_2018_idioms, unused_qualifications)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Examples in the docs and the README compile without warnings.
#![doc(test(attr(deny(warnings))))]

// Lets the crate's own tests use `firewall!`, whose expansion names `::fwdsl`.
#[cfg(test)]
extern crate self as fwdsl;

mod error;
mod exposure;
mod live;
mod policy;
mod policy_file;
mod questions;
mod render;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;

pub use error::{Error, FailedCommand, Problem, Problems, RuleRef};
pub use exposure::{Exposed, Exposure, Socket, Transport, Unused};
pub use fwdsl_core::format as format_policy;
pub use fwdsl_core::{
    Access, Action, Assertion, Builtin, ConnState, Decision, Direction, Expect, Family, Matches,
    Members, NatKind, NatRule, Packet, PacketSyntaxError, PortRange, Proto, ProtoSet, Rule,
    Severity, Translation,
};
pub use fwdsl_macros::{firewall, rules};
pub use live::{
    ApplyReport, Backend, Boot, Confirmed, FamilyPlan, FamilyReport, FamilyStatus, Firewall,
    Flushed, Interrupted, LiveRule, LoadPath, OtherChain, PendingRevert, Plan, RuleSelector,
    SaveReport, SaveTarget, Status,
};
pub use policy::Policy;
pub use questions::{Opening, Openings, Query};
pub use render::{chain_of, IpSet, NftRule, RenderedRule, CHAIN, DYNAMIC_SET_MAX, IPSET_ABOVE};

#[doc(hidden)]
pub mod __private;

/// The README's examples, compiled and run as doctests so they cannot go stale.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
