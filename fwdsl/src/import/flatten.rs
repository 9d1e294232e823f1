//! A chain program (built-in chains, user chains, jumps, gotos, `RETURN`, policies) as
//! one first-match list per built-in chain, exactly.
//!
//! Why it is exact: walking a chain under a guard `G` (the packets that got there), a
//! rule with match `M` sees `G ∧ M` (a meet of matches, itself a match). A verdict
//! becomes one rule on `G ∧ M`. A jump to chain `C` walks `C` under `G ∧ M`, with "what
//! comes after" being the rest of this chain (and, below it, the rest of its callers);
//! a goto the same without this chain's rest. A `RETURN` with match `N` in `C` emits,
//! right there, the walk of what comes after under `G ∧ M ∧ N`: every packet returning
//! there is decided by that walk, which always ends in a built-in chain's policy (a
//! rule matching its whole guard), so later rules of `C` only ever see packets that did
//! not return: first match keeps the kernel's order without needing a negation. The
//! end of a user chain is a `RETURN` of its whole guard; the end of a built-in chain its
//! policy. Each packet thus meets, in the list, the rules it would meet in the kernel,
//! in the same order, each restricted to the packets that reach it that way. The price
//! is copies: what follows a jump is written once per way of returning to it.

use super::rule::{self, Place, Read, Target};
use super::saved::{Chain, Saved};
use fwdsl_core::{Action, Direction, Family, Matches, NatKind};
use ipnet::IpNet;
use std::collections::HashMap;

/// One rule of a flattened chain, and the saved rule it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flat {
    pub action: Action,
    /// In the nat table: the translation, or `None` for none (an `ACCEPT`, the policy).
    pub nat: Option<NatKind>,
    pub matches: Matches,
    /// The saved rule's line; `None` for a chain's policy.
    pub line: Option<usize>,
    /// What the rules on the way to it held besides matches.
    pub path: Path,
    /// The chain the policy is of, or the rule is in.
    pub chain: String,
    pub comment: Option<String>,
    pub log_prefix: Option<String>,
}

/// What a flattened rule's way through the chains held besides its match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Path {
    /// Through `--dst-type LOCAL` in nat PREROUTING: only packets addressed to this host
    /// (`local`).
    pub local: bool,
    /// Through a `--dport` (the port as the rule sees it: in FORWARD, after a DNAT).
    pub translated_ports: bool,
}

/// A rule that could not be read, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl Refusal {
    /// The refusal as the import reports it, in file `file`.
    pub(crate) fn in_file(self, file: &str) -> super::Refused {
        super::Refused {
            file: file.to_string(),
            line: self.line,
            rule: self.text,
            reason: self.reason,
        }
    }
}

impl Flat {
    /// Every packet accepted: where a direction is open for lack of rules.
    pub(crate) fn allow_all(chain: String) -> Flat {
        Flat {
            action: Action::Allow,
            nat: None,
            matches: Matches::ANY,
            line: None,
            path: Path::default(),
            chain,
            comment: None,
            log_prefix: None,
        }
    }
}

/// Most rules one flattened chain may have: copies multiply with jumps and returns.
pub(crate) const MAX_FLAT: usize = 50_000;
/// Deepest chain of jumps (the kernel allows no loops; this bounds a file that has one).
const MAX_DEPTH: usize = 64;

/// Where a walk resumes when a chain returns: (chain, index of the next rule).
type Frames<'s> = Vec<(&'s Chain, usize)>;

struct Walk<'s> {
    saved: &'s Saved,
    family: Family,
    sets: &'s HashMap<String, Vec<IpNet>>,
    /// Where the built-in chain walked is.
    place: Place,
    /// What the path to the rule walked holds, besides its matches.
    path: Path,
    /// Each rule read once (by chain and place), or its refusal; again for each
    /// direction.
    read: HashMap<(&'s str, usize), Result<Read, String>>,
    out: Vec<Flat>,
    refused: Vec<Refusal>,
    /// With `partial`, a refused rule is left out (as if it matched nothing) and the
    /// walk goes on; without, the walk stops at the first.
    partial: bool,
    too_big: bool,
    /// Whether this is the nat table (translations, and `ACCEPT` as "none").
    nat: bool,
    /// The built-in chain being flattened: its policy decides what returns from it (a
    /// `RETURN` there, or from a chain it went to with `-g`).
    root: Option<&'s Chain>,
}

impl<'s> Walk<'s> {
    fn read_rule(&mut self, chain: &'s Chain, i: usize) -> Option<Read> {
        let rule = &chain.rules[i];
        let entry = self
            .read
            .entry((&chain.name, i))
            .or_insert_with(|| match &rule.refused {
                Some(reason) => Err(reason.clone()),
                None => rule::read(&rule.words, self.family, self.place, self.sets),
            });
        match entry {
            Ok(read) => Some(read.clone()),
            Err(reason) => {
                let refusal = Refusal {
                    line: rule.line,
                    text: rule.text.clone(),
                    reason: reason.clone(),
                };
                if !self.refused.contains(&refusal) {
                    self.refused.push(refusal);
                }
                None
            }
        }
    }

    fn push(&mut self, flat: Flat) {
        if self.out.len() >= MAX_FLAT {
            self.too_big = true;
        } else {
            self.out.push(flat);
        }
    }

    /// Walks `chain` from rule `start` under `guard`; `frames` is what comes after it.
    fn walk(&mut self, chain: &'s Chain, start: usize, guard: &Matches, frames: &Frames<'s>) {
        if self.too_big || frames.len() > MAX_DEPTH || (!self.partial && !self.refused.is_empty()) {
            self.too_big |= frames.len() > MAX_DEPTH;
            return;
        }
        // Each rule is walked with the path the walk came in by, and what it adds.
        let entry = self.path;
        for i in start..chain.rules.len() {
            self.path = entry;
            let Some(read) = self.read_rule(chain, i) else {
                if self.partial {
                    continue;
                }
                return;
            };
            if read.never {
                continue;
            }
            let Some(met) = guard.meet(&read.matches) else {
                continue;
            };
            // Packets a negated part holds skip the rule: what follows it decides them,
            // written first, so that the rule itself only sees the others.
            for part in &read.negated {
                if let Some(skip) = met.meet(part) {
                    self.walk(chain, i + 1, &skip, frames);
                }
            }
            // A rate-limited RETURN returns some packets and not others: exact only where
            // what it skips can change no verdict (only LOG and RETURN follow, as in
            // ufw's logging chains), and then it is as if it were not there.
            if read.limited && read.target == Target::Return {
                if self.only_logs_after(chain, i) {
                    continue;
                }
                self.refuse(chain, i, "`-m limit` on a RETURN that verdicts follow: which packets return depends on their rate".into());
                if self.partial {
                    continue;
                }
                return;
            }
            // A LOCAL rule leaves the packets this host routes to the rules after it.
            let covers = met == *guard && (!read.local || entry.local);
            self.path = Path {
                local: entry.local || read.local,
                translated_ports: entry.translated_ports || read.translated_ports,
            };
            let verdict = |action| Flat {
                action,
                nat: None,
                matches: met.clone(),
                // Line 0: a chain's policy written as a rule (nftables' base chains).
                line: Some(chain.rules[i].line).filter(|line| *line > 0),
                path: self.path,
                chain: chain.name.clone(),
                comment: read.comment.clone(),
                log_prefix: None,
            };
            match &read.target {
                Target::Accept => self.push(verdict(Action::Allow)),
                Target::Drop => self.push(verdict(Action::Drop)),
                Target::Reject => self.push(verdict(Action::Reject)),
                Target::Log(prefix) => {
                    let mut log = verdict(Action::Log);
                    log.log_prefix = prefix.clone();
                    self.push(log);
                    continue;
                }
                Target::Return => self.resume(frames, &met),
                Target::Nat(kind) if self.nat => {
                    let mut flat = verdict(Action::Allow);
                    flat.nat = Some(*kind);
                    self.push(flat);
                }
                Target::Nat(_) => {
                    self.refuse(chain, i, "a nat target outside the nat table".into());
                    if self.partial {
                        continue;
                    }
                    return;
                }
                Target::Jump(to) | Target::Goto(to) => {
                    let Some(callee) = self.saved.chain(to) else {
                        self.refuse(chain, i, format!("the `{to}` target has no equivalent in the language (and no chain has that name)"));
                        if self.partial {
                            continue;
                        }
                        return;
                    };
                    let mut inner = frames.clone();
                    if matches!(read.target, Target::Jump(_)) {
                        inner.insert(0, (chain, i + 1));
                    }
                    self.walk(callee, 0, &met, &inner);
                }
            }
            // Every packet of the guard is decided from here on.
            if covers {
                return;
            }
        }
        // The end of a chain is a return (a built-in chain's returns to its policy).
        self.path = entry;
        self.resume(frames, guard);
    }

    /// What comes after a return, under `guard`: the rest of the caller, or with no
    /// caller left, the built-in chain's policy.
    fn resume(&mut self, frames: &Frames<'s>, guard: &Matches) {
        match frames.split_first() {
            Some(((chain, next), rest)) => self.walk(chain, *next, guard, &rest.to_vec()),
            None => {
                let root = self.root.expect("a walk starts at a built-in chain");
                let action = match root.policy.as_deref() {
                    Some("ACCEPT") | None => Action::Allow,
                    Some(_) => Action::Drop,
                };
                self.push(Flat {
                    // In the nat table a policy is "no translation".
                    action: if self.nat { Action::Allow } else { action },
                    nat: None,
                    matches: guard.clone(),
                    line: None,
                    path: self.path,
                    chain: root.name.clone(),
                    comment: None,
                    log_prefix: None,
                });
            }
        }
    }

    /// Whether every rule after `i` in `chain` only logs or returns.
    fn only_logs_after(&mut self, chain: &'s Chain, i: usize) -> bool {
        (i + 1..chain.rules.len()).all(|j| {
            self.read_rule(chain, j)
                .is_some_and(|r| matches!(r.target, Target::Log(_) | Target::Return))
        })
    }

    fn refuse(&mut self, chain: &Chain, i: usize, reason: String) {
        self.refused.push(Refusal {
            line: chain.rules[i].line,
            text: chain.rules[i].text.clone(),
            reason,
        });
    }
}

/// The built-in chains of the nat table fwdsl's statements stand for: destination NAT as
/// packets arrive (as input rules), source NAT as they leave (as `out` rules).
pub(crate) const NAT: [(&str, Direction); 2] = [
    ("PREROUTING", Direction::In),
    ("POSTROUTING", Direction::Out),
];

/// The built-in chains of the filter table and the direction each decides.
pub(crate) const FILTER: [(&str, Direction); 3] = [
    ("INPUT", Direction::In),
    ("OUTPUT", Direction::Out),
    ("FORWARD", Direction::Forward),
];

/// Each built-in chain of `saved` (of `family`) as one first-match list, and the rules
/// refused on the way; a `None` list where the chain holds nothing fwdsl should own (no
/// rules, policy ACCEPT), or the flattening would be too large.
pub(crate) fn flatten(
    saved: &Saved,
    family: Family,
    sets: &HashMap<String, Vec<IpNet>>,
    partial: bool,
    builtins: &[(&str, Direction)],
    nat: bool,
) -> Flattened {
    let mut walk = Walk {
        saved,
        family,
        sets,
        read: HashMap::new(),
        out: Vec::new(),
        refused: Vec::new(),
        partial,
        too_big: false,
        root: None,
        place: Place::Other,
        path: Path::default(),
        nat,
    };
    let mut chains = Vec::new();
    for &(name, direction) in builtins {
        let Some(chain) = saved.chain(name) else {
            continue;
        };
        if chain.rules.is_empty() && chain.policy.as_deref() != Some("DROP") {
            continue;
        }
        walk.out.clear();
        walk.root = Some(chain);
        walk.path = Path::default();
        walk.place = match (nat, name) {
            (false, "INPUT") => Place::Input,
            (false, "FORWARD") => Place::Forward,
            (true, "PREROUTING") => Place::Prerouting,
            _ => Place::Other,
        };
        // A rule is read anew for each built-in chain (`--dst-type` depends on it).
        walk.read.clear();
        walk.walk(chain, 0, &Matches::ANY, &Vec::new());
        chains.push((direction, std::mem::take(&mut walk.out)));
    }
    Flattened {
        chains,
        refused: walk.refused,
        too_big: walk.too_big,
    }
}

/// Each built-in chain's list, the refused rules, and whether it grew too large.
pub(crate) struct Flattened {
    pub chains: Vec<(Direction, Vec<Flat>)>,
    pub refused: Vec<Refusal>,
    pub too_big: bool,
}
