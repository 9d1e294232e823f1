//! What the nftables backend does besides applying: what is live (each rule with its
//! counters), what an apply would change, and taking rules away (one rule, every rule,
//! or the whole table), each read from one listing of fwdsl's table.

use super::listing::{Listing, Rule};
use super::{base_chain, command, object, Nft, TABLE};
use crate::error::Error;
use crate::live::{FamilyPlan, FamilyStatus, Flushed, LiveRule, RuleSelector};
use crate::render::COMMENT_PREFIX;
use crate::Policy;
use fwdsl_core::{Direction, Family};
use serde_json::{json, Value};

/// A live rule in one line: its statements and its comment, as
/// [`NftRule::to_text`](crate::NftRule::to_text) writes a rule of the policy.
pub(crate) fn text(rule: &Rule) -> String {
    let comment = rule.comment.as_deref().unwrap_or_default();
    format!("{} comment {comment:?}", Value::from(rule.expr.clone()))
}

/// The input direction always, the others where fwdsl's table has a base chain.
pub(crate) fn status(listing: &Listing) -> Vec<FamilyStatus> {
    Direction::ALL
        .into_iter()
        .filter(|&d| d == Direction::In || listing.base(d).is_some())
        .map(|direction| {
            let base = listing.base(direction);
            let jump = listing.jump(direction);
            let chain = jump.map(|j| j.target);
            let rules = chain
                .as_ref()
                .and_then(|c| listing.chains.get(c))
                .map(|c| {
                    c.rules
                        .iter()
                        .map(|r| LiveRule {
                            number: r.number(),
                            spec: text(r),
                            packets: r.packets,
                            bytes: r.bytes,
                        })
                        .collect()
                })
                .unwrap_or_default();
            FamilyStatus {
                family: None,
                direction,
                hooked_in: base
                    .and_then(|b| b.hook.as_ref())
                    .map(|h| format!("hook {} (priority {}, table inet {TABLE})", h.hook, h.prio)),
                hooked: base.is_some() && chain.is_some(),
                chain,
                rules,
            }
        })
        .collect()
}

/// What applying `policy` would change in fwdsl's NAT chains, per chain that changes.
pub(crate) fn nat_plan(listing: &Listing, policy: &Policy) -> Vec<crate::live::NatPlan> {
    super::plan::NAT_CHAINS
        .iter()
        .filter_map(|&(name, _, _, destination)| {
            let wanted: Vec<String> = policy
                .nft_nat_rules(destination)
                .iter()
                .map(crate::NftRule::to_text)
                .collect();
            let live: Vec<String> = listing
                .chains
                .get(name)
                .map(|c| c.rules.iter().map(text).collect())
                .unwrap_or_default();
            crate::live::NatPlan::diff(None, name, &wanted, &live)
        })
        .collect()
}

/// What applying `policy` would add and remove, per direction.
pub(crate) fn plan(listing: &Listing, policy: &Policy) -> Vec<FamilyPlan> {
    let statuses = status(listing);
    Direction::ALL
        .into_iter()
        .filter(|&d| policy.uses(d) || statuses.iter().any(|s| s.direction == d && s.hooked))
        .map(|direction| {
            let wanted: Vec<String> = match policy.uses(direction) {
                true => policy
                    .nft_rules(direction)
                    .iter()
                    .map(|r| r.to_text())
                    .collect(),
                false => Vec::new(),
            };
            let status = statuses.iter().find(|s| s.direction == direction);
            let live: Vec<String> = status
                .map(|s| s.rules.iter().map(|r| r.spec.clone()).collect())
                .unwrap_or_default();
            let hook = policy.uses(direction) && !status.is_some_and(|s| s.hooked);
            FamilyPlan::diff(None, direction, &wanted, &live, hook)
        })
        .collect()
}

fn delete_rule(chain: &str, handle: u64) -> Value {
    command(
        "delete",
        "rule",
        object(json!({"chain": chain, "handle": handle})),
    )
}

/// Deletes the live rules of one policy rule (by number, or by its text), in one batch.
pub(crate) fn remove_rule(nft: &Nft, which: &RuleSelector) -> Result<usize, Error> {
    let listing = nft.table()?;
    let mut hits: Vec<(String, &Rule)> = Vec::new();
    for direction in Direction::ALL {
        let Some(jump) = listing.jump(direction) else {
            continue;
        };
        for rule in listing
            .chains
            .get(&jump.target)
            .map(|c| &c.rules[..])
            .unwrap_or_default()
        {
            let hit = match which {
                RuleSelector::Number(n) => rule.number() == Some(*n),
                RuleSelector::Text(t) => rule.number().is_some() && comment_text(rule) == Some(t),
            };
            if hit {
                hits.push((jump.target.clone(), rule));
            }
        }
    }
    which.one_rule(hits.iter().filter_map(|(_, r)| r.number()).collect())?;
    let batch: Vec<Value> = hits.iter().map(|(c, r)| delete_rule(c, r.handle)).collect();
    nft.load(&batch)?;
    Ok(hits.len())
}

/// The DSL text of an `fwdsl:N text -- comment` comment.
fn comment_text(rule: &Rule) -> Option<&str> {
    let rest = rule.comment.as_deref()?.strip_prefix(COMMENT_PREFIX)?;
    let (_, text) = rest.split_once(' ')?;
    Some(text.split(" -- ").next().unwrap_or(text))
}

/// Flushes every serving generation: packets then go on past fwdsl's base chains, which
/// accept (nft goes on to the other tables' chains on the same hook).
pub(crate) fn flush(nft: &Nft) -> Result<Flushed, Error> {
    let listing = nft.table()?;
    let mut batch = Vec::new();
    let mut open = Vec::new();
    for direction in Direction::ALL {
        if let Some(jump) = listing.jump(direction) {
            batch.push(command(
                "flush",
                "chain",
                object(json!({"name": jump.target})),
            ));
            for family in [Family::V4, Family::V6] {
                open.push((
                    family,
                    format!("{} (table inet {TABLE})", base_chain(direction)),
                    "ACCEPT".to_string(),
                ));
            }
        }
    }
    nft.load(&batch)?;
    Ok(Flushed { open })
}

/// Deletes fwdsl's table, all of it at once (no other table can jump into it).
pub(crate) fn uninstall(nft: &Nft) -> Result<(), Error> {
    if !nft.table()?.exists {
        return Ok(());
    }
    nft.load(&[command(
        "delete",
        "table",
        json!({"family": "inet", "name": TABLE}),
    )])
}
