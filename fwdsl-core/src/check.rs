//! The checks that need the whole policy: ordering, shadowing, lockout and source-port
//! holes. Each `check_*` function states its rule with an example; all of them report
//! through diagnostics and never stop at the first problem.

use crate::diag::{Diagnostic, TokenRange};
use crate::model::{Access, Action, Rule};
use crate::parse::Parsed;
use crate::space::{self, Index, Interfaces, Region};

/// How a rule stands in its policy, as the analysis sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Some packet reaches the rule and is decided by it.
    Reachable,
    /// Earlier rules decide every packet the rule matches, all with the rule's own
    /// verdict: removing it changes nothing. Lists those rules (0-based).
    Redundant(Vec<usize>),
    /// Earlier rules decide every packet the rule matches, some with another verdict.
    Shadowed {
        /// Every earlier rule that decides some of the rule's packets (0-based).
        by: Vec<usize>,
        /// Those of them whose verdict differs from the rule's.
        differing: Vec<usize>,
    },
    /// The rule comes after the catch-all at this index.
    AfterCatchAll(usize),
}

/// The result of analysing a policy's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// One entry per rule.
    pub reach: Vec<Reach>,
    /// The first rule that drops or rejects, without naming a source, a new SSH
    /// connection from the operator's network.
    pub lockout: Option<Lockout>,
}

/// A rule that would cut the operator off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// The rule that drops or rejects the operator's new SSH connections (0-based).
    pub rule: usize,
    /// A later rule that accepts some of them: moving it up is the fix.
    pub rescue: Option<usize>,
}

/// Runs the exact analysis: reachability of every rule and the lockout check.
pub fn analyze(rules: &[Rule], access: &Access) -> Analysis {
    let interfaces = Interfaces::new(rules, access);
    let regions: Vec<Vec<Region>> = rules
        .iter()
        .map(|r| space::regions(&r.matches, &interfaces))
        .collect();
    let catch_all = rules.iter().position(Rule::is_catch_all);
    let mut earlier = Index::default();
    let mut reach = Vec::with_capacity(rules.len());
    for i in 0..rules.len() {
        reach.push(match catch_all {
            Some(c) if i > c => Reach::AfterCatchAll(c),
            _ => reach_of(rules, &regions, &earlier, i),
        });
        for b in &regions[i] {
            earlier.insert(*b, i);
        }
    }
    // Every rule is indexed now; the lockout check asks about any prefix of them.
    let lockout = lockout(
        rules,
        &regions,
        &earlier,
        &space::access_regions(access, &interfaces),
    );
    Analysis { reach, lockout }
}

/// Whether rule `j` decides some packet of `parts` (matches it, and no earlier rule
/// does). `index` holds at least the rules before `j`.
fn decides_some(index: &Index, regions: &[Vec<Region>], j: usize, parts: &[Region]) -> bool {
    parts
        .iter()
        .flat_map(|p| regions[j].iter().filter_map(|b| b.intersection(p)))
        .any(|piece| {
            index.misses_a_corner(&piece, j)
                || !space::covered_clipped(&piece, &index.overlapping_before(&piece, j))
        })
}

/// How rule `i` stands; `earlier` holds the boxes of the rules before it.
fn reach_of(rules: &[Rule], regions: &[Vec<Region>], earlier: &Index, i: usize) -> Reach {
    let mine = &regions[i];
    if mine.iter().any(|r| {
        earlier.misses_a_corner(r, i) || !space::covered_clipped(r, &earlier.overlapping(r))
    }) {
        return Reach::Reachable;
    }
    // Shadowed: find out by whom, among the earlier rules that overlap it at all.
    let mut candidates: Vec<usize> = mine
        .iter()
        .flat_map(|r| earlier.rules_overlapping(r))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let deciders: Vec<usize> = candidates
        .into_iter()
        .filter(|&j| decides_some(earlier, regions, j, mine))
        .collect();
    let differing: Vec<usize> = deciders
        .iter()
        .copied()
        .filter(|&j| rules[j].action != rules[i].action)
        .collect();
    if differing.is_empty() {
        Reach::Redundant(deciders)
    } else {
        Reach::Shadowed {
            by: deciders,
            differing,
        }
    }
}

fn lockout(
    rules: &[Rule],
    regions: &[Vec<Region>],
    index: &Index,
    access: &[Region],
) -> Option<Lockout> {
    let last = rules
        .iter()
        .position(Rule::is_catch_all)
        .unwrap_or(rules.len().saturating_sub(1));
    let rule = (0..rules.len().min(last + 1))
        .filter(|&j| rules[j].action != Action::Allow && !rules[j].names_source())
        .find(|&j| decides_some(index, regions, j, access))?;
    let overlaps = |j: &usize| {
        regions[*j]
            .iter()
            .any(|b| access.iter().any(|a| a.intersection(b).is_some()))
    };
    let rescue = (rule + 1..rules.len())
        .filter(|&j| rules[j].action == Action::Allow)
        .find(overlaps);
    Some(Lockout { rule, rescue })
}

pub(crate) fn check(parsed: &Parsed, complete: bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let analysis = analyze(&parsed.rules, &parsed.access);
    check_ordering(parsed, complete, &analysis, &mut out);
    check_shadowing(parsed, &analysis, &mut out);
    if complete {
        check_lockout(parsed, &analysis, &mut out);
    }
    check_source_ports(parsed, &mut out);
    out
}

fn quote(rule: &Rule) -> String {
    format!("`{}` on line {}", rule.text, rule.line)
}

fn lines(rules: &[Rule], indices: &[usize]) -> String {
    let mut shown: Vec<String> = indices
        .iter()
        .take(6)
        .map(|&j| rules[j].line.to_string())
        .collect();
    if indices.len() > 6 {
        shown.push(format!("and {} more", indices.len() - 6));
    }
    shown.join(", ")
}

/// The policy must end with a catch-all (`drop all`, `reject all` or `allow all`), as
/// the reference guide insists: "make absolutely sure that this is the last rule". A
/// rule after it is never reached: `drop all; allow tcp 80;` is an error at `allow tcp 80`.
fn check_ordering(parsed: &Parsed, complete: bool, analysis: &Analysis, out: &mut Vec<Diagnostic>) {
    for (i, reach) in analysis.reach.iter().enumerate() {
        if let Reach::AfterCatchAll(c) = reach {
            let catch_all = &parsed.rules[*c];
            let mut d = Diagnostic::error(
                parsed.rule_tokens[i],
                format!(
                    "rule `{}` is never reached: the catch-all {} decides every packet first",
                    parsed.rules[i].text,
                    quote(catch_all)
                ),
            );
            d.help(format!(
                "move it above line {}, or remove it",
                catch_all.line
            ));
            out.push(d);
        }
    }
    let has_catch_all = parsed.rules.iter().any(Rule::is_catch_all);
    if !has_catch_all && complete {
        let at: Option<TokenRange> = if parsed.ends_with_rule {
            parsed.rule_tokens.last().copied()
        } else {
            parsed.last_statement
        };
        let message = if parsed.rules.is_empty() {
            "policy has no rules: it must at least end with a catch-all".to_string()
        } else {
            "policy does not end with a catch-all: packets no rule matches would be accepted"
                .to_string()
        };
        let mut d = Diagnostic::error(at, message);
        d.help("add `drop all;` (or `reject all;`, or an explicit `allow all;`) as the last rule");
        out.push(d);
    }
}

/// A rule none of whose packets can reach it, because earlier rules together decide
/// every packet it matches, is an error when some of them decide with another verdict
/// (`drop tcp 1-1024; allow tcp 80;`) and a warning when all agree
/// (`allow tcp 80-90; allow tcp 85;`). Partial overlap is normal and fine.
fn check_shadowing(parsed: &Parsed, analysis: &Analysis, out: &mut Vec<Diagnostic>) {
    let rules = &parsed.rules;
    for (i, reach) in analysis.reach.iter().enumerate() {
        let rule = &rules[i];
        let d = match reach {
            Reach::Shadowed { by, differing } => {
                let same_verdict = differing
                    .iter()
                    .all(|&j| rules[j].action == rules[differing[0]].action);
                let message = match (by.as_slice(), differing.as_slice()) {
                    ([one], _) => format!(
                        "rule `{}` is never reached: {} already {}s every packet it matches",
                        rule.text,
                        quote(&rules[*one]),
                        rules[*one].action.verb()
                    ),
                    (_, [one]) => format!(
                        "rule `{}` is never reached: the rules on lines {} decide every packet it matches, and {} {}s some of them",
                        rule.text,
                        lines(rules, by),
                        quote(&rules[*one]),
                        rules[*one].action.verb()
                    ),
                    _ if by == differing && same_verdict => format!(
                        "rule `{}` is never reached: the rules on lines {} already {} every packet it matches",
                        rule.text,
                        lines(rules, by),
                        rules[differing[0]].action.verb()
                    ),
                    _ => format!(
                        "rule `{}` is never reached: the rules on lines {} decide every packet it matches, those on lines {} with another verdict",
                        rule.text,
                        lines(rules, by),
                        lines(rules, differing)
                    ),
                };
                let mut d = Diagnostic::error(parsed.rule_tokens[i], message);
                d.help(format!(
                    "move it above line {}, or remove it",
                    rules[differing[0]].line
                ));
                d
            }
            Reach::Redundant(by) => {
                let verb = rule.action.verb();
                let message = match by.as_slice() {
                    [one] => format!("rule `{}` is redundant: {} already {verb}s every packet it matches", rule.text, quote(&rules[*one])),
                    _ => format!("rule `{}` is redundant: the rules on lines {} already {verb} every packet it matches", rule.text, lines(rules, by)),
                };
                let mut d = Diagnostic::warning(parsed.rule_tokens[i], "redundant_rule", message);
                d.help("remove it");
                d
            }
            Reach::Reachable | Reach::AfterCatchAll(_) => continue,
        };
        out.push(d);
    }
}

/// A new TCP connection to the SSH port from the operator's declared network must be
/// accepted. Dropped by a rule that names a source it is a deliberate ban; dropped by
/// anything else it is a lockout: `drop tcp 1-1024; allow ssh; drop all;` is an error
/// at `drop tcp 1-1024`.
fn check_lockout(parsed: &Parsed, analysis: &Analysis, out: &mut Vec<Diagnostic>) {
    let Some(Lockout { rule: j, rescue }) = analysis.lockout else {
        return;
    };
    let Access::Ssh { port, from, .. } = &parsed.access else {
        return;
    };
    let rules = &parsed.rules;
    let rule = &rules[j];
    let mut d = Diagnostic::error(
        parsed.rule_tokens[j],
        format!(
            "rule `{}` would lock the operator out: it {}s new SSH connections (`{}`)",
            rule.text,
            rule.action.verb(),
            parsed.access
        ),
    );
    match rescue.map(|r| &rules[r]) {
        Some(allow) => d.help(format!("move {} above line {}", quote(allow), rule.line)),
        None => {
            let source = from
                .as_ref()
                .map(|net| format!(" src {}", crate::parse::net_text(net)))
                .unwrap_or_default();
            d.help(format!(
                "add `allow tcp {port}{source};` before line {}; on a host reached another way, declare how (`ssh PORT from NETWORK;`) or `ssh none;`",
                rule.line
            ))
        }
    };
    out.push(d);
}

/// `allow … sport N` trusts a field every remote host chooses freely: `allow udp sport
/// 53` (the reference guide's DNS pattern) admits any UDP packet sent from port 53.
/// A warning that points at `allow established`, which admits real replies only.
fn check_source_ports(parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    for (rule, tokens) in parsed.rules.iter().zip(&parsed.rule_tokens) {
        if rule.action == Action::Allow && !rule.matches.sports.is_empty() {
            let mut d = Diagnostic::warning(
                *tokens,
                "source_port_rule",
                format!(
                    "rule `{}` trusts the source port, which any remote host can choose",
                    rule.text
                ),
            );
            d.help("to let replies to this host's own connections in, write `allow established;` instead");
            out.push(d);
        }
    }
}
