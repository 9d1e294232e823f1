//! The rule model: what a parsed policy is, independent of how it was written and of
//! how it will be rendered. Every field can be built in a `const`/`static`, so the
//! macro's expansion is plain data rather than code that runs at start-up.

use ipnet::IpNet;
use std::borrow::Cow;
use std::fmt;

/// What a rule does with the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Accept the packet (`allow`, iptables `ACCEPT`).
    Allow,
    /// Discard it silently (`drop`, iptables `DROP`).
    Drop,
    /// Discard it and tell the sender (`reject`, iptables `REJECT`).
    Reject,
    /// Log it and let it go on to the next rule (`log`, iptables `LOG`): decides
    /// nothing.
    Log,
}

impl Action {
    /// The DSL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Drop => "drop",
            Action::Reject => "reject",
            Action::Log => "log",
        }
    }

    /// The iptables target.
    pub fn target(self) -> &'static str {
        match self {
            Action::Allow => "ACCEPT",
            Action::Drop => "DROP",
            Action::Reject => "REJECT",
            Action::Log => "LOG",
        }
    }

    /// The verb used in messages ("accept", "drop", "reject").
    pub fn verb(self) -> &'static str {
        match self {
            Action::Allow => "accept",
            Action::Drop => "drop",
            Action::Reject => "reject",
            Action::Log => "log",
        }
    }
}

/// A rate: at most `count` per `seconds`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// Per how many seconds.
    pub seconds: u32,
    /// How many may come at once before the rate applies.
    pub burst: u32,
}

impl Rate {
    /// ufw's `limit`: six new connections in thirty seconds.
    pub const UFW_LIMIT: Rate = Rate {
        count: 6,
        seconds: 30,
        burst: 6,
    };
    /// iptables' default for logging: five a minute, bursts of five.
    pub const LOG_DEFAULT: Rate = Rate {
        count: 5,
        seconds: 60,
        burst: 5,
    };

    /// The rate as iptables prints it: a whole number per the shortest unit that has
    /// one (`6/30s` is `12/min`), or `None` when no unit does.
    pub fn iptables(self) -> Option<String> {
        [(1u64, "sec"), (60, "min"), (3600, "hour"), (86_400, "day")]
            .iter()
            .find_map(|&(unit, name)| {
                let per = self.count as u64 * unit;
                (per.is_multiple_of(self.seconds as u64) && per / self.seconds as u64 > 0)
                    .then(|| format!("{}/{name}", per / self.seconds as u64))
            })
    }
}

impl fmt::Display for Rate {
    /// DSL form: `6/30s`, `100/s`, `5/min`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seconds {
            1 => write!(f, "{}/s", self.count),
            60 => write!(f, "{}/min", self.count),
            3600 => write!(f, "{}/hour", self.count),
            86_400 => write!(f, "{}/day", self.count),
            s => write!(f, "{}/{s}s", self.count),
        }
    }
}

/// How a rule logs: iptables `LOG` with a prefix (`fwdsl:N ` unless given), limited
/// so that a flood cannot fill the disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Log {
    /// The prefix of the kernel's log lines.
    pub prefix: Option<Cow<'static, str>>,
    /// How many lines at most.
    pub rate: Rate,
}

/// The connection-tracking state of a packet, and what a rule's `new`, `established`
/// or `invalid` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// The first packet of a connection (conntrack `NEW`).
    New,
    /// A packet of a known connection, or related to one (`ESTABLISHED`, `RELATED`).
    Established,
    /// A packet of no known connection that cannot start one (`INVALID`: a stray ACK).
    Invalid,
}

impl ConnState {
    /// The DSL word.
    pub fn keyword(self) -> &'static str {
        match self {
            ConnState::New => "new",
            ConnState::Established => "established",
            ConnState::Invalid => "invalid",
        }
    }

    /// What `-m conntrack --ctstate` says for it.
    pub fn ctstate(self) -> &'static str {
        match self {
            ConnState::New => "NEW",
            ConnState::Established => "RELATED,ESTABLISHED",
            ConnState::Invalid => "INVALID",
        }
    }
}

/// An ICMP type a rule matches, in each family: the same name has different numbers
/// in ICMP and ICMPv6 (`echo-request` is 8 and 128), and some exist in one only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpType {
    /// The ICMP (IPv4) type, where there is one.
    pub v4: Option<u8>,
    /// The ICMPv6 type, where there is one.
    pub v6: Option<u8>,
}

impl IcmpType {
    /// The type in `family`.
    pub fn of(self, family: Family) -> Option<u8> {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
    }
}

/// The ICMP types by name, as iptables and ip6tables know them, then the ICMPv6 types a
/// host's link needs (RFC 4890: multicast listener discovery, inverse neighbour
/// discovery, certification paths, multicast router discovery) by their nftables names:
/// (name, ICMP, ICMPv6).
pub const ICMP_TYPES: [(&str, Option<u8>, Option<u8>); 30] = [
    ("echo-reply", Some(0), Some(129)),
    ("destination-unreachable", Some(3), Some(1)),
    ("packet-too-big", None, Some(2)),
    ("source-quench", Some(4), None),
    ("redirect", Some(5), Some(137)),
    ("echo-request", Some(8), Some(128)),
    ("router-advertisement", Some(9), Some(134)),
    ("router-solicitation", Some(10), Some(133)),
    ("time-exceeded", Some(11), Some(3)),
    ("parameter-problem", Some(12), Some(4)),
    ("timestamp-request", Some(13), None),
    ("timestamp-reply", Some(14), None),
    ("neighbour-solicitation", None, Some(135)),
    ("neighbour-advertisement", None, Some(136)),
    ("address-mask-request", Some(17), None),
    ("address-mask-reply", Some(18), None),
    ("router-renumbering", None, Some(138)),
    ("mld-listener-query", None, Some(130)),
    ("mld-listener-report", None, Some(131)),
    ("mld-listener-done", None, Some(132)),
    ("node-information-query", None, Some(139)),
    ("node-information-response", None, Some(140)),
    ("inverse-neighbour-solicitation", None, Some(141)),
    ("inverse-neighbour-advertisement", None, Some(142)),
    ("mld2-listener-report", None, Some(143)),
    ("certification-path-solicitation", None, Some(148)),
    ("certification-path-advertisement", None, Some(149)),
    ("multicast-router-advertisement", None, Some(151)),
    ("multicast-router-solicitation", None, Some(152)),
    ("multicast-router-termination", None, Some(153)),
];

/// IP protocols by name, as iptables prints them (`-p gre`), for `proto NAME`.
pub const PROTOCOLS: [(&str, u8); 12] = [
    ("igmp", 2),
    ("ipencap", 4),
    ("dccp", 33),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("l2tp", 115),
    ("sctp", 132),
    ("udplite", 136),
];

/// How iptables names protocol `number`: its name, or the number.
pub fn protocol_name(number: u8) -> String {
    PROTOCOLS
        .iter()
        .find(|(_, n)| *n == number)
        .map_or_else(|| number.to_string(), |(name, _)| name.to_string())
}

/// Which packets a rule is about: those coming in to this host (the default), those it
/// sends out, or those it forwards (routing, containers behind Docker's NAT). Each is
/// one built-in chain of the kernel, and rules of one direction never see another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Packets to this host (`INPUT`): rules without a direction word.
    In,
    /// Packets from this host (`OUTPUT`): `allow out …`.
    Out,
    /// Packets routed through this host (`FORWARD`, or Docker's `DOCKER-USER`):
    /// `allow forward …`.
    Forward,
}

impl Direction {
    /// Every direction, in the order their chains are listed.
    pub const ALL: [Direction; 3] = [Direction::In, Direction::Out, Direction::Forward];

    /// The word written after the verb (empty for `In`).
    pub fn keyword(self) -> &'static str {
        match self {
            Direction::In => "",
            Direction::Out => "out",
            Direction::Forward => "forward",
        }
    }

    /// The kernel's built-in chain for these packets.
    pub fn builtin_chain(self) -> &'static str {
        match self {
            Direction::In => "INPUT",
            Direction::Out => "OUTPUT",
            Direction::Forward => "FORWARD",
        }
    }

    /// How messages name the direction's rules ("input", "out", "forward").
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "input",
            Direction::Out => "out",
            Direction::Forward => "forward",
        }
    }
}

/// A set of IP protocols, as bits: TCP, UDP, ICMP (ICMPv6 on the IPv6 side) and every
/// other protocol number lumped together, which is all the language can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtoSet(u8);

impl ProtoSet {
    /// TCP only.
    pub const TCP: ProtoSet = ProtoSet(1);
    /// UDP only.
    pub const UDP: ProtoSet = ProtoSet(2);
    /// ICMP only (ICMPv6 for IPv6).
    pub const ICMP: ProtoSet = ProtoSet(4);
    /// Protocols other than TCP, UDP and ICMP.
    pub const OTHER: ProtoSet = ProtoSet(8);
    /// TCP and UDP (services such as DNS).
    pub const TCP_UDP: ProtoSet = ProtoSet(3);
    /// Every protocol.
    pub const ALL: ProtoSet = ProtoSet(15);

    /// The raw bits (TCP 1, UDP 2, ICMP 4, other 8).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// A set from raw bits; bits above the four known ones are ignored.
    pub const fn from_bits(bits: u8) -> ProtoSet {
        ProtoSet(bits & 15)
    }

    /// Whether every protocol in `other` is in `self`.
    pub const fn contains(self, other: ProtoSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the two sets share a protocol.
    pub const fn intersects(self, other: ProtoSet) -> bool {
        self.0 & other.0 != 0
    }

    /// The iptables `-p` names of the members, one rule per name when rendering; `None`
    /// stands for "every protocol" (no `-p` at all).
    pub fn iptables_names(self, family: Family) -> Vec<Option<&'static str>> {
        if self == ProtoSet::ALL {
            return vec![None];
        }
        let icmp = match family {
            Family::V4 => "icmp",
            Family::V6 => "ipv6-icmp",
        };
        [
            (ProtoSet::TCP, "tcp"),
            (ProtoSet::UDP, "udp"),
            (ProtoSet::ICMP, icmp),
        ]
        .into_iter()
        .filter(|&(p, _)| self.contains(p))
        .map(|(_, name)| Some(name))
        .collect()
    }
}

/// An inclusive range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl PortRange {
    /// A range; the parser guarantees `1 <= first <= last`.
    pub const fn new(first: u16, last: u16) -> Self {
        PortRange { first, last }
    }

    /// Whether `port` lies in the range.
    pub fn contains(self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for PortRange {
    /// DSL form: `80` or `6000-6010`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`iptables`).
    V4,
    /// IPv6 (`ip6tables`).
    V6,
}

impl Family {
    /// The family of a network.
    pub fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }
}

/// What a rule matches. A field left at its "any" value (all protocols, no ports, no
/// address, no interface, any state) does not restrict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matches {
    /// Protocols (`ProtoSet::ALL` when none was named).
    pub protocols: ProtoSet,
    /// Destination ports; empty means any.
    pub dports: Cow<'static, [PortRange]>,
    /// Source ports; empty means any.
    pub sports: Cow<'static, [PortRange]>,
    /// Source networks (any of them); empty means any source.
    pub src: Cow<'static, [IpNet]>,
    /// Destination networks (any of them); empty means any destination.
    pub dst: Cow<'static, [IpNet]>,
    /// A dynamic set the source must be in (`src $banned` after `set banned
    /// dynamic;`): its members change at run time, so the analysis knows only that
    /// the rule may match any source.
    pub src_set: Option<Cow<'static, str>>,
    /// A dynamic set the destination must be in.
    pub dst_set: Option<Cow<'static, str>>,
    /// Input interface (`in eth0`).
    pub iface: Option<Cow<'static, str>>,
    /// Output interface (`via eth0`): `out` and `forward` rules only.
    pub oface: Option<Cow<'static, str>>,
    /// The ICMP type (`icmp echo-request`, `icmp 8`), for ICMP rules.
    pub icmp_type: Option<IcmpType>,
    /// Another IP protocol by number (`proto esp`, `proto 47`); `protocols` is then
    /// [`ProtoSet::OTHER`].
    pub protocol: Option<u8>,
    /// Only packets in this connection-tracking state (`new`, `established`,
    /// `invalid`); `None` for any.
    pub state: Option<ConnState>,
}

impl Matches {
    /// Matches every packet: the catch-all.
    pub const ANY: Matches = Matches {
        protocols: ProtoSet::ALL,
        dports: Cow::Borrowed(&[]),
        sports: Cow::Borrowed(&[]),
        src: Cow::Borrowed(&[]),
        dst: Cow::Borrowed(&[]),
        src_set: None,
        dst_set: None,
        iface: None,
        oface: None,
        icmp_type: None,
        protocol: None,
        state: None,
    };

    /// How many (destination port, source port, source, destination) combinations the
    /// match is a union of: what the analysis expands it to, one box each.
    pub fn combinations(&self) -> usize {
        [
            self.dports.len(),
            self.sports.len(),
            self.src.len(),
            self.dst.len(),
        ]
        .iter()
        .fold(1usize, |n, &k| n.saturating_mul(k.max(1)))
    }

    /// The length of its longest list (1 when it has none): what it adds to a policy
    /// when its lists do not multiply.
    pub fn longest_list(&self) -> usize {
        [
            self.dports.len(),
            self.sports.len(),
            self.src.len(),
            self.dst.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
        .max(1)
    }

    /// Whether the match depends on a dynamic set, whose members only the kernel knows.
    pub fn is_dynamic(&self) -> bool {
        self.src_set.is_some() || self.dst_set.is_some()
    }

    /// The families this match applies to: one when an address names it (or an ICMP
    /// type exists in one only), else both.
    pub fn families(&self) -> &'static [Family] {
        let by_address = self.src.first().or(self.dst.first()).map(Family::of);
        let by_icmp = self.icmp_type.and_then(|t| match (t.v4, t.v6) {
            (Some(_), None) => Some(Family::V4),
            (None, Some(_)) => Some(Family::V6),
            _ => None,
        });
        match by_address.or(by_icmp) {
            Some(Family::V4) => &[Family::V4],
            Some(Family::V6) => &[Family::V6],
            None => &[Family::V4, Family::V6],
        }
    }
}

/// What an assertion expects of new connections in its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// `assert open …`: every new connection of the region is accepted.
    Open,
    /// `assert closed …`: no new connection of the region is accepted.
    Closed,
}

impl Expect {
    /// `open` or `closed`.
    pub fn keyword(self) -> &'static str {
        match self {
            Expect::Open => "open",
            Expect::Closed => "closed",
        }
    }
}

/// An invariant written next to the rules (`assert closed tcp 3306, 5432;`), proved
/// against every policy it is part of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assertion {
    /// Open or closed.
    pub expect: Expect,
    /// The packets it speaks of, as the matches of rules (one per part of a service
    /// of the policy's own, usually one); their actions mean nothing.
    pub parts: Cow<'static, [Rule]>,
    /// The assertion as written, canonically (`assert closed tcp 3306,5432`).
    pub text: Cow<'static, str>,
    /// The 1-based line it is written on.
    pub line: u32,
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One rule: an action, what it matches, and how the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// What happens to matching packets.
    pub action: Action,
    /// A per-source limit on new connections (`allow ssh limit 6/30s`): above it the
    /// rule does not match and later rules decide.
    pub limit: Option<Rate>,
    /// Logging: of a `log` rule, or of a deciding rule written with `log`.
    pub log: Option<Log>,
    /// Which packets the rule is about (its chain).
    pub direction: Direction,
    /// Which packets match.
    pub matches: Matches,
    /// The rule in canonical DSL form (`allow tcp 5432 src 10.0.0.0/8`), quoted in
    /// messages and rendered into iptables comments. Address lists of more than three
    /// are shortened (`[a, b, c, … 9 more]`), and the `comment "…"` part is left out:
    /// it is in [`Rule::comment`].
    pub text: Cow<'static, str>,
    /// The user's own note (`comment "…"`), rendered into the iptables comment.
    pub comment: Option<Cow<'static, str>>,
    /// The 1-based line the rule starts on.
    pub line: u32,
}

impl Rule {
    /// Whether the rule decides every packet it may match: not a `log` rule, not a
    /// rate-limited one, not one on a dynamic set (whose members may be none).
    pub fn decides(&self) -> bool {
        self.action != Action::Log && self.limit.is_none() && !self.matches.is_dynamic()
    }

    /// Whether the rule decides every packet of its direction (`drop all`, `reject out
    /// all`, `allow forward all`).
    pub fn is_catch_all(&self) -> bool {
        self.matches == Matches::ANY && self.decides()
    }

    /// Whether the rule names a source network: a drop of such a rule is a deliberate
    /// ban, not an accident.
    pub fn names_source(&self) -> bool {
        !self.matches.src.is_empty() || self.matches.src_set.is_some()
    }

    /// Whether the rule names a destination network (for `out` rules, the deliberate
    /// ban of a destination).
    pub fn names_destination(&self) -> bool {
        !self.matches.dst.is_empty() || self.matches.dst_set.is_some()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How the operator reaches the host, so the checks can tell a policy that locks them out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Access {
    /// Over SSH on `port`, from `from` (anywhere when `None`), on `iface` (any interface
    /// but loopback when `None`). The default is `ssh 22` from anywhere.
    Ssh {
        /// The SSH port.
        port: u16,
        /// The operator's network.
        from: Option<IpNet>,
        /// The interface the operator comes in on.
        iface: Option<Cow<'static, str>>,
    },
    /// Console-only host (`ssh none;`): no lockout check.
    Console,
}

impl Default for Access {
    fn default() -> Self {
        Access::Ssh {
            port: 22,
            from: None,
            iface: None,
        }
    }
}

impl fmt::Display for Access {
    /// DSL form: `ssh 22`, `ssh 2222 from 10.0.0.0/8`, `ssh none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Console => f.write_str("ssh none"),
            Access::Ssh { port, from, iface } => {
                write!(f, "ssh {port}")?;
                if let Some(from) = from {
                    write!(f, " from {}", net_text(from))?;
                }
                if let Some(iface) = iface {
                    write!(f, " in {iface}")?;
                }
                Ok(())
            }
        }
    }
}

/// The DSL text of a network: a single host is written as its address.
pub(crate) fn net_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Lists longer than this are abbreviated in rule texts (and so in messages and
/// iptables comments); the rule itself keeps every address.
const LIST_SHOWN: usize = 3;

/// DSL text of an address match: `10.0.0.1`, `[a, b, c]`, `[a, b, c, … 997 more]`.
pub(crate) fn nets_text(nets: &[IpNet]) -> String {
    if let [one] = nets {
        return net_text(one);
    }
    let mut shown: Vec<String> = nets.iter().take(LIST_SHOWN).map(net_text).collect();
    if nets.len() > LIST_SHOWN {
        shown.push(format!("… {} more", nets.len() - LIST_SHOWN));
    }
    format!("[{}]", shown.join(", "))
}

pub(crate) fn ports_text(ports: &[PortRange]) -> String {
    ports
        .iter()
        .map(PortRange::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A dynamic set as declared (`set banned dynamic timeout 1h max 30d;`): the lifetime
/// a member gets when its caller gives none, and the longest a caller may ask for, in
/// seconds. Members live in the kernel; these bounds are what fwdsl holds callers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DynamicSet {
    /// The set's name in the policy (`banned`).
    pub name: Cow<'static, str>,
    /// The default lifetime; `None`: a member stays until it is removed.
    pub timeout: Option<u64>,
    /// The longest lifetime a caller may ask for; `None`: any the backend holds.
    pub max: Option<u64>,
}
