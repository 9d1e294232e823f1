//! Deciding many packets against one large policy: the rules' boxes indexed, so a packet
//! is compared with the few rules that could match it. Same answers as
//! [`decide`](crate::decide), proved by the property test.

use crate::model::{Action, Rule};
use crate::packet::{sees, Decision, Packet};
use crate::space;

/// First-match evaluation for many packets against one large policy: the rules' boxes
/// indexed by source and port, so a packet is compared with the few rules that could
/// match it rather than with every rule. Same answers as [`decide`](crate::decide).
#[derive(Debug, Clone)]
pub struct Decider {
    interfaces: space::Interfaces,
    /// Each rule's boxes (none for the rules left out of the index).
    regions: Vec<Vec<space::Region>>,
    index: space::Index,
    /// The `log` rules, which the index leaves out.
    logs: Vec<usize>,
    /// Which directions the rules have a chain for (by `Direction as usize`).
    uses: [bool; 3],
}

impl Decider {
    /// Indexes `rules`.
    pub fn new(rules: &[Rule]) -> Decider {
        let interfaces = space::Interfaces::new(rules, &crate::Access::Console);
        // `log` rules decide nothing: the first match is among the others. Rules on
        // dynamic sets match nothing while the sets are empty, as `decide` takes them.
        let regions: Vec<Vec<space::Region>> = rules
            .iter()
            .map(
                |r| match r.action != Action::Log && !r.matches.is_dynamic() {
                    true => space::regions(r, &interfaces),
                    false => Vec::new(),
                },
            )
            .collect();
        let mut index = space::Index::default();
        for i in 0..rules.len() {
            index.insert_rule(&regions, i);
        }
        let logs = (0..rules.len())
            .filter(|&i| rules[i].action == Action::Log)
            .collect();
        let uses = crate::Direction::ALL.map(|d| rules.iter().any(|r| r.direction == d));
        Decider {
            interfaces,
            regions,
            index,
            logs,
            uses,
        }
    }

    /// What [`decide`](crate::decide) says of `packet` for the indexed `rules`,
    /// without walking every rule.
    pub fn decide<'a>(&self, rules: &'a [Rule], packet: &Packet) -> Option<Decision<'a>> {
        if let Some(builtin) = Decision::by_builtin(packet, self.uses[packet.direction as usize]) {
            return Some(builtin);
        }
        let index = self.first_match(packet)?;
        let rule = &rules[index];
        let above_limit = rule.limit.and_then(|_| {
            (index + 1..rules.len())
                .find(|&j| rules[j].action != Action::Log && sees(&rules[j], packet))
        });
        let logged_by = self
            .logs
            .iter()
            .copied()
            .take_while(|&j| j < index)
            .filter(|&j| sees(&rules[j], packet))
            .collect();
        Some(Decision {
            index,
            rule,
            builtin: None,
            above_limit,
            logged_by,
            nat: None,
            source_nat: None,
        })
    }

    /// The index of the first rule of the indexed policy, `log` rules aside, that
    /// matches `packet`.
    pub fn first_match(&self, packet: &Packet) -> Option<usize> {
        self.index
            .first_containing(&self.regions, &space::point(packet, &self.interfaces))
    }
}
