//! Rendering: each rule broken into its clauses ([`clauses`]), which each backend renders
//! its own way: iptables arguments ([`iptables`], and a whole chain as
//! `iptables-restore` text), nftables JSON ([`nft`]). Both are written the way the tools
//! print them back, so what is live can be compared with what was meant.

mod clauses;
mod iptables;
pub(crate) mod nft;

pub(crate) use clauses::Clauses;
pub use nft::NftRule;

use crate::Policy;
use fwdsl_core::{Direction, Family};
use ipnet::IpNet;
use std::borrow::Cow;
use std::fmt::Write as _;

/// The chain fwdsl's input rules live in, hooked from `INPUT` by one jump.
pub const CHAIN: &str = "FWDSL-INPUT";

/// fwdsl's chain for a direction: `FWDSL-INPUT`, `FWDSL-OUTPUT`, `FWDSL-FORWARD`.
pub fn chain_of(direction: Direction) -> &'static str {
    match direction {
        Direction::In => CHAIN,
        Direction::Out => "FWDSL-OUTPUT",
        Direction::Forward => "FWDSL-FORWARD",
    }
}
/// Prefix of every comment fwdsl writes: how its rules are told from others'.
pub(crate) const COMMENT_PREFIX: &str = "fwdsl:";

/// Address lists longer than this become one ipset match instead of one iptables rule
/// per address: the kernel then looks a packet's address up in a hash instead of
/// walking a rule per address (measured in BENCHMARKS.md).
pub const IPSET_ABOVE: usize = 8;

/// Most members a dynamic set holds (ipset's `maxelem`; its default, 65,536, is less
/// than a day of bans on a busy host).
pub const DYNAMIC_SET_MAX: usize = 1 << 20;

/// An ipset a rendered rule refers to (`-m set --match-set NAME src`). A list's set is
/// named after its contents, so the same list always gets the same set and an
/// unchanged policy re-applies without touching it. A dynamic set (`set banned
/// dynamic;`) is named after the policy's name for it (`fwdsl-d4-banned`), created
/// empty once and then left to [`Firewall::set_add`](crate::Firewall::set_add) and
/// its kin: an apply never changes its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSet {
    /// `fwdsl-` and a hash of the family and the members, or `fwdsl-d4-`/`fwdsl-d6-`
    /// and the dynamic set's name.
    pub name: String,
    /// The family (`hash:net family inet` or `inet6`).
    pub family: Family,
    /// The networks (none for a dynamic set: they are the kernel's).
    pub members: Vec<IpNet>,
    /// Whether it is a dynamic set.
    pub dynamic: bool,
}

impl IpSet {
    /// The set a list of networks renders to, or `None` when it is short enough for one
    /// rule per network (or holds a /0, which `hash:net` cannot store).
    pub(crate) fn of(nets: &[IpNet], family: Family) -> Option<IpSet> {
        if nets.len() <= IPSET_ABOVE || nets.iter().any(|n| n.prefix_len() == 0) {
            return None;
        }
        let mut members = nets.to_vec();
        members.sort_unstable();
        members.dedup();
        // The hash is over the members' bytes (address, prefix length): a million
        // networks hash in milliseconds, where printing them took a tenth of a second.
        let mut bytes = Vec::with_capacity(members.len() * 17 + 1);
        bytes.push(family as u8);
        for member in &members {
            match member {
                IpNet::V4(n) => bytes.extend(n.addr().octets()),
                IpNet::V6(n) => bytes.extend(n.addr().octets()),
            }
            bytes.push(member.prefix_len());
        }
        Some(IpSet {
            name: format!("fwdsl-{:016x}", fnv1a(&bytes)),
            family,
            members,
            dynamic: false,
        })
    }

    /// The ipset of dynamic set `name` in `family`.
    pub fn dynamic(name: &str, family: Family) -> IpSet {
        IpSet {
            name: dynamic_set_name(name, family),
            family,
            members: Vec::new(),
            dynamic: true,
        }
    }

    /// `ipset restore` input that creates the set (if absent) and fills it.
    pub fn to_restore(&self) -> String {
        let family = match self.family {
            Family::V4 => "inet",
            Family::V6 => "inet6",
        };
        // ipset's default of 65,536 members would refuse a longer list.
        let most = match self.dynamic {
            true => DYNAMIC_SET_MAX,
            false => self.members.len().next_power_of_two().max(65_536),
        };
        // A dynamic set takes a lifetime per member (`timeout 0`: none by default, each
        // `add` says its own), so that bans can expire.
        let timeout = if self.dynamic { " timeout 0" } else { "" };
        let mut text = format!(
            "create {} hash:net family {family} maxelem {most}{timeout} -exist\n",
            self.name
        );
        for member in &self.members {
            // Into the one string: a million members, a million allocations fewer.
            let _ = writeln!(text, "add {} {member} -exist", self.name);
        }
        text
    }
}

/// The ipset that holds dynamic set `name`'s members of `family`.
pub(crate) fn dynamic_set_name(name: &str, family: Family) -> String {
    let digit = match family {
        Family::V4 => 4,
        Family::V6 => 6,
    };
    format!("fwdsl-d{digit}-{name}")
}

/// FNV-1a: a stable content hash for generation and set names (std's hasher may change
/// between Rust releases, and names must stay comparable across fwdsl runs).
pub(crate) fn fnv1a(text: impl AsRef<[u8]>) -> u64 {
    text.as_ref().iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One rendered iptables rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRule {
    /// The policy rule it comes from (0-based); `None` for rules fwdsl adds itself
    /// (ICMPv6 neighbour discovery, which IPv6 cannot work without).
    pub rule: Option<usize>,
    /// The chain's direction.
    pub direction: Direction,
    /// `iptables` or `ip6tables`.
    pub family: Family,
    /// The arguments after `-A CHAIN`, one string each (the comment is one argument).
    pub args: Vec<String>,
}

impl RenderedRule {
    /// The arguments as one string in which the comment is quoted, the form both
    /// `iptables-restore` and the `iptables` crate split back into the same arguments.
    pub fn to_command_line(&self) -> String {
        let quoted: Vec<String> = self
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                // `iptables -S` quotes comments (which always have a space) and every
                // log prefix.
                if a.contains(' ') || i > 0 && self.args[i - 1] == "--log-prefix" {
                    format!("\"{a}\"")
                } else {
                    a.clone()
                }
            })
            .collect();
        quoted.join(" ")
    }
}

impl Policy {
    /// Every iptables rule of one family's input chain, in chain order: what `apply`
    /// installs into `FWDSL-INPUT`'s generation. [`Policy::chain_rules`] gives the
    /// other directions'.
    ///
    /// ```
    /// use fwdsl::Family;
    /// let policy = fwdsl::firewall! { ssh none; allow established; allow tcp 80, 443; drop all; };
    /// let rules: Vec<String> = policy.iptables_rules(Family::V4).iter().map(|r| r.to_command_line()).collect();
    /// assert_eq!(rules, [
    ///     "-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"fwdsl:1 allow established\" -j ACCEPT",
    ///     "-p tcp -m multiport --dports 80,443 -m comment --comment \"fwdsl:2 allow tcp 80,443\" -j ACCEPT",
    ///     "-m comment --comment \"fwdsl:3 drop all\" -j DROP",
    /// ]);
    /// ```
    pub fn iptables_rules(&self, family: Family) -> Vec<RenderedRule> {
        self.chain_rules(Direction::In, family)
    }

    /// Every iptables rule of one direction's chain in one family, in chain order.
    ///
    /// ```
    /// use fwdsl::{Direction, Family};
    /// let policy = fwdsl::firewall! { allow established; allow ssh; drop all; allow out established; allow out dns; drop out all; };
    /// let out = policy.chain_rules(Direction::Out, Family::V4);
    /// assert_eq!(out.len(), 4); // established, dns over udp and over tcp, the catch-all
    /// ```
    pub fn chain_rules(&self, direction: Direction, family: Family) -> Vec<RenderedRule> {
        let mut out = Vec::new();
        if family == Family::V6
            && fwdsl_core::neighbour_discovery_in(direction)
            && self.uses(direction)
        {
            out.extend(neighbour_discovery(direction));
        }
        for (index, rule) in self.rules().iter().enumerate() {
            if rule.direction == direction && rule.matches.families().contains(&family) {
                let clauses = Clauses::of(rule, index, family, &self.list_sets()[index]);
                for args in iptables::rules(&clauses) {
                    out.push(RenderedRule {
                        rule: Some(index),
                        direction,
                        family,
                        args,
                    });
                }
            }
        }
        out
    }

    /// The iptables rules (as `iptables -t nat -S` prints them, without `-A CHAIN`) of
    /// the policy's NAT statements for one family: those that rewrite the destination
    /// (`destination`: `dnat`, `redirect`, for `nat PREROUTING`) or the source
    /// (`masquerade`, `snat`, for `nat POSTROUTING`).
    ///
    /// ```
    /// use fwdsl::Family;
    /// let policy = fwdsl::firewall! { allow established; allow ssh; drop all; dnat tcp 8080 to 10.0.0.5:80; };
    /// assert_eq!(
    ///     policy.nat_rules(true, Family::V4),
    ///     ["-p tcp -m tcp --dport 8080 -m comment --comment \"fwdsl:nat1 dnat tcp 8080 to 10.0.0.5:80\" -j DNAT --to-destination 10.0.0.5:80"]
    /// );
    /// assert!(policy.nat_rules(true, Family::V6).is_empty());
    /// ```
    pub fn nat_rules(&self, destination: bool, family: Family) -> Vec<String> {
        self.nat()
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.kind.is_destination() == destination && r.families().contains(&family)
            })
            .flat_map(|(index, r)| iptables::rules(&Clauses::of_nat(r, index, family)))
            .map(|args| {
                RenderedRule {
                    rule: None,
                    direction: Direction::In,
                    family,
                    args,
                }
                .to_command_line()
            })
            .collect()
    }

    /// Whether the policy has rules for `direction`: a direction it never mentions is
    /// left alone on the host (no hook, no chain).
    pub fn uses(&self, direction: Direction) -> bool {
        self.rules().iter().any(|r| r.direction == direction)
    }

    /// The directions the policy has rules for, in chain order.
    pub fn directions(&self) -> Vec<Direction> {
        Direction::ALL
            .into_iter()
            .filter(|&d| self.uses(d))
            .collect()
    }

    /// The ipsets the family's rules refer to: they must exist before the rules are
    /// loaded (`ipset restore` with [`IpSet::to_restore`]); `apply` sees to it.
    pub fn ipsets(&self, family: Family) -> Vec<IpSet> {
        self.ipset_refs(family)
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    /// [`Policy::ipsets`] without copying the lists' members (a million of them is
    /// 20 MB): the lists' sets borrowed, the dynamic ones made.
    pub(crate) fn ipset_refs(&self, family: Family) -> Vec<Cow<'_, IpSet>> {
        let lists = self
            .list_sets()
            .iter()
            .flatten()
            .flatten()
            .filter(|s| s.family == family)
            .map(Cow::Borrowed);
        let dynamic = self
            .rules()
            .iter()
            .filter(|r| r.matches.families().contains(&family))
            .flat_map(|r| [&r.matches.src_set, &r.matches.dst_set])
            .filter_map(|set| set.as_deref())
            .map(|name| Cow::Owned(IpSet::dynamic(name, family)));
        let mut sets: Vec<Cow<'_, IpSet>> = lists.chain(dynamic).collect();
        sets.sort_by(|a, b| a.name.cmp(&b.name));
        sets.dedup_by(|a, b| a.name == b.name);
        sets
    }

    /// The ipset of each rule's source and destination list, where the list is long
    /// enough for one: worked out once per policy (sorting and hashing a million
    /// members is not free, and every rendering and apply asks).
    pub(crate) fn list_sets(&self) -> &[[Option<IpSet>; 2]] {
        self.list_sets.get_or_init(|| {
            self.rules()
                .iter()
                .map(|r| {
                    [&r.matches.src, &r.matches.dst]
                        .map(|nets| nets.first().and_then(|n| IpSet::of(nets, Family::of(n))))
                })
                .collect()
        })
    }

    /// The chains as `iptables-restore` (or `ip6tables-restore`) input: one per
    /// direction the policy uses ([`chain_of`]). Loaded with `--noflush` it (re)creates
    /// them and leaves every other chain alone; the jumps from the built-in chains are
    /// `apply`'s business.
    pub fn to_restore(&self, family: Family) -> String {
        let mut text = String::from("*filter\n");
        for direction in self.directions() {
            text.push_str(&format!(":{} - [0:0]\n", chain_of(direction)));
        }
        for direction in self.directions() {
            for rule in self.chain_rules(direction, family) {
                text.push_str(&format!(
                    "-A {} {}\n",
                    chain_of(direction),
                    rule.to_command_line()
                ));
            }
        }
        text.push_str("COMMIT\n");
        text
    }
}

/// ICMPv6 neighbour discovery, accepted ahead of the policy's rules in the input and
/// `out` chains with hop limit 255 only, by number as `ip6tables -S` prints it: see
/// [`fwdsl_core::Builtin`] for why, and why that admits nothing from off the link. An
/// on-link neighbour the policy bans can still resolve addresses, which it can do by
/// ARP on IPv4 anyway.
fn neighbour_discovery(direction: Direction) -> Vec<RenderedRule> {
    let hop_limit = fwdsl_core::ND_HOP_LIMIT.to_string();
    fwdsl_core::NEIGHBOUR_DISCOVERY
        .iter()
        .map(|(number, kind)| RenderedRule {
            rule: None,
            direction,
            family: Family::V6,
            args: iptables::strings(&["-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type"])
                .into_iter()
                .chain([number.to_string()])
                .chain(iptables::strings(&["-m", "hl", "--hl-eq", &hop_limit]))
                .chain(iptables::comment(&format!("{COMMENT_PREFIX}nd {kind}")))
                .chain(iptables::strings(&["-j", "ACCEPT"]))
                .collect(),
        })
        .collect()
}
