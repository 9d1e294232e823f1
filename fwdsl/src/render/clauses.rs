//! A rule of the policy for one family, broken into the clauses every backend renders:
//! what the language's matches mean, before any backend's syntax. Each backend
//! ([`iptables`](super::iptables), [`nft`](super::nft)) renders each clause with one
//! small function of its own, and expands lists its own way (iptables: a rule per
//! network and per 15 ports; nftables: anonymous sets). A new match is one field here
//! and one function per backend (CONTRIBUTING.md lists every place it touches).

use super::{dynamic_set_name, IpSet, COMMENT_PREFIX};
use fwdsl_core::{
    Action, ConnState, Direction, Family, Log, Matches, NatKind, NatRule, PortRange, Rate, Rule,
};
use ipnet::IpNet;

/// The protocol a rendered rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP, or ICMPv6 on the IPv6 side.
    Icmp,
    /// Another protocol, by number.
    Number(u8),
}

impl Protocol {
    /// The protocol's number in `family` (ICMPv6 is 58).
    pub(crate) fn number(self, family: Family) -> u8 {
        match (self, family) {
            (Protocol::Tcp, _) => 6,
            (Protocol::Udp, _) => 17,
            (Protocol::Icmp, Family::V4) => 1,
            (Protocol::Icmp, Family::V6) => 58,
            (Protocol::Number(n), _) => n,
        }
    }
}

/// Which addresses a source or destination clause admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addresses<'r> {
    /// Any address.
    Any,
    /// Any of these networks (a short list).
    Nets(&'r [IpNet]),
    /// The members of this set (a long list's, or a dynamic set's).
    Set(String),
}

/// One rule for one family, clause by clause.
#[derive(Debug, Clone)]
pub(crate) struct Clauses<'r> {
    /// The rule's position in the policy (0-based).
    pub index: usize,
    /// The family.
    pub family: Family,
    /// One rendered rule per protocol; `None` stands for every protocol.
    pub protocols: Vec<Option<Protocol>>,
    /// Source addresses.
    pub src: Addresses<'r>,
    /// Destination addresses.
    pub dst: Addresses<'r>,
    /// Input interface (`eth0`, or `veth+` for every name starting `veth`).
    pub iface: Option<&'r str>,
    /// Output interface.
    pub oface: Option<&'r str>,
    /// Source ports (any when empty).
    pub sports: &'r [PortRange],
    /// Destination ports (any when empty).
    pub dports: &'r [PortRange],
    /// Whether `dports` are the ports the connection was opened to, before any DNAT
    /// (forward rules: conntrack's original destination port).
    pub original_dports: bool,
    /// The ICMP type, in this family's numbering.
    pub icmp_type: Option<u8>,
    /// The connection state.
    pub state: Option<ConnState>,
    /// A per-source limit: above it, the next rule decides.
    pub limit: Option<Rate>,
    /// Logging, before the verdict (the whole rule, for a `log` rule).
    pub log: Option<&'r Log>,
    /// The verdict (`Log`: none).
    pub action: Action,
    /// The translation, for a NAT statement (its verdict, in place of `action`).
    pub nat: Option<NatKind>,
    /// Only packets addressed to this host (`dnat local`).
    pub local: bool,
    /// The rule's DSL text, for names that must stay the same while the rule does.
    pub text: &'r str,
    /// `fwdsl:N text -- comment`: how live rules are told to be fwdsl's, and which.
    pub note: String,
}

impl<'r> Clauses<'r> {
    /// Rule `index` of a policy for `family`, with the sets of its long lists.
    pub(crate) fn of(
        rule: &'r Rule,
        index: usize,
        family: Family,
        sets: &'r [Option<IpSet>; 2],
    ) -> Clauses<'r> {
        let note = note(
            &format!("{}", index + 1),
            &rule.text,
            rule.comment.as_deref(),
        );
        let mut c = Clauses::matching(&rule.matches, index, family, sets, note, &rule.text);
        c.original_dports = rule.direction == Direction::Forward && !rule.matches.dports.is_empty();
        c.limit = rule.limit;
        c.log = rule.log.as_ref();
        c.action = rule.action;
        c
    }

    /// NAT statement `index` of a policy for `family` (its lists as networks: NAT
    /// statements are few and short). Its note is `fwdsl:natN text`, which no rule
    /// number parses from.
    pub(crate) fn of_nat(rule: &'r NatRule, index: usize, family: Family) -> Clauses<'r> {
        const NO_SETS: [Option<IpSet>; 2] = [None, None];
        let note = note(
            &format!("nat{}", index + 1),
            &rule.text,
            rule.comment.as_deref(),
        );
        let mut c = Clauses::matching(&rule.matches, index, family, &NO_SETS, note, &rule.text);
        c.nat = Some(rule.kind);
        c.local = rule.local;
        c
    }

    /// The clauses of `m`, a rule without limit, logging or verdict yet.
    fn matching(
        m: &'r Matches,
        index: usize,
        family: Family,
        [src_set, dst_set]: &'r [Option<IpSet>; 2],
        note: String,
        text: &'r str,
    ) -> Clauses<'r> {
        let addresses =
            |nets: &'r [IpNet], dynamic: Option<&str>, set: &Option<IpSet>| match (dynamic, set) {
                (Some(name), _) => Addresses::Set(dynamic_set_name(name, family)),
                _ if nets.is_empty() => Addresses::Any,
                (None, Some(set)) => Addresses::Set(set.name.clone()),
                (None, None) => Addresses::Nets(nets),
            };
        let protocols = match m.protocol {
            Some(n) => vec![Some(Protocol::Number(n))],
            None => match m.protocols.iptables_names(family)[..] {
                [None] => vec![None],
                ref names => names
                    .iter()
                    .flatten()
                    .map(|name| match *name {
                        "tcp" => Some(Protocol::Tcp),
                        "udp" => Some(Protocol::Udp),
                        _ => Some(Protocol::Icmp),
                    })
                    .collect(),
            },
        };
        Clauses {
            index,
            family,
            protocols,
            src: addresses(&m.src, m.src_set.as_deref(), src_set),
            dst: addresses(&m.dst, m.dst_set.as_deref(), dst_set),
            iface: m.iface.as_deref(),
            oface: m.oface.as_deref(),
            sports: &m.sports,
            dports: &m.dports,
            original_dports: false,
            icmp_type: m.icmp_type.and_then(|t| t.of(family)),
            state: m.state,
            limit: None,
            log: None,
            action: Action::Allow,
            nat: None,
            local: false,
            text,
            note,
        }
    }

    /// The log prefix: the rule's own, or `fwdsl:N `.
    pub(crate) fn log_prefix(&self) -> Option<String> {
        self.log.map(|log| {
            log.prefix
                .as_deref()
                .map_or(format!("{COMMENT_PREFIX}{} ", self.index + 1), String::from)
        })
    }
}

/// `fwdsl:ID text -- comment`: how live rules are told to be fwdsl's, and which.
fn note(id: &str, text: &str, comment: Option<&str>) -> String {
    let mut note = format!("{COMMENT_PREFIX}{id} {text}");
    if let Some(c) = comment {
        note.push_str(" -- ");
        note.push_str(c);
    }
    note
}
