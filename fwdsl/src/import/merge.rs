//! One statement for both families where they agree.
//!
//! Imported into one policy, each family's rules are kept to it (`src 0.0.0.0/0`, or
//! `::/0`, where a rule names no address). Where an IPv4 rule and an IPv6 rule say the
//! same (the same verdict and match, an `icmp` type named in both), one statement
//! without the family's address says both. It is placed after every rule of either
//! family that came before each of the two, so each family still meets its rules in
//! its own order: exact, and the import's proof compares the written policy with the
//! unmerged original all the same.

use super::flatten::Flat;
use super::Listed;
use fwdsl_core::{Family, IcmpType, Matches, ICMP_TYPES};

/// How far ahead in the other family's rules a partner is looked for.
const WINDOW: usize = 64;

/// A rule with where it comes from, and where its partner of the other family comes
/// from when it stands for both.
pub(crate) type Written = (Flat, String, Option<(Flat, String)>);

/// `list` (IPv4's rules, then IPv6's, each kept to its family, then rules of no family)
/// with the rules the families share written once.
pub(crate) fn families(list: &[Listed]) -> Vec<Written> {
    let kept = |(flat, family, _): &&Listed| family_of(&flat.matches).is_some_and(|f| f == *family);
    let v4: Vec<&Listed> = list
        .iter()
        .filter(|l| l.1 == Family::V4)
        .filter(kept)
        .collect();
    let v6: Vec<&Listed> = list
        .iter()
        .filter(|l| l.1 == Family::V6)
        .filter(kept)
        .collect();
    let rest = list.iter().filter(|l| !kept(l));
    let one = |(flat, _, file): &Listed| (flat.clone(), file.clone(), None);
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < v4.len() && j < v6.len() {
        let partner = (j..v6.len().min(j + WINDOW))
            .find_map(|k| both(&v4[i].0, &v6[k].0).map(|flat| (k, flat)));
        match partner {
            Some((k, flat)) => {
                out.extend(v6[j..k].iter().map(|l| one(l)));
                out.push((
                    flat,
                    v4[i].2.clone(),
                    Some((v6[k].0.clone(), v6[k].2.clone())),
                ));
                (i, j) = (i + 1, k + 1);
            }
            None => {
                out.push(one(v4[i]));
                i += 1;
            }
        }
    }
    out.extend(v4[i..].iter().chain(&v6[j..]).map(|l| one(l)));
    out.extend(rest.map(one));
    out
}

/// The family a rule is kept to by its addresses, if one.
fn family_of(m: &Matches) -> Option<Family> {
    m.src.iter().chain(m.dst.iter()).next().map(Family::of)
}

/// The one rule saying both `a` (IPv4) and `b` (IPv6), where they say the same.
fn both(a: &Flat, b: &Flat) -> Option<Flat> {
    let unkept = |m: &Matches| {
        let any = m.src.len() == 1 && m.src[0].prefix_len() == 0 && m.dst.is_empty();
        any.then(|| Matches {
            src: Default::default(),
            icmp_type: None,
            ..m.clone()
        })
    };
    let same = a.action == b.action
        && a.nat == b.nat
        && a.comment == b.comment
        && a.log_prefix == b.log_prefix
        && unkept(&a.matches)? == unkept(&b.matches)?;
    let icmp_type = match (a.matches.icmp_type, b.matches.icmp_type) {
        (None, None) => None,
        (Some(IcmpType { v4: Some(x), .. }), Some(IcmpType { v6: Some(y), .. })) => {
            let named = ICMP_TYPES
                .iter()
                .any(|(_, v4, v6)| *v4 == Some(x) && *v6 == Some(y));
            match named {
                true => Some(IcmpType {
                    v4: Some(x),
                    v6: Some(y),
                }),
                false => return None,
            }
        }
        _ => return None,
    };
    same.then(|| Flat {
        matches: Matches {
            src: Default::default(),
            icmp_type,
            ..a.matches.clone()
        },
        ..a.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsl_core::{Action, ProtoSet};

    fn flat(action: Action, src: &str, icmp: Option<IcmpType>) -> Flat {
        Flat {
            matches: Matches {
                src: vec![src.parse().unwrap()].into(),
                protocols: match icmp {
                    Some(_) => ProtoSet::ICMP,
                    None => ProtoSet::ALL,
                },
                icmp_type: icmp,
                ..Matches::ANY
            },
            action,
            ..Flat::allow_all("INPUT".into())
        }
    }

    #[test]
    fn shared_rules_are_written_once_in_both_orders() {
        let echo4 = Some(IcmpType {
            v4: Some(8),
            v6: None,
        });
        let echo6 = Some(IcmpType {
            v4: None,
            v6: Some(128),
        });
        let nd = Some(IcmpType {
            v4: None,
            v6: Some(135),
        });
        let list: Vec<Listed> = vec![
            (
                flat(Action::Allow, "0.0.0.0/0", echo4),
                Family::V4,
                "a".into(),
            ),
            (
                flat(Action::Drop, "10.0.0.0/8", None),
                Family::V4,
                "a".into(),
            ),
            (
                flat(Action::Drop, "0.0.0.0/0", None),
                Family::V4,
                "a".into(),
            ),
            (flat(Action::Allow, "::/0", nd), Family::V6, "b".into()),
            (flat(Action::Allow, "::/0", echo6), Family::V6, "b".into()),
            (flat(Action::Drop, "::/0", None), Family::V6, "b".into()),
        ];
        let out = families(&list);
        let said: Vec<(Action, usize, bool)> = out
            .iter()
            .map(|(f, _, also)| (f.action, f.matches.src.len(), also.is_some()))
            .collect();
        // ND (IPv6 only) first, then echo for both, the IPv4 network, the catch-all once.
        assert_eq!(
            said,
            [
                (Action::Allow, 1, false),
                (Action::Allow, 0, true),
                (Action::Drop, 1, false),
                (Action::Drop, 0, true),
            ]
        );
        assert_eq!(
            out[1].0.matches.icmp_type,
            Some(IcmpType {
                v4: Some(8),
                v6: Some(128)
            })
        );
    }
}
