//! The importer against an interpreter of the chain program, on random programs: a
//! built-in INPUT chain and two user chains with jumps, gotos, `RETURN`s, negated
//! sources, verdicts and a policy, written as `iptables-save` text, imported, read back as a policy, and every
//! candidate packet (one of each cell the matches carve) decided by both: the same
//! verdict each time, and the import's own proof finds no difference. The proof is also
//! shown to find a planted one. The same for nftables rulesets (`nft -j` JSON) with two
//! base chains on the input hook, in two tables, at random priorities: an accept ends
//! only its own chain.

use fwdsl::import::{iptables_save, nft_json, SavedFile};
use fwdsl::{Action, Packet, Policy};
use ipnet::IpNet;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone)]
enum Target {
    Accept,
    Drop,
    Reject,
    Return,
    Jump(&'static str),
    Goto(&'static str),
}

#[derive(Debug, Clone)]
struct Rule {
    dport: Option<u16>,
    src: Option<&'static str>,
    /// `! -s NET`: the rule applies to sources outside it.
    not_src: Option<&'static str>,
    target: Target,
}

impl Rule {
    fn text(&self, chain: &str) -> String {
        let mut t = format!("-A {chain}");
        if let Some(s) = self.src {
            t.push_str(&format!(" -s {s}"));
        }
        if let Some(s) = self.not_src {
            t.push_str(&format!(" ! -s {s}"));
        }
        if let Some(p) = self.dport {
            t.push_str(&format!(" -p tcp -m tcp --dport {p}"));
        }
        t.push_str(&match &self.target {
            Target::Accept => " -j ACCEPT".to_string(),
            Target::Drop => " -j DROP".to_string(),
            Target::Reject => " -j REJECT --reject-with icmp-port-unreachable".to_string(),
            Target::Return => " -j RETURN".to_string(),
            Target::Jump(c) => format!(" -j {c}"),
            Target::Goto(c) => format!(" -g {c}"),
        });
        t
    }

    fn matches(&self, p: &Packet) -> bool {
        self.dport
            .is_none_or(|d| p.proto == fwdsl::Proto::Tcp && p.dport == d)
            && self
                .src
                .is_none_or(|s| s.parse::<IpNet>().unwrap().contains(&p.src))
            && self
                .not_src
                .is_none_or(|s| !s.parse::<IpNet>().unwrap().contains(&p.src))
    }
}

#[derive(Debug, Clone)]
struct Program {
    policy_drops: bool,
    input: Vec<Rule>,
    a: Vec<Rule>,
    b: Vec<Rule>,
}

impl Program {
    fn text(&self) -> String {
        let mut t = format!(
            "*filter\n:INPUT {} [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n",
            if self.policy_drops { "DROP" } else { "ACCEPT" }
        );
        for (name, rules) in [("INPUT", &self.input), ("A", &self.a), ("B", &self.b)] {
            for r in rules {
                t.push_str(&r.text(name));
                t.push('\n');
            }
        }
        t.push_str("COMMIT\n");
        t
    }

    fn chain(&self, name: &str) -> &[Rule] {
        match name {
            "A" => &self.a,
            "B" => &self.b,
            _ => &self.input,
        }
    }

    /// The kernel's walk: `None` when the chain returns (or ends, for a user chain).
    fn walk(&self, name: &str, p: &Packet) -> Option<Action> {
        for r in self.chain(name) {
            if !r.matches(p) {
                continue;
            }
            match &r.target {
                Target::Accept => return Some(Action::Allow),
                Target::Drop => return Some(Action::Drop),
                Target::Reject => return Some(Action::Reject),
                Target::Return => return None,
                Target::Jump(c) => {
                    if let Some(v) = self.walk(c, p) {
                        return Some(v);
                    }
                }
                // A goto's return goes to this chain's caller.
                Target::Goto(c) => return self.walk(c, p),
            }
        }
        None
    }

    fn verdict(&self, p: &Packet) -> Action {
        self.walk("INPUT", p).unwrap_or(if self.policy_drops {
            Action::Drop
        } else {
            Action::Allow
        })
    }
}

fn rule(targets: Vec<Target>) -> impl Strategy<Value = Rule> {
    (
        prop::sample::select(vec![None, Some(22u16), Some(80)]),
        prop::sample::select(vec![None, Some("10.0.0.0/8"), Some("10.1.0.0/16")]),
        prop::sample::select(vec![None, None, Some("10.1.0.0/16"), Some("11.0.0.0/8")]),
        prop::sample::select(targets),
    )
        .prop_map(|(dport, src, not_src, target)| Rule {
            dport,
            src,
            not_src,
            target,
        })
}

fn program() -> impl Strategy<Value = Program> {
    use Target::*;
    // No loops: INPUT may call A and B, A may call B, B calls nothing.
    let input = vec![Accept, Drop, Reject, Jump("A"), Jump("B"), Goto("A")];
    let a = vec![Accept, Drop, Return, Jump("B"), Goto("B")];
    let b = vec![Accept, Drop, Reject, Return];
    (
        any::<bool>(),
        prop::collection::vec(rule(input), 0..5),
        prop::collection::vec(rule(a), 0..4),
        prop::collection::vec(rule(b), 0..4),
    )
        .prop_map(|(policy_drops, input, a, b)| Program {
            policy_drops,
            input,
            a,
            b,
        })
}

/// One packet of every cell: ports on and off the rules', sources in the /16, in the /8
/// only and outside, and a UDP packet.
fn candidates() -> Vec<Packet> {
    let srcs = [[10, 1, 2, 3], [10, 2, 0, 1], [11, 0, 0, 1]];
    let mut out = Vec::new();
    for s in srcs {
        for port in [22, 80, 443] {
            out.push(Packet::tcp(Ipv4Addr::from(s), port));
        }
        out.push(Packet::udp(Ipv4Addr::from(s), 22));
    }
    out
}

/// The import of one IPv4 file.
fn import_v4(text: &str, partial: bool) -> fwdsl::import::Import {
    iptables_save(
        Some(SavedFile {
            name: "rules.v4",
            text,
        }),
        None,
        "",
        partial,
    )
    .unwrap()
}

impl Rule {
    /// The rule's expressions as `nft -j` lists them.
    fn nft(&self) -> serde_json::Value {
        use serde_json::json;
        let prefix = |net: &str| {
            let net: IpNet = net.parse().unwrap();
            json!({"prefix": {"addr": net.addr().to_string(), "len": net.prefix_len()}})
        };
        let saddr = json!({"payload": {"protocol": "ip", "field": "saddr"}});
        let mut expr = Vec::new();
        if let Some(s) = self.src {
            expr.push(json!({"match": {"op": "==", "left": saddr, "right": prefix(s)}}));
        }
        if let Some(s) = self.not_src {
            expr.push(json!({"match": {"op": "!=", "left": saddr, "right": prefix(s)}}));
        }
        if let Some(p) = self.dport {
            expr.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": p}}));
        }
        expr.push(json!({"counter": {"packets": 0, "bytes": 0}}));
        expr.push(match &self.target {
            Target::Accept => json!({"accept": null}),
            Target::Drop => json!({"drop": null}),
            Target::Reject => json!({"reject": {"type": "icmpx", "expr": "port-unreachable"}}),
            Target::Return => json!({"return": null}),
            Target::Jump(c) => json!({"jump": {"target": c}}),
            Target::Goto(c) => json!({"goto": {"target": c}}),
        });
        serde_json::Value::Array(expr)
    }
}

/// A base chain on the input hook: its table, priority, policy and rules.
#[derive(Debug, Clone)]
struct Base {
    table: &'static str,
    priority: i64,
    drops: bool,
    rules: Vec<Rule>,
}

/// Two base chains on the input hook; the first's table also has chains `A` and `B`.
#[derive(Debug, Clone)]
struct Ruleset {
    bases: [Base; 2],
    a: Vec<Rule>,
    b: Vec<Rule>,
}

impl Ruleset {
    fn json(&self) -> String {
        use serde_json::json;
        let mut items = vec![json!({"metainfo": {"json_schema_version": 1}})];
        let mut handle = 100;
        let mut chain = |items: &mut Vec<serde_json::Value>,
                         table: &str,
                         name: &str,
                         base: Option<&Base>,
                         rules: &[Rule]| {
            let mut c = json!({"family": "ip", "table": table, "name": name, "handle": 1});
            if let Some(b) = base {
                c["type"] = json!("filter");
                c["hook"] = json!("input");
                c["prio"] = json!(b.priority);
                c["policy"] = json!(if b.drops { "drop" } else { "accept" });
            }
            items.push(json!({"chain": c}));
            for r in rules {
                handle += 1;
                items.push(json!({"rule": {"family": "ip", "table": table, "chain": name, "handle": handle, "expr": r.nft()}}));
            }
        };
        for b in &self.bases {
            items.push(json!({"table": {"family": "ip", "name": b.table, "handle": 1}}));
        }
        chain(&mut items, self.bases[0].table, "A", None, &self.a);
        chain(&mut items, self.bases[0].table, "B", None, &self.b);
        for b in &self.bases {
            chain(&mut items, b.table, "input", Some(b), &b.rules);
        }
        json!({"nftables": items}).to_string()
    }

    /// nftables' walk: base chains by priority; a drop or reject is final, an accept
    /// (or the end under policy accept) passes the packet to the next.
    fn verdict(&self, p: &Packet) -> Action {
        let mut bases: Vec<&Base> = self.bases.iter().collect();
        bases.sort_by_key(|b| b.priority);
        for base in bases {
            // The first table's chain may call A and B; the other's calls nothing.
            let (a, b) = match base.table == self.bases[0].table {
                true => (self.a.clone(), self.b.clone()),
                false => (Vec::new(), Vec::new()),
            };
            let program = Program {
                policy_drops: base.drops,
                input: base.rules.clone(),
                a,
                b,
            };
            match program.walk("INPUT", p) {
                Some(Action::Allow) => continue,
                Some(verdict) => return verdict,
                None if base.drops => return Action::Drop,
                None => continue,
            }
        }
        Action::Allow
    }
}

fn ruleset() -> impl Strategy<Value = Ruleset> {
    use Target::*;
    let first = vec![
        Accept,
        Drop,
        Reject,
        Return,
        Jump("A"),
        Jump("B"),
        Goto("A"),
    ];
    let second = vec![Accept, Drop, Reject, Return];
    let base = |table, targets: Vec<Target>| {
        (
            prop::sample::select(vec![-10i64, 0, 10]),
            any::<bool>(),
            prop::collection::vec(rule(targets), 0..4),
        )
            .prop_map(move |(priority, drops, rules)| Base {
                table,
                priority,
                drops,
                rules,
            })
    };
    (
        base("host", first),
        base("other", second),
        prop::collection::vec(rule(vec![Accept, Drop, Return, Jump("B"), Goto("B")]), 0..4),
        prop::collection::vec(rule(vec![Accept, Drop, Reject, Return]), 0..4),
    )
        .prop_map(|(first, second, a, b)| Ruleset {
            bases: [first, second],
            a,
            b,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("FWDSL_IMPORT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    #[test]
    fn the_nft_import_decides_as_the_ruleset(ruleset in ruleset()) {
        let json = ruleset.json();
        let import = nft_json(SavedFile { name: "ruleset.json", text: &json }, None, None, false).unwrap();
        prop_assert!(import.is_equivalent(), "{:?}\n{}", ruleset, import);
        let policy = Policy::parse(&import.text).unwrap();
        for p in candidates() {
            let expected = ruleset.verdict(&p);
            let got = policy.decide(&p).action();
            prop_assert_eq!(got, expected, "{:?}\n{}\n{:?}", ruleset, import.text, p);
        }
    }

    #[test]
    fn the_import_decides_as_the_chain_program(program in program()) {
        let text = program.text();
        let import = import_v4(&text, false);
        prop_assert!(import.is_equivalent(), "{}\n{}", text, import);
        let policy = Policy::parse(&import.text).unwrap();
        for p in candidates() {
            let expected = program.verdict(&p);
            let got = policy.decide(&p).action();
            prop_assert_eq!(got, expected, "{}\n{}\n{:?}", text, import.text, p);
        }
    }
}

/// The proof is not vacuous: a policy text changed by one rule is found, with a witness.
#[test]
fn the_proof_finds_a_planted_difference() {
    let text = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
    let import = import_v4(text, false);
    assert!(import.is_equivalent(), "{import}");
    let original = Policy::parse(&import.text).unwrap();
    let changed = Policy::parse(
        &import
            .text
            .replace("allow tcp 22;", "allow tcp 22;\nallow tcp 80;"),
    )
    .unwrap();
    let found = fwdsl_core::differences(original.rules(), changed.rules());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].witness.dport, 80);
    let src: IpAddr = found[0].witness.src;
    assert!(src.is_ipv4() || src.is_ipv6());
}

/// What the language cannot say is refused with its line and reason, never guessed;
/// `partial` writes the rest and says so.
#[test]
fn what_cannot_be_said_is_refused_by_line() {
    let text = "*filter\n:INPUT DROP [0:0]\n-A INPUT -m recent --name ssh --set -j ACCEPT\n-A INPUT -m conntrack ! --ctstate NEW -j DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-mark 1\nCOMMIT\n";
    let import = import_v4(text, false);
    assert!(!import.is_equivalent());
    assert_eq!(import.refused[0].line, 3);
    assert!(import.refused[0].reason.contains("`recent`"), "{import}");
    assert!(import.text.is_empty(), "nothing written without partial");
    let partial = import_v4(text, true);
    assert_eq!(partial.refused.len(), 2, "{partial}");
    assert_eq!(partial.refused[1].line, 4);
    assert!(
        partial.text.contains("# REFUSED rules.v4:3"),
        "{}",
        partial.text
    );
    assert!(partial.text.contains("allow tcp 22;"), "{}", partial.text);
    assert_eq!(partial.other_tables.len(), 1);
    assert!(partial.to_string().contains("NOT equivalent"), "{partial}");
}

/// Lint names planted problems by the original's lines: a rule shadowed by an earlier
/// one, a rule trusting the source port, an SSH lockout at the chain's policy.
#[test]
fn lint_finds_planted_problems_by_their_lines() {
    let text = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 80 -j DROP\n-A INPUT -p udp -m udp --sport 53 -j ACCEPT\nCOMMIT\n";
    let import = import_v4(text, false);
    assert!(import.is_equivalent(), "{import}");
    let findings = import.lint();
    let at = |line: usize| {
        findings
            .iter()
            .filter(move |f| f.file == "rules.v4" && f.line == line)
    };
    assert!(
        at(7).any(|f| f.message.contains("never decides a packet")),
        "{findings:?}"
    );
    assert!(
        at(8).any(|f| f.message.contains("trusts the source port")),
        "{findings:?}"
    );
    assert!(
        at(0).any(|f| f.error && f.message.contains("lock the operator out")),
        "{findings:?}"
    );
    assert!(at(6).next().is_none(), "{findings:?}");
}

/// The nat table: DNAT, REDIRECT and MASQUERADE (through a user chain with a RETURN)
/// become NAT statements, proved by their translations; `decide` then follows a packet
/// through the imported `dnat`.
#[test]
fn the_nat_table_imports_as_nat_statements() {
    let text = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 8081 -j ACCEPT\n-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -d 10.0.0.5/32 -j ACCEPT\n-A FORWARD -s 10.8.0.0/24 -j ACCEPT\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:PUBLISH - [0:0]\n-A PREROUTING -j PUBLISH\n-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8081\n-A PUBLISH -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:8080\n-A PUBLISH -s 192.0.2.0/24 -j RETURN\n-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n";
    let import = import_v4(text, false);
    assert!(import.is_equivalent(), "{import}\n{}", import.text);
    for statement in [
        "dnat tcp 8080 in eth0 to 10.0.0.5:8080;",
        "redirect tcp 80 to 8081;",
        "masquerade src 10.8.0.0/24 via eth0;",
    ] {
        assert!(
            import.text.contains(statement),
            "{statement}\n{}",
            import.text
        );
    }
    let policy = Policy::parse(&import.text).unwrap();
    let outside = Packet::tcp([198, 51, 100, 7], 8080)
        .dst([203, 0, 113, 1])
        .iface("eth0");
    let d = policy.decide(&outside);
    assert_eq!(
        d.nat.map(|t| t.packet.dst),
        Some(IpAddr::from([10, 0, 0, 5]))
    );
    // Returning untranslated before a translation of the same packets: an exemption
    // (`no dnat`) where a later statement could take them, proved the same way.
    let early = text.replace(
        "-A PUBLISH -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:8080\n-A PUBLISH -s 192.0.2.0/24 -j RETURN\n",
        "-A PUBLISH -s 192.0.2.0/24 -j RETURN\n-A PUBLISH -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:8080\n",
    );
    let exempt = import_v4(&early, false);
    assert!(exempt.is_equivalent(), "{exempt}\n{}", exempt.text);
    assert!(
        exempt.text.contains("\nno dnat src 192.0.2.0/24;"),
        "{}",
        exempt.text
    );
    let policy = Policy::parse(&exempt.text).unwrap();
    let from_exempt = Packet::tcp([192, 0, 2, 9], 8080)
        .dst([203, 0, 113, 1])
        .iface("eth0");
    assert_eq!(policy.decide(&from_exempt).nat, None);
    assert!(policy.decide(&outside).nat.is_some());
}
