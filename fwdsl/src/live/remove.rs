//! Taking rules away: one policy rule (`iptables -D`), every rule (`iptables -F`), or
//! fwdsl altogether, the last in one transaction per family: all or nothing. Every
//! direction fwdsl has installed is covered.

use super::inspect::{comment_text, read_status};
use super::iptables::{collect_sets, snapshots};
use super::layout::{
    foreign_jumps, hook_rule, is_fwdsl_chain, recreate, restore_text, strip_append, Layout,
};
use super::nat::NatChange;
use super::runner::{Context, Table};
use super::txn::{Txn, Undo};
use super::{Flushed, RuleSelector, Session};
use crate::error::Error;
use fwdsl_core::Direction;

pub(super) fn remove_rule(session: &Session, which: &RuleSelector) -> Result<usize, Error> {
    let mut hits = Vec::new();
    for (f, runner) in session.runners.iter().enumerate() {
        let table = runner.table()?;
        for direction in Direction::ALL {
            let status = read_status(runner, &table, direction);
            let Some(chain) = status.chain else { continue };
            for rule in status.rules {
                let hit = match which {
                    RuleSelector::Number(n) => rule.number == Some(*n),
                    RuleSelector::Text(text) => {
                        rule.number.is_some()
                            && comment_text(&rule.spec).as_deref() == Some(text.as_str())
                    }
                };
                if hit {
                    hits.push((f, chain.clone(), rule));
                }
            }
        }
    }
    which.one_rule(hits.iter().filter_map(|(_, _, r)| r.number).collect())?;
    for (f, chain, rule) in &hits {
        session.runners[*f].delete(chain, strip_append(&rule.spec), &Context::default())?;
    }
    Ok(hits.len())
}

/// `iptables -F` of every serving generation; returns what is now open: each
/// built-in chain whose packets now meet only its own policy and other rules.
pub(super) fn flush(session: &Session) -> Result<Flushed, Error> {
    let mut open = Vec::new();
    for runner in &session.runners {
        let table = runner.table()?;
        for direction in Direction::ALL {
            let layout = Layout::read(&table, direction);
            if let Some(chain) = layout.current_chain() {
                runner.flush_chain(chain)?;
                let builtin = direction.builtin_chain();
                open.push((
                    runner.family,
                    builtin.to_string(),
                    table.policy(builtin).unwrap_or("ACCEPT").to_string(),
                ));
            }
        }
    }
    Ok(Flushed { open })
}

pub(super) fn uninstall(session: &Session, fault: Option<super::txn::Fault>) -> Result<(), Error> {
    let tables = snapshots(&session.runners)?;
    // Checked for every family before anything changes.
    if let Some(rule) = tables.iter().flat_map(foreign_jumps).next() {
        return Err(Error::InUse { rule });
    }
    let nat_tables = super::iptables::nat_snapshots(&session.runners)?;
    let mut txn = Txn::new(&session.runners, session.sets, fault);
    for ((f, table), runner) in tables.iter().enumerate().zip(&session.runners) {
        let nat = NatChange::read(&nat_tables[f], None, runner.family);
        if !nat.is_noop() {
            let forward = nat.forward();
            let step = txn.step(
                f,
                &Context::default(),
                |r| r.restore(&forward, |_| None),
                Some(Undo::Restore(f, nat.inverse())),
            );
            if let Err(e) = step {
                return Err(txn.abort(e));
            }
        }
        if let Some((forward, inverse)) = removal(table) {
            let step = txn.step(
                f,
                &Context::default(),
                |r| r.restore(&forward, |_| None),
                Some(Undo::Restore(f, inverse)),
            );
            if let Err(e) = step {
                return Err(txn.abort(e));
            }
        }
    }
    txn.forget();
    collect_sets(session)
}

/// The transaction that removes fwdsl from one family's table, and its inverse.
fn removal(table: &Table) -> Option<(String, String)> {
    let chains: Vec<&str> = table.chains().filter(|c| is_fwdsl_chain(c)).collect();
    let hooks: Vec<(String, usize, String)> = Direction::ALL
        .iter()
        .filter_map(|&d| {
            let (chain, position) = Layout::read(table, d).hook?;
            Some((chain, position, hook_rule(d)))
        })
        .collect();
    if chains.is_empty() && hooks.is_empty() {
        return None;
    }
    let mut forward: Vec<String> = hooks
        .iter()
        .map(|(chain, _, hook)| format!("-D {chain} {hook}"))
        .collect();
    forward.extend(chains.iter().map(|c| format!("-F {c}")));
    forward.extend(chains.iter().map(|c| format!("-X {c}")));
    let mut inverse = recreate(table, chains.iter().copied());
    inverse.extend(
        hooks
            .iter()
            .map(|(chain, position, hook)| format!("-I {chain} {position} {hook}")),
    );
    Some((restore_text(&forward), restore_text(&inverse)))
}
