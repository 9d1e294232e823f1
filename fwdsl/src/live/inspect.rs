//! What is installed (with each rule's counters), and what an apply would change: read
//! from one listing per family, changing nothing (so no lock is taken).

use super::journal;
use super::layout::{strip_append, Layout};
use super::lock::NsLock;
use super::revert;
use super::runner::{Runner, Table};
use super::state::{NsKey, StateDir};
use super::views::{Interrupted, Plan, Status};
use super::{FamilyPlan, FamilyStatus, LiveRule};
use crate::error::Error;
use crate::render::{RenderedRule, COMMENT_PREFIX};
use crate::Policy;
use fwdsl_core::Direction;
use std::time::Duration;

/// Per family: the input direction always, the others where fwdsl is installed; the
/// pending revert and an interrupted switch. Where a switch note is left, the listing
/// waits for the lock (at most `wait`): an apply switching now finishes first, and a
/// note found with the lock free is one a killed apply left.
pub(super) fn status(
    runners: &[Runner],
    state: &StateDir,
    ns: NsKey,
    wait: Duration,
) -> Result<Status, Error> {
    let settled = match journal::left(state, ns).is_empty() {
        true => None,
        false => NsLock::acquire(state, ns, wait).ok(),
    };
    let mut families = Vec::new();
    let mut serving = Vec::new();
    for runner in runners {
        let table = runner.counted_table()?;
        for direction in Direction::ALL {
            let status = read_status(runner, &table, direction);
            serving.push((runner.family, direction, status.chain.clone()));
            if direction == Direction::In || status.hooked || status.chain.is_some() {
                families.push(status);
            }
        }
    }
    let interrupted = settled.and_then(|_| {
        Interrupted::judge(&journal::left(state, ns), |family, direction| {
            serving
                .iter()
                .find(|(f, d, _)| *f == family && *d == direction)
                .and_then(|(_, _, chain)| chain.clone())
        })
    });
    Ok(Status {
        backend: super::Backend::Iptables,
        others: Vec::new(),
        families,
        pending: revert::pending(state, ns),
        interrupted,
    })
}

pub(super) fn plan(
    runners: &[Runner],
    state: &StateDir,
    ns: NsKey,
    wait: Duration,
    policy: &Policy,
) -> Result<Plan, Error> {
    let mut plans = Vec::new();
    let Status {
        families: mut statuses,
        interrupted,
        ..
    } = status(runners, state, ns, wait)?;
    // Directions the policy would add are planned too.
    for runner in runners {
        for direction in policy.directions() {
            if !statuses
                .iter()
                .any(|s| s.family == Some(runner.family) && s.direction == direction)
            {
                statuses.push(FamilyStatus {
                    family: Some(runner.family),
                    direction,
                    hooked_in: None,
                    hooked: false,
                    chain: None,
                    rules: Vec::new(),
                });
            }
        }
    }
    for status in statuses {
        let wanted: Vec<String> = policy
            .chain_rules(status.direction, status.family.expect("an iptables family"))
            .iter()
            .map(RenderedRule::to_command_line)
            .collect();
        let live: Vec<String> = status
            .rules
            .iter()
            .map(|r| strip_append(&r.spec).to_string())
            .collect();
        let hook = !status.hooked && policy.uses(status.direction);
        plans.push(FamilyPlan::diff(
            status.family,
            status.direction,
            &wanted,
            &live,
            hook,
        ));
    }
    let mut nat = Vec::new();
    for runner in runners {
        nat.extend(super::nat::plans(
            &runner.nat_table()?,
            policy,
            runner.family,
        ));
    }
    Ok(Plan {
        backend: super::Backend::Iptables,
        families: plans,
        nat,
        others: Vec::new(),
        interrupted,
    })
}

pub(super) fn read_status(runner: &Runner, table: &Table, direction: Direction) -> FamilyStatus {
    let layout = Layout::read(table, direction);
    let chain = layout.current_chain().map(String::from);
    let rules = match &chain {
        Some(c) => table
            .rules(c)
            .iter()
            .zip(table.counters(c))
            .map(|(spec, &(packets, bytes))| LiveRule {
                number: rule_number(spec),
                spec: spec.clone(),
                packets,
                bytes,
            })
            .collect(),
        None => Vec::new(),
    };
    FamilyStatus {
        family: Some(runner.family),
        direction,
        hooked_in: layout.hook.as_ref().map(|(c, _)| c.clone()),
        hooked: layout.hook.is_some(),
        chain,
        rules,
    }
}

/// The DSL text in a rule's `fwdsl:N text` comment.
pub(super) fn comment_text(spec: &str) -> Option<String> {
    let start = spec.find(&format!("\"{COMMENT_PREFIX}"))? + 1;
    let end = start + spec[start..].find('"')?;
    let comment = &spec[start + COMMENT_PREFIX.len()..end];
    let (_, text) = comment.split_once(' ')?;
    Some(text.split(" -- ").next().unwrap_or(text).to_string())
}

fn rule_number(spec: &str) -> Option<usize> {
    let start = spec.find(&format!("\"{COMMENT_PREFIX}"))? + 1 + COMMENT_PREFIX.len();
    let digits: String = spec[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rule_number_and_text_from_comments() {
        let spec = "-A FWDSL-G-1 -p tcp -m tcp --dport 22 -m comment --comment \"fwdsl:3 allow tcp 22 -- admins\" -j ACCEPT";
        assert_eq!(rule_number(spec), Some(3));
        assert_eq!(comment_text(spec).as_deref(), Some("allow tcp 22"));
        assert_eq!(
            rule_number("-A FWDSL-G-1 -m comment --comment \"fwdsl:nd x\" -j ACCEPT"),
            None
        );
        assert_eq!(strip_append(spec).split(' ').next(), Some("-p"));
    }
}
