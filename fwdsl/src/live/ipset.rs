//! The ipsets long address lists render to: created before the rules that use them,
//! and collected once no rule of either family refers to them (also those a crashed
//! apply left behind). Sets are named after their contents, so an existing set of the
//! right name already holds the right members.

use super::exec;
use crate::error::Error;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const IPSET: &str = "ipset";

/// The ipset commands, each bounded in time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sets {
    pub timeout: Duration,
}

impl Sets {
    /// Names of the fwdsl sets that exist.
    pub(crate) fn existing(&self) -> Result<BTreeSet<String>, Error> {
        let output = exec::run_ok(IPSET, &["list", "-n"], None, self.timeout)?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.starts_with("fwdsl-"))
            .map(String::from)
            .collect())
    }

    /// `ipset save` of `names`: what `ipset restore` recreates them from.
    pub(crate) fn save(&self, names: &[String]) -> Result<String, Error> {
        let mut text = String::new();
        for name in names {
            let output = exec::run_ok(IPSET, &["save", name], None, self.timeout)?;
            text.push_str(&String::from_utf8_lossy(&output.stdout));
        }
        Ok(text)
    }

    /// Names of every set that exists, fwdsl's or not.
    pub(crate) fn all_names(&self) -> Result<BTreeSet<String>, Error> {
        let output = exec::run_ok(IPSET, &["list", "-n"], None, self.timeout)?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(String::from)
            .collect())
    }

    /// Loads `ipset save` output as a boot does, sets that exist already kept.
    pub(crate) fn restore_existing(&self, text: &str) -> Result<(), Error> {
        exec::run_ok(
            IPSET,
            &["restore", "-exist"],
            Some(text.as_bytes()),
            self.timeout,
        )
        .map(|_| ())
    }

    /// Creates and fills sets from `ipset restore` input.
    pub(crate) fn restore(&self, text: &str) -> Result<(), Error> {
        exec::run_ok(IPSET, &["restore"], Some(text.as_bytes()), self.timeout).map(|_| ())
    }

    /// Destroys sets. Under iptables-nft a set stays "in use by a kernel component" for
    /// a moment after the last rule using it went: that is waited out, briefly.
    pub(crate) fn destroy(&self, names: &[String]) -> Result<(), Error> {
        for name in names {
            let start = Instant::now();
            loop {
                match exec::run_ok(IPSET, &["destroy", name], None, self.timeout) {
                    Ok(_) => break,
                    Err(Error::Iptables(failed))
                        if failed.stderr.contains("in use")
                            && start.elapsed() < Duration::from_secs(3) =>
                    {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Destroys the sets in `existing` that are not `used`; returns those it
    /// destroyed. Best effort: a set that cannot go now is collected by a later apply.
    pub(crate) fn collect(
        &self,
        existing: &BTreeSet<String>,
        used: &BTreeSet<String>,
    ) -> Vec<String> {
        existing
            .difference(used)
            .filter(|name| self.destroy(std::slice::from_ref(*name)).is_ok())
            .cloned()
            .collect()
    }
}

/// The fwdsl sets `rules` (`-A …` lines) refer to.
pub(crate) fn used_by<'a>(rules: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    rules.into_iter().flat_map(|r| referenced(r)).collect()
}

/// The fwdsl sets one rule (an `-A …` line) refers to: a rule with a source list and
/// a destination list refers to two.
pub(crate) fn referenced(rule: &str) -> Vec<String> {
    referenced_any(rule)
        .into_iter()
        .filter(|name| name.starts_with("fwdsl-"))
        .collect()
}

/// Every set one rule refers to, fwdsl's or not.
pub(crate) fn referenced_any(rule: &str) -> Vec<String> {
    rule.split("--match-set ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next())
        .map(String::from)
        .collect()
}

/// The members of fwdsl's dynamic sets in `ipset save` text, by set, with what remains
/// of each (`timeout N`; 0 or none: until removed).
pub(crate) fn dynamic_members(saved: &str) -> Vec<(String, Vec<super::dynamic::SetMember>)> {
    let mut out: Vec<(String, Vec<super::dynamic::SetMember>)> = Vec::new();
    for line in saved.lines() {
        let mut words = line.split(' ');
        let (Some("add"), Some(name), Some(net)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if !name.starts_with("fwdsl-d4-") && !name.starts_with("fwdsl-d6-") {
            continue;
        }
        let Some(net) = super::dynamic::parse_member(net) else {
            continue;
        };
        let seconds: u64 = match (words.next(), words.next()) {
            (Some("timeout"), Some(n)) => n.parse().unwrap_or(0),
            _ => 0,
        };
        let member = super::dynamic::SetMember {
            net,
            remaining: (seconds > 0).then(|| Duration::from_secs(seconds)),
        };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, members)) => members.push(member),
            None => out.push((name.to_string(), vec![member])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_of_a_rule_is_found() {
        let rule =
            "-A FWDSL-G-1 -m set --match-set fwdsl-a src -m set --match-set fwdsl-b dst -j DROP";
        assert_eq!(referenced(rule), ["fwdsl-a", "fwdsl-b"]);
        assert!(referenced("-A X -m set --match-set blocklist src -j DROP").is_empty());
    }
}
