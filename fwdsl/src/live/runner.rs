//! Runs iptables for one address family: control operations through the `iptables`
//! crate, bulk loads through `iptables-restore --noflush`, every failure turned into
//! fwdsl's typed error with the command, iptables' exit code and its own message.

use super::exec;
use crate::error::{Error, FailedCommand};
use fwdsl_core::Family;
use iptables::IPTables;
use once_cell::sync::OnceCell;
use std::time::Duration;

pub(crate) const TABLE: &str = "filter";

/// A snapshot of the filter table: each chain with its rules (`-A CHAIN …` lines, as
/// `iptables -S` prints them), in order.
#[derive(Debug, Default)]
pub(crate) struct Table {
    chains: std::collections::BTreeMap<String, Vec<String>>,
    /// Each rule's (packets, bytes), in the order of `chains`, from a listing with
    /// `-v` (`-c P B` in each rule, taken out of it); zeros from one without.
    counters: std::collections::BTreeMap<String, Vec<(u64, u64)>>,
    /// The built-in chains' policies (`-P INPUT ACCEPT`).
    policies: std::collections::BTreeMap<String, String>,
}

impl Table {
    pub(crate) fn parse(listing: &str) -> Table {
        let mut table = Table::default();
        for line in listing.lines() {
            let mut words = line.splitn(3, ' ');
            match (words.next(), words.next()) {
                (Some(flag @ ("-P" | "-N")), Some(chain)) => {
                    table.chains.entry(chain.to_string()).or_default();
                    if let (true, Some(policy)) = (flag == "-P", words.next()) {
                        table.policies.insert(chain.to_string(), policy.to_string());
                    }
                }
                (Some("-A"), Some(chain)) => {
                    let (line, counted) = split_counters(line);
                    table
                        .chains
                        .entry(chain.to_string())
                        .or_default()
                        .push(line);
                    table
                        .counters
                        .entry(chain.to_string())
                        .or_default()
                        .push(counted.unwrap_or_default());
                }
                _ => {}
            }
        }
        table
    }

    /// The policy of a built-in chain (`ACCEPT`, `DROP`).
    pub(crate) fn policy(&self, chain: &str) -> Option<&str> {
        self.policies.get(chain).map(String::as_str)
    }

    pub(crate) fn has_chain(&self, chain: &str) -> bool {
        self.chains.contains_key(chain)
    }

    /// The rules of `chain` (none for a chain that does not exist).
    pub(crate) fn rules(&self, chain: &str) -> &[String] {
        self.chains.get(chain).map_or(&[], Vec::as_slice)
    }

    /// (packets, bytes) of each rule of `chain`, in order.
    pub(crate) fn counters(&self, chain: &str) -> &[(u64, u64)] {
        self.counters.get(chain).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn chains(&self) -> impl Iterator<Item = &str> {
        self.chains.keys().map(String::as_str)
    }
}

/// A rule as `iptables -S -v` prints it, without its counters, and the counters
/// (`-c PACKETS BYTES`, outside any quoted comment or prefix).
fn split_counters(line: &str) -> (String, Option<(u64, u64)>) {
    let words: Vec<&str> = line.split(' ').collect();
    let mut quoted = false;
    for (i, word) in words.iter().enumerate() {
        // A quoted argument opens with `"` and closes with a word ending in one.
        if !quoted && *word == "-c" {
            if let (Some(Ok(p)), Some(Ok(b))) = (
                words.get(i + 1).map(|w| w.parse::<u64>()),
                words.get(i + 2).map(|w| w.parse::<u64>()),
            ) {
                let mut kept = words[..i].to_vec();
                kept.extend(&words[i + 3..]);
                return (kept.join(" "), Some((p, b)));
            }
        }
        let quotes = word.matches('"').count() - word.matches("\\\"").count();
        if quotes % 2 == 1 {
            quoted = !quoted;
        }
    }
    (line.to_string(), None)
}

/// The input line a loader's message names: `line 7 failed`, `Error occurred at line:
/// 8` (iptables-restore), `Error in line 3:` (ipset restore).
pub(crate) fn named_line(message: &str) -> Option<usize> {
    message.match_indices("line").find_map(|(at, _)| {
        let rest = message[at + 4..].trim_start_matches([':', ' ']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// The crate's handles, created once per process and only when a single-rule edit needs
/// one: `iptables::new` runs `iptables --version` to learn the flags (1.5 ms a family),
/// which an apply through `iptables-restore` never needs.
static IPV4: OnceCell<IPTables> = OnceCell::new();
static IPV6: OnceCell<IPTables> = OnceCell::new();

/// The iptables commands of one family.
pub(crate) struct Runner {
    pub family: Family,
    /// `iptables` or `ip6tables`.
    program: &'static str,
    handle: &'static OnceCell<IPTables>,
    restore: &'static str,
    save: &'static str,
    /// How long one listing or load may take.
    timeout: Duration,
}

/// What a mutating call is for, so that its failure can name the rule.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    pub rule: Option<crate::error::RuleRef>,
}

impl Runner {
    pub(crate) fn new(family: Family, timeout: Duration) -> Runner {
        match family {
            Family::V4 => Runner {
                family,
                program: "iptables",
                handle: &IPV4,
                restore: "iptables-restore",
                save: "iptables-save",
                timeout,
            },
            Family::V6 => Runner {
                family,
                program: "ip6tables",
                handle: &IPV6,
                restore: "ip6tables-restore",
                save: "ip6tables-save",
                timeout,
            },
        }
    }

    /// The crate's handle for this family, made on first use.
    fn ipt(&self) -> Result<&'static IPTables, Error> {
        self.handle.get_or_try_init(|| {
            // Not numeric: the crate would add `-n` to `-S`, which iptables 1.8 refuses
            // (and `-S` never looks names up anyway).
            iptables::new(self.family == Family::V6).map_err(|e| Error::missing(self.program, e))
        })
    }

    fn failed(&self, args: &str, context: &Context, e: Box<dyn std::error::Error>) -> Error {
        let (code, stderr) = match e.downcast_ref::<iptables::error::IptablesError>() {
            Some(ie) => (Some(ie.code), ie.msg.trim().to_string()),
            None => (None, e.to_string()),
        };
        Error::Iptables(Box::new(FailedCommand {
            command: format!("{} -t {TABLE} {args}", self.program),
            rule: context.rule.clone(),
            code,
            stderr,
        }))
    }

    pub(crate) fn new_chain(&self, chain: &str) -> Result<(), Error> {
        self.ipt()?
            .new_chain(TABLE, chain)
            .map_err(|e| self.failed(&format!("-N {chain}"), &Context::default(), e))
    }

    pub(crate) fn delete_chain(&self, chain: &str) -> Result<(), Error> {
        let none = Context::default();
        self.ipt()?
            .flush_chain(TABLE, chain)
            .map_err(|e| self.failed(&format!("-F {chain}"), &none, e))?;
        self.ipt()?
            .delete_chain(TABLE, chain)
            .map_err(|e| self.failed(&format!("-X {chain}"), &none, e))
    }

    pub(crate) fn flush_chain(&self, chain: &str) -> Result<(), Error> {
        self.ipt()?
            .flush_chain(TABLE, chain)
            .map_err(|e| self.failed(&format!("-F {chain}"), &Context::default(), e))
    }

    /// The whole filter table as `iptables -S` prints it, in one call: every question
    /// an apply asks (is fwdsl hooked, which generation serves, what is in it) is
    /// answered from this one snapshot. Run directly rather than through the crate,
    /// whose calls have no time bound (a listing can stall under heavy foreign churn).
    pub(crate) fn table(&self) -> Result<Table, Error> {
        self.listing(&["-t", TABLE, "-S"])
    }

    /// The `nat` table (`-t nat -S`), where fwdsl's NAT chains are.
    pub(crate) fn nat_table(&self) -> Result<Table, Error> {
        self.listing(&["-t", "nat", "-S"])
    }

    /// [`Runner::table`] with each rule's packet and byte counters, from the same one
    /// listing (`-S -v`).
    pub(crate) fn counted_table(&self) -> Result<Table, Error> {
        self.listing(&["-t", TABLE, "-S", "-v"])
    }

    fn listing(&self, args: &[&str]) -> Result<Table, Error> {
        let output = exec::run_ok(self.program, args, None, self.timeout)?;
        Ok(Table::parse(&String::from_utf8_lossy(&output.stdout)))
    }

    pub(crate) fn append(&self, chain: &str, rule: &str, context: &Context) -> Result<(), Error> {
        self.ipt()?
            .append(TABLE, chain, rule)
            .map_err(|e| self.failed(&format!("-A {chain} {rule}"), context, e))
    }

    pub(crate) fn delete(&self, chain: &str, rule: &str, context: &Context) -> Result<(), Error> {
        self.ipt()?
            .delete(TABLE, chain, rule)
            .map_err(|e| self.failed(&format!("-D {chain} {rule}"), context, e))
    }

    /// The `iptables-restore` program of this family.
    pub(crate) fn restore_program(&self) -> &'static str {
        self.restore
    }

    /// Loads `text` with `iptables-restore --noflush`: one kernel transaction, all or
    /// nothing. `rule_of_line` names the policy rule behind a failing line.
    pub(crate) fn restore(
        &self,
        text: &str,
        rule_of_line: impl Fn(usize) -> Option<crate::error::RuleRef>,
    ) -> Result<(), Error> {
        self.restore_with(&["--noflush"], text)
            .map_err(|(line, mut failed)| {
                failed.rule = line.and_then(rule_of_line);
                Error::Iptables(failed)
            })
    }

    /// Runs `iptables-restore FLAGS --wait` on `text`; on failure, the input line
    /// iptables-restore names (`line 7 failed`) and what failed.
    pub(crate) fn restore_with(
        &self,
        flags: &[&str],
        text: &str,
    ) -> Result<(), (Option<usize>, Box<FailedCommand>)> {
        let args: Vec<&str> = flags.iter().copied().chain(["--wait"]).collect();
        let failed = |stderr: String, code| {
            let line = named_line(&stderr);
            let command = std::iter::once(self.restore)
                .chain(flags.iter().copied())
                .collect::<Vec<_>>()
                .join(" ");
            (
                line,
                Box::new(FailedCommand {
                    command,
                    rule: None,
                    code,
                    stderr,
                }),
            )
        };
        match exec::run(self.restore, &args, Some(text.as_bytes()), self.timeout) {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(failed(
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
                output.status.code(),
            )),
            Err(e) => Err(failed(e.to_string(), None)),
        }
    }

    /// `iptables-save` of every table.
    pub(crate) fn save(&self) -> Result<String, Error> {
        let output = exec::run_ok(self.save, &[], None, self.timeout)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_line_a_loader_names() {
        use super::named_line;
        assert_eq!(named_line("iptables-restore: line 7 failed"), Some(7));
        assert_eq!(
            named_line("invalid port\nError occurred at line: 8\nTry"),
            Some(8)
        );
        assert_eq!(
            named_line("ipset v7.17: Error in line 3: Syntax error"),
            Some(3)
        );
        assert_eq!(named_line("no line number here"), None);
    }
}
