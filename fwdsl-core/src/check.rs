//! The checks that need the whole policy: ordering, shadowing, lockout and source-port
//! holes. Each `check_*` function states its rule with an example; all of them report
//! through diagnostics and never stop at the first problem.

use crate::diag::Diagnostic;
use crate::model::{Access, Action, ConnState, Direction, Matches, PortRange, ProtoSet, Rule};
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
    /// The rule comes after the catch-all of its direction, at this index.
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
    /// The first `out` rule that drops or rejects, without naming a destination, this
    /// host's replies on the operator's SSH session.
    pub reply_lockout: Option<Lockout>,
    /// The `drop`/`reject` rules on a dynamic source set that reach some of the
    /// operator's new SSH connections: adding an operator address to the set would
    /// lock them out. The set's members are unknown, so it counts as any address.
    pub dynamic_bans: Vec<usize>,
}

/// A rule that would cut the operator off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// The rule that drops or rejects the operator's new SSH connections (0-based).
    pub rule: usize,
    /// A later rule that accepts some of them: moving it up is the fix.
    pub rescue: Option<usize>,
}

/// The catch-all of each direction: its index, if the direction has one.
fn catch_alls(rules: &[Rule]) -> [Option<usize>; 3] {
    Direction::ALL.map(|d| {
        rules
            .iter()
            .position(|r| r.direction == d && r.is_catch_all())
    })
}

/// Runs the exact analysis: reachability of every rule and the lockout checks.
pub fn analyze(rules: &[Rule], access: &Access) -> Analysis {
    Model::analyze(rules, access).0
}

/// The rules as boxes, every one indexed: what the checks after the analysis ask their
/// questions of, without building it again.
struct Model<'r> {
    rules: &'r [Rule],
    interfaces: Interfaces,
    regions: Vec<Vec<Region>>,
    index: Index,
}

impl<'r> Model<'r> {
    fn analyze(rules: &'r [Rule], access: &Access) -> (Analysis, Model<'r>) {
        let interfaces = Interfaces::new(rules, access);
        let regions: Vec<Vec<Region>> = rules
            .iter()
            .map(|r| space::regions(r, &interfaces))
            .collect();
        let catch_all = catch_alls(rules);
        // Only rules that decide every packet they match hide later ones: a `log` rule
        // decides none, a rate-limited one only those under its limit.
        let mut earlier = Index::default();
        // The operator's connections are under any limit: for the lockout checks a
        // limited rule accepts (the operator's own connections count against it).
        let limited = rules.iter().any(|r| r.limit.is_some());
        let mut under_limit = Index::default();
        let mut reach = Vec::with_capacity(rules.len());
        for i in 0..rules.len() {
            reach.push(match catch_all[rules[i].direction as usize] {
                Some(c) if i > c => Reach::AfterCatchAll(c),
                _ => reach_of(rules, &regions, &earlier, i),
            });
            if rules[i].decides() {
                earlier.insert_rule(&regions, i);
            }
            // A rule on a dynamic set may match nothing (its set may be empty).
            if limited && rules[i].action != Action::Log && !rules[i].matches.is_dynamic() {
                under_limit.insert_rule(&regions, i);
            }
        }
        // Every rule is indexed now; the lockout checks ask about any prefix of them.
        let lockout_index = if limited { &under_limit } else { &earlier };
        let new_connections = space::access_regions(access, &interfaces);
        let replies = space::reply_regions(access, &interfaces);
        let analysis = Analysis {
            reach,
            lockout: lockout(
                rules,
                &regions,
                lockout_index,
                &new_connections,
                Rule::names_source,
            ),
            reply_lockout: lockout(
                rules,
                &regions,
                lockout_index,
                &replies,
                Rule::names_destination,
            ),
            dynamic_bans: (0..rules.len())
                .filter(|&j| {
                    matches!(rules[j].action, Action::Drop | Action::Reject)
                        && rules[j].matches.src_set.is_some()
                        && decides_some(lockout_index, &regions, j, &new_connections)
                })
                .collect(),
        };
        let model = Model {
            rules,
            interfaces,
            regions,
            index: earlier,
        };
        (analysis, model)
    }

    /// Whether some packet of `matches` in `direction` (of a new connection, with
    /// `new_only`) is decided by a rule whose verdict is (`allow`) or is not `allow`.
    fn decides_some_with(
        &self,
        allow: bool,
        direction: Direction,
        matches: &Matches,
        new_only: bool,
    ) -> bool {
        let query = space::query_regions(matches, direction, new_only, &self.interfaces);
        (0..self.rules.len())
            .filter(|&j| {
                let rule = &self.rules[j];
                rule.direction == direction
                    && rule.action != Action::Log
                    && (rule.action == Action::Allow) == allow
            })
            .any(|j| decides_some(&self.index, &self.regions, j, &query))
    }
}

impl Model<'_> {
    /// Whether rule `j` decides some packet of `matches` in its direction.
    fn rule_decides_some(&self, j: usize, matches: &Matches) -> bool {
        let direction = self.rules[j].direction;
        let query = space::query_regions(matches, direction, false, &self.interfaces);
        decides_some(&self.index, &self.regions, j, &query)
    }
}

/// Whether rule `j` decides some packet of `parts` (matches it, and no earlier rule
/// does). `index` holds at least the rules before `j`.
fn decides_some(index: &Index, regions: &[Vec<Region>], j: usize, parts: &[Region]) -> bool {
    parts
        .iter()
        .flat_map(|p| regions[j].iter().filter_map(|b| b.intersection(p)))
        .any(|piece| {
            index.misses_a_corner(regions, &piece, j)
                || !space::covered_clipped(&piece, &index.overlapping_before(regions, &piece, j))
        })
}

/// How rule `i` stands; `earlier` holds the boxes of the rules before it.
fn reach_of(rules: &[Rule], regions: &[Vec<Region>], earlier: &Index, i: usize) -> Reach {
    let mine = &regions[i];
    if mine.iter().any(|r| {
        earlier.misses_a_corner(regions, r, i)
            || !space::covered_clipped(r, &earlier.overlapping(regions, r))
    }) {
        return Reach::Reachable;
    }
    // Shadowed: find out by whom, among the earlier rules that overlap it at all.
    let mut candidates: Vec<usize> = mine
        .iter()
        .flat_map(|r| earlier.rules_overlapping(regions, r))
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

/// The first rule that drops or rejects some of `access` (and is not a deliberate ban,
/// as `is_ban` tells), with the first later `allow` that would rescue it.
fn lockout(
    rules: &[Rule],
    regions: &[Vec<Region>],
    index: &Index,
    access: &[Region],
    is_ban: fn(&Rule) -> bool,
) -> Option<Lockout> {
    if access.is_empty() {
        return None;
    }
    let rule = (0..rules.len())
        // A rule on a dynamic set drops nothing until its set is filled: the bans on
        // one are warned about apart (`dynamic_bans`).
        .filter(|&j| {
            matches!(rules[j].action, Action::Drop | Action::Reject)
                && !is_ban(&rules[j])
                && !rules[j].matches.is_dynamic()
        })
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
    let (analysis, model) = Model::analyze(&parsed.rules, &parsed.access);
    check_ordering(parsed, complete, &analysis, &mut out);
    check_shadowing(parsed, &analysis, &mut out);
    if complete {
        check_lockout(parsed, &analysis, &mut out);
        check_dynamic_bans(parsed, &analysis, &mut out);
        check_reply_lockout(parsed, &analysis, &mut out);
        check_name_resolution(parsed, &model, &mut out);
        check_forward_replies(parsed, &model, &mut out);
        check_own_replies(parsed, &model, &mut out);
        check_loopback(parsed, &model, &mut out);
        crate::assertions::check(parsed, &mut out);
        crate::check_nat::check(parsed, &mut out);
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
    if !complete {
        return;
    }
    if parsed.rules.is_empty() {
        let mut d = Diagnostic::error(
            parsed.last_statement,
            "policy has no rules: it must at least end with a catch-all",
        );
        d.help("add `drop all;` (or `reject all;`, or an explicit `allow all;`) as the last rule");
        out.push(d);
        return;
    }
    // Each direction the policy uses needs its own; one it never mentions is not touched.
    for direction in Direction::ALL {
        let mine: Vec<usize> = (0..parsed.rules.len())
            .filter(|&i| parsed.rules[i].direction == direction)
            .collect();
        let Some(&last) = mine.last() else { continue };
        if mine.iter().any(|&i| parsed.rules[i].is_catch_all()) {
            continue;
        }
        let at = if last + 1 == parsed.rules.len() && !parsed.ends_with_rule {
            parsed.last_statement
        } else {
            Some(parsed.rule_tokens[last])
        };
        let (message, help) = match direction {
            Direction::In => (
                "policy does not end with a catch-all: packets no rule matches would be accepted"
                    .to_string(),
                "add `drop all;` (or `reject all;`, or an explicit `allow all;`) as the last rule"
                    .to_string(),
            ),
            _ => {
                let word = direction.keyword();
                (
                    format!("the `{word}` rules do not end with a catch-all: {word} packets no rule matches would be accepted"),
                    format!("add `drop {word} all;` (or `reject {word} all;`, or an explicit `allow {word} all;`) after line {}", parsed.rules[last].line),
                )
            }
        };
        let mut d = Diagnostic::error(at, message);
        d.help(help);
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
    let (Some(lockout), Access::Ssh { port, from, .. }) = (analysis.lockout, &parsed.access) else {
        return;
    };
    let source = from
        .as_ref()
        .map(|net| format!(" src {}", crate::model::net_text(net)))
        .unwrap_or_default();
    // SSH open to one network only: declaring that network is the fix, not opening
    // SSH to the world.
    let admin_net = parsed.rules.iter().find(|r| {
        r.direction == Direction::In
            && r.action == Action::Allow
            && r.matches.protocols.contains(ProtoSet::TCP)
            && r.matches.dports.iter().any(|p| p.contains(*port))
            && !r.matches.src.is_empty()
    });
    out.push(cut_off(parsed, lockout, "lock the operator out", "new SSH connections", |line| {
        match (admin_net, from) {
            (Some(rule), None) => format!(
                "if SSH is for {} only, declare it: `ssh {port} from {};` (a lockout check then protects that network); to open SSH to every source, add `allow tcp {port};` before line {line}",
                crate::model::nets_text(&rule.matches.src),
                crate::model::net_text(&rule.matches.src[0]),
            ),
            _ => format!(
                "add `allow tcp {port}{source};` before line {line}; on a host reached another way, declare how (`ssh PORT from NETWORK;`) or `ssh none;`"
            ),
        }
    }));
}

/// `ssh 22 from 10.0.0.0/8; drop src $banned; allow ssh src 10.0.0.0/8; …`: whoever
/// fills `banned` at run time can lock the operator out by banning one of their
/// addresses. A warning (the set may never hold one), with the exemption as its help.
/// Without a declared operator network every source is the operator's, and banning
/// some of them is what the set is for.
fn check_dynamic_bans(parsed: &Parsed, analysis: &Analysis, out: &mut Vec<Diagnostic>) {
    let Access::Ssh {
        port,
        from: Some(from),
        ..
    } = &parsed.access
    else {
        return;
    };
    let from = crate::model::net_text(from);
    for &j in &analysis.dynamic_bans {
        let rule = &parsed.rules[j];
        let set = rule.matches.src_set.as_deref().unwrap_or_default();
        let mut d = Diagnostic::warning(
            parsed.rule_tokens[j],
            "dynamic_ban_lockout",
            format!(
                "rule `{}` would lock the operator out if an address of {from} were added to `{set}` at run time",
                rule.text
            ),
        );
        d.help(format!(
            "exempt the operator network: put `allow tcp {port} src {from};` before line {}",
            rule.line
        ));
        out.push(d);
    }
}

/// The error at a rule that cuts the operator off: it `verb`s `what`; the help moves the
/// first later rule that accepts them up, or is `otherwise(line)`.
fn cut_off(
    parsed: &Parsed,
    Lockout { rule: j, rescue }: Lockout,
    verb: &str,
    what: &str,
    otherwise: impl FnOnce(u32) -> String,
) -> Diagnostic {
    let rules = &parsed.rules;
    let rule = &rules[j];
    let mut d = Diagnostic::error(
        parsed.rule_tokens[j],
        format!(
            "rule `{}` would {verb}: it {}s {what} (`{}`)",
            rule.text,
            rule.action.verb(),
            parsed.access
        ),
    );
    match rescue.map(|r| &rules[r]) {
        Some(allow) => d.help(format!("move {} above line {}", quote(allow), rule.line)),
        None => d.help(otherwise(rule.line)),
    };
    d
}

/// `allow … sport N` trusts a field every remote host chooses freely: `allow udp sport
/// 53` (the reference guide's DNS pattern) admits any UDP packet sent from port 53.
/// A warning that points at `allow established`, which admits real replies only.
fn check_source_ports(parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    for (rule, tokens) in parsed.rules.iter().zip(&parsed.rule_tokens) {
        // (The source port of an outgoing packet is this host's own choice.)
        if rule.action == Action::Allow
            && rule.direction != Direction::Out
            && !rule.matches.sports.is_empty()
        {
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

/// An `out` policy must let the replies of the operator's SSH session out, or the
/// session dies with the apply: `allow ssh; drop all; drop out all;` is an error at
/// `drop out all`. Dropping replies to a named destination is a deliberate ban.
fn check_reply_lockout(parsed: &Parsed, analysis: &Analysis, out: &mut Vec<Diagnostic>) {
    let Some(lockout) = analysis.reply_lockout else {
        return;
    };
    out.push(cut_off(
        parsed,
        lockout,
        "cut the operator's SSH session",
        "this host's replies to it",
        |line| format!("add `allow out established;` before line {line}"),
    ));
}

/// `drop out all` with no way out for DNS (udp or tcp 53) leaves the host unable to
/// resolve names: a warning, since a host may use only addresses.
fn check_name_resolution(parsed: &Parsed, model: &Model<'_>, out: &mut Vec<Diagnostic>) {
    let rules = &parsed.rules;
    let Some(catch_all) = rules.iter().position(|r| {
        r.direction == Direction::Out && r.is_catch_all() && r.action != Action::Allow
    }) else {
        return;
    };
    let dns = Matches {
        protocols: ProtoSet::TCP_UDP,
        dports: vec![PortRange::new(53, 53)].into(),
        ..Matches::ANY
    };
    // Replies to queries are `established`; what matters is that a query can leave.
    if model.decides_some_with(true, Direction::Out, &dns, true) {
        return;
    }
    let mut d = Diagnostic::warning(
        parsed.rule_tokens[catch_all],
        "no_name_resolution",
        format!(
            "rule `{}` leaves no way out for DNS: this host cannot resolve names",
            rules[catch_all].text
        ),
    );
    d.help(format!(
        "add `allow out dns;` (or `allow out udp 53 dst RESOLVER;`) before line {}",
        rules[catch_all].line
    ));
    out.push(d);
}

/// `drop forward all` that drops the rest of connections a forward rule lets start (no
/// `allow forward established` before it): containers and routed hosts open
/// connections, and the answers are dropped. A warning. A rule that matches the
/// connection's later packets itself needs nothing more: `allow forward tcp 8080;`
/// matches the port the client connected to (conntrack's original destination port),
/// which the replies of that connection carry too.
fn check_forward_replies(parsed: &Parsed, model: &Model<'_>, out: &mut Vec<Diagnostic>) {
    let rules = &parsed.rules;
    let Some(catch_all) = rules.iter().position(|r| {
        r.direction == Direction::Forward && r.is_catch_all() && r.action != Action::Allow
    }) else {
        return;
    };
    let cut = rules[..catch_all]
        .iter()
        .filter(|r| {
            r.direction == Direction::Forward
                && r.action == Action::Allow
                && r.matches.state.is_none_or(|s| s == ConnState::New)
        })
        .flat_map(|r| later_packets(&r.matches))
        .any(|later| model.decides_some_with(false, Direction::Forward, &later, false));
    if !cut {
        return;
    }
    let mut d = Diagnostic::warning(
        parsed.rule_tokens[catch_all],
        "forward_replies_dropped",
        format!(
            "rule `{}` drops forwarded replies: connections forwarded through this host (containers' included) get no answer back",
            rules[catch_all].text
        ),
    );
    d.help(format!(
        "add `allow forward established;` before line {}",
        rules[catch_all].line
    ));
    out.push(d);
}

/// An input catch-all that drops the replies to this host's own connections (DNS
/// answers, package downloads, whatever `allow out …` lets out): nothing before it
/// accepts established packets, so every connection the host opens hangs. A warning
/// with the fix, unless the policy shows it means it: an `out` policy that lets
/// nothing out.
fn check_own_replies(parsed: &Parsed, model: &Model<'_>, out: &mut Vec<Diagnostic>) {
    let rules = &parsed.rules;
    let Some(catch_all) = rules.iter().position(|r| {
        r.direction == Direction::In && r.is_catch_all() && r.action != Action::Allow
    }) else {
        return;
    };
    let mut outgoing = rules
        .iter()
        .filter(|r| r.direction == Direction::Out)
        .peekable();
    if outgoing.peek().is_some() && outgoing.all(|r| r.action != Action::Allow) {
        return;
    }
    let replies = Matches {
        state: Some(ConnState::Established),
        ..Matches::ANY
    };
    if !model.rule_decides_some(catch_all, &replies) {
        return;
    }
    let rule = &rules[catch_all];
    let mut d = Diagnostic::warning(
        parsed.rule_tokens[catch_all],
        "own_replies_dropped",
        format!(
            "rule `{}` drops the replies to this host's own connections (DNS answers, package downloads, …): no rule before it accepts established packets",
            rule.text
        ),
    );
    d.help(format!(
        "add `allow established;` before line {}",
        rule.line
    ));
    out.push(d);
}

/// The packets after the first of a forwarded connection that `new` lets start: its
/// own later packets, and the replies (addresses and interfaces the other way round,
/// any source port, the same original destination port; for ICMP any type, as an echo
/// is answered by a reply).
fn later_packets(new: &Matches) -> [Matches; 2] {
    let onward = Matches {
        state: Some(ConnState::Established),
        ..new.clone()
    };
    let reply = Matches {
        sports: Vec::new().into(),
        src: new.dst.clone(),
        dst: new.src.clone(),
        src_set: new.dst_set.clone(),
        dst_set: new.src_set.clone(),
        iface: new.oface.clone(),
        oface: new.iface.clone(),
        icmp_type: None,
        state: Some(ConnState::Established),
        ..new.clone()
    };
    [onward, reply]
}

/// `allow src 127.0.0.1;` (the reference guide's loopback rule) lets IPv4 loopback
/// traffic in and nothing of IPv6's: `::1` is then dropped by the catch-all. A warning,
/// pointing at `allow in lo;`, which covers both.
fn check_loopback(parsed: &Parsed, model: &Model<'_>, out: &mut Vec<Diagnostic>) {
    let loopback_v4: ipnet::IpNet = "127.0.0.0/8".parse().expect("a network");
    let Some(i) = parsed.rules.iter().position(|r| {
        r.direction == Direction::In
            && r.action == Action::Allow
            && !r.matches.src.is_empty()
            && r.matches.src.iter().all(|n| loopback_v4.contains(n))
    }) else {
        return;
    };
    let loopback_v6 = Matches {
        src: vec!["::1/128".parse().expect("a network")].into(),
        ..Matches::ANY
    };
    // Warned about when some IPv6 loopback packet meets a rule that does not accept it.
    if !model.decides_some_with(false, Direction::In, &loopback_v6, false) {
        return;
    }
    let rule = &parsed.rules[i];
    let mut d = Diagnostic::warning(
        parsed.rule_tokens[i],
        "ipv4_only_loopback",
        format!(
            "rule `{}` lets IPv4 loopback traffic in, but nothing lets IPv6 loopback (`::1`) in: it is dropped",
            rule.text
        ),
    );
    d.help("write `allow in lo;` instead: it covers both families");
    out.push(d);
}
