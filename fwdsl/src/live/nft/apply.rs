//! The nftables backend's side of an apply: one `nft -j -f` batch, both families, all
//! or nothing ([`plan`](super::plan) works it out and its inverse); the sets no rule
//! uses any more are collected after, in a batch of their own.

use super::listing::Listing;
use super::plan::{self, Change};
use super::{batch_text, command, object, Nft, TABLE};
use crate::error::Error;
use crate::live::apply::Switch;
use crate::live::txn::Fault;
use crate::live::{journal, revert, FamilyReport, LoadPath, Session};
use crate::Policy;
use serde_json::json;

impl Nft {
    /// The whole ruleset, without set elements. (`list table` would be narrower, but
    /// nft 1.0 fetches every element of the table's sets for it, terse or not: 340 ms
    /// for a 60,000-network list, against 7 ms for `list ruleset`.)
    pub(crate) fn ruleset(&self) -> Result<serde_json::Value, Error> {
        self.list(&["list", "ruleset"])
    }

    /// fwdsl's table as it is now (empty where there is none).
    pub(crate) fn table(&self) -> Result<Listing, Error> {
        Ok(Listing::parse(self.ruleset()?, TABLE))
    }
}

/// An nft apply, prepared.
struct NftApply {
    nft: Nft,
    /// The table before: what the inverse puts back.
    listing: Listing,
    change: Change,
    loaded: bool,
    fault: Option<Fault>,
}

/// Reads fwdsl's table and works out the batch.
pub(crate) fn prepare<'s>(
    session: &'s Session,
    policy: &Policy,
    fault: Option<Fault>,
) -> Result<Box<dyn Switch + 's>, Error> {
    let listing = session.nft.table()?;
    Ok(Box::new(NftApply {
        nft: session.nft,
        change: plan::read(&listing, policy),
        listing,
        loaded: false,
        fault,
    }))
}

impl Switch for NftApply {
    fn changing(&self) -> bool {
        !self.change.is_noop()
    }

    fn reverts(&self) -> Vec<revert::Revert> {
        vec![revert::Revert {
            command: "nft -j -f -".into(),
            input: batch_text(&self.change.inverse(&self.listing)),
        }]
    }

    fn created_sets(&self) -> Vec<String> {
        // The inverse deletes them itself.
        Vec::new()
    }

    fn switches(&self) -> Vec<journal::Entry> {
        // One transaction: nothing can be half done.
        Vec::new()
    }

    fn switch(&mut self) -> Result<Vec<FamilyReport>, Error> {
        if self.changing() {
            let mut batch = self.change.forward.clone();
            match self.fault {
                // The batch is one step: a command nft refuses makes all of it fail.
                Some(Fault::Fail(0)) => batch.push(command(
                    "add",
                    "rule",
                    object(json!({"chain": "fwdsl-injected-fault", "expr": [{"accept": null}]})),
                )),
                Some(Fault::Crash(0)) => std::process::abort(),
                _ => {}
            }
            self.nft.load(&batch)?;
            self.loaded = true;
        }
        Ok(self
            .change
            .parts
            .iter()
            .map(|p| FamilyReport {
                family: None,
                direction: p.direction,
                chain: p.chain.clone(),
                rules: p.rules,
                loaded: p.loaded.then_some(LoadPath::Batch),
            })
            .collect())
    }

    fn commands(&self) -> usize {
        usize::from(self.loaded)
    }

    fn abort(self: Box<Self>, error: Error) -> Error {
        if !self.loaded {
            return error;
        }
        match self.nft.load(&self.change.inverse(&self.listing)) {
            Ok(()) => error,
            Err(rollback) => Error::RollbackFailed {
                error: Box::new(error),
                rollback: Box::new(rollback),
            },
        }
    }

    fn forget(self: Box<Self>) {}

    fn collect(self: Box<Self>) {
        // Known from the listing read before and the policy: no second listing.
        let _ = self.nft.load(&delete_sets(&self.change.unused_sets));
    }
}

fn delete_sets(names: &[String]) -> Vec<serde_json::Value> {
    names
        .iter()
        .map(|name| command("delete", "set", object(json!({ "name": name }))))
        .collect()
}

/// Deletes the sets of fwdsl's table that no rule refers to, from a fresh listing.
pub(crate) fn collect_sets(session: &Session) -> Result<(), Error> {
    collect(&session.nft)
}

fn collect(nft: &Nft) -> Result<(), Error> {
    let listing = nft.table()?;
    let rules: String = listing
        .chains
        .values()
        .flat_map(|c| &c.rules)
        .map(|r| json!(r.expr).to_string())
        .collect();
    let unused: Vec<String> = listing
        .sets
        .iter()
        .filter(|name| !rules.contains(&format!("\"@{name}\"")))
        .cloned()
        .collect();
    nft.load(&delete_sets(&unused))
}
