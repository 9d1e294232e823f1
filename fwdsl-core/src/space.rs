//! The packet space as boxes, and the exact coverage test the checks are built on.
//!
//! A packet is a point with ten coordinates (family, protocol, state, input
//! interface, source, destination, source port, destination port, direction, output
//! interface). Rules of different directions never share a box, so each chain is
//! analysed exactly as if it were alone. Every rule matches
//! a finite union of boxes — one per port range combination — whose sides are integer
//! intervals. "Do earlier rules together decide every packet this rule matches?" is then
//! "is this box covered by the union of those boxes?", which [`covered`] answers exactly
//! by sweeping one dimension at a time (no sampling, no approximation).

use crate::model::ConnState;
use crate::model::{Access, Direction, Family, Matches, PortRange, ProtoSet, Rule};
use crate::packet::{Packet, Proto};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

const FAM: usize = 0;
const PROTO: usize = 1;
const STATE: usize = 2;
const IFACE: usize = 3;
const SRC: usize = 4;
const DST: usize = 5;
const SPORT: usize = 6;
const DPORT: usize = 7;
const DIR: usize = 8;
const OIFACE: usize = 9;
const DIMS: usize = 10;

const V4_MAX: u128 = u32::MAX as u128;
const PORT_MAX: u128 = u16::MAX as u128;
// Protocol coordinates: the sets rules can name (tcp, udp, tcp+udp, icmp, all) are
// all intervals in this order.
const TCP: u128 = 0;
const UDP: u128 = 1;
const ICMP: u128 = 2;
const OTHER: u128 = 3;
// Connection states: a rule names one or all three.
const NEW: u128 = 0;
const ESTABLISHED: u128 = 1;
const INVALID: u128 = 2;

fn state_coordinate(state: ConnState) -> u128 {
    match state {
        ConnState::New => NEW,
        ConnState::Established => ESTABLISHED,
        ConnState::Invalid => INVALID,
    }
}

/// An axis-aligned box of packets: for each dimension an inclusive interval. Addresses
/// need 128 bits, interfaces 32 (one coordinate per name a policy uses), the other six
/// dimensions 16 (ports, ICMP types, protocols, states, families, directions): stored
/// apart, a box takes 112 bytes instead of 320, which is most of the analysis' memory
/// on long lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    addresses: [(u128, u128); 2],
    interfaces: [(u32, u32); 2],
    small: [(u16, u16); 6],
}

impl Region {
    fn from_bounds(bounds: [(u128, u128); DIMS]) -> Region {
        let mut out = Region {
            addresses: [(0, 0); 2],
            interfaces: [(0, 0); 2],
            small: [(0, 0); 6],
        };
        for (d, b) in bounds.into_iter().enumerate() {
            out.set(d, b);
        }
        out
    }

    /// The interval of dimension `d`.
    #[inline]
    pub(crate) fn get(&self, d: usize) -> (u128, u128) {
        match d {
            SRC | DST => self.addresses[d - SRC],
            IFACE | OIFACE => {
                let (lo, hi) = self.interfaces[(d == OIFACE) as usize];
                (lo as u128, hi as u128)
            }
            _ => {
                let (lo, hi) = self.small[Self::small_slot(d)];
                (lo as u128, hi as u128)
            }
        }
    }

    #[inline]
    fn set(&mut self, d: usize, (lo, hi): (u128, u128)) {
        match d {
            SRC | DST => self.addresses[d - SRC] = (lo, hi),
            IFACE | OIFACE => self.interfaces[(d == OIFACE) as usize] = (lo as u32, hi as u32),
            // Never wider than 16 bits: families, protocols (3 + a protocol number),
            // states, ports and ICMP types, directions.
            _ => self.small[Self::small_slot(d)] = (lo as u16, hi as u16),
        }
    }

    fn lower_corner(&self) -> Region {
        let mut out = *self;
        for d in 0..DIMS {
            let lo = self.get(d).0;
            out.set(d, (lo, lo));
        }
        out
    }

    fn upper_corner(&self) -> Region {
        let mut out = *self;
        for d in 0..DIMS {
            let hi = self.get(d).1;
            out.set(d, (hi, hi));
        }
        out
    }

    #[inline]
    fn small_slot(d: usize) -> usize {
        match d {
            FAM => 0,
            PROTO => 1,
            STATE => 2,
            SPORT => 3,
            DPORT => 4,
            _ => 5, // DIR
        }
    }

    fn intersects(&self, other: &Region) -> bool {
        // Ports and addresses first: they tell most rules apart.
        [
            DPORT, SRC, SPORT, DST, PROTO, DIR, IFACE, OIFACE, FAM, STATE,
        ]
        .iter()
        .all(|&d| self.get(d).0 <= other.get(d).1 && other.get(d).0 <= self.get(d).1)
    }

    fn contains(&self, other: &Region) -> bool {
        (0..DIMS).all(|d| self.get(d).0 <= other.get(d).0 && other.get(d).1 <= self.get(d).1)
    }

    /// The intersection, or `None` when it is empty.
    pub(crate) fn intersection(&self, other: &Region) -> Option<Region> {
        if !self.intersects(other) {
            return None;
        }
        let mut out = *self;
        for d in 0..DIMS {
            out.set(
                d,
                (
                    self.get(d).0.max(other.get(d).0),
                    self.get(d).1.min(other.get(d).1),
                ),
            );
        }
        Some(out)
    }

    /// Restricts dimension `d` to `[lo, hi]`, keeping addresses inside the IPv4 range
    /// once the family is IPv4 alone (an IPv4 box has no addresses above 2^32 - 1).
    fn restrict(&self, d: usize, lo: u128, hi: u128) -> Region {
        let mut out = *self;
        out.set(d, (lo, hi));
        if out.get(FAM) == (0, 0) {
            for a in [SRC, DST] {
                let (lo, hi) = out.get(a);
                out.set(a, (lo, hi.min(V4_MAX)));
            }
        }
        out
    }
}

/// Maps interface names to coordinates: 0 stands for every interface no rule names,
/// named ones follow in order, and `lo` always comes last so that "any interface but
/// loopback" is one interval.
///
/// A wildcard (`veth+`, iptables' prefix match) gets a coordinate of its own for the
/// interfaces it matches that no rule names, sorted just before the names it matches:
/// in name order every name with a prefix stands together, so a wildcard is one
/// interval too (wildcards that would match `lo` are refused by the parser).
#[derive(Debug, Clone)]
pub(crate) struct Interfaces {
    /// (name or wildcard prefix, 0 for a wildcard's own coordinate, 1 for a name).
    ids: BTreeMap<(String, u8), u128>,
    lo: u128,
}

impl Interfaces {
    pub(crate) fn new(rules: &[Rule], access: &Access) -> Interfaces {
        let mut names: Vec<&str> = rules
            .iter()
            .flat_map(|r| [r.matches.iface.as_deref(), r.matches.oface.as_deref()])
            .flatten()
            .collect();
        if let Access::Ssh {
            iface: Some(name), ..
        } = access
        {
            names.push(name);
        }
        names.retain(|&n| n != "lo");
        let mut keys: Vec<(String, u8)> = names
            .iter()
            .map(|n| match n.strip_suffix('+') {
                Some(prefix) => (prefix.to_string(), 0),
                None => (n.to_string(), 1),
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let lo = keys.len() as u128 + 1;
        let ids = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| (key, i as u128 + 1))
            .collect();
        Interfaces { ids, lo }
    }

    fn all(&self) -> (u128, u128) {
        (0, self.lo)
    }

    /// A name's coordinate, or a wildcard's interval.
    fn one(&self, name: &str) -> (u128, u128) {
        if name == "lo" {
            return (self.lo, self.lo);
        }
        match name.strip_suffix('+') {
            Some(prefix) => {
                let first = self.ids[&(prefix.to_string(), 0)];
                let last = self
                    .ids
                    .range((prefix.to_string(), 0)..)
                    .take_while(|((key, _), _)| key.starts_with(prefix))
                    .map(|(_, &id)| id)
                    .last()
                    .unwrap_or(first);
                (first, last)
            }
            None => {
                let id = self.ids[&(name.to_string(), 1)];
                (id, id)
            }
        }
    }

    fn not_lo(&self) -> (u128, u128) {
        (0, self.lo - 1)
    }

    /// An interface name at coordinate `id`: `None` for one no rule names, a name of a
    /// wildcard's own (`veth+` gives `vethx`) for a wildcard's coordinate.
    fn name_at(&self, id: u128) -> Option<String> {
        if id == self.lo {
            return Some("lo".into());
        }
        let ((name, kind), _) = self.ids.iter().find(|(_, &i)| i == id)?;
        if *kind == 1 {
            return Some(name.clone());
        }
        let mut unnamed = format!("{name}x");
        while self.ids.contains_key(&(unnamed.clone(), 1)) {
            unnamed.push('x');
        }
        Some(unnamed)
    }

    /// Where a packet's interface lies: its name's coordinate, else that of the
    /// longest wildcard matching it, else 0.
    fn of(&self, name: Option<&str>) -> u128 {
        let Some(name) = name else { return 0 };
        if name == "lo" {
            return self.lo;
        }
        if let Some(&id) = self.ids.get(&(name.to_string(), 1)) {
            return id;
        }
        self.ids
            .iter()
            .filter(|((prefix, kind), _)| *kind == 0 && name.starts_with(prefix.as_str()))
            .max_by_key(|((prefix, _), _)| prefix.len())
            .map_or(0, |(_, &id)| id)
    }
}

/// The address intervals of a match: one per network, or the whole family's space.
/// The intervals a list of networks covers, sorted, with overlapping and adjacent
/// ones merged: the same addresses in fewer boxes (published blocklists repeat and
/// nest networks).
fn nets_bounds(nets: &[IpNet], families: &[Family]) -> Vec<(u128, u128)> {
    if nets.is_empty() {
        return vec![net_bounds(None, families)];
    }
    let mut bounds: Vec<(u128, u128)> =
        nets.iter().map(|n| net_bounds(Some(n), families)).collect();
    bounds.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(bounds.len());
    for (lo, hi) in bounds {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged.shrink_to_fit();
    merged
}

fn net_bounds(net: Option<&IpNet>, families: &[Family]) -> (u128, u128) {
    match net {
        Some(IpNet::V4(n)) => (
            u32::from(n.network()) as u128,
            u32::from(n.broadcast()) as u128,
        ),
        Some(IpNet::V6(n)) => (u128::from(n.network()), u128::from(n.broadcast())),
        None if families == [Family::V4] => (0, V4_MAX),
        None => (0, u128::MAX),
    }
}

/// Where other protocol `number` lies on the protocol axis: after TCP, UDP and ICMP,
/// every other protocol has a coordinate of its own, so `proto 47` is one point and
/// "every other protocol" one interval.
fn other(number: u8) -> u128 {
    OTHER + number as u128
}

fn proto_bounds(protocols: ProtoSet, number: Option<u8>) -> (u128, u128) {
    if let Some(n) = number {
        return (other(n), other(n));
    }
    let coordinates = [
        (ProtoSet::TCP, TCP),
        (ProtoSet::UDP, UDP),
        (ProtoSet::ICMP, ICMP),
        (ProtoSet::OTHER, OTHER),
    ];
    let members: Vec<u128> = coordinates
        .iter()
        .filter(|(p, _)| protocols.contains(*p))
        .map(|&(_, c)| c)
        .collect();
    let lo = members[0];
    let hi = if protocols.contains(ProtoSet::OTHER) {
        other(u8::MAX)
    } else {
        members[members.len() - 1]
    };
    debug_assert_eq!(
        members.len() as u128,
        members[members.len() - 1] - lo + 1,
        "protocol sets a rule can name are intervals"
    );
    (lo, hi)
}

fn port_bounds(ranges: &[PortRange]) -> Vec<(u128, u128)> {
    if ranges.is_empty() {
        vec![(0, PORT_MAX)]
    } else {
        ranges
            .iter()
            .map(|r| (r.first as u128, r.last as u128))
            .collect()
    }
}

fn fam_bounds(families: &[Family]) -> (u128, u128) {
    match families {
        [Family::V4] => (0, 0),
        [Family::V6] => (1, 1),
        _ => (0, 1),
    }
}

fn dir_bounds(direction: Direction) -> (u128, u128) {
    let d = direction as u128;
    (d, d)
}

/// The boxes a rule covers.
pub(crate) fn regions(rule: &Rule, interfaces: &Interfaces) -> Vec<Region> {
    matches_regions(&rule.matches, rule.direction, interfaces)
}

fn matches_regions(
    matches: &Matches,
    direction: Direction,
    interfaces: &Interfaces,
) -> Vec<Region> {
    let families = matches.families();
    let iface = |name: Option<&str>| name.map_or(interfaces.all(), |n| interfaces.one(n));
    let base = [
        fam_bounds(families),
        proto_bounds(matches.protocols, matches.protocol),
        matches.state.map_or((NEW, INVALID), |s| {
            let c = state_coordinate(s);
            (c, c)
        }),
        iface(matches.iface.as_deref()),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        dir_bounds(direction),
        iface(matches.oface.as_deref()),
    ];
    let (srcs, dsts) = (
        nets_bounds(&matches.src, families),
        nets_bounds(&matches.dst, families),
    );
    let (sports, dports) = (port_bounds(&matches.sports), port_bounds(&matches.dports));
    if let Some(icmp) = matches.icmp_type {
        // An ICMP packet's type stands in its destination-port coordinate; the type's
        // number depends on the family, so each family gets boxes of its own.
        let mut out = Vec::new();
        for &family in families {
            let Some(t) = icmp.of(family) else { continue };
            for &src in &nets_bounds(&matches.src, &[family]) {
                for &dst in &nets_bounds(&matches.dst, &[family]) {
                    let mut bounds = base;
                    bounds[FAM] = fam_bounds(&[family]);
                    bounds[SRC] = src;
                    bounds[DST] = dst;
                    bounds[SPORT] = (0, PORT_MAX);
                    bounds[DPORT] = (t as u128, t as u128);
                    out.push(Region::from_bounds(bounds));
                }
            }
        }
        return out;
    }
    let mut out = Vec::with_capacity(srcs.len() * dsts.len() * sports.len() * dports.len());
    for &src in &srcs {
        for &dst in &dsts {
            for &sport in &sports {
                for &dport in &dports {
                    let mut bounds = base;
                    bounds[SRC] = src;
                    bounds[DST] = dst;
                    bounds[SPORT] = sport;
                    bounds[DPORT] = dport;
                    out.push(Region::from_bounds(bounds));
                }
            }
        }
    }
    out
}

/// The packets the lockout check protects: new TCP connections to the SSH port, from
/// the operator's network, on any interface but loopback (or the declared one).
pub(crate) fn access_regions(access: &Access, interfaces: &Interfaces) -> Vec<Region> {
    let Access::Ssh { port, from, iface } = access else {
        return Vec::new();
    };
    let matches = Matches {
        protocols: ProtoSet::TCP,
        dports: vec![PortRange::new(*port, *port)].into(),
        src: from.iter().copied().collect(),
        ..Matches::ANY
    };
    let mut out = matches_regions(&matches, Direction::In, interfaces);
    for region in &mut out {
        region.set(STATE, (NEW, NEW));
        region.set(
            IFACE,
            iface
                .as_deref()
                .map_or(interfaces.not_lo(), |n| interfaces.one(n)),
        );
    }
    out
}

/// The operator's session seen from the other side: this host's replies from the SSH
/// port to the operator's network (established), out through the interface the
/// session comes in on (any but loopback, unless declared). An `out` policy that drops
/// them cuts the session.
pub(crate) fn reply_regions(access: &Access, interfaces: &Interfaces) -> Vec<Region> {
    let Access::Ssh { port, from, iface } = access else {
        return Vec::new();
    };
    let matches = Matches {
        protocols: ProtoSet::TCP,
        sports: vec![PortRange::new(*port, *port)].into(),
        dst: from.iter().copied().collect(),
        ..Matches::ANY
    };
    let mut out = matches_regions(&matches, Direction::Out, interfaces);
    for region in &mut out {
        region.set(STATE, (ESTABLISHED, ESTABLISHED));
        region.set(
            OIFACE,
            iface
                .as_deref()
                .map_or(interfaces.not_lo(), |n| interfaces.one(n)),
        );
    }
    out
}

/// The part of `region` that does not go through loopback (arrives on, or leaves
/// through, any other interface), if any: the host talking to itself is not the world.
pub(crate) fn off_loopback(region: &Region, interfaces: &Interfaces) -> Option<Region> {
    let mut outside = *region;
    let direction = region.get(DIR);
    if direction != dir_bounds(Direction::Out) {
        outside.set(IFACE, interfaces.not_lo());
    }
    if direction != dir_bounds(Direction::In) {
        outside.set(OIFACE, interfaces.not_lo());
    }
    region.intersection(&outside)
}

/// Every packet of `direction` that `matches` matches (only the first packets of new
/// connections with `new_only`): what a "can anything of this kind get through?"
/// question asks about.
pub(crate) fn query_regions(
    matches: &Matches,
    direction: Direction,
    new_only: bool,
    interfaces: &Interfaces,
) -> Vec<Region> {
    if new_only && matches.state.is_some_and(|s| s != ConnState::New) {
        return Vec::new();
    }
    let mut out = matches_regions(matches, direction, interfaces);
    if new_only {
        for region in &mut out {
            region.set(STATE, (NEW, NEW));
        }
    }
    out
}

/// Boxes of earlier rules, indexed so that finding those that overlap a region costs
/// little more than the overlaps themselves: a policy of 10,000 rules would otherwise
/// compare every rule with every earlier one (50 million box pairs).
///
/// A box narrower than its family's address space in the source goes to the source
/// index; else, narrower than all ports in the destination port, to the port index;
/// else it is kept in a list that every query scans (catch-alls, `allow icmp`, …).
///
/// The index holds references to boxes (rule, position), not the boxes: they stay in
/// the caller's `regions` (one `Vec` per rule), which every query is given. A list of
/// a million networks is then a million boxes once, not twice.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    by_src: IntervalIndex,
    by_dport: IntervalIndex,
    rest: Vec<BoxRef>,
}

/// A box in `regions`: rule, then position among the rule's boxes.
type BoxRef = (u32, u32);

impl Index {
    /// Adds every box of rule `rule` (`regions[rule]`) that no box already indexed
    /// contains. Rules are inserted in order, so such a box belongs to a later rule
    /// than the one that contains it: it decides nothing, covers nothing the other does
    /// not, and is never the first to contain a packet. Left out, it costs nothing:
    /// 4,096 copies of one rule would otherwise each compare with every copy before it
    /// (and each of those with every copy before it again).
    pub(crate) fn insert_rule(&mut self, regions: &[Vec<Region>], rule: usize) {
        // Judged against the earlier rules only, before any box of this one is in: the
        // boxes of one rule do not contain one another (its lists merge), and a rule of
        // many boxes would otherwise compare each with all of its own.
        let kept: Vec<bool> = regions[rule]
            .iter()
            .map(|b| !self.contains(regions, b))
            .collect();
        for (k, b) in regions[rule].iter().enumerate() {
            if !kept[k] {
                continue;
            }
            let r = (rule as u32, k as u32);
            let full_src = if b.get(FAM) == (0, 0) {
                (0, V4_MAX)
            } else {
                (0, u128::MAX)
            };
            if b.get(SRC) != full_src {
                self.by_src.insert(b.get(SRC), r);
            } else if b.get(DPORT) != (0, PORT_MAX) {
                self.by_dport.insert(b.get(DPORT), r);
            } else {
                self.rest.push(r);
            }
        }
    }

    fn each_overlapping(
        &self,
        regions: &[Vec<Region>],
        region: &Region,
        mut f: impl FnMut(&Region, usize),
    ) {
        self.any_overlapping(regions, region, |b, rule| {
            f(b, rule);
            false
        });
    }

    /// Whether `found` says yes for some indexed box that overlaps `region` (it is
    /// asked until it does).
    fn any_overlapping(
        &self,
        regions: &[Vec<Region>],
        region: &Region,
        mut found: impl FnMut(&Region, usize) -> bool,
    ) -> bool {
        let mut visit = |(rule, k): BoxRef| {
            let b = &regions[rule as usize][k as usize];
            b.intersects(region) && found(b, rule as usize)
        };
        self.by_src.query(region.get(SRC), &mut visit)
            || self.by_dport.query(region.get(DPORT), &mut visit)
            || self.rest.iter().copied().any(visit)
    }

    /// Whether an indexed box contains all of `region`.
    fn contains(&self, regions: &[Vec<Region>], region: &Region) -> bool {
        self.any_overlapping(regions, region, |b, _| b.contains(region))
    }

    /// Every indexed box that overlaps `region`, clipped to it.
    pub(crate) fn overlapping(&self, regions: &[Vec<Region>], region: &Region) -> Vec<Region> {
        self.overlapping_before(regions, region, usize::MAX)
    }

    /// The boxes of rules before `rule` that overlap `region`, clipped to it.
    pub(crate) fn overlapping_before(
        &self,
        regions: &[Vec<Region>],
        region: &Region,
        rule: usize,
    ) -> Vec<Region> {
        let mut out = Vec::new();
        self.each_overlapping(regions, region, |b, r| {
            if r < rule {
                out.extend(b.intersection(region));
            }
        });
        out
    }

    /// The rules with a box that overlaps `region` (with repeats).
    pub(crate) fn rules_overlapping(&self, regions: &[Vec<Region>], region: &Region) -> Vec<usize> {
        let mut out = Vec::new();
        self.each_overlapping(regions, region, |_, r| out.push(r));
        out
    }

    /// The lowest rule whose boxes contain `point` (a box of one packet).
    pub(crate) fn first_containing(
        &self,
        regions: &[Vec<Region>],
        point: &Region,
    ) -> Option<usize> {
        let mut first: Option<usize> = None;
        self.each_overlapping(regions, point, |_, rule| {
            first = Some(first.map_or(rule, |f| f.min(rule)))
        });
        first
    }

    /// Whether a corner of `region` is matched by no rule before `rule`: a quick,
    /// certain "not covered" that spares collecting every overlapping box (a catch-all
    /// after a long list overlaps all of the list's boxes).
    pub(crate) fn misses_a_corner(
        &self,
        regions: &[Vec<Region>],
        region: &Region,
        rule: usize,
    ) -> bool {
        [region.lower_corner(), region.upper_corner()]
            .iter()
            .any(|corner| {
                self.first_containing(regions, corner)
                    .is_none_or(|r| r >= rule)
            })
    }
}

/// Intervals of one dimension, grouped by width class (the next power of two), each
/// class ordered by start: the intervals of a class that overlap `[lo, hi]` start in
/// `[lo - class width, hi]`, a range query.
#[derive(Debug, Clone, Default)]
struct IntervalIndex {
    classes: BTreeMap<u32, WidthClass>,
}

/// The widest interval of a class, and the class's boxes by start.
type WidthClass = (u128, BTreeSet<(u128, BoxRef)>);

impl IntervalIndex {
    fn insert(&mut self, (lo, hi): (u128, u128), b: BoxRef) {
        let width = hi - lo;
        let class = 128 - width.leading_zeros();
        let (max_width, starts) = self.classes.entry(class).or_default();
        *max_width = (*max_width).max(width);
        starts.insert((lo, b));
    }

    /// Asks `f` about every interval that may overlap `[lo, hi]`, until it says yes;
    /// whether it did.
    fn query(&self, (lo, hi): (u128, u128), f: &mut impl FnMut(BoxRef) -> bool) -> bool {
        self.classes.values().any(|(max_width, starts)| {
            let from = (lo.saturating_sub(*max_width), (0, 0));
            let to = (hi, (u32::MAX, u32::MAX));
            starts.range(from..=to).any(|&(_, b)| f(b))
        })
    }
}

/// A packet as a box of one point, in the coordinates of `interfaces`.
pub(crate) fn point(packet: &Packet, interfaces: &Interfaces) -> Region {
    let address = |a: IpAddr| match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    let (proto, ports) = match packet.proto {
        Proto::Tcp => (TCP, true),
        Proto::Udp => (UDP, true),
        Proto::Icmp => (ICMP, false),
        Proto::Other(n) => (other(n), false),
    };
    let one = |v: u128| (v, v);
    let port = |p: u16| one(if ports { p as u128 } else { 0 });
    // An ICMP packet's type stands in its destination-port coordinate.
    let dport = match packet.proto {
        Proto::Icmp => one(packet.icmp_type as u128),
        _ => port(packet.dport),
    };
    Region::from_bounds([
        one(if packet.family() == Family::V4 { 0 } else { 1 }),
        one(proto),
        one(state_coordinate(packet.state)),
        one(interfaces.of(packet.iface.as_deref())),
        one(address(packet.src)),
        one(address(packet.dst)),
        port(packet.sport),
        dport,
        one(packet.direction as u128),
        one(interfaces.of(packet.oface.as_deref())),
    ])
}

/// The packet at a point (a box of one packet's coordinates, such as a corner).
pub(crate) fn packet_at(point: &Region, interfaces: &Interfaces) -> Packet {
    let at = |d: usize| point.get(d).0;
    let v4 = at(FAM) == 0 && at(SRC) <= V4_MAX && at(DST) <= V4_MAX;
    let address = |a: u128| -> IpAddr {
        if v4 {
            IpAddr::V4((a as u32).into())
        } else {
            IpAddr::V6(a.into())
        }
    };
    let (src, dport) = (address(at(SRC)), at(DPORT));
    let mut packet = match at(PROTO) {
        TCP => Packet::tcp(src, dport as u16),
        UDP => Packet::udp(src, dport as u16),
        ICMP => Packet::icmp(src).icmp_type(dport as u8),
        other => Packet::other((other - OTHER) as u8, src),
    };
    if matches!(at(PROTO), TCP | UDP) {
        packet.sport = at(SPORT) as u16;
    }
    packet.dst = address(at(DST));
    packet.state = match at(STATE) {
        NEW => ConnState::New,
        ESTABLISHED => ConnState::Established,
        _ => ConnState::Invalid,
    };
    packet.direction = Direction::ALL[at(DIR) as usize];
    packet.iface = interfaces.name_at(at(IFACE));
    packet.oface = interfaces.name_at(at(OIFACE));
    packet
}

/// Whether the union of `boxes` covers every packet of `region`.
#[cfg(test)]
pub(crate) fn covered(region: &Region, boxes: &[Region]) -> bool {
    let clipped: Vec<Region> = boxes
        .iter()
        .filter_map(|b| b.intersection(region))
        .collect();
    covered_clipped(region, &clipped)
}

/// [`covered`] for boxes already clipped to `region`.
pub(crate) fn covered_clipped(region: &Region, boxes: &[Region]) -> bool {
    uncovered_point(region, boxes).is_none()
}

/// A packet of `region` that none of `boxes` (clipped to it) contains, if there is one.
///
/// Picks the first dimension along which some box does not span the region, cuts the
/// region into the cells between the boxes' edges, and checks each cell against the
/// boxes that span it. Within a cell every active box spans the cut dimension, so the
/// recursion moves to a later dimension each time: at most ten levels.
pub(crate) fn uncovered_point(region: &Region, boxes: &[Region]) -> Option<Region> {
    if boxes.is_empty() {
        return Some(region.lower_corner());
    }
    if boxes.iter().any(|b| b.contains(region)) {
        return None;
    }
    let spans = |b: &Region, d: usize| b.get(d) == region.get(d);
    // If every box spans every dimension, any of them contains the region.
    let d = (0..DIMS).find(|&d| boxes.iter().any(|b| !spans(b, d)))?;
    let (spanning, partial): (Vec<Region>, Vec<Region>) = boxes.iter().partition(|b| spans(b, d));
    // Sweep the cut dimension: edges in order, boxes entering at their start and
    // leaving after their end.
    let mut edges: Vec<(u128, bool, usize)> = Vec::with_capacity(partial.len() * 2);
    for (i, b) in partial.iter().enumerate() {
        edges.push((b.get(d).0, true, i));
        if b.get(d).1 < region.get(d).1 {
            edges.push((b.get(d).1 + 1, false, i));
        }
    }
    edges.sort_unstable_by_key(|&(at, enters, _)| (at, enters));
    let mut active: Vec<usize> = Vec::new();
    // Whether the spanning boxes alone cover a cell: the same for every such cell.
    let mut spanning_cover: bool = false;
    let mut cell_start = region.get(d).0;
    let mut next = 0;
    while cell_start <= region.get(d).1 {
        while next < edges.len() && edges[next].0 == cell_start {
            let (_, enters, i) = edges[next];
            if enters {
                active.push(i);
            } else {
                active.retain(|&a| a != i);
            }
            next += 1;
        }
        let cell_end = edges.get(next).map_or(region.get(d).1, |e| e.0 - 1);
        let cell = region.restrict(d, cell_start, cell_end);
        // (Not across the family cut: an IPv4 cell clips addresses, an IPv6 one does not.)
        let known_covered = active.is_empty() && d != FAM && spanning_cover;
        let found = if known_covered || active.iter().any(|&i| partial[i].contains(&cell)) {
            None
        } else {
            let within: Vec<Region> = spanning
                .iter()
                .chain(active.iter().map(|&i| &partial[i]))
                .filter_map(|b| b.intersection(&cell))
                .collect();
            let found = uncovered_point(&cell, &within);
            if active.is_empty() && found.is_none() {
                spanning_cover = true;
            }
            found
        };
        if found.is_some() {
            return found;
        }
        if cell_end == region.get(d).1 {
            break;
        }
        cell_start = cell_end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(lo: u128, hi: u128) -> Region {
        let mut r = Region::from_bounds([
            (0, 1),
            (TCP, TCP),
            (0, 1),
            (0, 1),
            (0, u128::MAX),
            (0, u128::MAX),
            (0, PORT_MAX),
            (0, PORT_MAX),
            (0, 0),
            (0, 1),
        ]);
        r.set(DPORT, (lo, hi));
        r
    }

    #[test]
    fn union_of_adjacent_ranges_covers() {
        assert!(covered(&ports(10, 30), &[ports(0, 15), ports(16, 40)]));
        assert!(!covered(&ports(10, 30), &[ports(0, 15), ports(17, 40)]));
    }

    #[test]
    fn ipv4_region_needs_no_cover_above_ipv4_range() {
        let mut v4 = ports(0, PORT_MAX);
        v4.set(FAM, (0, 0));
        v4.set(SRC, (0, V4_MAX));
        v4.set(DST, (0, V4_MAX));
        let mut low = v4;
        low.set(SRC, (0, 1000));
        let mut high = v4;
        high.set(SRC, (1001, V4_MAX));
        assert!(covered(&v4, &[low, high]));
        // A box of both families loses nothing when cut to one family first.
        let mut both = v4;
        both.set(FAM, (0, 1));
        both.set(SRC, (0, u128::MAX));
        both.set(DST, (0, u128::MAX));
        let mut v6 = both;
        v6.set(FAM, (1, 1));
        assert!(covered(&both, &[low, high, v6]));
        assert!(!covered(&both, &[low, v6]));
    }
}
