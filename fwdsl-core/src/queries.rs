//! Questions a unit test asks of whole regions of packets, answered exactly with the
//! analysis' boxes: does a policy accept any packet of a region (and which one), and
//! what does a new policy accept that an old one did not.
//!
//! "Accepted" is first-match as the kernel walks the chain, `log` rules aside, with a
//! rate-limited `allow` rule accepting (its packets are under the limit); a packet no
//! rule of its direction matches is not accepted by the policy. Dynamic sets are empty,
//! as [`decide`](crate::decide) takes them: a rule on one matches nothing.

use crate::model::{Access, Action, Direction, Matches, Rule};
use crate::packet::Packet;
use crate::space::{self, Index, Interfaces, Region};

/// Where a new policy accepts what an old one did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The rule of the new policy that accepts (0-based).
    pub rule: usize,
    /// The rule of the old policy that decided those packets otherwise, or `None`
    /// where no rule of the old policy matched them.
    pub instead_of: Option<usize>,
    /// A packet of the opening: accepted by the new policy, not by the old.
    pub witness: Packet,
}

/// The rules' boxes, and an index of those that take packets (all but `log` rules).
struct Boxes {
    regions: Vec<Vec<Region>>,
    index: Index,
}

impl Boxes {
    fn new(rules: &[Rule], interfaces: &Interfaces) -> Boxes {
        let regions: Vec<Vec<Region>> = rules
            .iter()
            .map(|r| match r.matches.is_dynamic() {
                true => Vec::new(),
                false => space::regions(r, interfaces),
            })
            .collect();
        let mut index = Index::default();
        for (i, rule) in rules.iter().enumerate() {
            if rule.action != Action::Log {
                index.insert_rule(&regions, i);
            }
        }
        Boxes { regions, index }
    }

    /// The boxes of rules before `rule` (all rules for `usize::MAX`) that overlap `region`.
    fn before(&self, region: &Region, rule: usize) -> Vec<Region> {
        self.index.overlapping_before(&self.regions, region, rule)
    }
}

/// A packet of `direction` that `matches` describes (the first packet of a new
/// connection, with `new_only`) which `rules` accept, if there is one.
pub fn accepted_witness(
    rules: &[Rule],
    direction: Direction,
    matches: &Matches,
    new_only: bool,
) -> Option<Packet> {
    witness(rules, direction, matches, new_only, false)
}

/// A new incoming connection that `matches` describes, arriving on any interface but
/// loopback, which `rules` accept: what "reachable from the network" means (`allow in
/// lo` lets the host talk to itself, not the world in).
pub fn accepted_from_outside(rules: &[Rule], matches: &Matches) -> Option<Packet> {
    witness(rules, Direction::In, matches, true, true)
}

pub(crate) fn witness(
    rules: &[Rule],
    direction: Direction,
    matches: &Matches,
    new_only: bool,
    off_loopback: bool,
) -> Option<Packet> {
    if matches.is_dynamic() {
        return None;
    }
    // The query's interfaces need coordinates too.
    let interfaces = interfaces_with(rules, direction, matches);
    let boxes = Boxes::new(rules, &interfaces);
    let query = match new_only {
        true => new_connections(matches, direction, off_loopback, &interfaces),
        false => space::query_regions(matches, direction, false, &interfaces),
    };
    (0..rules.len())
        .filter(|&j| rules[j].action == Action::Allow && rules[j].direction == direction)
        .find_map(|j| {
            boxes.regions[j]
                .iter()
                .flat_map(|b| query.iter().filter_map(move |q| b.intersection(q)))
                .find_map(|piece| space::uncovered_point(&piece, &boxes.before(&piece, j)))
        })
        .map(|point| space::packet_at(&point, &interfaces))
}

/// A new connection of `direction` that `matches` describes which `rules` do not
/// accept, with the rule that drops or rejects it (`None`: no rule of the policy
/// matches it, and the built-in chain decides); not through loopback with
/// `off_loopback`.
pub(crate) fn refused_witness(
    rules: &[Rule],
    direction: Direction,
    matches: &Matches,
    off_loopback: bool,
) -> Option<(Packet, Option<usize>)> {
    if matches.is_dynamic() {
        return None;
    }
    let interfaces = interfaces_with(rules, direction, matches);
    let boxes = Boxes::new(rules, &interfaces);
    let query = new_connections(matches, direction, off_loopback, &interfaces);
    let dropped = (0..rules.len())
        .filter(|&j| {
            matches!(rules[j].action, Action::Drop | Action::Reject)
                && rules[j].direction == direction
        })
        .find_map(|j| {
            boxes.regions[j]
                .iter()
                .flat_map(|b| query.iter().filter_map(move |q| b.intersection(q)))
                .find_map(|piece| space::uncovered_point(&piece, &boxes.before(&piece, j)))
                .map(|point| (point, Some(j)))
        });
    // Else a packet no rule matches at all.
    dropped
        .or_else(|| {
            query.iter().find_map(|q| {
                space::uncovered_point(q, &boxes.before(q, usize::MAX)).map(|point| (point, None))
            })
        })
        .map(|(point, rule)| (space::packet_at(&point, &interfaces), rule))
}

/// The first packets of new connections `matches` describes (not through loopback,
/// with `off_loopback`).
fn new_connections(
    matches: &Matches,
    direction: Direction,
    off_loopback: bool,
    interfaces: &Interfaces,
) -> Vec<Region> {
    let query = space::query_regions(matches, direction, true, interfaces);
    match off_loopback {
        true => query
            .iter()
            .filter_map(|q| space::off_loopback(q, interfaces))
            .collect(),
        false => query,
    }
}

/// The interfaces of `rules` and of a question about `matches`, in one coordinate
/// system.
fn interfaces_with(rules: &[Rule], direction: Direction, matches: &Matches) -> Interfaces {
    let asked = Rule {
        action: Action::Allow,
        limit: None,
        log: None,
        direction,
        matches: matches.clone(),
        text: "".into(),
        comment: None,
        line: 0,
    };
    let with_query: Vec<Rule> = rules.iter().cloned().chain([asked]).collect();
    Interfaces::new(&with_query, &Access::Console)
}

/// A point of one of `pieces` that the rule of each list (`None`: no rule) decides in
/// its list: no rule before it there takes the point.
fn reached(
    pieces: impl IntoIterator<Item = Region>,
    (a, j): (&Boxes, Option<usize>),
    (b, k): (&Boxes, Option<usize>),
) -> Option<Region> {
    pieces.into_iter().find_map(|piece| {
        let mut avoid = a.before(&piece, j.unwrap_or(usize::MAX));
        avoid.extend(b.before(&piece, k.unwrap_or(usize::MAX)));
        space::uncovered_point(&piece, &avoid)
    })
}

/// What `new` accepts and `old` does not: one [`Opening`] for each rule of `new` and
/// the rule of `old` (or none) between which some packet changed, with a witness.
/// Empty means the change opens nothing.
pub fn openings(new: &[Rule], old: &[Rule]) -> Vec<Opening> {
    // One coordinate system for both policies' interfaces.
    let both: Vec<Rule> = new.iter().chain(old).cloned().collect();
    let interfaces = Interfaces::new(&both, &Access::Console);
    let (new_boxes, old_boxes) = (Boxes::new(new, &interfaces), Boxes::new(old, &interfaces));
    let mut out = Vec::new();
    for j in (0..new.len()).filter(|&j| new[j].action == Action::Allow) {
        // Where the old policy dropped or rejected, or had no rule at all.
        let old_deciders = (0..old.len())
            .filter(|&k| matches!(old[k].action, Action::Drop | Action::Reject))
            .map(Some)
            .chain([None]);
        for k in old_deciders {
            let witness = new_boxes.regions[j].iter().find_map(|b| {
                let pieces: Vec<Region> = match k {
                    Some(k) => old_boxes.regions[k]
                        .iter()
                        .filter_map(|o| o.intersection(b))
                        .collect(),
                    None => vec![*b],
                };
                reached(pieces, (&new_boxes, Some(j)), (&old_boxes, k))
            });
            if let Some(point) = witness {
                out.push(Opening {
                    rule: j,
                    instead_of: k,
                    witness: space::packet_at(&point, &interfaces),
                });
            }
        }
    }
    out
}

/// Where two rule lists decide a packet differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The rule of the first list that decides the witness (`None`: no rule does).
    pub first: Option<usize>,
    /// The rule of the second list that decides it otherwise (`None`: no rule does).
    pub second: Option<usize>,
    /// A packet the two decide differently.
    pub witness: Packet,
}

/// Every pair of deciding rules (or none) of `a` and `b` between which some packet is
/// decided differently (accepted, dropped, rejected, or left to the built-in chain),
/// each with a witness, first match as the kernel walks the chains, `log` rules aside.
/// Empty: the two decide every packet alike. Any state, not only new connections.
pub fn differences(a: &[Rule], b: &[Rule]) -> Vec<Difference> {
    let action = |rules: &[Rule], i: Option<usize>| i.map(|i| rules[i].action);
    differences_by(a, b, |j, k| action(a, j) == action(b, k))
}

/// [`differences`] with the caller's own notion of "decides alike": `same(j, k)` says
/// whether rule `j` of `a` and rule `k` of `b` (or no rule) treat a packet the same (the
/// importer compares NAT statements by their translation this way).
pub fn differences_by(
    a: &[Rule],
    b: &[Rule],
    same: impl Fn(Option<usize>, Option<usize>) -> bool,
) -> Vec<Difference> {
    let both: Vec<Rule> = a.iter().chain(b).cloned().collect();
    let interfaces = Interfaces::new(&both, &Access::Console);
    let (a_boxes, b_boxes) = (Boxes::new(a, &interfaces), Boxes::new(b, &interfaces));
    let deciders = |rules: &[Rule]| -> Vec<Option<usize>> {
        (0..rules.len())
            .filter(|&i| rules[i].action != Action::Log)
            .map(Some)
            .chain([None])
            .collect()
    };
    // Every packet, for "no rule decides it".
    let full: Vec<Region> = [Direction::In, Direction::Out, Direction::Forward]
        .into_iter()
        .flat_map(|d| space::query_regions(&Matches::ANY, d, false, &interfaces))
        .collect();
    fn regions<'r>(boxes: &'r Boxes, i: Option<usize>, full: &'r [Region]) -> &'r [Region] {
        i.map_or(full, |i| &boxes.regions[i])
    }
    let (a_deciders, b_deciders) = (deciders(a), deciders(b));
    let mut out = Vec::new();
    for &j in &a_deciders {
        for &k in &b_deciders {
            if (j.is_none() && k.is_none()) || same(j, k) {
                continue;
            }
            let kb = regions(&b_boxes, k, &full);
            let witness = regions(&a_boxes, j, &full).iter().find_map(|x| {
                let pieces = kb.iter().filter_map(|y| x.intersection(y));
                reached(pieces, (&a_boxes, j), (&b_boxes, k))
            });
            if let Some(point) = witness {
                out.push(Difference {
                    first: j,
                    second: k,
                    witness: space::packet_at(&point, &interfaces),
                });
            }
        }
    }
    out
}
