//! A transaction over one host's rules: every change is recorded with its inverse, so
//! a failure at any step puts back exactly what was there.

use super::ipset::Sets;
use super::runner::{Context, Runner};
use crate::error::Error;

/// How to take one change back.
#[derive(Debug)]
pub(crate) enum Undo {
    /// Flush and delete a chain the transaction created.
    DeleteChain(usize, String),
    /// Load `iptables-restore` text that undoes a transaction (on family `f`).
    Restore(usize, String),
    /// Load a whole `iptables-save` snapshot back, replacing its tables (family `f`).
    Replace(usize, String),
    /// Destroy ipsets the transaction created.
    DestroySets(Vec<String>),
}

/// A failure injected for tests, at a mutating step (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The step fails with a real iptables error (a command the kernel refuses).
    Fail(usize),
    /// The process aborts before the step, as a SIGKILL would end it there; steps that
    /// run side by side run one after the other then, so the crash falls between them.
    Crash(usize),
}

/// One family's load, run by [`Txn::steps_side_by_side`].
pub(crate) type Load<'a> = Box<dyn FnOnce(&Runner) -> Result<(), Error> + Send + 'a>;

/// Carries out an injected fault at step `this`, if one is there.
fn inject(
    fault: Option<Fault>,
    this: usize,
    runner: &Runner,
    context: &Context,
) -> Result<(), Error> {
    match fault {
        Some(Fault::Fail(n)) if n == this => {
            runner.append("FWDSL-INJECTED-FAULT", "-j ACCEPT", context)
        }
        Some(Fault::Crash(n)) if n == this => std::process::abort(),
        _ => Ok(()),
    }
}

/// The runners of the families being changed, and what has been done so far.
pub(crate) struct Txn<'r> {
    pub runners: &'r [Runner],
    sets: Sets,
    undo: Vec<Undo>,
    step: usize,
    fault: Option<Fault>,
    /// Mutating commands run, for reports (0 on a no-op apply).
    pub commands: usize,
}

impl<'r> Txn<'r> {
    pub(crate) fn new(runners: &'r [Runner], sets: Sets, fault: Option<Fault>) -> Self {
        Txn {
            runners,
            sets,
            undo: Vec::new(),
            step: 0,
            fault,
            commands: 0,
        }
    }

    /// Runs one mutating step on family `f`. When a fault is injected at this step, a
    /// command the kernel is sure to refuse runs instead, so tests see a real failure
    /// from iptables at any position.
    pub(crate) fn step(
        &mut self,
        f: usize,
        context: &Context,
        run: impl FnOnce(&Runner) -> Result<(), Error>,
        undo: Option<Undo>,
    ) -> Result<(), Error> {
        let this = self.step;
        self.step += 1;
        self.commands += 1;
        let runner = &self.runners[f];
        inject(self.fault, this, runner, context)?;
        run(runner)?;
        self.undo.extend(undo);
        Ok(())
    }

    /// Runs steps on different families side by side (each in a thread of the caller's
    /// network namespace), as [`Txn::step`] would one after the other: every step that
    /// succeeded is recorded with its inverse, and the first failure is returned.
    pub(crate) fn steps_side_by_side(
        &mut self,
        steps: Vec<(usize, Load<'_>, Undo)>,
    ) -> Result<(), Error> {
        let numbered: Vec<(usize, usize, Load<'_>, Undo)> = steps
            .into_iter()
            .map(|(f, load, undo)| {
                self.step += 1;
                self.commands += 1;
                (self.step - 1, f, load, undo)
            })
            .collect();
        let (runners, fault) = (self.runners, self.fault);
        let jobs = numbered.into_iter().map(|(this, f, load, undo)| {
            move || {
                let runner = &runners[f];
                inject(fault, this, runner, &Context::default())?;
                load(runner).map(|()| undo)
            }
        });
        let results: Vec<Result<Undo, Error>> = match fault {
            Some(Fault::Crash(_)) => jobs.map(|job| job()).collect(),
            _ => super::apply::side_by_side(jobs),
        };
        let mut first_error = None;
        for result in results {
            match result {
                Ok(undo) => self.undo.push(undo),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Takes back every recorded change, newest first.
    pub(crate) fn rollback(self) -> Result<(), Error> {
        let mut first_error = None;
        for undo in self.undo.into_iter().rev() {
            let result = match &undo {
                Undo::DeleteChain(f, chain) => self.runners[*f].delete_chain(chain),
                Undo::Restore(f, text) => self.runners[*f].restore(text, |_| None),
                Undo::Replace(f, text) => self.runners[*f]
                    .restore_with(&[], text)
                    .map_err(|(_, failed)| Error::Iptables(failed)),
                Undo::DestroySets(names) => self.sets.destroy(names),
            };
            // Keep going: every other change should still be taken back.
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Keeps every change: nothing is to be taken back any more (a revert that ran
    /// elsewhere already did).
    pub(crate) fn forget(mut self) {
        self.undo.clear();
    }

    /// Rolls back after `error`, and returns what the caller should report.
    pub(crate) fn abort(self, error: Error) -> Error {
        match self.rollback() {
            Ok(()) => error,
            Err(rollback) => Error::RollbackFailed {
                error: Box::new(error),
                rollback: Box::new(rollback),
            },
        }
    }
}
