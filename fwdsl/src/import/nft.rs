//! `nft -j list ruleset` output read as the chain programs an `iptables-save` import
//! reads: one per family (IPv4 sees the `ip` and `inet` tables, IPv6 the `ip6` and
//! `inet` ones), each rule's expressions written as the iptables words they mean, so that
//! one reader (`rule.rs`) decides what the language can say, for both inputs.
//!
//! What nftables does differently is made explicit here, not in the walk:
//! - Several base chains may hang on one hook (priorities order them). A drop in any is
//!   final; an accept only ends that chain, and the next one decides. So every base
//!   chain but the last has its accepts (and its end, under policy accept) turned into a
//!   `-g` to the next base chain, and the regular chains it jumps to are copied with the
//!   same change; the hook's built-in chain is one `-g` to the first. Each copy ends in
//!   its policy's verdict (written as a rule of line 0, which the walk reports as the
//!   policy), so no walk returns into a chain it left by a goto; a `goto` in a base
//!   chain is a jump followed by the policy's verdict under the same match (what the
//!   chain it went to returns meets its base chain's policy).
//! - A match of one family (`ip saddr`, `icmpv6 type`, `meta nfproto ipv4`) in an
//!   `inet` table matches nothing in the other, so the rule is left out of that family's
//!   program: not refused, it decides nothing there. (An IPv6 packet whose next header is
//!   ICMPv4's 1 is outside the language's packets; `icmp type` is therefore IPv4 only.)
//! - `log … drop` is a log rule and a verdict rule; `vmap` one rule per entry (its keys
//!   are distinct, so their order does not matter); a set of interfaces or ICMP types one
//!   rule per member; address sets become ipsets of the same members, port sets
//!   `multiport` lists.
//! - Base chains on other hooks (a filter chain at prerouting, `netdev` ingress) and
//!   tables of other families are listed as not imported, as other tables are.
//!
//! Rules are named by their handle (`nft -a list ruleset`) where a saved file has lines.

use super::saved::{Chain, Saved, SavedRule};
use fwdsl_core::Family;
use ipnet::IpNet;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// A ruleset as one chain program per family, and the address sets its rules name.
pub(crate) struct Ruleset {
    pub views: Vec<(Family, Saved)>,
    pub sets: HashMap<String, Vec<IpNet>>,
}

/// A chain as `nft -j` lists it.
struct NftChain {
    family: String,
    table: String,
    name: String,
    /// Where a base chain hangs.
    base: Option<Hooked>,
    /// Its rules, in order.
    rules: Vec<NftRule>,
}

/// A base chain's type (`filter`, `nat`), hook, priority and policy.
struct Hooked {
    kind: String,
    hook: String,
    priority: i64,
    policy: String,
}

/// A rule as `nft -j` lists it.
struct NftRule {
    family: String,
    table: String,
    chain: String,
    handle: usize,
    expr: Vec<Value>,
    comment: Option<String>,
}

/// The hooks whose base chains are imported: (type, hook, the built-in chain standing
/// for them, whether it is of the nat table).
const HOOKS: [(&str, &str, &str, bool); 7] = [
    ("filter", "input", "INPUT", false),
    ("filter", "forward", "FORWARD", false),
    ("filter", "output", "OUTPUT", false),
    ("nat", "prerouting", "PREROUTING", true),
    ("nat", "postrouting", "POSTROUTING", true),
    ("nat", "output", "OUTPUT", true),
    ("nat", "input", "INPUT", true),
];

fn text(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Reads `nft -j list ruleset` output; `xtables` is `iptables-save` output (by family)
/// for the rules iptables-nft made, whose `xt` expressions only it decodes.
pub(crate) fn parse(json: &str, xtables: &[(Family, Saved)]) -> Result<Ruleset, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("not `nft -j list ruleset` output: {e}"))?;
    let items = value
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("not `nft -j list ruleset` output: no `nftables` array")?;
    let mut chains = Vec::new();
    let mut rules = Vec::new();
    let mut named = Named::default();
    for item in items {
        let Some((kind, Value::Object(o))) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        match kind.as_str() {
            "chain" => chains.push(NftChain {
                family: text(o, "family"),
                table: text(o, "table"),
                name: text(o, "name"),
                rules: Vec::new(),
                base: o.get("hook").map(|hook| Hooked {
                    kind: text(o, "type"),
                    hook: hook.as_str().unwrap_or_default().to_string(),
                    priority: o.get("prio").and_then(Value::as_i64).unwrap_or(0),
                    policy: o
                        .get("policy")
                        .and_then(Value::as_str)
                        .unwrap_or("accept")
                        .to_string(),
                }),
            }),
            "rule" => rules.push(NftRule {
                family: text(o, "family"),
                table: text(o, "table"),
                chain: text(o, "chain"),
                handle: o.get("handle").and_then(Value::as_u64).unwrap_or(0) as usize,
                expr: o
                    .get("expr")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                comment: o.get("comment").and_then(Value::as_str).map(String::from),
            }),
            "set" => named.add(o),
            _ => {}
        }
    }
    // Each rule to its chain (`nft -j` lists chains before their rules).
    let at: HashMap<(&str, &str, &str), usize> = chains
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.family.as_str(), c.table.as_str(), c.name.as_str()), i))
        .collect();
    let mut places = Vec::with_capacity(rules.len());
    for rule in &rules {
        let key = (
            rule.family.as_str(),
            rule.table.as_str(),
            rule.chain.as_str(),
        );
        let chain = at.get(&key).ok_or_else(|| {
            format!(
                "handle {}: chain `{}` is not in the ruleset",
                rule.handle, rule.chain
            )
        })?;
        places.push(*chain);
    }
    for (rule, chain) in rules.into_iter().zip(places) {
        chains[chain].rules.push(rule);
    }
    let mut sets = HashMap::new();
    let views = [Family::V4, Family::V6]
        .into_iter()
        .map(|family| {
            let saved = Program {
                family,
                chains: &chains,
                named: &named,
                sets: &mut sets,
                xtables,
                saved: Saved::default(),
                added: HashSet::new(),
            }
            .build()?;
            Ok((family, saved))
        })
        .collect::<Result<_, String>>()?;
    Ok(Ruleset { views, sets })
}

/// Whether a table of `table_family` is walked by packets of `family`.
fn sees(family: Family, table_family: &str) -> bool {
    matches!(
        (family, table_family),
        (_, "inet") | (Family::V4, "ip") | (Family::V6, "ip6")
    )
}

fn qualified(family: &str, table: &str, chain: &str) -> String {
    format!("{family} {table} {chain}")
}

/// The named sets of a ruleset, by qualified name: their elements as `nft -j` lists them.
#[derive(Default)]
struct Named {
    sets: HashMap<String, Vec<Value>>,
}

impl Named {
    fn add(&mut self, o: &Map<String, Value>) {
        let key = qualified(&text(o, "family"), &text(o, "table"), &text(o, "name"));
        let elements = o
            .get("elem")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.sets.insert(key, elements);
    }
}

/// One family's chain program being built.
struct Program<'r> {
    family: Family,
    chains: &'r [NftChain],
    named: &'r Named,
    sets: &'r mut HashMap<String, Vec<IpNet>>,
    xtables: &'r [(Family, Saved)],
    saved: Saved,
    /// The chain copies made, by name and table (`true`: nat).
    added: HashSet<(String, bool)>,
}

/// How a chain copy's verdicts are written: where an accept goes (`None`: it accepts),
/// and, for a base chain, its policy (what its end and its `return` mean).
#[derive(Clone)]
struct Ending {
    next: Option<String>,
    policy: Option<String>,
}

impl Ending {
    fn accept(&self) -> Vec<String> {
        match &self.next {
            Some(next) => vec!["-g".into(), next.clone()],
            None => vec!["-j".into(), "ACCEPT".into()],
        }
    }

    fn policy(&self, policy: &str) -> Vec<String> {
        match policy {
            "drop" => vec!["-j".into(), "DROP".into()],
            _ => self.accept(),
        }
    }
}

impl Program<'_> {
    fn build(mut self) -> Result<Saved, String> {
        for (kind, hook, builtin, nat) in HOOKS {
            let mut bases: Vec<&NftChain> = self
                .chains
                .iter()
                .filter(|c| sees(self.family, &c.family))
                .filter(|c| {
                    c.base
                        .as_ref()
                        .is_some_and(|b| b.kind == kind && b.hook == hook)
                })
                .collect();
            bases.sort_by_key(|c| c.base.as_ref().map_or(0, |b| b.priority));
            let busy = bases.iter().any(|c| {
                !c.rules.is_empty() || c.base.as_ref().is_some_and(|b| b.policy == "drop")
            });
            if !busy {
                continue;
            }
            let mut root = Chain {
                name: builtin.into(),
                policy: Some("ACCEPT".into()),
                rules: Vec::new(),
            };
            // The nat table's own-connection hooks are listed rule by rule (refused).
            if nat && matches!(hook, "output" | "input") {
                for base in &bases {
                    root.rules.extend(base.rules.iter().map(|r| SavedRule {
                        line: r.handle,
                        text: rule_text(r),
                        words: Vec::new(),
                        refused: None,
                    }));
                }
            } else {
                let mut next = None;
                for base in bases.iter().rev() {
                    let ending = Ending {
                        next: next.clone(),
                        policy: base.base.as_ref().map(|b| b.policy.clone()),
                    };
                    next = Some(self.copy(base, &ending, nat)?);
                }
                root.rules.push(SavedRule {
                    line: 0,
                    text: format!("the hook {hook}"),
                    words: vec!["-g".into(), next.expect("a base chain")],
                    refused: None,
                });
            }
            match nat {
                true => self.saved.nat.push(root),
                false => self.saved.chains.push(root),
            }
        }
        self.elsewhere();
        Ok(self.saved)
    }

    /// The rule at `index` of `chain` as `iptables-save` writes it, where iptables-nft
    /// made it with an `xt` expression (which `nft -j` does not decode) and its
    /// `iptables-save` output was given: iptables-nft's tables are nft tables whose
    /// chains `iptables-save` lists rule for rule in nft's order.
    fn xtables_words(
        &self,
        chain: &NftChain,
        index: usize,
        rule: &NftRule,
    ) -> Option<Result<Vec<Piece>, String>> {
        if !rule.expr.iter().any(|e| e.get("xt").is_some()) {
            return None;
        }
        let family = match chain.family.as_str() {
            "ip" => Family::V4,
            "ip6" => Family::V6,
            _ => return None,
        };
        let (_, saved) = self.xtables.iter().find(|(f, _)| *f == family)?;
        let table = match chain.table.as_str() {
            "filter" => &saved.chains,
            "nat" => &saved.nat,
            _ => return None,
        };
        let listed = table.iter().find(|c| c.name == chain.name)?;
        if listed.rules.len() != chain.rules.len() {
            return Some(Err(format!(
                "iptables-save lists chain {} otherwise than nft: saved at another moment?",
                chain.name
            )));
        }
        Some(Ok(vec![piece(&listed.rules[index].words)]))
    }

    /// Base chains on hooks the language does not filter at, and tables of other
    /// families, rule by rule: not imported.
    fn elsewhere(&mut self) {
        // Listed once: in IPv4's program, or IPv6's for an `ip6` table.
        let mine = |f: &str| match self.family {
            Family::V4 => f != "ip6",
            Family::V6 => f == "ip6",
        };
        for chain in self.chains.iter().filter(|c| mine(&c.family)) {
            let Some(Hooked { kind, hook, .. }) = &chain.base else {
                continue;
            };
            let imported = sees(self.family, &chain.family)
                && HOOKS.iter().any(|(t, h, _, _)| t == kind && h == hook);
            if imported {
                continue;
            }
            let place = format!("{} {} (hook {hook})", chain.family, chain.table);
            for r in &chain.rules {
                self.saved.elsewhere.push((
                    place.clone(),
                    SavedRule {
                        line: r.handle,
                        text: rule_text(r),
                        words: Vec::new(),
                        refused: None,
                    },
                ));
            }
        }
    }

    /// Adds `chain` (and the chains it jumps to) written with `ending` to the filter
    /// table (or the nat table); its name.
    fn copy(&mut self, chain: &NftChain, ending: &Ending, nat: bool) -> Result<String, String> {
        let base = qualified(&chain.family, &chain.table, &chain.name);
        let name = match &ending.next {
            Some(next) => format!("{base} then {next}"),
            None => base,
        };
        if !self.added.insert((name.clone(), nat)) {
            return Ok(name);
        }
        let mut out = Chain {
            name: name.clone(),
            policy: None,
            rules: Vec::new(),
        };
        for (index, rule) in chain.rules.iter().enumerate() {
            let read = match self.xtables_words(chain, index, rule) {
                Some(words) => words,
                None => translate(rule, self.family, self.named, self.sets),
            };
            let pieces = match read {
                Ok(pieces) => pieces,
                Err(reason) => {
                    out.rules.push(SavedRule {
                        line: rule.handle,
                        text: rule_text(rule),
                        words: Vec::new(),
                        refused: Some(reason),
                    });
                    continue;
                }
            };
            for piece in pieces {
                let target = match &piece.verdict {
                    Verdict::Accept => ending.accept(),
                    Verdict::Return => match &ending.policy {
                        Some(policy) => ending.policy(policy),
                        None => vec!["-j".into(), "RETURN".into()],
                    },
                    Verdict::Jump(to) | Verdict::Goto(to) => {
                        let target = self
                            .chains
                            .iter()
                            .find(|c| {
                                c.family == chain.family && c.table == chain.table && &c.name == to
                            })
                            .ok_or_else(|| format!("handle {}: no chain `{to}`", rule.handle))?;
                        let inner = Ending {
                            next: ending.next.clone(),
                            policy: None,
                        };
                        // A goto from a base chain returns to its policy: a jump, then
                        // the policy for what returns (the goto's own match again).
                        let word = match (&piece.verdict, &ending.policy) {
                            (Verdict::Goto(_), None) => "-g",
                            _ => "-j",
                        };
                        vec![word.into(), self.copy(target, &inner, nat)?]
                    }
                    Verdict::Words(words) => words.clone(),
                };
                let returned = match (&piece.verdict, &ending.policy) {
                    (Verdict::Goto(_), Some(policy)) => Some(ending.policy(policy)),
                    _ => None,
                };
                for target in std::iter::once(target).chain(returned) {
                    out.rules.push(SavedRule {
                        line: rule.handle,
                        text: rule_text(rule),
                        words: piece.matches.iter().cloned().chain(target).collect(),
                        refused: None,
                    });
                }
            }
        }
        if let Some(policy) = &ending.policy {
            out.rules.push(SavedRule {
                line: 0,
                text: format!("the policy of {name}"),
                words: ending.policy(policy),
                refused: None,
            });
        }
        match nat {
            true => self.saved.nat.push(out),
            false => self.saved.chains.push(out),
        }
        Ok(name)
    }
}

/// An `iptables-save` rule's words as a piece: its matches and what its target does.
fn piece(words: &[String]) -> Piece {
    let at = words
        .iter()
        .position(|w| matches!(w.as_str(), "-j" | "--jump" | "-g" | "--goto"));
    let Some(at) = at.filter(|at| at + 1 < words.len()) else {
        return Piece {
            matches: words.to_vec(),
            verdict: Verdict::Words(Vec::new()),
        };
    };
    let (goto, target) = (
        words[at].starts_with("-g") || words[at] == "--goto",
        &words[at + 1],
    );
    let verdict = match target.as_str() {
        "ACCEPT" => Verdict::Accept,
        "RETURN" => Verdict::Return,
        "DROP" | "REJECT" | "LOG" | "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" => {
            Verdict::Words(words[at..].to_vec())
        }
        chain if goto => Verdict::Goto(chain.to_string()),
        chain => Verdict::Jump(chain.to_string()),
    };
    Piece {
        matches: words[..at].to_vec(),
        verdict,
    }
}

/// The rule as `nft -j` lists its expressions (what a refusal shows).
fn rule_text(rule: &NftRule) -> String {
    Value::Array(rule.expr.clone()).to_string()
}

/// What a rule piece does.
#[derive(Debug, Clone)]
enum Verdict {
    Accept,
    Return,
    Jump(String),
    Goto(String),
    /// Written as is (`-j DROP`, `-j LOG --log-prefix …`, `-j DNAT …`).
    Words(Vec<String>),
}

/// One iptables rule a nft rule stands for: its match words and what it does.
#[derive(Debug, Clone)]
struct Piece {
    matches: Vec<String>,
    verdict: Verdict,
}

/// One way a rule's matches can hold: the protocol they require, and their words.
#[derive(Debug, Clone, Default)]
struct Alt {
    proto: Option<String>,
    words: Vec<String>,
}

impl Alt {
    fn words(&self) -> Vec<String> {
        let proto = self
            .proto
            .iter()
            .flat_map(|p| ["-p".to_string(), p.clone()]);
        proto.chain(self.words.iter().cloned()).collect()
    }
}

/// A match's contribution: alternatives (a rule per alternative), each a protocol it
/// requires and words. `Never`: it matches nothing in this family.
enum Contribution {
    Never,
    Alternatives(Vec<(Option<String>, Vec<String>)>),
}

fn one(proto: Option<String>, words: Vec<String>) -> Contribution {
    Contribution::Alternatives(vec![(proto, words)])
}

/// Most rules one nft rule may stand for (products of sets of interfaces and types).
const MAX_PIECES: usize = 256;

/// The iptables rules `rule` stands for in `family` (none where it matches nothing
/// there), or why it cannot be said.
fn translate(
    rule: &NftRule,
    family: Family,
    named: &Named,
    sets: &mut HashMap<String, Vec<IpNet>>,
) -> Result<Vec<Piece>, String> {
    let mut alts = vec![Alt::default()];
    let mut pieces = Vec::new();
    let mut limit: Vec<String> = Vec::new();
    let comment: Vec<String> = rule
        .comment
        .iter()
        .flat_map(|c| ["-m", "comment", "--comment", c.as_str()].map(String::from))
        .collect();
    let context = Context {
        family,
        named,
        table: qualified(&rule.family, &rule.table, ""),
        handle: rule.handle,
    };
    let mut counter = 0;
    let emit = |alts: &[Alt], limit: &[String], verdict: Verdict, pieces: &mut Vec<Piece>| {
        for alt in alts {
            let mut matches = alt.words();
            matches.extend(limit.iter().cloned());
            matches.extend(comment.iter().cloned());
            pieces.push(Piece {
                matches,
                verdict: verdict.clone(),
            });
        }
    };
    for expr in &rule.expr {
        let Some((kind, body)) = expr.as_object().and_then(|o| o.iter().next()) else {
            return Err(format!("`{expr}` is not an expression"));
        };
        match kind.as_str() {
            "match" => {
                let contribution = context.matching(body, sets, &mut counter)?;
                match refine(alts, contribution) {
                    Some(next) => alts = next,
                    None => return Ok(Vec::new()),
                }
            }
            "counter" => {}
            "limit" => {
                if body.get("inv").and_then(Value::as_bool) == Some(true) {
                    return Err("`limit … over`: the language limits allowed packets only".into());
                }
                let rate = body.get("rate").and_then(Value::as_u64).unwrap_or(0);
                let per = body.get("per").and_then(Value::as_str).unwrap_or("second");
                if body
                    .get("rate_unit")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u != "packets")
                {
                    return Err("a byte-rate `limit`: the language limits packets".into());
                }
                limit = ["-m", "limit", "--limit"]
                    .map(String::from)
                    .into_iter()
                    .chain([format!("{rate}/{per}")])
                    .collect();
            }
            "log" => {
                let mut words = vec!["-j".to_string(), "LOG".to_string()];
                if let Some(prefix) = body.get("prefix").and_then(Value::as_str) {
                    words.extend(["--log-prefix".to_string(), prefix.to_string()]);
                }
                emit(&alts, &limit, Verdict::Words(words), &mut pieces);
            }
            "accept" | "drop" | "reject" | "return" | "jump" | "goto" | "dnat" | "snat"
            | "masquerade" | "redirect" => match verdict(kind, body, family)? {
                Some(verdict) => emit(&alts, &limit, verdict, &mut pieces),
                None => return Ok(Vec::new()),
            },
            "vmap" => {
                let key = body.get("key").ok_or("a `vmap` without a key")?;
                let entries = body
                    .pointer("/data/set")
                    .and_then(Value::as_array)
                    .ok_or("a `vmap` that is not a literal map")?;
                // Entries with one verdict are one rule (`{ established, related }`):
                // keys are distinct, so the entries' order does not matter.
                let mut by_verdict: Vec<(&Value, Vec<&Value>)> = Vec::new();
                for entry in entries {
                    let (Some(k), Some(v)) = (entry.get(0), entry.get(1)) else {
                        return Err("a `vmap` entry that is not a key and a verdict".into());
                    };
                    match by_verdict.iter_mut().find(|(verdict, _)| *verdict == v) {
                        Some((_, keys)) => keys.push(k),
                        None => by_verdict.push((v, vec![k])),
                    }
                }
                for (v, keys) in by_verdict {
                    let test = serde_json::json!({"op": "==", "left": key, "right": {"set": keys}});
                    let Some(narrowed) =
                        refine(alts.clone(), context.matching(&test, sets, &mut counter)?)
                    else {
                        continue;
                    };
                    let (kind, body) = v
                        .as_object()
                        .and_then(|o| o.iter().next())
                        .ok_or_else(|| format!("a `vmap` verdict `{v}`"))?;
                    if let Some(verdict) = verdict(kind, body, family)? {
                        emit(&narrowed, &limit, verdict, &mut pieces);
                    }
                }
            }
            "xt" => return Err(
                "an iptables-nft rule's `xt` match or target: import that table with iptables-save"
                    .into(),
            ),
            other => {
                return Err(format!(
                    "the `{other}` statement has no equivalent in the language"
                ))
            }
        }
        if pieces.len() > MAX_PIECES {
            return Err(format!("stands for more than {MAX_PIECES} rules (sets of interfaces or ICMP types multiply)"));
        }
    }
    if pieces.iter().any(|p| p.matches.iter().any(|w| w == "th")) {
        return Err("`th dport`/`th sport` without `meta l4proto tcp` or `udp` before it".into());
    }
    if pieces.is_empty() {
        return Err("a rule without a verdict (a counter) decides nothing; left out".into());
    }
    Ok(pieces)
}

/// What a verdict or translation statement does; `None` for a translation of the other
/// family (in an `inet` table), which this family's packets never meet.
fn verdict(kind: &str, body: &Value, family: Family) -> Result<Option<Verdict>, String> {
    let words = |target: &str| Verdict::Words(vec!["-j".into(), target.into()]);
    Ok(Some(match kind {
        "accept" => Verdict::Accept,
        "drop" => words("DROP"),
        "reject" => words("REJECT"),
        "return" => Verdict::Return,
        "jump" | "goto" => {
            let to = body
                .get("target")
                .and_then(Value::as_str)
                .ok_or("a jump without a target")?
                .to_string();
            match kind {
                "jump" => Verdict::Jump(to),
                _ => Verdict::Goto(to),
            }
        }
        "dnat" | "snat" | "masquerade" | "redirect" => {
            let of = body.get("family").and_then(Value::as_str);
            if of.is_some_and(|f| !sees(family, f) || f == "inet") {
                return Ok(None);
            }
            Verdict::Words(nat_words(kind, body, family)?)
        }
        other => {
            return Err(format!(
                "the `{other}` verdict has no equivalent in the language"
            ))
        }
    }))
}

/// `alts` narrowed by a match; `None` where no alternative is left.
fn refine(alts: Vec<Alt>, contribution: Contribution) -> Option<Vec<Alt>> {
    let Contribution::Alternatives(options) = contribution else {
        return None;
    };
    let mut out = Vec::new();
    for alt in &alts {
        for (proto, words) in &options {
            let proto = match (&alt.proto, proto) {
                (Some(a), Some(b)) if b == "th" && (a == "tcp" || a == "udp") => Some(a.clone()),
                (Some(a), Some(b)) if a != b => continue,
                (Some(a), _) => Some(a.clone()),
                (None, b) => b.clone(),
            };
            out.push(Alt {
                proto,
                words: alt.words.iter().chain(words).cloned().collect(),
            });
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The words of a NAT statement.
fn nat_words(kind: &str, body: &Value, family: Family) -> Result<Vec<String>, String> {
    let port = body.get("port").map(|p| match p {
        Value::Number(n) => Ok(n.to_string()),
        Value::Object(o) if o.contains_key("range") => {
            let r = &o["range"];
            Ok(format!("{}-{}", r[0], r[1]))
        }
        other => Err(format!("a translated port given as `{other}`")),
    });
    let port = port.transpose()?;
    let addr = match body.get("addr") {
        None => None,
        Some(Value::String(a)) => Some(a.clone()),
        Some(other) => {
            return Err(format!(
                "a translation to `{other}` (a map or an expression)"
            ))
        }
    };
    let to = match (&addr, &port) {
        (Some(a), Some(p)) if family == Family::V6 => Some(format!("[{a}]:{p}")),
        (Some(a), Some(p)) => Some(format!("{a}:{p}")),
        (Some(a), None) => Some(a.clone()),
        (None, Some(p)) => Some(p.clone()),
        (None, None) => None,
    };
    let (target, option) = match kind {
        "dnat" => ("DNAT", "--to-destination"),
        "snat" => ("SNAT", "--to-source"),
        "masquerade" => ("MASQUERADE", "--to-ports"),
        _ => ("REDIRECT", "--to-ports"),
    };
    let mut words = vec!["-j".to_string(), target.to_string()];
    if let Some(to) = to {
        words.extend([option.to_string(), to]);
    }
    Ok(words)
}

/// What a rule's matches are read against.
struct Context<'n> {
    family: Family,
    named: &'n Named,
    /// `FAMILY TABLE ` (a named set's key is this and its name).
    table: String,
    handle: usize,
}

/// A comparison's values: the members of a set (anonymous or named), a list, or one.
fn members<'v>(right: &'v Value, named: &'v Named, table: &str) -> Result<Vec<&'v Value>, String> {
    match right {
        Value::String(s) if s.starts_with('@') => {
            let key = format!("{table}{}", &s[1..]);
            let elements = named
                .sets
                .get(&key)
                .ok_or_else(|| format!("set `{s}` is not in the ruleset"))?;
            Ok(elements.iter().collect())
        }
        Value::Object(o) if o.contains_key("set") => Ok(o["set"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()),
        Value::Array(a) => Ok(a.iter().collect()),
        one => Ok(vec![one]),
    }
    .map(|values| {
        values
            .into_iter()
            // A set element with a timeout or comment: `{"elem": {"val": …}}`.
            .map(|v| v.pointer("/elem/val").unwrap_or(v))
            .collect()
    })
}

impl Context<'_> {
    /// What one `match` expression contributes in this family.
    fn matching(
        &self,
        body: &Value,
        sets: &mut HashMap<String, Vec<IpNet>>,
        counter: &mut usize,
    ) -> Result<Contribution, String> {
        let op = body.get("op").and_then(Value::as_str).unwrap_or("==");
        let left = body.get("left").ok_or("a match without a left side")?;
        let right = body.get("right").ok_or("a match without a right side")?;
        let negated = match op {
            "==" | "in" => false,
            "!=" => true,
            "<" | ">" | "<=" | ">=" => false,
            other => return Err(format!("the comparison `{other}`")),
        };
        let values = members(right, self.named, &self.table)?;
        let not = |words: Vec<String>| match negated {
            true => std::iter::once("!".to_string()).chain(words).collect(),
            false => words,
        };
        let Some((kind, what)) = left.as_object().and_then(|o| o.iter().next()) else {
            return Err(format!("a match on `{left}`"));
        };
        let field = |key: &str| what.get(key).and_then(Value::as_str).unwrap_or_default();
        let mine = |family: Family| family == self.family;
        let ordered = kind == "payload" && field("field").ends_with("port");
        if !(matches!(op, "==" | "in" | "!=") || ordered) {
            return Err(format!("the comparison `{op}` on `{left}`"));
        }
        match (
            kind.as_str(),
            field("protocol"),
            field("field"),
            field("key"),
        ) {
            ("payload", "ip", _, _) if !mine(Family::V4) => Ok(Contribution::Never),
            ("payload", "ip6", _, _) if !mine(Family::V6) => Ok(Contribution::Never),
            ("payload", "icmp", _, _) if !mine(Family::V4) => Ok(Contribution::Never),
            ("payload", "icmpv6", _, _) if !mine(Family::V6) => Ok(Contribution::Never),
            ("payload", "ip" | "ip6", side @ ("saddr" | "daddr"), _) => {
                let option = if side == "saddr" { "-s" } else { "-d" };
                let nets = values
                    .iter()
                    .map(|v| nets(v))
                    .collect::<Result<Vec<_>, _>>()?;
                let nets: Vec<IpNet> = nets.into_iter().flatten().collect();
                match (&nets[..], negated) {
                    ([single], _) => Ok(one(None, not(vec![option.into(), single.to_string()]))),
                    (_, true) => Err("a negated set of addresses: the language excludes one address or network at a time".into()),
                    (many, false) => {
                        *counter += 1;
                        let name = format!("{}handle {} set {counter}", self.table, self.handle);
                        sets.insert(name.clone(), many.to_vec());
                        let direction = if side == "saddr" { "src" } else { "dst" };
                        Ok(one(None, ["-m", "set", "--match-set", &name, direction].map(String::from).to_vec()))
                    }
                }
            }
            ("payload", "ip", "protocol", _)
            | ("payload", "ip6", "nexthdr", _)
            | ("meta", _, _, "l4proto") => self.protocols(&values, negated),
            ("payload", "ip6", "hoplimit", _) if !negated => {
                let [hl] = &values[..] else {
                    return Err("a set of hop limits".into());
                };
                Ok(one(
                    None,
                    ["-m", "hl", "--hl-eq"]
                        .map(String::from)
                        .into_iter()
                        .chain([hl.to_string()])
                        .collect(),
                ))
            }
            ("payload", proto @ ("tcp" | "udp" | "th"), side @ ("dport" | "sport"), _) => {
                let proto = match proto {
                    "th" => None,
                    p => Some(p.to_string()),
                };
                let ports = ports(&values, op)?;
                let option = match (side, ports.len()) {
                    ("dport", 1) => "--dport",
                    ("sport", 1) => "--sport",
                    ("dport", _) => "--dports",
                    _ => "--sports",
                };
                let mut words = match ports.len() {
                    1 => Vec::new(),
                    _ => vec!["-m".into(), "multiport".into()],
                };
                words.extend(not(vec![option.into(), ports.join(",")]));
                // `th` is any transport header: the rule's protocol must say which
                // (`refine` takes it from there, or the rule is refused).
                Ok(one(proto.or(Some("th".into())), words))
            }
            ("payload", proto @ ("icmp" | "icmpv6"), "type", _) if !negated => {
                let (p, option, names) = match proto {
                    "icmp" => ("icmp", "--icmp-type", ICMP_NAMES),
                    _ => ("ipv6-icmp", "--icmpv6-type", ICMPV6_NAMES),
                };
                let types = values
                    .iter()
                    .map(|v| icmp_number(v, names))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Contribution::Alternatives(
                    types
                        .into_iter()
                        .map(|t| (Some(p.to_string()), vec![option.to_string(), t.to_string()]))
                        .collect(),
                ))
            }
            ("meta", _, _, key @ ("iif" | "iifname" | "oif" | "oifname")) => {
                let option = if key.starts_with('i') { "-i" } else { "-o" };
                let names = values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(|n| n.replace('*', "+"))
                            .ok_or_else(|| format!("an interface `{v}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if negated && names.len() > 1 {
                    return Err("a negated set of interfaces".into());
                }
                Ok(Contribution::Alternatives(
                    names
                        .into_iter()
                        .map(|n| (None, not(vec![option.to_string(), n])))
                        .collect(),
                ))
            }
            ("meta", _, _, "nfproto" | "protocol") => {
                let mine = values.iter().any(|v| {
                    matches!(
                        (v.as_str(), self.family),
                        (Some("ipv4" | "ip"), Family::V4) | (Some("ipv6" | "ip6"), Family::V6)
                    )
                });
                match mine != negated {
                    true => Ok(one(None, Vec::new())),
                    false => Ok(Contribution::Never),
                }
            }
            // The port the client connected to (fwdsl's forward rules write it so).
            ("ct", _, _, "proto-dst") if field("dir") == "original" && !negated => {
                let ports = ports(&values, op)?;
                Ok(Contribution::Alternatives(
                    ports
                        .into_iter()
                        .map(|p| {
                            (
                                None,
                                ["-m", "conntrack", "--ctorigdstport"]
                                    .map(String::from)
                                    .into_iter()
                                    .chain([p])
                                    .collect(),
                            )
                        })
                        .collect(),
                ))
            }
            ("ct", _, _, "state") => {
                let mut states = values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_uppercase)
                            .ok_or_else(|| format!("a connection state `{v}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                states.sort();
                let words = ["-m", "conntrack"].map(String::from).into_iter();
                Ok(one(
                    None,
                    words
                        .chain(not(vec!["--ctstate".into(), states.join(",")]))
                        .collect(),
                ))
            }
            ("fib", _, _, _)
                if what.get("result").and_then(Value::as_str) == Some("type")
                    && what
                        .get("flags")
                        .and_then(Value::as_array)
                        .is_some_and(|f| f.len() == 1 && f[0] == "daddr") =>
            {
                let types = values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_uppercase)
                            .ok_or_else(|| format!("an address type `{v}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(one(
                    None,
                    ["-m", "addrtype"]
                        .map(String::from)
                        .into_iter()
                        .chain(not(vec!["--dst-type".into(), types.join(",")]))
                        .collect(),
                ))
            }
            _ => Err(format!(
                "a match on `{left}` has no equivalent in the language"
            )),
        }
    }

    fn protocols(&self, values: &[&Value], negated: bool) -> Result<Contribution, String> {
        let names = values
            .iter()
            .map(|v| protocol(v, self.family))
            .collect::<Result<Vec<_>, _>>()?;
        match (negated, &names[..]) {
            (true, [Some(name)]) => Ok(one(None, vec!["!".into(), "-p".into(), name.clone()])),
            (true, [None]) => Ok(one(None, Vec::new())),
            (true, _) => Err("a negated set of protocols".into()),
            (false, _) => match names
                .into_iter()
                .flatten()
                .map(|n| (Some(n), Vec::new()))
                .collect::<Vec<_>>()
            {
                none if none.is_empty() => Ok(Contribution::Never),
                some => Ok(Contribution::Alternatives(some)),
            },
        }
    }
}

/// A protocol as iptables names it in `family` (`ipv6-icmp` is ICMP in IPv6); `None`
/// for ICMPv4 in IPv6, which the language's packets do not have (its `icmp` is ICMPv6
/// there).
fn protocol(value: &Value, family: Family) -> Result<Option<String>, String> {
    let name = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("a protocol `{other}`")),
    };
    Ok(Some(match (name.as_str(), family) {
        ("icmp" | "1", Family::V6) => return Ok(None),
        ("ipv6-icmp" | "icmpv6" | "58", Family::V4) => "58".into(),
        ("ipv6-icmp" | "icmpv6" | "58", Family::V6) => "ipv6-icmp".into(),
        ("6", _) => "tcp".into(),
        ("17", _) => "udp".into(),
        ("1", Family::V4) => "icmp".into(),
        _ => name,
    }))
}

/// The networks an address value stands for (a range becomes the prefixes covering it).
fn nets(value: &Value) -> Result<Vec<IpNet>, String> {
    let addr = |v: &Value| -> Result<IpAddr, String> {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("`{v}` is not an address"))
    };
    match value {
        Value::String(s) => s
            .parse::<IpAddr>()
            .map(|a| vec![IpNet::from(a)])
            .map_err(|_| format!("`{s}` is not an address")),
        Value::Object(o) if o.contains_key("prefix") => {
            let p = &o["prefix"];
            let len = p.get("len").and_then(Value::as_u64).unwrap_or(0) as u8;
            IpNet::new(addr(&p["addr"])?, len)
                .map(|n| vec![n.trunc()])
                .map_err(|e| e.to_string())
        }
        Value::Object(o) if o.contains_key("range") => {
            let (first, last) = (addr(&o["range"][0])?, addr(&o["range"][1])?);
            match (first, last) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    Ok(ipnet::Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect())
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    Ok(ipnet::Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect())
                }
                _ => Err("a range of addresses of two families".into()),
            }
        }
        other => Err(format!("`{other}` is not an address")),
    }
}

/// Ports as `multiport` writes them (`22`, `80:90`), from values or a comparison.
fn ports(values: &[&Value], op: &str) -> Result<Vec<String>, String> {
    let number = |v: &Value| -> Result<u64, String> {
        v.as_u64()
            .filter(|n| *n <= 65535)
            .ok_or_else(|| format!("`{v}` is not a port"))
    };
    if let [one] = values {
        let n = number(one).ok();
        let range = |a: u64, b: u64| Ok(vec![format!("{a}:{b}")]);
        match (op, n) {
            ("<", Some(n)) if n > 0 => return range(0, n - 1),
            ("<=", Some(n)) => return range(0, n),
            (">", Some(n)) if n < 65535 => return range(n + 1, 65535),
            (">=", Some(n)) => return range(n, 65535),
            ("<" | ">" | "<=" | ">=", _) => return Err(format!("ports `{op} {one}`")),
            _ => {}
        }
    }
    values
        .iter()
        .map(|v| match v {
            Value::Object(o) if o.contains_key("range") => Ok(format!(
                "{}:{}",
                number(&o["range"][0])?,
                number(&o["range"][1])?
            )),
            v => number(v).map(|n| n.to_string()),
        })
        .collect()
}

/// nft's names of ICMP types (`nft describe icmp type`).
const ICMP_NAMES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("destination-unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("echo-request", 8),
    ("router-advertisement", 9),
    ("router-solicitation", 10),
    ("time-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp-request", 13),
    ("timestamp-reply", 14),
    ("info-request", 15),
    ("info-reply", 16),
    ("address-mask-request", 17),
    ("address-mask-reply", 18),
];

/// nft's names of ICMPv6 types (`nft describe icmpv6 type`).
const ICMPV6_NAMES: &[(&str, u8)] = &[
    ("destination-unreachable", 1),
    ("packet-too-big", 2),
    ("time-exceeded", 3),
    ("parameter-problem", 4),
    ("echo-request", 128),
    ("echo-reply", 129),
    ("mld-listener-query", 130),
    ("mld-listener-report", 131),
    ("mld-listener-done", 132),
    ("mld-listener-reduction", 132),
    ("nd-router-solicit", 133),
    ("nd-router-advert", 134),
    ("nd-neighbor-solicit", 135),
    ("nd-neighbor-advert", 136),
    ("nd-redirect", 137),
    ("router-renumbering", 138),
    ("ind-neighbor-solicit", 141),
    ("ind-neighbor-advert", 142),
    ("mld2-listener-report", 143),
];

fn icmp_number(value: &Value, names: &[(&str, u8)]) -> Result<u8, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| format!("`{n}` is not an ICMP type")),
        Value::String(s) => names
            .iter()
            .find(|(name, _)| name == s)
            .map(|(_, n)| *n)
            .ok_or_else(|| format!("the ICMP type `{s}`")),
        other => Err(format!("`{other}` is not an ICMP type")),
    }
}
