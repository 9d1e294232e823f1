//! Importing the rules a host already has (`iptables-save` text for IPv4 and IPv6, and
//! the `ipset save` of the sets they use) as a fwdsl policy, with a proof that nothing
//! changed.
//!
//! The filter table is read as a chain program (`saved.rs`), each rule read as the
//! language's match or refused with the reason (`rule.rs`: nothing is guessed), each
//! built-in chain flattened into one first-match list (`flatten.rs`, exact: its module
//! says why), written as a policy (`emit.rs`). Then the proof: the policy text is read
//! back with [`Policy::parse`] (every check of `firewall!`), and the exact analysis
//! compares it with the flattened chain program, region by region
//! ([`fwdsl_core::differences`]): equivalent, or a witness packet for each difference.
//! Rules the analysis proves never decide anything (shadowed, redundant, after a
//! catch-all) are left out of the text (they would be errors there), which the same
//! proof covers.

mod emit;
mod flatten;
mod merge;
mod nat;
mod nft;
mod rule;
mod saved;

use crate::error::Error;
use crate::Policy;
use fwdsl_core::{Access, Action, Direction, Family, NatKind, Packet, Reach, Rule};
use ipnet::IpNet;
use std::collections::HashMap;
use std::fmt;

/// One `iptables-save` output: its name (for messages and provenance notes) and text.
#[derive(Debug, Clone, Copy)]
pub struct SavedFile<'a> {
    /// How to name it (`rules.v4`).
    pub name: &'a str,
    /// Its text.
    pub text: &'a str,
}

/// A rule the import could not express, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The file's name.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The rule as written.
    pub rule: String,
    /// Why the language cannot say it.
    pub reason: String,
}

/// A packet the original and the import decide differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What the original does with it (`None`: no rule of its chain decides it).
    pub original: Option<Action>,
    /// What the imported policy does with it.
    pub imported: Option<Action>,
    /// The packet.
    pub witness: Packet,
    /// The table: `filter` (verdicts) or `nat` (translations).
    pub table: &'static str,
}

/// What an import produced.
#[derive(Debug, Clone)]
pub struct Import {
    /// The policy, in the language, with a note of where each rule comes from.
    pub text: String,
    /// The rules that could not be imported (with `partial`, left out of `text`).
    pub refused: Vec<Refused>,
    /// Where the imported policy decides otherwise than the original: empty is the proof
    /// that it decides every packet alike (refused rules aside, which are not in it).
    pub differences: Vec<Difference>,
    /// Rules of the original that never decide anything, left out: (file, line).
    pub left_out: Vec<(String, usize)>,
    /// Rules of other tables (`nat`, `mangle`, …), not imported: (file, line, table).
    pub other_tables: Vec<(String, usize, String)>,
}

impl Import {
    /// An import that stops at refused rules: nothing written.
    fn refused(refused: Vec<Refused>, other_tables: Vec<(String, usize, String)>) -> Import {
        Import {
            text: String::new(),
            refused,
            differences: Vec::new(),
            left_out: Vec::new(),
            other_tables,
        }
    }

    /// Whether the import decides every packet exactly as the original: nothing refused,
    /// no difference, no other table's rules left behind.
    pub fn is_equivalent(&self) -> bool {
        self.refused.is_empty() && self.differences.is_empty() && self.other_tables.is_empty()
    }
}

impl fmt::Display for Import {
    /// The report: refused rules with their lines, differences with witnesses, the verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.refused {
            writeln!(
                f,
                "refused {}:{}: {}\n    {}",
                r.file, r.line, r.reason, r.rule
            )?;
        }
        for (file, line, table) in &self.other_tables {
            writeln!(f, "not imported {file}:{line}: a rule of the {table} table")?;
        }
        for d in self.differences.iter().filter(|d| d.table == "nat") {
            writeln!(
                f,
                "differs: the original and the import translate it otherwise: e.g. {}",
                d.witness
            )?;
        }
        for d in self.differences.iter().filter(|d| d.table != "nat") {
            let say = |a: Option<Action>| {
                a.map_or("leaves it to the built-in chain".to_string(), |a| {
                    format!("{}s it", a.verb())
                })
            };
            writeln!(
                f,
                "differs: the original {}, the import {}: e.g. {}",
                say(d.original),
                say(d.imported),
                d.witness
            )?;
        }
        if !self.left_out.is_empty() {
            writeln!(
                f,
                "{} rules of the original never decide a packet: left out",
                self.left_out.len()
            )?;
        }
        match self.is_equivalent() {
            true => writeln!(f, "equivalent: the policy decides every packet exactly as the original (proved region by region)"),
            false if self.refused.is_empty() && self.differences.is_empty() => writeln!(f, "the filter table is imported exactly; the other tables' rules above are not"),
            false => writeln!(f, "NOT equivalent: packets the rules above match may be decided differently"),
        }
    }
}

/// The members of each set in `ipset save` text.
fn ipsets(text: &str) -> HashMap<String, Vec<IpNet>> {
    let mut sets: HashMap<String, Vec<IpNet>> = HashMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("create"), Some(name), _) => {
                sets.entry(name.to_string()).or_default();
            }
            (Some("add"), Some(name), Some(member)) => {
                let net = member
                    .parse::<IpNet>()
                    .or_else(|_| member.parse::<std::net::IpAddr>().map(IpNet::from));
                if let Ok(net) = net {
                    sets.entry(name.to_string()).or_default().push(net.trunc());
                }
            }
            _ => {}
        }
    }
    sets
}

/// A flattened rule, the family of the file it comes from, and that file's name.
type Listed = (flatten::Flat, Family, String);

/// A flattened rule as the analysis takes it.
fn as_rule(direction: Direction, action: Action, matches: fwdsl_core::Matches) -> Rule {
    Rule {
        action,
        limit: None,
        log: None,
        direction,
        matches,
        text: "".into(),
        comment: None,
        line: 0,
    }
}

/// Imports `iptables-save` output for IPv4 and/or IPv6 (`ipsets`: the `ipset save`
/// output of the sets they use). With `partial`, rules that cannot be imported are left
/// out (and listed) instead of stopping the import.
///
/// ```
/// let v4 = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:admin - [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -j admin\n-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n-A admin -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT\n-A admin -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n";
/// let import = fwdsl::import::iptables_save(Some(fwdsl::import::SavedFile { name: "rules.v4", text: v4 }), None, "", false).unwrap();
/// assert!(import.is_equivalent(), "{import}");
/// assert!(import.text.contains("allow tcp 22 src 10.0.0.0/8;"), "{}", import.text);
/// fwdsl::Policy::parse(&import.text).unwrap();
/// ```
pub fn iptables_save(
    v4: Option<SavedFile<'_>>,
    v6: Option<SavedFile<'_>>,
    ipsets_text: &str,
    partial: bool,
) -> Result<Import, Error> {
    let views = [(Family::V4, v4), (Family::V6, v6)]
        .into_iter()
        .filter_map(|(family, file)| file.map(|file| (family, file)))
        .map(|(family, file)| {
            Ok(View {
                family,
                name: file.name.to_string(),
                saved: read_saved(file)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    import_views(
        &views,
        &ipsets(ipsets_text),
        partial,
        "iptables-save output",
    )
}

/// Imports `nft -j list ruleset` output (the whole ruleset: every table of families
/// `ip`, `ip6` and `inet`, its named sets, and its NAT chains). Provenance and refusals
/// name each rule by its handle (`nft -a list ruleset` shows them) where an
/// `iptables-save` import names lines. `xtables`: the `iptables-save` and
/// `ip6tables-save` output of the same moment, for the rules iptables-nft made with
/// matches `nft -j` cannot decode (`xt`: conntrack, multiport, comments); without them
/// such rules are refused.
///
/// ```
/// let json = r#"{"nftables": [
///   {"table": {"family": "inet", "name": "filter", "handle": 1}},
///   {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1,
///     "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
///   {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2,
///     "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
///       "right": 22}}, {"accept": null}]}}]}"#;
/// let file = fwdsl::import::SavedFile { name: "ruleset.json", text: json };
/// let import = fwdsl::import::nft_json(file, None, None, false).unwrap();
/// assert!(import.is_equivalent(), "{import}");
/// assert!(import.text.contains("allow tcp 22;"), "{}", import.text);
/// ```
pub fn nft_json(
    file: SavedFile<'_>,
    xtables_v4: Option<SavedFile<'_>>,
    xtables_v6: Option<SavedFile<'_>>,
    partial: bool,
) -> Result<Import, Error> {
    let xtables = [(Family::V4, xtables_v4), (Family::V6, xtables_v6)]
        .into_iter()
        .filter_map(|(family, file)| file.map(|file| (family, file)))
        .map(|(family, file)| Ok((family, read_saved(file)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let ruleset =
        nft::parse(file.text, &xtables).map_err(|message| import_error(file.name, 0, &message))?;
    let views: Vec<View> = ruleset
        .views
        .into_iter()
        .map(|(family, saved)| View {
            family,
            name: file.name.to_string(),
            saved,
        })
        .collect();
    import_views(&views, &ruleset.sets, partial, "nft -j list ruleset output")
}

/// `iptables-save` output as a chain program; errors name the file and line.
fn read_saved(file: SavedFile<'_>) -> Result<saved::Saved, Error> {
    saved::parse(file.text).map_err(|(line, message)| import_error(file.name, line, &message))
}

/// One family's chain program and the file it is read from.
struct View {
    family: Family,
    name: String,
    saved: saved::Saved,
}

/// The import of one chain program per family (`views`): flattened, written, proved.
fn import_views(
    views: &[View],
    sets: &HashMap<String, Vec<IpNet>>,
    partial: bool,
    source: &str,
) -> Result<Import, Error> {
    let both = views.len() == 2;
    let mut refused = Vec::new();
    let mut other_tables = Vec::new();
    // Per direction: the original's rules (restricted to their family when two files
    // share the policy) with where each comes from.
    let mut lists: Vec<(Direction, Vec<Listed>)> = flatten::FILTER
        .iter()
        .map(|(_, d)| (*d, Vec::new()))
        .collect();
    let mut present: Vec<(Direction, Family)> = Vec::new();
    let mut nat = nat::NatPart::default();
    for View {
        family,
        name,
        saved,
    } in views
    {
        other_tables.extend(
            saved
                .elsewhere
                .iter()
                .map(|(table, r)| (name.clone(), r.line, table.clone())),
        );
        let flatten::Flattened {
            chains,
            refused: refusals,
            too_big,
        } = flatten::flatten(saved, *family, sets, partial, &flatten::FILTER, false);
        if too_big {
            return Err(import_error(name, 0, &format!("the chains flatten to more than {} rules (jumps and returns copy what follows them)", flatten::MAX_FLAT)));
        }
        // An `inet` table's rule is read in both families: refused once.
        for refusal in refusals.into_iter().map(|r| r.in_file(name)) {
            if !refused.contains(&refusal) {
                refused.push(refusal);
            }
        }
        nat.collect(saved, *family, sets, partial, both, name);
        refused.append(&mut nat.refused);
        if !refused.is_empty() && !partial {
            return Ok(Import::refused(refused, other_tables));
        }
        for (direction, flats) in chains {
            present.push((direction, *family));
            let list = &mut lists
                .iter_mut()
                .find(|(d, _)| *d == direction)
                .expect("a direction")
                .1;
            for mut flat in flats {
                if both {
                    flat.matches = emit::only(&flat.matches, *family);
                }
                list.push((flat, *family, name.clone()));
            }
        }
    }
    // iptables' FORWARD rules match the port after a DNAT, fwdsl's forward rules the
    // port the client connected to: the same where no DNAT changes a port, not otherwise.
    // (A DNAT to the port it matches, Docker's `-p 8080:8080`, changes none.)
    let rewrites_ports = nat.listed.iter().any(|(f, _, _)| match f.nat {
        Some(NatKind::Dnat { port: Some(p), .. }) => {
            !matches!(&f.matches.dports[..], [one] if one.first == p && one.last == p)
        }
        Some(NatKind::Redirect { .. }) => true,
        _ => false,
    });
    if rewrites_ports {
        let forward = &mut lists
            .iter_mut()
            .find(|(d, _)| *d == Direction::Forward)
            .expect("forward")
            .1;
        forward.retain(|(flat, _, file)| {
            let ported = flat.path.translated_ports && flat.line.is_some();
            if ported {
                refused.push(Refused {
                    file: file.clone(),
                    line: flat.line.unwrap_or(0),
                    rule: format!("(FORWARD, {})", flat.chain),
                    reason: "a forward rule on a destination port where a DNAT changes ports: iptables matches the translated port, fwdsl's forward rules the port the client connected to".into(),
                });
            }
            !ported
        });
        if !partial && !refused.is_empty() {
            return Ok(Import::refused(refused, other_tables));
        }
    }
    // A direction one family's file leaves open (no rules, ACCEPT) is open for it.
    for (direction, list) in lists.iter_mut() {
        if both && !list.is_empty() && present.iter().filter(|(d, _)| d == direction).count() == 1 {
            list.push((
                flatten::Flat::allow_all(format!(
                    "{} in the other family's file, which has no rules there",
                    direction.builtin_chain()
                )),
                Family::V4,
                "-".into(),
            ));
        }
    }
    // A host that filters nothing: one `allow all`, which a policy needs and which
    // changes nothing.
    if lists.iter().all(|(_, list)| list.is_empty()) {
        lists[0].1.push((
            flatten::Flat::allow_all("INPUT".into()),
            Family::V4,
            views.first().map_or("-", |v| v.name.as_str()).to_string(),
        ));
    }
    let original: Vec<Rule> = lists
        .iter()
        .flat_map(|(d, list)| {
            list.iter()
                .map(move |(f, _, _)| as_rule(*d, f.action, f.matches.clone()))
        })
        .collect();
    // What is written: one statement for both families where they agree.
    let written: Vec<(Direction, Vec<merge::Written>)> = lists
        .iter()
        .map(|(d, list)| {
            let list = match both {
                true => merge::families(list),
                false => list
                    .iter()
                    .map(|(flat, _, file)| (flat.clone(), file.clone(), None))
                    .collect(),
            };
            (*d, list)
        })
        .collect();
    // What never decides a packet is left out: it would be an error in the text.
    let reach = fwdsl_core::analyze(
        &written
            .iter()
            .flat_map(|(d, list)| {
                list.iter()
                    .map(move |(f, _, _)| as_rule(*d, f.action, f.matches.clone()))
            })
            .collect::<Vec<_>>(),
        &Access::Console,
    )
    .reach;
    let mut text = format!(
        "# Imported by fwdsl from {source}; each rule notes where it comes from.\n# The original's SSH access is kept as it was: declare yours (`ssh 22 from NETWORK;`)\n# instead of `ssh none;` to have fwdsl check every later change against a lockout.\nssh none;\n",
    );
    // With `partial`, what was left out is in the text too, where a reader looks.
    for r in &refused {
        text.push_str(&format!(
            "# REFUSED {}:{}: {}\n#   {}\n",
            r.file,
            r.line,
            r.reason,
            r.rule.replace('\n', " ")
        ));
    }
    let mut left_out = Vec::new();
    let mut index = 0;
    for (direction, list) in &written {
        if list.is_empty() {
            continue;
        }
        text.push('\n');
        let last = list.len() - 1;
        for (i, (flat, file, also)) in list.iter().enumerate() {
            let reach = &reach[index];
            index += 1;
            let dead = matches!(
                reach,
                Reach::Redundant(_) | Reach::Shadowed { .. } | Reach::AfterCatchAll(_)
            );
            if dead && i != last {
                let origins = std::iter::once((flat, file)).chain(also.iter().map(|(f, n)| (f, n)));
                left_out.extend(origins.filter_map(|(f, n)| f.line.map(|l| (n.clone(), l))));
                continue;
            }
            // The last rule of a direction is its catch-all, whatever family it is of.
            let mut flat = flat.clone();
            if i == last {
                flat.matches = fwdsl_core::Matches::ANY;
            }
            let mut from = emit::origin(&flat, file);
            if let Some((other, other_file)) = also {
                let other = emit::origin(other, other_file);
                if other != from {
                    from = format!("{from} and {other}");
                }
            }
            text.push_str(&emit::statement(&flat, *direction, &from));
        }
    }
    let statements = nat.statements();
    if !statements.is_empty() {
        text.push('\n');
        text.push_str(&statements);
    }
    let policy = Policy::parse(&text)?;
    let differences = fwdsl_core::differences(&original, policy.rules())
        .into_iter()
        .map(|d| Difference {
            original: d.first.map(|i| original[i].action),
            imported: d.second.map(|i| policy.rules()[i].action),
            witness: d.witness,
            table: "filter",
        })
        .chain(nat.differences(&policy))
        .collect();
    // A rule of an `inet` table is left out in both families: named once.
    let mut named = std::collections::HashSet::new();
    left_out.retain(|origin| named.insert(origin.clone()));
    Ok(Import {
        text,
        refused,
        differences,
        left_out,
        other_tables,
    })
}

fn import_error(file: &str, line: usize, message: &str) -> Error {
    Error::Policy(crate::error::Problems(vec![crate::error::Problem {
        severity: fwdsl_core::Severity::Error,
        file: Some(file.into()),
        line: (line > 0).then_some(line as u32),
        column: None,
        source_line: None,
        message: message.to_string(),
        help: None,
    }]))
}

/// For each line of an imported policy's text, the provenance note in force there (what
/// follows `# from ` on the nearest such line above it).
fn notes(text: &str) -> Vec<Option<&str>> {
    text.lines()
        .scan(None, |from, line| {
            if let Some(rest) = line.strip_prefix("# from ") {
                *from = Some(rest);
            }
            Some(*from)
        })
        .collect()
}

impl Import {
    /// Where the statement on `line` (1-based) of [`Import::text`] comes from in the
    /// original (`rules.v4:12 (INPUT)`): what a report on the imported policy (a rule
    /// named by its line) says to the host's own rules.
    pub fn origin(&self, line: u32) -> Option<&str> {
        notes(&self.text)
            .get((line as usize).checked_sub(1)?)
            .copied()
            .flatten()
    }
}

/// Something lint says of a rule of the original, by its file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file (`rules.v4`).
    pub file: String,
    /// The 1-based line of the rule (0: the file as a whole).
    pub line: usize,
    /// Whether it is as bad as an error of `firewall!` (an SSH lockout, say).
    pub error: bool,
    /// What is wrong, and how to fix it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.error { "error" } else { "warning" };
        write!(f, "{}:{}: {kind}: {}", self.file, self.line, self.message)
    }
}

impl Import {
    /// The analysis `firewall!` runs, on rules fwdsl did not write: rules that never
    /// decide a packet (shadowed, redundant, after a catch-all), an SSH lockout (the
    /// default `ssh 22` from anywhere), rules that trust the source port, and every other
    /// warning, each named by the original's file and line.
    pub fn lint(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .left_out
            .iter()
            .map(|(file, line)| Finding {
                file: file.clone(),
                line: *line,
                error: false,
                message: "never decides a packet: the rules before it decide every packet it matches (remove it, or move it up if it was meant to win)".into(),
            })
            .collect();
        // With the default operator access, so that the lockout check speaks.
        let text = self.text.replacen("\nssh none;\n", "\n", 1);
        let origins: Vec<Option<(String, usize)>> = notes(&text)
            .into_iter()
            .map(|note| {
                let place = note?.split_whitespace().next().unwrap_or_default();
                // `FILE:LINE`, or `FILE:` for a chain's policy (line 0).
                place
                    .rsplit_once(':')
                    .map(|(f, l)| (f.to_string(), l.parse().unwrap_or(0)))
            })
            .collect();
        let tokens = match fwdsl_core::lex(&text) {
            Ok(tokens) => tokens,
            Err(_) => return out,
        };
        for d in fwdsl_core::compile(&tokens).diagnostics {
            let Some(at) = d.tokens.map(|r| tokens[r.first].line as usize) else {
                continue;
            };
            let (file, line) = origins
                .get(at.saturating_sub(1))
                .cloned()
                .flatten()
                .unwrap_or_else(|| ("(policy)".into(), at));
            let message = match &d.help {
                Some(help) => format!("{} (help: {help})", d.message),
                None => d.message.clone(),
            };
            out.push(Finding {
                file,
                line,
                error: d.severity == fwdsl_core::Severity::Error,
                message,
            });
        }
        out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        out
    }
}
