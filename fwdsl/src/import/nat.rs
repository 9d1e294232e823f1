//! The nat table imported as NAT statements: `PREROUTING` (`DNAT`, `REDIRECT`) and
//! `POSTROUTING` (`MASQUERADE`, `SNAT`), flattened by the same walk as the filter table,
//! written as `dnat`, `redirect`, `masquerade`, `snat`, and proved the same way: the
//! statements read back are compared with the flattened chains region by region, by
//! the translation each gives (`fwdsl_core::differences_by`).
//!
//! An `ACCEPT` (and a chain's policy) in the nat table means "no translation": written
//! `no dnat …`/`no snat …` where a later statement of its side could take its packets,
//! as nothing where none follows. `--dst-type LOCAL` in PREROUTING is `local` on what
//! is written below it. (The proof compares the translations of the packets that
//! arrive at this host and leave it; `local` is exact by construction: a statement is
//! `local` exactly when the original reaches its rule through a LOCAL match.)

use super::flatten::{self, Flat};
use super::saved::Saved;
use super::{emit, Difference, Refused};
use crate::Policy;
use fwdsl_core::{Action, Direction, Family, NatKind, Rule};
use ipnet::IpNet;
use std::collections::HashMap;

/// The nat table's flattened rules, in order: PREROUTING's, then POSTROUTING's.
#[derive(Debug, Default)]
pub(crate) struct NatPart {
    /// (rule, the file it comes from, whether it is of PREROUTING).
    pub listed: Vec<(Flat, String, bool)>,
    pub refused: Vec<Refused>,
}

impl NatPart {
    /// Adds one file's nat table.
    pub(crate) fn collect(
        &mut self,
        saved: &Saved,
        family: Family,
        sets: &HashMap<String, Vec<IpNet>>,
        partial: bool,
        both: bool,
        file: &str,
    ) {
        let nat = saved.nat_table();
        let flattened = flatten::flatten(&nat, family, sets, partial, &flatten::NAT, true);
        self.refused
            .extend(flattened.refused.into_iter().map(|r| r.in_file(file)));
        for chain in ["OUTPUT", "INPUT"] {
            for rule in nat.chain(chain).map_or(&[][..], |c| &c.rules[..]) {
                self.refused.push(Refused {
                    file: file.to_string(),
                    line: rule.line,
                    rule: rule.text.clone(),
                    reason: format!("the nat table's {chain} chain (this host's own connections): the language's NAT statements translate arriving and leaving packets"),
                });
            }
        }
        for (direction, flats) in flattened.chains {
            let destination = direction == flatten::NAT[0].1;
            for mut flat in flats {
                if both {
                    flat.matches = emit::only(&flat.matches, family);
                }
                self.listed.push((flat, file.to_string(), destination));
            }
        }
    }

    /// The statements, in order. A "no translation" (an `ACCEPT`, a `RETURN` to a
    /// chain's policy) is an exemption (`no dnat …`, `no snat …`) where a later
    /// translation of its side could take its packets, and nothing where none follows.
    pub(crate) fn statements(&self) -> String {
        // Whether a translation of each side follows each place, from the end.
        let mut later = [false, false];
        let mut follows = vec![false; self.listed.len()];
        for (i, (flat, _, destination)) in self.listed.iter().enumerate().rev() {
            follows[i] = later[usize::from(*destination)];
            later[usize::from(*destination)] |= flat.nat.is_some();
        }
        self.listed
            .iter()
            .zip(follows)
            .filter_map(|((flat, file, destination), follows)| {
                let kind = flat.nat.or(follows.then_some(NatKind::Exempt {
                    destination: *destination,
                }))?;
                Some(emit::nat_statement(flat, kind, file))
            })
            .collect()
    }

    /// Where the statements of `policy` translate otherwise than the flattened chains.
    pub(crate) fn differences(&self, policy: &Policy) -> Vec<Difference> {
        let direction = |destination: bool| match destination {
            true => Direction::In,
            false => Direction::Out,
        };
        let rule = |d, matches| Rule {
            action: Action::Allow,
            limit: None,
            log: None,
            direction: d,
            matches,
            text: "".into(),
            comment: None,
            line: 0,
        };
        let original: Vec<Rule> = self
            .listed
            .iter()
            .map(|(f, _, destination)| rule(direction(*destination), f.matches.clone()))
            .collect();
        let imported: Vec<Rule> = policy
            .nat()
            .iter()
            .map(|n| rule(direction(n.kind.is_destination()), n.matches.clone()))
            .collect();
        let kind_o = |j: Option<usize>| j.and_then(|j| self.listed[j].0.nat);
        // An exemption translates nothing, as a "no translation" of the original.
        let kind_i = |k: Option<usize>| {
            k.map(|k| policy.nat()[k].kind)
                .filter(|kind| !matches!(kind, NatKind::Exempt { .. }))
        };
        fwdsl_core::differences_by(&original, &imported, |j, k| kind_o(j) == kind_i(k))
            .into_iter()
            .map(|d| Difference {
                original: None,
                imported: None,
                witness: d.witness,
                table: "nat",
            })
            .collect()
    }
}
