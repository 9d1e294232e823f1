//! The nftables backend: the same policies, proofs and safety where iptables is gone
//! (Debian 13, RHEL 10, Docker 29's nftables mode), spoken natively through
//! libnftables' JSON (`nft -j`).
//!
//! fwdsl owns one table, `table inet fwdsl`, both families in it:
//!
//! ```text
//! table inet fwdsl {
//!   set fwdsl-<hash>       a long address list (flags interval)
//!   set fwdsl-d4-banned    a dynamic set's IPv4 members, which no apply touches
//!   set fwdsl-m4-<hash>    a rate limit's per-source buckets
//!   chain input   { type filter hook input priority filter - 10; policy accept;
//!                   jump g-<hash> comment "fwdsl:generation ssh 22" }
//!   chain g-<hash> { the policy's input rules, each with a counter and a comment }
//!   chain output, chain forward: the same, where the policy has rules for them
//! }
//! ```
//!
//! An apply is one `nft -j -f` batch, which the kernel commits whole or not at all:
//! the new generation chains, the jumps moved to them, the old ones deleted, both
//! families at once (so no kill can leave them on different policies). Its inverse is
//! written first, from the listing ([`plan`]).
//!
//! Priority `filter - 10` on every hook: fwdsl decides before the filter chains at
//! priority 0 (iptables-nft's, firewalld's, Docker 29's `filter-FORWARD`). In nftables
//! a drop in any base chain is final and an accept only ends that chain, so fwdsl's
//! `drop forward all` governs Docker's published ports whatever runs after, and what
//! fwdsl accepts still meets the other tables' chains ([`others`]).

pub(crate) mod apply;
pub(crate) mod dynamic;
pub(crate) mod listing;
pub(crate) mod ops;
pub(crate) mod others;
pub(crate) mod plan;
pub(crate) mod save;
pub(crate) use listing::Listing;

use crate::error::{Error, FailedCommand};
use crate::live::exec;
use fwdsl_core::Direction;
use serde_json::{json, Value};
use std::time::Duration;

/// fwdsl's table (family `inet`).
pub(crate) const TABLE: &str = "fwdsl";

/// The priority of fwdsl's base chains: `filter - 10`.
pub(crate) const PRIORITY: i64 = -10;

/// Prefix of generation chains.
pub(crate) const GENERATION_PREFIX: &str = "g-";

/// The base chain of a direction (named after its hook).
pub(crate) fn base_chain(direction: Direction) -> &'static str {
    match direction {
        Direction::In => "input",
        Direction::Out => "output",
        Direction::Forward => "forward",
    }
}

/// The nft program, with a bound on how long each call may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nft {
    pub timeout: Duration,
}

const NFT: &str = "nft";

impl Nft {
    /// Loads `commands` (libnftables JSON commands) as one transaction: all or nothing.
    pub(crate) fn load(&self, commands: &[Value]) -> Result<(), Error> {
        if commands.is_empty() {
            return Ok(());
        }
        let input = batch_text(commands);
        exec::run_ok(
            NFT,
            &["-j", "-f", "-"],
            Some(input.as_bytes()),
            self.timeout,
        )
        .map(|_| ())
        .map_err(|e| named(e, "nft -j -f -"))
    }

    /// `nft -j -n -t ARGS` (numeric, sets without their elements), parsed.
    pub(crate) fn list(&self, args: &[&str]) -> Result<Value, Error> {
        let all: Vec<&str> = ["-j", "-n", "-t"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let out = exec::run_ok(NFT, &all, None, self.timeout)?;
        serde_json::from_slice(&out.stdout).map_err(|e| Error::Io {
            path: "nft -j list".into(),
            source: std::io::Error::other(e),
        })
    }

    /// `nft` with plain arguments (`list table inet fwdsl`, `delete table …`).
    pub(crate) fn text(&self, args: &[&str], input: Option<&str>) -> Result<String, Error> {
        let out = exec::run_ok(NFT, args, input.map(str::as_bytes), self.timeout)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The JSON document nft reads: `{"nftables": [commands…]}`, one command a line (so
/// that nft's messages, which quote the line, stay short).
pub(crate) fn batch_text(commands: &[Value]) -> String {
    let mut text = String::from("{\"nftables\": [\n");
    for (i, command) in commands.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&command.to_string());
    }
    text.push_str("\n]}\n");
    text
}

/// nft's failure as fwdsl names it: the command, nft's own message.
fn named(error: Error, command: &str) -> Error {
    match error {
        Error::Iptables(failed) => Error::Iptables(Box::new(FailedCommand {
            command: command.into(),
            ..*failed
        })),
        other => other,
    }
}

/// `{"add": {KIND: BODY}}` and its kin, for the table's objects.
pub(crate) fn command(verb: &str, kind: &str, body: Value) -> Value {
    json!({ verb: { kind: body } })
}

/// The body of an object of fwdsl's table: `{"family": "inet", "table": "fwdsl", …}`.
pub(crate) fn object(fields: Value) -> Value {
    let mut body = json!({"family": "inet", "table": TABLE});
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    body
}
