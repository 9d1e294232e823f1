//! Applying a policy: per family, one `iptables-restore --noflush` transaction builds
//! the policy's generation chain, moves fwdsl's jump to it, and removes the previous
//! generation together with any generation a crashed apply left behind. There is no
//! state in between for a crash or a second process to find. The transaction's inverse
//! is written before it runs: it is what a rollback loads, and what the watchdog of
//! an unconfirmed apply loads in a process of its own.

use super::change::{Change, Part, Rendered};
use super::runner::{Context, Runner, Table};
use super::txn::{Load, Txn, Undo};
use super::{
    guard, ipset, journal, revert, ApplyReport, FamilyReport, Firewall, LoadPath, Session,
};
use crate::error::Error;
use crate::Policy;
use std::collections::BTreeSet;
use std::time::Duration;

/// How an apply is confirmed.
pub(super) enum Confirm<F> {
    /// It is not: the new rules stay.
    No,
    /// `F` is asked, for at most the duration; the rules go back unless it says yes.
    Wait(Duration, F),
    /// A watchdog reverts after the duration unless [`Firewall::confirm`] is called.
    Detached(Duration),
}

pub(super) fn apply<F>(
    fw: &Firewall,
    policy: &Policy,
    confirm: Confirm<F>,
) -> Result<ApplyReport, Error>
where
    F: FnOnce() -> bool + Send + 'static,
{
    if !fw.force {
        guard::check_sessions(policy, &fw.sessions(Some(policy))?)?;
    }
    let session = fw.session()?;
    let mut txn = Txn::new(&session.runners, session.sets, fw.fault);
    let prepared = match prepare(fw, &session, &mut txn, policy) {
        Ok(prepared) => prepared,
        Err(e) => return Err(txn.abort(e)),
    };
    let Prepared {
        tables,
        changes,
        existing,
        created,
        wanted,
    } = prepared;
    let changing = changes.iter().any(|c| !c.is_noop());
    let window = match &confirm {
        Confirm::Wait(window, _) | Confirm::Detached(window) if changing => Some(*window),
        _ => None,
    };
    let mut pending = match window {
        Some(window) => {
            let reverts: Vec<(&str, String)> = changes
                .iter()
                .zip(&session.runners)
                .zip(&tables)
                .filter(|((c, _), _)| !c.is_noop())
                .map(|((c, r), t)| (r.restore_program(), c.inverse(t, |_| true)))
                .collect();
            match revert::arm(
                &session.state,
                session.ns,
                &session.lock,
                window,
                &reverts,
                &created,
            ) {
                Ok(pending) => Some(pending),
                Err(e) => return Err(txn.abort(e)),
            }
        }
        None => None,
    };
    // Two families are two transactions: until both have committed (or been taken
    // back), a note says what is switching, for status to find should this die.
    let switches: Vec<_> = changes.iter().flat_map(Change::switches).collect();
    let _journal = match switches.iter().any(|e| e.family != switches[0].family) {
        true => match journal::Note::begin(&session.state, session.ns, &switches) {
            Ok(note) => Some(note),
            Err(e) => return Err(txn.abort(e)),
        },
        false => None,
    };
    let reports = match switch(&mut txn, &changes, &tables, fw.batch_above) {
        Ok(reports) => reports,
        Err(e) => {
            if pending.take().is_none_or(|p| p.revert_here()) {
                return Err(txn.abort(e));
            }
            txn.forget();
            return Err(Error::Reverted);
        }
    };
    let report = ApplyReport {
        changed: txn.commands > 0,
        commands: txn.commands,
        families: reports,
    };
    match (confirm, pending) {
        (Confirm::Wait(window, ask), Some(pending)) => {
            if confirmed(window, ask) {
                if !pending.confirm() {
                    txn.forget();
                    return Err(Error::Reverted);
                }
            } else if pending.revert_here() {
                return Err(txn.abort(Error::NotConfirmed(window)));
            } else {
                txn.forget();
                return Err(Error::NotConfirmed(window));
            }
        }
        // The watchdog holds the lock and the revert from here on; `confirm` collects
        // the sets the old rules used.
        (Confirm::Detached(_), Some(_)) => {
            txn.forget();
            return Ok(report);
        }
        _ => {}
    }
    txn.forget();
    let mut used = ipset::used_by(tables.iter().zip(&changes).flat_map(|(t, c)| {
        t.chains()
            .filter(|chain| !c.retire.iter().any(|r| r == chain))
            .flat_map(|chain| t.rules(chain))
    }));
    used.extend(wanted);
    let existing: BTreeSet<String> = existing
        .union(&created.into_iter().collect())
        .cloned()
        .collect();
    session.sets.collect(&existing, &used);
    Ok(report)
}

/// Everything read and created before the switch.
struct Prepared<'p> {
    tables: Vec<Table>,
    changes: Vec<Change<'p>>,
    /// fwdsl sets that existed before.
    existing: BTreeSet<String>,
    /// fwdsl sets this apply created.
    created: Vec<String>,
    /// The sets the policy uses.
    wanted: Vec<String>,
}

fn prepare<'p>(
    fw: &Firewall,
    session: &Session,
    txn: &mut Txn<'_>,
    policy: &'p Policy,
) -> Result<Prepared<'p>, Error> {
    let needed: Vec<_> = fw
        .families
        .iter()
        .flat_map(|&f| policy.ipset_refs(f))
        .collect();
    // The listings side by side (the sets, each family's table), and the policy
    // rendered meanwhile: it needs no listing.
    let (existing, tables, rendered) = std::thread::scope(|scope| {
        let caller = guard::namespace_id();
        let sets = scope.spawn(move || {
            in_namespace(caller)?;
            session.sets.existing()
        });
        let tables = scope.spawn(|| snapshots(&session.runners));
        let rendered: Vec<Rendered> = session
            .runners
            .iter()
            .map(|r| Change::render(policy, r.family))
            .collect();
        let sets = sets.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let tables = tables
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (sets, tables, rendered)
    });
    // Without the ipset program there are no sets to collect; a policy that needs
    // sets fails on it below.
    let existing = match existing {
        Ok(existing) => existing,
        Err(Error::ProgramMissing { .. }) if needed.is_empty() => BTreeSet::new(),
        Err(e) => return Err(e),
    };
    let tables = tables?;
    let missing: Vec<&crate::IpSet> = needed
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| !existing.contains(&s.name))
        .collect();
    let mut created: Vec<String> = missing.iter().map(|s| s.name.clone()).collect();
    created.dedup();
    if !missing.is_empty() {
        let text: String = missing.iter().map(|s| s.to_restore()).collect();
        txn.step(
            0,
            &Context::default(),
            |_| session.sets.restore(&text),
            Some(Undo::DestroySets(created.clone())),
        )?;
    }
    let changes = session
        .runners
        .iter()
        .zip(&tables)
        .zip(rendered)
        .map(|((r, t), rendered)| Change::read(t, r.family, policy, rendered))
        .collect();
    Ok(Prepared {
        tables,
        changes,
        existing,
        created,
        wanted: needed.iter().map(|s| s.name.clone()).collect(),
    })
}

/// Loads every family's new generations and switches to them: the chains loaded per
/// rule first (small generations, when so configured), then one `iptables-restore`
/// transaction per family, the families side by side.
fn switch(
    txn: &mut Txn<'_>,
    changes: &[Change<'_>],
    tables: &[Table],
    batch_above: usize,
) -> Result<Vec<FamilyReport>, Error> {
    let batch = |p: &Part| p.lines.len() > batch_above;
    let changing = || changes.iter().enumerate().filter(|(_, c)| !c.is_noop());
    for (f, change) in changing() {
        for part in &change.parts {
            if let (Some(new), false) = (&part.new, batch(part)) {
                txn.step(
                    f,
                    &Context::default(),
                    |r| r.new_chain(new),
                    Some(Undo::DeleteChain(f, new.clone())),
                )?;
                for (i, line) in part.lines.iter().enumerate() {
                    let context = Context {
                        rule: change.rule_of(part, i),
                    };
                    txn.step(f, &context.clone(), |r| r.append(new, line, &context), None)?;
                }
            }
        }
    }
    let forwards: Vec<_> = changing()
        .map(|(f, change)| (f, change, change.forward(batch)))
        .collect();
    let steps = forwards
        .iter()
        .map(|(f, change, (text, first_rules))| {
            let rule_of_line = move |line: usize| {
                let &(start, i) = first_rules.iter().rev().find(|(start, _)| line >= *start)?;
                change.rule_of(&change.parts[i], line - start)
            };
            let load = move |r: &Runner| r.restore(text, rule_of_line);
            let undo = Undo::Restore(*f, change.inverse(&tables[*f], batch));
            (*f, Box::new(load) as Load<'_>, undo)
        })
        .collect();
    txn.steps_side_by_side(steps)?;
    Ok(changes
        .iter()
        .flat_map(|change| {
            change.reports(|p| match change.is_noop() {
                true => None,
                false if batch(p) => Some(LoadPath::Batch),
                false => Some(LoadPath::PerRule),
            })
        })
        .collect())
}

/// Collects the fwdsl sets no live rule of any family uses, from a fresh listing.
pub(super) fn collect_sets(session: &Session) -> Result<(), Error> {
    let tables = snapshots(&session.runners)?;
    let used = ipset::used_by(
        tables
            .iter()
            .flat_map(|t| t.chains().flat_map(move |c| t.rules(c))),
    );
    match session.sets.existing() {
        Ok(existing) => {
            session.sets.collect(&existing, &used);
            Ok(())
        }
        Err(Error::ProgramMissing { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn confirmed<F: FnOnce() -> bool + Send + 'static>(timeout: Duration, confirm: F) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    // A detached thread: a confirmation that never comes must not keep the apply waiting
    // past its timeout.
    std::thread::spawn(move || {
        let _ = tx.send(confirm());
    });
    rx.recv_timeout(timeout).unwrap_or(false)
}

/// One snapshot of the filter table per family, taken side by side: the listing is most
/// of a no-op re-apply's cost, and `iptables` and `ip6tables` need not wait for each
/// other.
pub(super) fn snapshots(runners: &[Runner]) -> Result<Vec<Table>, Error> {
    side_by_side(runners.iter().map(|runner| move || runner.table()))
        .into_iter()
        .collect()
}

/// Runs `jobs` side by side, one thread each, results in order. The threads inherit
/// the calling thread's network namespace; each checks it did before doing anything.
pub(super) fn side_by_side<T: Send, J>(jobs: impl IntoIterator<Item = J>) -> Vec<Result<T, Error>>
where
    J: FnOnce() -> Result<T, Error> + Send,
{
    let caller = guard::namespace_id();
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                scope.spawn(move || {
                    in_namespace(caller)?;
                    job()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Refuses to go on in a thread that is not in namespace `caller` (a thread starts in
/// its creator's, so this holds unless something moved it).
fn in_namespace(caller: Option<u64>) -> Result<(), Error> {
    match guard::namespace_id() == caller {
        true => Ok(()),
        false => Err(Error::RootNamespace(
            "a worker thread is not in the caller's network namespace".into(),
        )),
    }
}
