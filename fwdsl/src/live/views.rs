//! What [`Firewall::status`](crate::Firewall::status) and
//! [`Firewall::plan`](crate::Firewall::plan) return: per family and direction what
//! is installed (or would change), and what an operator must know beside it: an
//! unconfirmed apply waiting for its confirmation (or whose revert was lost), and an
//! apply that was interrupted between the families' transactions.

use super::journal::Entry;
use super::{Backend, FamilyPlan, FamilyStatus, OtherChain};
use fwdsl_core::{Direction, Family};

/// An unconfirmed apply of this namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRevert {
    /// What reverts it (`revert watchdog process 4242`, `systemd timer …`).
    pub agent: String,
    /// When its window ends or ended, as a phrase.
    pub deadline: String,
    /// Whether the agent is gone: nothing will revert the rules, and every operation
    /// but a confirmation refuses.
    pub lost: bool,
}

/// An apply killed between the families' transactions: some families and directions
/// serve the new policy, others still the previous one. The next apply of either
/// policy puts one policy everywhere again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// Those that switched to the new policy's generation.
    pub switched: Vec<(Family, Direction)>,
    /// Those that still serve what they served before.
    pub not_switched: Vec<(Family, Direction)>,
}

impl Interrupted {
    /// Judges a journal note against what serves now (`serving(family, direction)`):
    /// `Some` only when the switch is half done.
    pub(crate) fn judge(
        entries: &[Entry],
        serving: impl Fn(Family, Direction) -> Option<String>,
    ) -> Option<Interrupted> {
        let mut out = Interrupted {
            switched: Vec::new(),
            not_switched: Vec::new(),
        };
        for entry in entries {
            let now = serving(entry.family, entry.direction);
            let at = (entry.family, entry.direction);
            if now.as_deref() == Some(entry.to.as_str()) {
                out.switched.push(at);
            } else {
                out.not_switched.push(at);
            }
        }
        (!out.switched.is_empty() && !out.not_switched.is_empty()).then_some(out)
    }
}

/// What is installed now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The backend read.
    pub backend: Backend,
    /// Per family: the input direction always, the others where fwdsl is installed
    /// (on nftables, one entry per direction for both families).
    pub families: Vec<FamilyStatus>,
    /// The other tables' base chains on the hooks fwdsl uses (nftables): each can drop
    /// what fwdsl accepts.
    pub others: Vec<OtherChain>,
    /// An unconfirmed apply, if one is pending.
    pub pending: Option<PendingRevert>,
    /// An apply interrupted between the families' transactions, until the next apply.
    pub interrupted: Option<Interrupted>,
}

/// What an apply of a policy would change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The backend an apply would go through.
    pub backend: Backend,
    /// Per family and direction.
    pub families: Vec<FamilyPlan>,
    /// The other tables' base chains on the hooks the policy uses (nftables).
    pub others: Vec<OtherChain>,
    /// An apply interrupted between the families' transactions (the plan's apply puts
    /// one policy everywhere).
    pub interrupted: Option<Interrupted>,
    /// fwdsl's NAT chains an apply would change (none listed: no change).
    pub nat: Vec<NatPlan>,
}

/// What an apply would change in one of fwdsl's NAT chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatPlan {
    /// The family (`None`: both, the nftables backend's one table).
    pub family: Option<Family>,
    /// The chain (`FWDSL-PREROUTING`, `nat-prerouting`, …).
    pub chain: String,
    /// Rules it would add.
    pub add: Vec<String>,
    /// Rules it would remove.
    pub remove: Vec<String>,
}

impl NatPlan {
    /// The plan that turns `live` into `wanted`, if they differ.
    pub(crate) fn diff(
        family: Option<Family>,
        chain: &str,
        wanted: &[String],
        live: &[String],
    ) -> Option<NatPlan> {
        (wanted != live).then(|| NatPlan {
            family,
            chain: chain.to_string(),
            add: wanted
                .iter()
                .filter(|w| !live.contains(w))
                .cloned()
                .collect(),
            remove: live
                .iter()
                .filter(|l| !wanted.contains(l))
                .cloned()
                .collect(),
        })
    }
}

/// Both read as the list of their families, as they did before they said more.
macro_rules! list_of_families {
    ($outer:ty, $item:ty) => {
        impl std::ops::Deref for $outer {
            type Target = [$item];
            fn deref(&self) -> &[$item] {
                &self.families
            }
        }

        impl IntoIterator for $outer {
            type Item = $item;
            type IntoIter = std::vec::IntoIter<$item>;
            fn into_iter(self) -> Self::IntoIter {
                self.families.into_iter()
            }
        }

        impl<'a> IntoIterator for &'a $outer {
            type Item = &'a $item;
            type IntoIter = std::slice::Iter<'a, $item>;
            fn into_iter(self) -> Self::IntoIter {
                self.families.iter()
            }
        }
    };
}

list_of_families!(Status, FamilyStatus);
list_of_families!(Plan, FamilyPlan);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_done_switch_is_told_from_a_whole_one() {
        let entries = [
            Entry {
                family: Family::V4,
                direction: Direction::In,
                from: Some("A4".into()),
                to: "B4".into(),
            },
            Entry {
                family: Family::V6,
                direction: Direction::In,
                from: Some("A6".into()),
                to: "B6".into(),
            },
        ];
        let split = Interrupted::judge(&entries, |f, _| {
            Some(if f == Family::V4 { "B4" } else { "A6" }.into())
        });
        assert_eq!(
            split,
            Some(Interrupted {
                switched: vec![(Family::V4, Direction::In)],
                not_switched: vec![(Family::V6, Direction::In)],
            })
        );
        let whole = Interrupted::judge(&entries, |f, _| {
            Some(if f == Family::V4 { "B4" } else { "B6" }.into())
        });
        assert_eq!(whole, None);
        assert_eq!(Interrupted::judge(&entries, |_, _| None), None);
    }
}
