//! What an apply changes in fwdsl's table, as one nft batch, and the batch that undoes
//! it: worked out from a listing ([`Listing`]) and the policy alone, so it is tested
//! without root. Every direction goes through the same code: one it uses gets a
//! generation and a jump to it from its base chain; one it no longer uses loses its
//! base chain.
//!
//! The batch: the table (if new), the sets the policy needs that are missing, each new
//! generation chain with its rules, the jumps (the live jump replaced by its handle,
//! so an admin's rule before it stays before it), then the old generations and the
//! unused base chains deleted. The inverse recreates what the batch deletes from the
//! listing, puts each base chain's rules back as they were, and deletes what it adds.

use super::listing::{Listing, GENERATION_COMMENT};
use super::{base_chain, command, object, GENERATION_PREFIX, PRIORITY, TABLE};
use crate::render::{fnv1a, NftRule};
use crate::Policy;
use fwdsl_core::Direction;
use serde_json::{json, Value};

/// What one direction serves after the apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub direction: Direction,
    /// The generation chain serving.
    pub chain: String,
    /// Its rules.
    pub rules: usize,
    /// Whether the apply loads it (`false`: it serves already).
    pub loaded: bool,
}

/// One apply's batch, what undoes it, and what serves after it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub forward: Vec<Value>,
    undo: Undo,
    pub parts: Vec<Part>,
    /// The generation switches (direction, from, to), for reports and the journal.
    pub switches: Vec<(Direction, Option<String>, String)>,
    /// The listing's sets no rule uses after the batch.
    pub unused_sets: Vec<String>,
}

/// What undoes a batch, by name: written out only when a revert needs it (a batch
/// that fails changes nothing, so an apply without a window never does), because it
/// copies every rule of the generations the batch deletes.
#[derive(Debug, Clone, PartialEq, Default)]
struct Undo {
    /// The table is new: deleting it undoes everything.
    new_table: bool,
    /// Chains the batch deletes, recreated as the listing has them.
    restored: Vec<String>,
    /// Base chains whose rules the batch changes, refilled as the listing has them.
    rebased: Vec<String>,
    /// Chains the batch creates (`flush` and `delete` commands).
    created: Vec<Value>,
    /// Sets the batch creates.
    new_sets: Vec<String>,
}

impl Change {
    pub(crate) fn is_noop(&self) -> bool {
        self.forward.is_empty()
    }

    /// The batch that undoes this one on the table `listing` shows (the listing this
    /// change was read from).
    pub(crate) fn inverse(&self, listing: &Listing) -> Vec<Value> {
        let undo = &self.undo;
        if self.is_noop() {
            return Vec::new();
        }
        if undo.new_table {
            return vec![command(
                "delete",
                "table",
                json!({"family": "inet", "name": TABLE}),
            )];
        }
        let mut inverse: Vec<Value> = undo
            .restored
            .iter()
            .flat_map(|name| recreate(listing, name))
            .collect();
        for name in &undo.rebased {
            inverse.push(command("flush", "chain", chain(name)));
            inverse.extend(refill(listing, name));
        }
        inverse.extend(undo.created.iter().cloned());
        inverse.extend(
            undo.new_sets
                .iter()
                .map(|s| command("delete", "set", object(json!({ "name": s })))),
        );
        inverse
    }
}

/// A generation chain's name: a hash of its direction and rules (their JSON streamed
/// into the hash, never built as a string).
fn base_name(direction: Direction, rules: &[NftRule]) -> String {
    let mut hash = Fnv(fnv1a(direction.name()));
    for rule in rules {
        hash.feed(b"\n");
        hash.feed(rule.comment.as_bytes());
        for statement in &rule.expr {
            let _ = serde_json::to_writer(&mut hash, statement);
        }
    }
    format!("{GENERATION_PREFIX}{:016x}", hash.0)
}

/// FNV-1a as an `io::Write`, continuing from a hash.
struct Fnv(u64);

impl Fnv {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl std::io::Write for Fnv {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.feed(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The comment of the jump to a generation of `direction`.
fn jump_comment(policy: &Policy, direction: Direction) -> String {
    match crate::live::change::jump_note(policy, direction) {
        Some(note) => format!("{GENERATION_COMMENT} {note}"),
        None => GENERATION_COMMENT.to_string(),
    }
}

fn chain(name: &str) -> Value {
    object(json!({ "name": name }))
}

fn base(direction: Direction) -> Value {
    let hook = base_chain(direction);
    object(json!({
        "name": hook, "type": "filter", "hook": hook, "prio": PRIORITY, "policy": "accept",
    }))
}

/// fwdsl's NAT base chains: (name, hook, priority, whether they rewrite the
/// destination). Ten before the standard priorities (`dstnat`, -100; `srcnat`, 100), as
/// fwdsl's filter chains are: of several NAT chains on a hook, the first that
/// translates a connection wins, so fwdsl's translations come before Docker's.
pub(crate) const NAT_CHAINS: [(&str, &str, i64, bool); 2] = [
    ("nat-prerouting", "prerouting", -110, true),
    ("nat-postrouting", "postrouting", 90, false),
];

fn nat_base(name: &str, hook: &str, prio: i64) -> Value {
    object(json!({
        "name": name, "type": "nat", "hook": hook, "prio": prio, "policy": "accept",
    }))
}

/// What is undone, and done, for fwdsl's NAT chains: each holds the policy's NAT rules
/// of its hook directly (a few rules, replaced whole in the batch), and goes when the
/// policy has none.
fn nat_chains(listing: &Listing, policy: &Policy, undo: &mut Undo) -> Vec<Value> {
    let mut forward = Vec::new();
    for (name, hook, prio, destination) in NAT_CHAINS {
        let wanted = policy.nft_nat_rules(destination);
        let live = listing.chains.get(name);
        if wanted.is_empty() {
            if live.is_some() {
                forward.extend(remove(name));
                undo.restored.push(name.to_string());
            }
            continue;
        }
        let hooked_right = live.and_then(|c| c.hook.as_ref()).is_some_and(|h| {
            (h.kind.as_str(), h.hook.as_str(), h.prio, h.policy.as_str())
                == ("nat", hook, prio, "accept")
        });
        let same = hooked_right
            && live.is_some_and(|c| {
                c.rules.len() == wanted.len()
                    && c.rules.iter().zip(&wanted).all(|(l, w)| {
                        l.comment.as_deref() == Some(w.comment.as_str()) && l.expr == w.listed()
                    })
            });
        if same {
            continue;
        }
        match (live, hooked_right) {
            (Some(_), true) => {
                forward.push(command("flush", "chain", chain(name)));
                undo.rebased.push(name.to_string());
            }
            (live, _) => {
                if live.is_some() {
                    forward.extend(remove(name));
                    undo.restored.push(name.to_string());
                }
                forward.push(command("add", "chain", nat_base(name, hook, prio)));
                undo.created.splice(0..0, remove(name));
            }
        }
        forward.extend(
            wanted
                .into_iter()
                .map(|r| rule(name, r.expr, Some(&r.comment))),
        );
    }
    forward
}

fn rule(chain: &str, expr: Vec<Value>, comment: Option<&str>) -> Value {
    let mut body = object(json!({ "chain": chain, "expr": expr }));
    if let Some(comment) = comment {
        body["comment"] = json!(comment);
    }
    command("add", "rule", body)
}

fn jump(target: &str) -> Vec<Value> {
    vec![json!({"jump": {"target": target}})]
}

/// Flushes and deletes chain `name` (nft deletes only an empty chain).
fn remove(name: &str) -> [Value; 2] {
    [
        command("flush", "chain", chain(name)),
        command("delete", "chain", chain(name)),
    ]
}

/// Recreates chain `name` as the listing has it: its hook, if a base chain, and rules.
fn recreate(listing: &Listing, name: &str) -> Vec<Value> {
    let Some(live) = listing.chains.get(name) else {
        return Vec::new();
    };
    let mut body = chain(name);
    if let Some(hook) = &live.hook {
        body["type"] = json!(hook.kind);
        body["hook"] = json!(hook.hook);
        body["prio"] = json!(hook.prio);
        body["policy"] = json!(hook.policy);
    }
    let mut out = vec![command("add", "chain", body)];
    out.extend(refill(listing, name));
    out
}

/// The listing's rules of chain `name`, added back in order.
fn refill(listing: &Listing, name: &str) -> Vec<Value> {
    listing.chains.get(name).map_or_else(Vec::new, |live| {
        live.rules
            .iter()
            .map(|r| rule(name, r.expr.clone(), r.comment.as_deref()))
            .collect()
    })
}

/// What applying `policy` changes in the table `listing` shows.
pub(crate) fn read(listing: &Listing, policy: &Policy) -> Change {
    let mut forward = Vec::new();
    // Undoing: chains the batch deletes come back first, then each base chain it
    // touches gets its rules back, then what it created goes.
    let (mut restored, mut rebased, mut created): (Vec<String>, Vec<String>, Vec<Value>) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut retire: Vec<String> = listing.debris();
    let mut parts = Vec::new();
    let mut switches = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let wanted_sets = policy.nft_sets();
    let new_sets: Vec<_> = wanted_sets
        .iter()
        .filter(|s| !listing.sets.contains(s.name()))
        .collect();
    let unused_sets: Vec<String> = listing
        .sets
        .iter()
        .filter(|name| !wanted_sets.iter().any(|s| s.name() == name.as_str()))
        .cloned()
        .collect();
    let mut generations = Vec::new();
    let mut hooks = Vec::new();
    let mut unhook = Vec::new();
    for direction in Direction::ALL {
        let name = base_chain(direction);
        let used = policy.uses(direction);
        let live_base = listing.base(direction);
        let live_jump = listing.jump(direction);
        if !used {
            if live_base.is_some() {
                unhook.extend(remove(name));
                restored.push(name.to_string());
                retire.extend(live_jump.map(|j| j.target));
            }
            continue;
        }
        let rules = policy.nft_rules(direction);
        let comment = jump_comment(policy, direction);
        let wanted_hook = base(direction);
        let hooked_right = live_base.and_then(|b| b.hook.as_ref()).is_some_and(|h| {
            h.kind == "filter" && h.prio == PRIORITY && h.policy == "accept" && h.hook == name
        });
        let stem = base_name(direction, &rules);
        let serving = live_jump.as_ref().filter(|j| {
            hooked_right
                && j.comment == comment
                && j.target.starts_with(&stem)
                && listing.chains.get(&j.target).is_some_and(|c| {
                    c.rules.len() == rules.len()
                        && c.rules.iter().zip(&rules).all(|(live, want)| {
                            live.comment.as_deref() == Some(want.comment.as_str())
                                && live.expr == want.listed()
                        })
                })
        });
        if let Some(serving) = serving {
            parts.push(Part {
                direction,
                chain: serving.target.clone(),
                rules: rules.len(),
                loaded: false,
            });
            continue;
        }
        // A fresh name: the live chain may carry this hash but have been edited by
        // hand, and a crash may have left a chain of that name.
        let mut new = stem.clone();
        let mut n = 1;
        while listing.chains.contains_key(&new) || taken.contains(&new) {
            new = format!("{stem}-{n}");
            n += 1;
        }
        taken.push(new.clone());
        generations.push(command("add", "chain", chain(&new)));
        let count = rules.len();
        generations.extend(
            rules
                .into_iter()
                .map(|r| rule(&new, r.expr, Some(&r.comment))),
        );
        created.extend(remove(&new));
        match (live_base, &live_jump) {
            (Some(_), Some(j)) if hooked_right => {
                let mut body = object(json!({
                    "chain": name, "handle": j.handle, "expr": jump(&new), "comment": comment,
                }));
                body["family"] = json!("inet");
                hooks.push(command("replace", "rule", body));
                rebased.push(name.to_string());
                retire.push(j.target.clone());
            }
            (Some(_), None) if hooked_right => {
                hooks.push(command(
                    "insert",
                    "rule",
                    object(json!({"chain": name, "expr": jump(&new), "comment": comment})),
                ));
                rebased.push(name.to_string());
            }
            (live, j) => {
                // Missing, or hooked in another way (an older fwdsl): made anew.
                if live.is_some() {
                    unhook.extend(remove(name));
                    restored.push(name.to_string());
                    retire.extend(j.as_ref().map(|j| j.target.clone()));
                }
                hooks.push(command("add", "chain", wanted_hook));
                hooks.push(rule(name, jump(&new), Some(&comment)));
                created.splice(0..0, remove(name));
            }
        }
        switches.push((direction, live_jump.map(|j| j.target), new.clone()));
        parts.push(Part {
            direction,
            chain: new,
            rules: count,
            loaded: true,
        });
    }
    retire.sort();
    retire.dedup();
    retire.retain(|c| c.starts_with(GENERATION_PREFIX) && listing.chains.contains_key(c));
    let mut nat_undo = Undo::default();
    let nat = nat_chains(listing, policy, &mut nat_undo);
    let changing =
        !generations.is_empty() || !unhook.is_empty() || !retire.is_empty() || !nat.is_empty();
    if !changing && new_sets.is_empty() {
        return Change {
            forward,
            undo: Undo::default(),
            parts,
            switches,
            unused_sets,
        };
    }
    forward.push(command(
        "add",
        "table",
        json!({"family": "inet", "name": TABLE}),
    ));
    forward.extend(
        new_sets
            .iter()
            .map(|s| command("add", "set", s.declaration(TABLE)["set"].clone())),
    );
    forward.extend(generations);
    forward.extend(hooks);
    forward.extend(nat);
    forward.extend(unhook);
    for old in &retire {
        forward.extend(remove(old));
        restored.insert(0, old.clone());
    }
    Change {
        forward,
        undo: Undo {
            // Undone, the table goes as a whole: nothing of it was there before.
            new_table: !listing.exists,
            restored: [restored, nat_undo.restored].concat(),
            rebased: [rebased, nat_undo.rebased].concat(),
            created: [nat_undo.created, created].concat(),
            new_sets: new_sets.iter().map(|s| s.name().to_string()).collect(),
        },
        parts,
        switches,
        unused_sets,
    }
}

#[cfg(test)]
// Minimal policies on purpose: their warnings (no `allow established;`) are beside
// the point here.
#[allow(deprecated)]
mod tests {
    use super::super::listing::tests::LISTED;
    use super::*;

    fn listing(text: &str) -> Listing {
        Listing::parse(serde_json::from_str(text).unwrap(), TABLE)
    }

    fn verbs(commands: &[Value]) -> Vec<String> {
        commands
            .iter()
            .map(|c| {
                let (verb, body) = c.as_object().unwrap().iter().next().unwrap();
                let (kind, body) = body.as_object().unwrap().iter().next().unwrap();
                let name = body
                    .get("name")
                    .or_else(|| body.get("chain"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!("{verb} {kind} {name}")
            })
            .collect()
    }

    #[test]
    fn a_first_apply_makes_the_table_and_is_undone_by_deleting_it() {
        let policy = crate::firewall! { ssh none; allow tcp 22; drop all; };
        let change = read(&Listing::default(), &policy);
        let steps = verbs(&change.forward);
        assert_eq!(steps[0], "add table fwdsl");
        assert!(steps[1].starts_with("add chain g-"), "{steps:?}");
        // The ND rule and the policy's two.
        assert_eq!(
            steps
                .iter()
                .filter(|s| s.starts_with("add rule g-"))
                .count(),
            3
        );
        assert_eq!(
            &steps[steps.len() - 2..],
            ["add chain input", "add rule input"]
        );
        assert_eq!(
            verbs(&change.inverse(&Listing::default())),
            ["delete table fwdsl"]
        );
    }

    #[test]
    fn a_switch_replaces_the_jump_and_its_inverse_puts_everything_back() {
        let live = listing(LISTED);
        let policy = crate::firewall! { ssh none; allow tcp 80; drop all; };
        let change = read(&live, &policy);
        let steps = verbs(&change.forward);
        assert!(
            steps.contains(&"replace rule input".to_string()),
            "{steps:?}"
        );
        // The serving generation and the one a crash left both go.
        for old in ["g-1111111111111111", "g-2222222222222222"] {
            assert!(steps.contains(&format!("delete chain {old}")), "{steps:?}");
        }
        let undo = verbs(&change.inverse(&live));
        // Both come back first (the crash's debris too: the undo restores what was).
        assert_eq!(
            undo[..2],
            [
                "add chain g-2222222222222222",
                "add chain g-1111111111111111"
            ],
            "{undo:?}"
        );
        assert!(undo.contains(&"flush chain input".to_string()));
        let new = &change.parts[0].chain;
        assert_eq!(undo.last().unwrap(), &format!("delete chain {new}"));
        // What is live again after the undo is what the listing had.
        let refilled = change
            .inverse(&live)
            .iter()
            .filter(|c| c["add"]["rule"]["chain"] == "g-1111111111111111")
            .count();
        assert_eq!(refilled, 2);
    }

    #[test]
    fn what_serves_already_is_left_alone() {
        let policy = crate::firewall! { ssh none; allow tcp 22; drop all; };
        let first = read(&Listing::default(), &policy);
        // The listing after that batch, built from it as nft would list it.
        let mut items = vec![json!({"table": {"family": "inet", "name": TABLE}})];
        let mut handle = 10;
        for c in &first.forward {
            if let Some(chain) = c.pointer("/add/chain") {
                items.push(json!({ "chain": chain }));
            }
            if let Some(rule) = c.pointer("/add/rule") {
                let mut rule = rule.clone();
                rule["handle"] = json!(handle);
                handle += 1;
                items.push(json!({ "rule": rule }));
            }
        }
        let live = Listing::parse(json!({ "nftables": items }), TABLE);
        let again = read(&live, &policy);
        assert!(again.is_noop(), "{:?}", verbs(&again.forward));
        // Another ssh declaration alone changes the jump's note: a new generation.
        let moved = crate::firewall! { ssh 22 from 10.0.0.0/8; allow tcp 22; drop all; };
        assert!(!read(&live, &moved).is_noop());
    }
}
