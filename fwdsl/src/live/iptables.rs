//! The iptables backend's side of an apply: per family, one `iptables-restore
//! --noflush` transaction builds the policy's generation chain, moves fwdsl's jump to
//! it, and removes the previous generation together with any generation a crashed
//! apply left behind; the ipsets the policy needs are created first. There is no state
//! in between for a crash or a second process to find. Each transaction's inverse is
//! written before it runs: it is what a rollback loads, and what a revert agent loads.
//! The policy's NAT statements go into fwdsl's chains of the nat table ([`nat`](super::nat)),
//! in a transaction of their own after the filter's.

use super::apply::{side_by_side, Switch};
use super::change::{Change, Part, Rendered};
use super::ipset::{self, Sets};
use super::nat::NatChange;
use super::runner::{Context, Runner, Table};
use super::txn::{Load, Txn, Undo};
use super::{guard, journal, revert, FamilyReport, Firewall, LoadPath, Session};
use crate::error::Error;
use crate::Policy;
use std::collections::BTreeSet;

/// An iptables apply, prepared: the listings, the changes, the transaction so far.
struct IptablesApply<'s, 'p> {
    txn: Txn<'s>,
    sets: &'s Sets,
    tables: Vec<Table>,
    changes: Vec<Change<'p>>,
    /// Each family's NAT change.
    nat: Vec<NatChange>,
    /// fwdsl sets that existed before.
    existing: BTreeSet<String>,
    /// fwdsl sets this apply created.
    created: Vec<String>,
    /// The sets the policy uses.
    wanted: Vec<String>,
    batch_above: usize,
}

/// Reads both families' tables and the sets, creates the sets the policy needs, and
/// works out each family's change.
pub(super) fn prepare<'s, 'p: 's>(
    fw: &Firewall,
    session: &'s Session,
    policy: &'p Policy,
) -> Result<Box<dyn Switch + 's>, Error> {
    let mut txn = Txn::new(&session.runners, session.sets, fw.fault);
    match read(fw, session, &mut txn, policy) {
        Ok((tables, changes, nat, existing, created, wanted)) => Ok(Box::new(IptablesApply {
            txn,
            sets: &session.sets,
            tables,
            changes,
            nat,
            existing,
            created,
            wanted,
            batch_above: fw.batch_above,
        })),
        Err(e) => Err(txn.abort(e)),
    }
}

impl Switch for IptablesApply<'_, '_> {
    fn changing(&self) -> bool {
        self.changes.iter().any(|c| !c.is_noop()) || self.nat.iter().any(|n| !n.is_noop())
    }

    fn reverts(&self) -> Vec<revert::Revert> {
        let restore = |r: &Runner| format!("{} --noflush --wait", r.restore_program());
        // The NAT transactions came last: they are undone first.
        let nat = self
            .nat
            .iter()
            .zip(self.txn.runners)
            .filter(|(n, _)| !n.is_noop())
            .map(|(n, r)| revert::Revert {
                command: restore(r),
                input: n.inverse(),
            });
        let filter = self
            .changes
            .iter()
            .zip(self.txn.runners)
            .zip(&self.tables)
            .filter(|((c, _), _)| !c.is_noop())
            .map(|((c, r), t)| revert::Revert {
                command: restore(r),
                input: c.inverse(t, |_| true),
            });
        nat.chain(filter).collect()
    }

    fn created_sets(&self) -> Vec<String> {
        self.created.clone()
    }

    fn switches(&self) -> Vec<journal::Entry> {
        self.changes.iter().flat_map(Change::switches).collect()
    }

    fn switch(&mut self) -> Result<Vec<FamilyReport>, Error> {
        let reports = switch(&mut self.txn, &self.changes, &self.tables, self.batch_above)?;
        for (f, nat) in self.nat.iter().enumerate().filter(|(_, n)| !n.is_noop()) {
            let forward = nat.forward();
            self.txn.step(
                f,
                &Context::default(),
                |r| r.restore(&forward, |_| None),
                Some(Undo::Restore(f, nat.inverse())),
            )?;
        }
        Ok(reports)
    }

    fn commands(&self) -> usize {
        self.txn.commands
    }

    fn abort(self: Box<Self>, error: Error) -> Error {
        self.txn.abort(error)
    }

    fn forget(self: Box<Self>) {
        self.txn.forget();
    }

    fn collect(self: Box<Self>) {
        let this = *self;
        this.txn.forget();
        let mut used = ipset::used_by(this.tables.iter().zip(&this.changes).flat_map(|(t, c)| {
            t.chains()
                .filter(|chain| !c.retire.iter().any(|r| r == chain))
                .flat_map(|chain| t.rules(chain))
        }));
        used.extend(this.wanted);
        let existing: BTreeSet<String> = this
            .existing
            .union(&this.created.into_iter().collect())
            .cloned()
            .collect();
        this.sets.collect(&existing, &used);
    }
}

type Read<'p> = (
    Vec<Table>,
    Vec<Change<'p>>,
    Vec<NatChange>,
    BTreeSet<String>,
    Vec<String>,
    Vec<String>,
);

fn read<'p>(
    fw: &Firewall,
    session: &Session,
    txn: &mut Txn<'_>,
    policy: &'p Policy,
) -> Result<Read<'p>, Error> {
    let needed: Vec<_> = fw
        .families
        .iter()
        .flat_map(|&f| policy.ipset_refs(f))
        .collect();
    // The listings side by side (the sets, each family's table), and the policy
    // rendered meanwhile: it needs no listing.
    let (existing, tables, nat_tables, rendered) = std::thread::scope(|scope| {
        let caller = guard::namespace_id();
        let sets = scope.spawn(move || {
            super::apply::in_namespace(caller)?;
            session.sets.existing()
        });
        let tables = scope.spawn(|| snapshots(&session.runners));
        let nat_tables = scope.spawn(|| nat_snapshots(&session.runners));
        let rendered: Vec<Rendered> = session
            .runners
            .iter()
            .map(|r| Change::render(policy, r.family))
            .collect();
        let sets = sets.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let tables = tables
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let nat_tables = nat_tables
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (sets, tables, nat_tables, rendered)
    });
    // Without the ipset program there are no sets to collect; a policy that needs
    // sets fails on it below.
    let existing = match existing {
        Ok(existing) => existing,
        Err(Error::ProgramMissing { .. }) if needed.is_empty() => BTreeSet::new(),
        Err(e) => return Err(e),
    };
    let tables = tables?;
    let nat = session
        .runners
        .iter()
        .zip(nat_tables?)
        .map(|(r, t)| NatChange::read(&t, Some(policy), r.family))
        .collect();
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
    let wanted = needed.iter().map(|s| s.name.clone()).collect();
    Ok((tables, changes, nat, existing, created, wanted))
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

/// One snapshot of the nat table per family, side by side.
pub(super) fn nat_snapshots(runners: &[Runner]) -> Result<Vec<Table>, Error> {
    side_by_side(runners.iter().map(|runner| move || runner.nat_table()))
        .into_iter()
        .collect()
}

/// One snapshot of the filter table per family, taken side by side: the listing is most
/// of a no-op re-apply's cost, and `iptables` and `ip6tables` need not wait for each
/// other.
pub(super) fn snapshots(runners: &[Runner]) -> Result<Vec<Table>, Error> {
    side_by_side(runners.iter().map(|runner| move || runner.table()))
        .into_iter()
        .collect()
}
