//! fwdsl's table as `nft -j -n -t list table inet fwdsl` prints it: its chains (the base
//! chains' hooks, each rule's statements, comment, handle and counters) and the names
//! of its sets. Read without elements (`-t`): a list of a million networks is known by
//! its name, which is a hash of its members.

use super::{base_chain, GENERATION_PREFIX};
use crate::render::COMMENT_PREFIX;
use fwdsl_core::Direction;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How a base chain hooks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    /// `filter`, `nat`, …
    pub kind: String,
    /// `input`, `forward`, `output`, …
    pub hook: String,
    /// Its priority.
    pub prio: i64,
    /// `accept` or `drop`.
    pub policy: String,
}

/// A live rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Its handle, how nft names it.
    pub handle: u64,
    /// Its statements, its counter's values taken out (`{"counter": null}`).
    pub expr: Vec<Value>,
    /// Its comment.
    pub comment: Option<String>,
    /// Packets and bytes its counter counted.
    pub packets: u64,
    pub bytes: u64,
}

impl Rule {
    /// The policy rule number of an `fwdsl:N …` comment.
    pub(crate) fn number(&self) -> Option<usize> {
        let rest = self.comment.as_deref()?.strip_prefix(COMMENT_PREFIX)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// The chain a rule jumps or goes to.
    pub(crate) fn target(&self) -> Option<&str> {
        self.expr.iter().find_map(|s| {
            s.get("jump")
                .or_else(|| s.get("goto"))?
                .get("target")?
                .as_str()
        })
    }
}

/// A chain of the table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Chain {
    /// How it hooks in, for a base chain.
    pub hook: Option<Hook>,
    /// Its rules, in order.
    pub rules: Vec<Rule>,
}

/// The table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Listing {
    /// Whether the table exists.
    pub exists: bool,
    /// Its chains by name.
    pub chains: BTreeMap<String, Chain>,
    /// Its sets' names.
    pub sets: BTreeSet<String>,
}

/// The jump of a base chain to its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jump {
    /// The rule's handle.
    pub handle: u64,
    /// The generation it jumps to.
    pub target: String,
    /// Its comment (`fwdsl:generation ssh 22`).
    pub comment: String,
}

/// How a generation jump's comment starts.
pub(crate) const GENERATION_COMMENT: &str = "fwdsl:generation";

/// A statement's counter values, taken out of it (`{"counter": {...}}` becomes
/// `{"counter": null}`, as fwdsl writes it).
fn without_counter(statement: Value) -> (Value, Option<(u64, u64)>) {
    match statement.get("counter") {
        Some(Value::Object(c)) if statement.as_object().is_some_and(|o| o.len() == 1) => {
            let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
            let counted = (n("packets"), n("bytes"));
            (serde_json::json!({"counter": null}), Some(counted))
        }
        _ => (statement, None),
    }
}

impl Listing {
    /// The table `table` of a listing document (`{"nftables": [...]}`), taken apart
    /// (a rule's statements move into the listing, uncopied).
    pub(crate) fn parse(mut doc: Value, table: &str) -> Listing {
        let mut listing = Listing::default();
        let items = match doc.get_mut("nftables").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let ours = |o: &Value| {
            o.get("family").and_then(Value::as_str) == Some("inet")
                && o.get("table").and_then(Value::as_str) == Some(table)
        };
        for mut item in items {
            if let Some(t) = item.get("table") {
                listing.exists |= t.get("family").and_then(Value::as_str) == Some("inet")
                    && t.get("name").and_then(Value::as_str) == Some(table);
            } else if let Some(set) = item.get("set").filter(|s| ours(s)) {
                if let Some(name) = set.get("name").and_then(Value::as_str) {
                    listing.sets.insert(name.to_string());
                }
            } else if let Some(chain) = item.get("chain").filter(|c| ours(c)) {
                let Some(name) = chain.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let text = |k: &str| chain.get(k).and_then(Value::as_str).map(String::from);
                let hook = text("hook").map(|hook| Hook {
                    kind: text("type").unwrap_or_default(),
                    hook,
                    prio: chain.get("prio").and_then(Value::as_i64).unwrap_or(0),
                    policy: text("policy").unwrap_or_else(|| "accept".into()),
                });
                listing.chains.entry(name.to_string()).or_default().hook = hook;
            } else if let Some(rule) = item.get_mut("rule").filter(|r| ours(r)) {
                let Some(chain) = rule.get("chain").and_then(Value::as_str).map(String::from)
                else {
                    continue;
                };
                let mut counted = (0, 0);
                let statements = match rule.get_mut("expr").map(Value::take) {
                    Some(Value::Array(statements)) => statements,
                    _ => Vec::new(),
                };
                let expr = statements
                    .into_iter()
                    .map(|s| {
                        let (s, c) = without_counter(s);
                        if let Some(c) = c {
                            counted = c;
                        }
                        s
                    })
                    .collect();
                listing.chains.entry(chain).or_default().rules.push(Rule {
                    handle: rule.get("handle").and_then(Value::as_u64).unwrap_or(0),
                    expr,
                    comment: rule
                        .get("comment")
                        .and_then(Value::as_str)
                        .map(String::from),
                    packets: counted.0,
                    bytes: counted.1,
                });
            }
        }
        listing
    }

    /// The base chain of `direction`, if it exists.
    pub(crate) fn base(&self, direction: Direction) -> Option<&Chain> {
        self.chains.get(base_chain(direction))
    }

    /// The generation jump of `direction`'s base chain, found by its comment.
    pub(crate) fn jump(&self, direction: Direction) -> Option<Jump> {
        self.base(direction)?.rules.iter().find_map(|r| {
            let comment = r.comment.as_deref()?;
            comment.starts_with(GENERATION_COMMENT).then(|| Jump {
                handle: r.handle,
                target: r.target().unwrap_or_default().to_string(),
                comment: comment.to_string(),
            })
        })
    }

    /// Generation chains no jump leads to: left by a crash, removed by the next apply.
    pub(crate) fn debris(&self) -> Vec<String> {
        let targets: BTreeSet<&str> = self
            .chains
            .values()
            .flat_map(|c| c.rules.iter().filter_map(Rule::target))
            .collect();
        self.chains
            .keys()
            .filter(|c| c.starts_with(GENERATION_PREFIX) && !targets.contains(c.as_str()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What `nft -j -n -t list table inet fwdsl` printed for a policy of two input rules.
    pub(crate) const LISTED: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
{"table": {"family": "inet", "name": "fwdsl", "handle": 3}},
{"set": {"family": "inet", "name": "fwdsl-d4-banned", "table": "fwdsl", "type": "ipv4_addr", "handle": 4, "flags": ["interval"]}},
{"chain": {"family": "inet", "table": "fwdsl", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}},
{"chain": {"family": "inet", "table": "fwdsl", "name": "g-1111111111111111", "handle": 2}},
{"chain": {"family": "inet", "table": "fwdsl", "name": "g-2222222222222222", "handle": 5}},
{"rule": {"family": "inet", "table": "fwdsl", "chain": "input", "handle": 7, "comment": "fwdsl:generation ssh 22", "expr": [{"jump": {"target": "g-1111111111111111"}}]}},
{"rule": {"family": "inet", "table": "fwdsl", "chain": "g-1111111111111111", "handle": 8, "comment": "fwdsl:1 allow tcp 22", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {"packets": 3, "bytes": 180}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "fwdsl", "chain": "g-1111111111111111", "handle": 9, "comment": "fwdsl:2 drop all", "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}
]}"#;

    #[test]
    fn reads_chains_rules_counters_and_the_jump() {
        let listing = Listing::parse(serde_json::from_str(LISTED).unwrap(), "fwdsl");
        assert!(listing.exists);
        assert!(listing.sets.contains("fwdsl-d4-banned"));
        let input = listing.base(Direction::In).unwrap();
        assert_eq!(input.hook.as_ref().unwrap().prio, -10);
        let jump = listing.jump(Direction::In).unwrap();
        assert_eq!(
            (jump.handle, jump.target.as_str()),
            (7, "g-1111111111111111")
        );
        let rules = &listing.chains["g-1111111111111111"].rules;
        assert_eq!(
            (rules[0].packets, rules[0].bytes, rules[0].number()),
            (3, 180, Some(1))
        );
        assert_eq!(rules[0].expr[1], serde_json::json!({"counter": null}));
        assert_eq!(listing.debris(), ["g-2222222222222222"]);
        assert!(listing.jump(Direction::Out).is_none());
        let none = Listing::parse(serde_json::json!({"nftables": []}), "fwdsl");
        assert!(!none.exists);
    }
}
