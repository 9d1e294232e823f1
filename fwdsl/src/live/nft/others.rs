//! The other tables' base chains on the hooks fwdsl uses: Docker 29's, firewalld's,
//! netavark's, iptables-nft's own. In nftables an accept is not final: a packet fwdsl
//! accepts goes on to every other base chain on the same hook, and any of them can
//! still drop it. Status and plan name each, when it runs against fwdsl's (by
//! priority), and whether it can drop what fwdsl accepts.

use super::{PRIORITY, TABLE};
use serde_json::Value;

/// Another table's base chain on a hook fwdsl uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherChain {
    /// Its table's family (`ip`, `ip6`, `inet`).
    pub family: String,
    /// Its table (`docker-bridges`, `firewalld`, `filter` of iptables-nft).
    pub table: String,
    /// The chain.
    pub chain: String,
    /// The hook (`input`, `forward`, `output`).
    pub hook: String,
    /// Its priority; fwdsl's is -10 (`filter - 10`).
    pub priority: i64,
    /// Its policy (`accept`, `drop`).
    pub policy: String,
    /// Whether it can drop a packet fwdsl accepted: its policy drops, or a rule of its
    /// table drops or rejects.
    pub can_drop: bool,
}

impl OtherChain {
    /// Whether it runs before fwdsl's chain on the hook (lower priority; at the same
    /// priority the order is the kernel's).
    pub fn before_fwdsl(&self) -> bool {
        self.priority < PRIORITY
    }
}

impl std::fmt::Display for OtherChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = match self.priority.cmp(&PRIORITY) {
            std::cmp::Ordering::Less => "before fwdsl's",
            std::cmp::Ordering::Equal => "at fwdsl's priority, in no set order",
            std::cmp::Ordering::Greater => "after fwdsl's",
        };
        write!(
            f,
            "table {} {} chain {}: hook {} priority {} ({when}), policy {}",
            self.family, self.table, self.chain, self.hook, self.priority, self.policy
        )?;
        if self.can_drop {
            write!(f, "; WARNING: it can drop what fwdsl accepts")?;
        }
        Ok(())
    }
}

/// The base chains of other tables on `hooks`, in a listing of the ruleset.
pub(crate) fn on_hooks(doc: &Value, hooks: &[&str]) -> Vec<OtherChain> {
    let mut out = Vec::new();
    let mut dropping_tables: Vec<(String, String, bool)> = Vec::new();
    for chain in items(doc, "chain") {
        let text = |k: &str| {
            chain
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (family, table, hook) = (text("family"), text("table"), text("hook"));
        if (family == "inet" && table == TABLE)
            || !hooks.contains(&hook.as_str())
            || !["ip", "ip6", "inet"].contains(&family.as_str())
        {
            continue;
        }
        let drops = match dropping_tables
            .iter()
            .find(|(f, t, _)| *f == family && *t == table)
        {
            Some((_, _, d)) => *d,
            None => {
                let d = table_drops(doc, &family, &table);
                dropping_tables.push((family.clone(), table.clone(), d));
                d
            }
        };
        let policy = chain
            .get("policy")
            .and_then(Value::as_str)
            .unwrap_or("accept")
            .to_string();
        out.push(OtherChain {
            can_drop: drops || policy == "drop",
            family,
            table,
            chain: text("name"),
            hook,
            priority: chain.get("prio").and_then(Value::as_i64).unwrap_or(0),
            policy,
        });
    }
    out
}

fn items<'a>(doc: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    doc.get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(move |i| i.get(kind))
}

/// Whether some rule of a table drops or rejects.
fn table_drops(doc: &Value, family: &str, table: &str) -> bool {
    items(doc, "rule")
        .filter(|rule| rule["family"] == family && rule["table"] == table)
        .any(|rule| {
            rule.get("expr").and_then(Value::as_array).is_some_and(|e| {
                e.iter()
                    .any(|s| s.get("drop").is_some() || s.get("reject").is_some())
            })
        })
}
