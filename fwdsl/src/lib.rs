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
//! # Using it
//!
//! ```toml
//! [dependencies]
//! fwdsl = "0.1"                                            # checker, simulator and live side
//! # fwdsl = { version = "0.1", default-features = false }  # checker and simulator only (CI)
//! ```
//!
//! Rust 1.89 or later. **Linux only** for the live side (iptables, ip6tables, ipset or
//! nft, root or `CAP_NET_ADMIN`); the checker and simulator run anywhere. Features:
//! `live` (default: [`Firewall`], exposure, save and boot), `sandbox` (throwaway network
//! namespaces to apply in: tests, examples). The `fwdsl` command (`cargo install
//! fwdsl-cli`) does the same for policy files, without writing Rust.
//!
//! # The language
//!
//! | statement | meaning |
//! |---|---|
//! | `allow tcp 22;` `allow udp 53;` | new inbound to a destination port |
//! | `allow tcp 80, 443;` `allow tcp 6000-6010;` | several ports, a range |
//! | `allow tcp sport 25;` | by source port (warned about: `allow established;` is the safe form) |
//! | `allow src 10.0.0.0/8;` `allow tcp 80 dst 192.0.2.10;` | by source or destination address |
//! | `drop src [198.51.100.7, 203.0.113.0/24];` | a list (an ipset above 8 entries) |
//! | `drop src [file "drop.txt"];` | a list file, one address or network a line |
//! | `set admins = [10.0.0.0/8];` `allow ssh src $admins;` | a named list |
//! | `ports web = 80, 443;` `allow tcp $web;` | a named port list |
//! | `set banned dynamic;` `drop src $banned;` | a set whose members change at run time ([`Firewall::set_add`]) |
//! | `allow src "2001:db8:1e::1";` `allow src ::1;` | IPv6, quoted where rustc cannot read it |
//! | `allow icmp;` `allow established;` `allow in lo;` | ICMP(v6), return traffic, by interface |
//! | `allow ssh;` `allow https;` … | a service of the reference guide's port table |
//! | `service app = tcp 8000-8010, udp 9000;` | a service of the policy's own |
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
//! | `… comment "why";` | a note kept on the rule in the kernel |
//! | `dnat tcp 8080 to 10.0.0.5:80;` `redirect tcp 80 to 8080;` | destination NAT, before the filter |
//! | `masquerade src 10.8.0.0/24 via eth0;` `snat … to 203.0.113.5;` | source NAT, after it |
//! | `no snat dst 10.8.0.0/24;` `dnat local tcp 8080 to 172.17.0.2;` | an exemption from later NAT; only packets to this host |
//! | `assert closed tcp 3306;` `assert open ssh src 10.0.0.0/8;` | an invariant, proved or the build fails |
//! | `use base;` | the rules of a piece defined with [`rules!`], where it stands |
//! | `include "base.policy";` | (policy files, [`Policy::from_file`]) the rules of another file |
//!
//! A rule with an IPv4 (IPv6) address applies to that family only; a rule without an
//! address to both. A rule without `out` or `forward` is an input rule; each direction
//! a policy uses ends with its own catch-all. The README has every form with its
//! iptables and nft rendering.
//!
//! # Shared pieces
//!
//! ```
//! fwdsl::rules! {
//!     pub base {
//!         ssh 22 from 10.0.0.0/8;
//!         assert open ssh src 10.0.0.0/8;
//!         allow established;
//!         allow ssh src 10.0.0.0/8;
//!     }
//! }
//! fn main() {
//!     let web = fwdsl::firewall! { use base; allow tcp 80, 443; drop all; };
//!     assert_eq!(web.rules().len(), 4);
//! }
//! ```
//!
//! A piece is checked where it is defined and again, whole, in every policy that uses
//! it; a `pub` piece is exported at the crate root for other crates (`use
//! my_fleet::base;`), and one in a module is used through `#[macro_use] mod fleet`.
#![warn(missing_docs, rust_2018_idioms, unused_qualifications)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Examples in the docs and the README compile without warnings.
#![doc(test(attr(deny(warnings))))]

// Lets the crate's own tests use `firewall!`, whose expansion names `::fwdsl`.
#[cfg(test)]
extern crate self as fwdsl;

mod error;
#[cfg(feature = "live")]
mod exposure;
pub mod import;
#[cfg(feature = "live")]
mod live;
mod policy;
mod policy_file;
mod questions;
mod render;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;

pub use error::{Error, FailedCommand, Problem, Problems, RuleRef};
#[cfg(feature = "live")]
#[cfg_attr(docsrs, doc(cfg(feature = "live")))]
pub use exposure::{Exposed, Exposure, Socket, Transport, Unused};
pub use fwdsl_core::format as format_policy;
pub use fwdsl_core::{
    Access, Action, Assertion, Builtin, ConnState, Decision, Direction, DynamicSet, Expect, Family,
    Matches, Members, NatKind, NatRule, Packet, PacketSyntaxError, PortRange, Proto, ProtoSet,
    Rule, Severity, Translation,
};
pub use fwdsl_macros::{firewall, rules};
#[cfg(feature = "live")]
#[cfg_attr(docsrs, doc(cfg(feature = "live")))]
pub use live::{
    ApplyReport, Backend, Boot, Confirmed, FamilyPlan, FamilyReport, FamilyStatus, Firewall,
    Flushed, Interrupted, LiveRule, LoadPath, OtherChain, PendingRevert, Plan, RuleSelector,
    SaveReport, SaveTarget, SetMember, Status, SyncReport, IPSET_TIMEOUT_MAX,
};
pub use policy::Policy;
pub use questions::{Opening, Openings, Query};
pub use render::{chain_of, IpSet, NftRule, RenderedRule, CHAIN, DYNAMIC_SET_MAX, IPSET_ABOVE};

#[doc(hidden)]
pub mod __private;
