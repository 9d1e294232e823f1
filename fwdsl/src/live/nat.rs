//! The iptables backend's NAT: fwdsl's chains in each family's `nat` table,
//! `FWDSL-PREROUTING` (`dnat`, `redirect`) and `FWDSL-POSTROUTING` (`masquerade`,
//! `snat`), each hooked at the top of its built-in chain by one rule; everything else in
//! the nat table (Docker's chains, an admin's rules) is left as it is. A NAT chain
//! holds a few rules and is replaced whole (declaring a chain in `iptables-restore
//! --noflush` input empties it), in a transaction of its own after the filter's, with
//! its inverse written first like the filter's. Conntrack keeps the translation of a
//! connection it has seen: connections a new policy no longer translates keep the
//! old translation until they end (`conntrack -D` ends them at once).

use super::layout::strip_append;
use super::runner::Table;
use crate::Policy;
use fwdsl_core::Family;

/// (built-in chain, fwdsl's chain, whether it rewrites the destination).
const CHAINS: [(&str, &str, bool); 2] = [
    ("PREROUTING", "FWDSL-PREROUTING", true),
    ("POSTROUTING", "FWDSL-POSTROUTING", false),
];

/// The rule in a built-in chain that jumps to fwdsl's NAT chain `chain`.
fn hook(chain: &str) -> String {
    format!("-m comment --comment \"fwdsl:hook\" -j {chain}")
}

/// What an apply (or uninstall) changes in one family's nat table: `iptables-restore`
/// lines, and the lines that undo them. Empty when nothing changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct NatChange {
    forward: Vec<String>,
    inverse: Vec<String>,
}

impl NatChange {
    /// What makes `table` hold `policy`'s NAT statements for `family` (`None`: none,
    /// as uninstall wants).
    pub(super) fn read(table: &Table, policy: Option<&Policy>, family: Family) -> NatChange {
        let mut change = NatChange::default();
        for (builtin, ours, destination) in CHAINS {
            let wanted = policy.map_or_else(Vec::new, |p| p.nat_rules(destination, family));
            let live: Vec<&str> = table.rules(ours).iter().map(|l| strip_append(l)).collect();
            let hook = hook(ours);
            let hooked = table
                .rules(builtin)
                .iter()
                .position(|l| strip_append(l) == hook)
                .map(|i| i + 1);
            let exists = table.has_chain(ours);
            let (f, i) = (&mut change.forward, &mut change.inverse);
            if wanted.is_empty() {
                if !exists {
                    continue;
                }
                if let Some(at) = hooked {
                    f.push(format!("-D {builtin} {hook}"));
                    i.push(format!("-I {builtin} {at} {hook}"));
                }
                f.extend([format!(":{ours} - [0:0]"), format!("-X {ours}")]);
                i.push(format!(":{ours} - [0:0]"));
                i.extend(live.iter().map(|l| format!("-A {ours} {l}")));
                continue;
            }
            let same = exists && live.iter().copied().eq(wanted.iter().map(String::as_str));
            if !same {
                // Declared, the chain is created or emptied; then filled.
                f.push(format!(":{ours} - [0:0]"));
                f.extend(wanted.iter().map(|l| format!("-A {ours} {l}")));
                i.push(format!(":{ours} - [0:0]"));
                if exists {
                    i.extend(live.iter().map(|l| format!("-A {ours} {l}")));
                }
            }
            if hooked.is_none() {
                f.push(format!("-I {builtin} 1 {hook}"));
                i.push(format!("-D {builtin} {hook}"));
            }
            if !exists {
                i.push(format!("-X {ours}"));
            }
        }
        change
    }

    pub(super) fn is_noop(&self) -> bool {
        self.forward.is_empty()
    }

    /// The transaction, as `iptables-restore --noflush` input.
    pub(super) fn forward(&self) -> String {
        super::layout::table_text("nat", &self.forward)
    }

    /// The transaction that undoes it.
    pub(super) fn inverse(&self) -> String {
        super::layout::table_text("nat", &self.inverse)
    }
}

/// What an apply of `policy` would change in `table`'s NAT chains, per chain that
/// changes.
pub(super) fn plans(table: &Table, policy: &Policy, family: Family) -> Vec<super::NatPlan> {
    CHAINS
        .iter()
        .filter_map(|&(_, ours, destination)| {
            let wanted = policy.nat_rules(destination, family);
            let live: Vec<String> = table
                .rules(ours)
                .iter()
                .map(|l| strip_append(l).to_string())
                .collect();
            super::NatPlan::diff(Some(family), ours, &wanted, &live)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::parse("ssh none;\nallow all;\ndnat tcp 8080 to 10.0.0.5:80;\n").unwrap()
    }

    #[test]
    fn a_first_apply_creates_and_hooks_and_its_inverse_takes_both_back() {
        let table = Table::parse("-P PREROUTING ACCEPT\n-P POSTROUTING ACCEPT\n");
        let change = NatChange::read(&table, Some(&policy()), Family::V4);
        assert_eq!(change.forward[0], ":FWDSL-PREROUTING - [0:0]");
        assert!(change.forward[1].ends_with("-j DNAT --to-destination 10.0.0.5:80"));
        assert_eq!(
            change.forward[2],
            "-I PREROUTING 1 -m comment --comment \"fwdsl:hook\" -j FWDSL-PREROUTING"
        );
        assert_eq!(
            change.forward.len(),
            3,
            "no source NAT: nothing for POSTROUTING"
        );
        assert_eq!(
            change.inverse.last().unwrap(),
            "-X FWDSL-PREROUTING",
            "{:?}",
            change.inverse
        );
        // The same, live: nothing to do; and uninstall takes it away.
        let live = format!(
            "-P PREROUTING ACCEPT\n-N FWDSL-PREROUTING\n-A PREROUTING {}\n-A FWDSL-PREROUTING {}\n",
            hook("FWDSL-PREROUTING"),
            policy().nat_rules(true, Family::V4)[0]
        );
        let table = Table::parse(&live);
        assert!(NatChange::read(&table, Some(&policy()), Family::V4).is_noop());
        let gone = NatChange::read(&table, None, Family::V4);
        assert_eq!(
            gone.forward[0],
            format!("-D PREROUTING {}", hook("FWDSL-PREROUTING"))
        );
        assert_eq!(
            gone.inverse[0],
            format!("-I PREROUTING 1 {}", hook("FWDSL-PREROUTING"))
        );
    }
}
