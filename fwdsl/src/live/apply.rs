//! Applying a policy, the same for every backend: the guards, the namespace's lock,
//! the backend's reading of what is live and its change ([`Switch`]), the revert armed
//! before anything changes (its inverse, written first), the journal where the change
//! is more than one transaction, the switch, the confirmation, and the sets nothing
//! uses any more collected. The backends differ only in what they read and load:
//! [`iptables`](super::iptables) (one `iptables-restore` transaction per family, ipsets
//! first) and [`nft`](super::nft) (one `nft -j -f` batch for both families).

use super::{guard, journal, revert, ApplyReport, Backend, FamilyReport, Firewall};
use crate::error::Error;
use crate::Policy;
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

/// A backend's change, read and worked out (and what must exist before it made:
/// ipsets), waiting to be switched to.
pub(super) trait Switch {
    /// Whether the switch changes anything.
    fn changing(&self) -> bool;
    /// What undoes the switch, transaction by transaction, for a revert agent.
    fn reverts(&self) -> Vec<revert::Revert>;
    /// The sets the preparation created, which a revert destroys.
    fn created_sets(&self) -> Vec<String>;
    /// The generations switched, for the journal (used when there are several
    /// transactions).
    fn switches(&self) -> Vec<journal::Entry>;
    /// Switches; what serves after it.
    fn switch(&mut self) -> Result<Vec<FamilyReport>, Error>;
    /// Mutating commands run so far.
    fn commands(&self) -> usize;
    /// Takes back everything done so far, and says what the caller should report.
    fn abort(self: Box<Self>, error: Error) -> Error;
    /// Keeps everything done: a revert that ran elsewhere took it back already.
    fn forget(self: Box<Self>);
    /// Keeps everything done, and removes the sets no rule uses any more.
    fn collect(self: Box<Self>);
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
    let forwarding = super::forwarding::check(policy, fw.enable_forwarding)?;
    let session = fw.session()?;
    super::lifetimes::check(policy, session.backend)?;
    let mut change: Box<dyn Switch + '_> = match session.backend {
        Backend::Iptables => super::iptables::prepare(fw, &session, policy)?,
        Backend::Nftables => super::nft::apply::prepare(&session, policy, fw.fault)?,
    };
    let window = match &confirm {
        Confirm::Wait(window, _) | Confirm::Detached(window) if change.changing() => Some(*window),
        _ => None,
    };
    let mut pending = match window {
        Some(window) => {
            let armed = revert::arm(
                &session.state,
                session.ns,
                &session.lock,
                window,
                &change.reverts(),
                &change.created_sets(),
            );
            match armed {
                Ok(pending) => Some(pending),
                Err(e) => return Err(change.abort(e)),
            }
        }
        None => None,
    };
    // Several transactions: until all have committed (or been taken back), a note says
    // what is switching, for status to find should this die.
    let switches = change.switches();
    let _journal = match switches.iter().any(|e| e.family != switches[0].family) {
        true => match journal::Note::begin(&session.state, session.ns, &switches) {
            Ok(note) => Some(note),
            Err(e) => return Err(change.abort(e)),
        },
        false => None,
    };
    // Forwarding is turned on only once the rules that govern it are live.
    let switched = change
        .switch()
        .and_then(|reports| super::forwarding::enable(&forwarding).map(|()| reports));
    let reports = match switched.and_then(|reports| {
        // The sets' declared lifetimes, for the calls that add members later.
        super::lifetimes::remember(&session.state, session.ns, policy).map(|()| reports)
    }) {
        Ok(reports) => reports,
        Err(e) => {
            if pending.take().is_none_or(|p| p.revert_here()) {
                return Err(change.abort(e));
            }
            change.forget();
            return Err(Error::Reverted);
        }
    };
    let report = ApplyReport {
        backend: session.backend,
        changed: change.commands() > 0,
        commands: change.commands(),
        families: reports,
    };
    match (confirm, pending) {
        (Confirm::Wait(window, ask), Some(pending)) => {
            if confirmed(window, ask) {
                if !pending.confirm() {
                    change.forget();
                    return Err(Error::Reverted);
                }
            } else if pending.revert_here() {
                return Err(change.abort(Error::NotConfirmed(window)));
            } else {
                change.forget();
                return Err(Error::NotConfirmed(window));
            }
        }
        // The agent holds the revert from here on; `confirm` collects the sets the old
        // rules used.
        (Confirm::Detached(_), Some(_)) => {
            change.forget();
            return Ok(report);
        }
        _ => {}
    }
    change.collect();
    Ok(report)
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
pub(super) fn in_namespace(caller: Option<u64>) -> Result<(), Error> {
    match guard::namespace_id() == caller {
        true => Ok(()),
        false => Err(Error::RootNamespace(
            "a worker thread is not in the caller's network namespace".into(),
        )),
    }
}
