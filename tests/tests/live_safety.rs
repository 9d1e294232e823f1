//! Live safety when the world is not polite: two fwdsl processes at once, a process
//! killed in the middle of an apply or of its confirmation window, an admin's rule
//! inside fwdsl's chain, a foreign jump into fwdsl's chains. Every trial runs in
//! network namespaces this test creates; the processes it starts run there too and
//! are ended by their id.
//!
//! What both backends do (races, crashes, a dead confirmation window) runs on each;
//! what only iptables has (two families' transactions, an admin's rule inside fwdsl's
//! chain, a foreign jump into it) on iptables. Trial counts are small by default and
//! grow with `FWDSL_RACE_TRIALS` and `FWDSL_CRASH_TRIALS`.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Direction, Error, Family, Firewall, NftRule, Policy, RenderedRule};
use serde_json::Value;
use std::time::{Duration, Instant};
use tests::child::{self, env_count, Rng};
use tests::each_backend;
use tests::probe::{
    both_saved, firewall, on_backend, on_server, sandbox, snapshot, Outcome, Probe, Servers,
};

/// Every fwdsl set in the server namespace, sorted: its ipsets (`ipset list -n`), or
/// the sets of fwdsl's nftables table.
fn fwdsl_sets(sb: &Sandbox, backend: Backend) -> Vec<String> {
    let out = match backend {
        Backend::Iptables => sb.server.exec("ipset", &["list", "-n"]),
        Backend::Nftables => sb.server.exec("nft", &["list", "sets", "inet"]),
    };
    let mut names: Vec<String> = String::from_utf8_lossy(&out.expect("list the sets").stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches("set ").trim_end_matches(" {"))
        .filter(|l| l.starts_with("fwdsl-"))
        .map(String::from)
        .collect();
    names.sort();
    names
}

/// What serves input, per family (one for nftables' `inet` table): the rules of the
/// generation the hook jumps to, and how many generation chains there are.
fn served(sb: &Sandbox, backend: Backend) -> Vec<(Vec<String>, usize)> {
    if backend == Backend::Nftables {
        return vec![nft_served(sb)];
    }
    let (v4, v6) = both_saved(sb);
    [v4, v6]
        .iter()
        .map(|saved| {
            let chains = generations(saved);
            let serving = serving(saved);
            let rules = chains
                .iter()
                .find(|(c, _)| Some(c) == serving.as_ref())
                .map(|(_, rules)| rules.clone())
                .unwrap_or_default();
            (rules, chains.len())
        })
        .collect()
}

/// What `policy` serves as, in the form of [`served`].
fn expected(policy: &Policy, backend: Backend) -> Vec<Vec<String>> {
    match backend {
        Backend::Iptables => vec![rendered(policy, Family::V4), rendered(policy, Family::V6)],
        Backend::Nftables => vec![policy
            .nft_rules(Direction::In)
            .iter()
            .map(NftRule::to_text)
            .collect()],
    }
}

/// Whether exactly `policy` serves, from the only generation chain of each family.
fn serves_only(sb: &Sandbox, backend: Backend, policy: &Policy) -> bool {
    let served = served(sb, backend);
    served.iter().all(|(_, chains)| *chains == 1)
        && served
            .into_iter()
            .map(|(rules, _)| rules)
            .collect::<Vec<_>>()
            == expected(policy, backend)
}

/// [`served`] on nftables, read from `nft -j` as fwdsl reads it: the generation
/// chains `g-…` of fwdsl's table, and the rules of the one the input chain's
/// `fwdsl:generation` jump names, as [`NftRule::to_text`] writes them (counters
/// without their values).
fn nft_served(sb: &Sandbox) -> (Vec<String>, usize) {
    let args = ["-j", "-n", "-t", "list", "table", "inet", "fwdsl"];
    let Ok(out) = sb.server.exec("nft", &args) else {
        return (Vec::new(), 0);
    };
    let doc: Value = serde_json::from_slice(&out.stdout).expect("nft's JSON");
    let items = doc["nftables"].as_array().cloned().unwrap_or_default();
    let chains = items
        .iter()
        .filter(|i| {
            i["chain"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("g-"))
        })
        .count();
    let rules: Vec<&Value> = items.iter().filter_map(|i| i.get("rule")).collect();
    let target = rules
        .iter()
        .filter(|r| r["chain"] == "input")
        .filter(|r| {
            r["comment"]
                .as_str()
                .is_some_and(|c| c.starts_with("fwdsl:generation"))
        })
        .find_map(|r| {
            r["expr"]
                .as_array()?
                .iter()
                .find_map(|e| e["jump"]["target"].as_str())
        });
    let served = rules
        .iter()
        .filter(|r| target.is_some() && r["chain"].as_str() == target)
        .map(|r| {
            let expr: Vec<Value> = r["expr"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| match e.get("counter") {
                    Some(_) => serde_json::json!({"counter": null}),
                    None => e.clone(),
                })
                .collect();
            format!(
                "{} comment {:?}",
                Value::from(expr),
                r["comment"].as_str().unwrap_or("")
            )
        })
        .collect();
    (served, chains)
}

/// The live generation chains of one family, each with its rules as `iptables -S`
/// prints them without `-A CHAIN`.
fn generations(saved: &str) -> Vec<(String, Vec<String>)> {
    let mut chains: Vec<(String, Vec<String>)> = saved
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split(' ').next())
        .filter(|c| c.starts_with("FWDSL-G-"))
        .map(|c| (c.to_string(), Vec::new()))
        .collect();
    for (chain, rules) in &mut chains {
        let prefix = format!("-A {chain} ");
        rules.extend(
            saved
                .lines()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(String::from),
        );
    }
    chains
}

/// The chain `FWDSL-INPUT` jumps to, found by the jump's comment.
fn serving(saved: &str) -> Option<String> {
    saved
        .lines()
        .filter(|l| l.starts_with("-A FWDSL-INPUT ") && l.contains("fwdsl:generation"))
        .find_map(|l| l.split(" -j ").nth(1))
        .map(String::from)
}

fn rendered(policy: &Policy, family: Family) -> Vec<String> {
    policy
        .iptables_rules(family)
        .iter()
        .map(RenderedRule::to_command_line)
        .collect()
}

/// Asserts that each family serves exactly `policy`, from its only generation chain.
fn assert_serves(sb: &Sandbox, policy: &Policy, what: &str) {
    let (v4, v6) = both_saved(sb);
    for (family, saved) in [(Family::V4, &v4), (Family::V6, &v6)] {
        let chains = generations(saved);
        assert_eq!(
            chains.len(),
            1,
            "{what}: {family:?} has {} generation chains:\n{saved}",
            chains.len()
        );
        assert_eq!(serving(saved).as_deref(), Some(chains[0].0.as_str()));
        assert_eq!(
            chains[0].1,
            rendered(policy, family),
            "{what}: {family:?} serves other rules"
        );
    }
}

fn policy_file(sb: &Sandbox, name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}.policy", sb.server.name()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The child role shared by the tests below: apply the policy in the file
/// `FWDSL_POLICY_FILE` (with a confirmation window of `FWDSL_CONFIRM_MS` that never
/// confirms, if set; aborting before mutating step `FWDSL_CRASH_STEP`, if set) on the
/// backend `FWDSL_BACKEND` (detected if unset) and report the outcome on standard
/// output.
#[test]
fn child_apply() {
    if child::role().as_deref() != Some("child_apply") {
        return;
    }
    let text = std::fs::read_to_string(std::env::var("FWDSL_POLICY_FILE").unwrap()).unwrap();
    let policy = Policy::parse(&text).unwrap();
    let mut fw = Firewall::new().namespaces_only().ssh_connection(None);
    if let Ok(backend) = std::env::var("FWDSL_BACKEND") {
        fw = fw.backend(backend.parse().unwrap());
    }
    if let Ok(step) = std::env::var("FWDSL_CRASH_STEP") {
        fw = fw.inject_crash(step.parse().unwrap());
    }
    let result = match std::env::var("FWDSL_CONFIRM_MS") {
        Ok(ms) => {
            fw.apply_with_confirm(&policy, Duration::from_millis(ms.parse().unwrap()), || {
                std::thread::sleep(Duration::from_secs(600));
                true
            })
        }
        Err(_) => fw.apply(&policy),
    };
    match result {
        Ok(report) => println!("child-apply: ok changed={}", report.changed),
        Err(e) => println!("child-apply: error {e}"),
    }
}

const POLICY_A: &str = "allow ssh;\nallow tcp 8001;\ndrop all;\n";
const POLICY_B: &str = "allow ssh;\nallow tcp 8002;\ndrop all;\n";
const POLICY_C: &str = "allow ssh;\nallow tcp 8003;\nallow tcp 8004;\ndrop all;\n";

each_backend! {
fn concurrent_applies_leave_one_whole_policy(backend) {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-race") else {
        return;
    };
    let servers = Servers::start(&sb, &[9999], &[]);
    let (a, b, c) = (
        Policy::parse(POLICY_A).unwrap(),
        Policy::parse(POLICY_B).unwrap(),
        Policy::parse(POLICY_C).unwrap(),
    );
    let files = [
        policy_file(&sb, "a", POLICY_A),
        policy_file(&sb, "c", POLICY_C),
    ];
    let trials = env_count("FWDSL_RACE_TRIALS", 6);
    let mut failures = Vec::new();
    for trial in 0..trials {
        on_backend(&sb, backend, |fw| fw.apply(&b)).expect("policy B live");
        let children: Vec<_> = files
            .iter()
            .map(|file| {
                child::spawn(
                    &sb.server,
                    "child_apply",
                    &[],
                    &[
                        ("FWDSL_POLICY_FILE", file.display().to_string()),
                        ("FWDSL_BACKEND", backend.to_string()),
                    ],
                )
            })
            .collect();
        for child in children {
            let (passed, output) = child::finish(child);
            assert!(passed, "a child failed:\n{output}");
            assert!(output.contains("child-apply: ok"), "{output}");
        }
        if ![&a, &c].iter().any(|p| serves_only(&sb, backend, p)) {
            failures.push(format!("trial {trial}:\n{}", snapshot(&sb)));
        }
    }
    eprintln!(
        "concurrent applies ({backend}): {} trials, {} failures",
        trials,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Whatever won, a port no policy opens is closed, as `decide` says.
    let live = if serves_only(&sb, backend, &a) { a } else { c };
    Probe::Tcp {
        src: Sandbox::CLIENT_V4.into(),
        dst: Sandbox::SERVER_V4.into(),
        port: 9999,
    }
    .check(&sb, &servers, &live, Outcome::Dropped);
    for file in files {
        let _ = std::fs::remove_file(file);
    }
}
}

#[test]
fn an_admins_rule_in_fwdsl_input_survives_a_failed_apply_and_a_good_one() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-adminban") else {
        return;
    };
    let servers = Servers::start(&sb, &[22, 80], &[]);
    let old = fwdsl::firewall! { allow ssh; drop all; };
    let new = fwdsl::firewall! { allow ssh; allow http; drop all; };
    on_server(&sb, |fw| fw.apply(&old)).expect("apply");
    // The admin's one-off ban, in front of fwdsl's jump.
    sb.server
        .exec(
            "iptables",
            &[
                "-I",
                "FWDSL-INPUT",
                "1",
                "-s",
                "203.0.113.5/32",
                "-j",
                "DROP",
            ],
        )
        .unwrap();
    let before = both_saved(&sb);
    let mut position = 0;
    while let Err(e) = sb
        .server
        .run(|| firewall().inject_fault(position).apply(&new))
        .unwrap()
    {
        assert!(matches!(e, Error::Iptables(_)), "step {position}: {e}");
        assert_eq!(
            both_saved(&sb),
            before,
            "rules changed after a failure at step {position}"
        );
        position += 1;
        assert!(position < 50, "apply never completed");
    }
    let (v4, _) = both_saved(&sb);
    assert!(
        v4.contains("-A FWDSL-INPUT -s 203.0.113.5/32 -j DROP\n-A FWDSL-INPUT -m comment"),
        "the ban must stay first:\n{v4}"
    );
    let ssh = Probe::Tcp {
        src: Sandbox::CLIENT_V4.into(),
        dst: Sandbox::SERVER_V4.into(),
        port: 22,
    };
    ssh.check(&sb, &servers, &new, Outcome::Delivered);
    Probe::Tcp {
        src: Sandbox::CLIENT_V4.into(),
        dst: Sandbox::SERVER_V4.into(),
        port: 80,
    }
    .check(&sb, &servers, &new, Outcome::Delivered);
    on_server(&sb, |fw| fw.apply(&old)).expect("back to the old policy");
    ssh.check(&sb, &servers, &old, Outcome::Delivered);
    assert!(both_saved(&sb)
        .0
        .contains("-A FWDSL-INPUT -s 203.0.113.5/32 -j DROP"));
}

/// A 5,000-rule policy whose long lists become ipsets, different for each `seed`.
fn big_policy(seed: u64) -> String {
    let mut text = tests::large_policy(5000);
    let hosts: Vec<String> = (0..20)
        .map(|i| format!("198.51.{}.{}", seed % 200, i + 1))
        .collect();
    text.insert_str(0, &format!("drop src [{}];\n", hosts.join(", ")));
    // And an IPv6 rule of its own: both families change from one policy to the next.
    text.insert_str(
        0,
        &format!("allow tcp {} src \"2001:db8:{seed}::/48\";\n", 8000 + seed),
    );
    text
}

each_backend! {
fn a_crash_at_any_moment_of_an_apply_is_cleaned_up_by_the_next(backend) {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-crash") else {
        return;
    };
    let trials = env_count("FWDSL_CRASH_TRIALS", 4);
    let mut rng = Rng::new(env_count("FWDSL_CRASH_SEED", 7));
    let files: Vec<_> = (0..2)
        .map(|i| policy_file(&sb, &format!("big{i}"), &big_policy(i)))
        .collect();
    let fallback = Policy::parse(&big_policy(9)).unwrap();
    let mut failures = Vec::new();
    let mut splits = 0;
    let mut previous: Option<Policy> = None;
    for trial in 0..trials {
        let mut child = child::spawn(
            &sb.server,
            "child_apply",
            &[],
            &[
                (
                    "FWDSL_POLICY_FILE",
                    files[trial as usize % 2].display().to_string(),
                ),
                ("FWDSL_BACKEND", backend.to_string()),
            ],
        );
        // The child needs ~100 ms to start and several hundred to apply.
        std::thread::sleep(Duration::from_millis(50 + rng.below(900)));
        child::kill(&mut child);
        // Killed between the families' commits (iptables: a transaction each; on
        // nftables one holds both): status must say so.
        let applied = Policy::parse(&big_policy(trial % 2)).unwrap();
        if let Some(previous) = &previous {
            // Status first: it waits for a switch the killed child's programs finish.
            let status = on_backend(&sb, backend, |fw| fw.status());
            let live: Vec<Vec<String>> = served(&sb, backend).into_iter().map(|s| s.0).collect();
            let serves = |policy: &Policy| -> Vec<bool> {
                let expected = expected(policy, backend);
                live.iter().zip(&expected).map(|(l, e)| l == e).collect()
            };
            let (new, old) = (serves(&applied), serves(previous));
            if new.iter().any(|&n| n != new[0]) && old.iter().any(|&o| o != old[0]) {
                splits += 1;
                if !status.as_ref().is_ok_and(|s| s.interrupted.is_some()) {
                    failures.push(format!(
                        "trial {trial}: the families serve different policies, and status says nothing ({:?})",
                        status.map(|s| s.interrupted)
                    ));
                }
            }
        }
        let target = if trial % 3 == 2 {
            fallback.clone()
        } else {
            Policy::parse(&big_policy(trial % 2)).unwrap()
        };
        previous = Some(target.clone());
        match on_backend(&sb, backend, |fw| fw.apply(&target)) {
            Err(e) => failures.push(format!("trial {trial}: apply after the crash failed: {e}")),
            Ok(_) => {
                let ok = serves_only(&sb, backend, &target);
                let mut sets: Vec<String> = target
                    .ipsets(Family::V4)
                    .into_iter()
                    .chain(target.ipsets(Family::V6))
                    .map(|s| s.name)
                    .collect();
                sets.sort();
                if !ok {
                    failures.push(format!("trial {trial}: debris chains or wrong rules"));
                } else if fwdsl_sets(&sb, backend) != sets {
                    failures.push(format!(
                        "trial {trial}: sets {:?}, policy uses {sets:?}",
                        fwdsl_sets(&sb, backend)
                    ));
                }
            }
        }
    }
    eprintln!(
        "crash mid-apply ({backend}): {trials} trials, {splits} left the families split, {} failures",
        failures.len()
    );
    let uninstalled = on_backend(&sb, backend, |fw| fw.uninstall());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    uninstalled.expect("uninstall");
    let left = snapshot(&sb);
    assert!(!left.to_lowercase().contains("fwdsl"), "left after uninstall:\n{left}");
    for file in files {
        let _ = std::fs::remove_file(file);
    }
}
}

each_backend! {
fn a_confirmation_window_reverts_even_when_the_process_dies(backend) {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-watchdog") else {
        return;
    };
    let old = fwdsl::firewall! { allow ssh; drop all; };
    on_backend(&sb, backend, |fw| fw.apply(&old)).expect("apply");
    let before = snapshot(&sb);
    let file = policy_file(&sb, "new", "allow ssh;\nallow http;\ndrop all;\n");
    let mut child = child::spawn(
        &sb.server,
        "child_apply",
        &[],
        &[
            ("FWDSL_POLICY_FILE", file.display().to_string()),
            ("FWDSL_CONFIRM_MS", "4000".into()),
            ("FWDSL_BACKEND", backend.to_string()),
        ],
    );
    // Killed in the middle of its window, after the new rules went live.
    let start = Instant::now();
    while snapshot(&sb) == before && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(
        snapshot(&sb),
        before,
        "the unconfirmed rules never went live"
    );
    std::thread::sleep(Duration::from_millis(500));
    child::kill(&mut child);
    let reverted = Instant::now();
    while snapshot(&sb) != before && reverted.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(file);
    assert_eq!(
        snapshot(&sb),
        before,
        "the unconfirmed policy stayed after its process died"
    );
    // And the namespace is free for the next apply at once.
    on_backend(&sb, backend, |fw| fw.apply(&old)).expect("apply after the revert");
    assert!(serves_only(&sb, backend, &old), "after the revert");
}
}

/// A kill between the two families' commits leaves IPv4 on the new policy and IPv6 on
/// the old one (each family is its own `iptables-restore`): status and plan say so
/// until the next apply puts one policy everywhere.
#[test]
fn a_kill_between_the_families_is_reported_until_the_next_apply() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-split") else {
        return;
    };
    let (a, b) = (
        Policy::parse(POLICY_A).unwrap(),
        Policy::parse(POLICY_B).unwrap(),
    );
    on_server(&sb, |fw| fw.apply(&a)).expect("apply A");
    let file = policy_file(&sb, "split", POLICY_B);
    // Step 0 loads IPv4, step 1 IPv6: the crash falls between them.
    let child = child::spawn(
        &sb.server,
        "child_apply",
        &[],
        &[
            ("FWDSL_POLICY_FILE", file.display().to_string()),
            ("FWDSL_CRASH_STEP", "1".into()),
        ],
    );
    let (passed, output) = child::finish(child);
    assert!(!passed, "the child was to abort: {output}");
    let (v4, v6) = both_saved(&sb);
    assert_eq!(
        generations(&v4)[0].1,
        rendered(&b, Family::V4),
        "IPv4 switched"
    );
    assert_eq!(
        generations(&v6)[0].1,
        rendered(&a, Family::V6),
        "IPv6 did not"
    );
    let status = on_server(&sb, |fw| fw.status()).expect("status");
    let split = status
        .interrupted
        .clone()
        .expect("status reports the split");
    assert_eq!(split.switched, [(Family::V4, fwdsl::Direction::In)]);
    assert_eq!(split.not_switched, [(Family::V6, fwdsl::Direction::In)]);
    assert!(
        status
            .to_string()
            .contains("IPv4 serve the new policy, IPv6 the previous one"),
        "{status}"
    );
    let plan = on_server(&sb, |fw| fw.plan(&b)).expect("plan");
    assert!(plan.interrupted.is_some(), "{plan}");
    on_server(&sb, |fw| fw.apply(&b)).expect("apply B again");
    assert_serves(&sb, &b, "after the apply that converges");
    let status = on_server(&sb, |fw| fw.status()).expect("status");
    assert!(status.interrupted.is_none(), "{status}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn uninstall_is_all_or_nothing() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-uninstall") else {
        return;
    };
    on_server(&sb, |fw| fw.apply(&blocklist())).expect("apply");
    // A foreign rule jumping into fwdsl's chain, on one family only.
    sb.server
        .exec("ip6tables", &["-A", "FORWARD", "-j", "FWDSL-INPUT"])
        .unwrap();
    let before = (both_saved(&sb), fwdsl_sets(&sb, Backend::Iptables));
    let refused = on_server(&sb, |fw| fw.uninstall());
    assert!(
        matches!(&refused, Err(Error::InUse { rule }) if rule.contains("FORWARD")),
        "{refused:?}"
    );
    assert_eq!(
        (both_saved(&sb), fwdsl_sets(&sb, Backend::Iptables)),
        before
    );
    sb.server
        .exec("ip6tables", &["-D", "FORWARD", "-j", "FWDSL-INPUT"])
        .unwrap();
    // A failure at either family's step leaves everything as it was.
    let before = (both_saved(&sb), fwdsl_sets(&sb, Backend::Iptables));
    for position in 0..2 {
        let failed = sb
            .server
            .run(|| firewall().inject_fault(position).uninstall())
            .unwrap();
        assert!(matches!(failed, Err(Error::Iptables(_))), "{failed:?}");
        assert_eq!(
            (both_saved(&sb), fwdsl_sets(&sb, Backend::Iptables)),
            before,
            "step {position}"
        );
    }
    on_server(&sb, |fw| fw.uninstall()).expect("uninstall");
    let (v4, v6) = both_saved(&sb);
    assert!(!(v4 + &v6).contains("FWDSL"));
    assert!(fwdsl_sets(&sb, Backend::Iptables).is_empty());
}

/// A policy with a rule that has a long source list and a long destination list: two
/// ipsets in one rule.
fn blocklist() -> Policy {
    let list = |net: &str| {
        (1..=10)
            .map(|i| format!("{net}.{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Policy::parse(&format!(
        "drop src [{}] dst [{}];\nallow ssh;\ndrop all;\n",
        list("198.51.100"),
        list("192.0.2")
    ))
    .unwrap()
}

#[test]
fn every_set_of_a_rule_is_collected_on_a_switch() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-twosets") else {
        return;
    };
    let policy = blocklist();
    on_server(&sb, |fw| fw.apply(&policy)).expect("apply");
    assert_eq!(
        fwdsl_sets(&sb, Backend::Iptables).len(),
        2,
        "{:?}",
        fwdsl_sets(&sb, Backend::Iptables)
    );
    let plain = fwdsl::firewall! { allow ssh; drop all; };
    on_server(&sb, |fw| fw.apply(&plain)).expect("switch");
    assert!(
        fwdsl_sets(&sb, Backend::Iptables).is_empty(),
        "{:?}",
        fwdsl_sets(&sb, Backend::Iptables)
    );
}

#[test]
fn a_network_of_length_zero_reapplies_as_a_noop() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-slash0") else {
        return;
    };
    let policy = Policy::parse(
        "allow tcp 80 src 0.0.0.0/0;\nallow tcp 81 dst ::/0;\nallow ssh;\ndrop all;\n",
    )
    .unwrap();
    on_server(&sb, |fw| fw.apply(&policy)).expect("apply");
    let again = on_server(&sb, |fw| fw.apply(&policy)).expect("re-apply");
    assert_eq!((again.changed, again.commands), (false, 0), "{again:?}");
    assert_serves(&sb, &policy, "after a /0 policy");
}

#[test]
fn a_rule_text_that_names_two_rules_is_refused() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-ambiguous") else {
        return;
    };
    let policy = Policy::parse(
        "drop src [198.51.100.1, 198.51.100.2, 198.51.100.3, 198.51.100.4];\n\
         drop src [198.51.100.1, 198.51.100.2, 198.51.100.3, 198.51.100.5];\n\
         allow ssh;\ndrop all;\n",
    )
    .unwrap();
    let (first, second) = (&policy.rules()[0].text, &policy.rules()[1].text);
    assert_eq!(first, second, "the two texts must read the same");
    on_server(&sb, |fw| fw.apply(&policy)).expect("apply");
    let before = both_saved(&sb);
    let refused = sb
        .server
        .run(|| firewall().remove_rule(&fwdsl::RuleSelector::Text(first.to_string())))
        .unwrap();
    assert!(
        matches!(&refused, Err(Error::AmbiguousRule { numbers, .. }) if numbers == &[1, 2]),
        "{refused:?}"
    );
    assert_eq!(both_saved(&sb), before);
    let removed = sb
        .server
        .run(|| firewall().remove_rule(&fwdsl::RuleSelector::Number(2)))
        .unwrap()
        .expect("remove by number");
    assert_eq!(removed, 4, "one iptables rule per address");
}

/// The child role of the bounded-listing test: an apply whose `iptables -S` hangs.
#[test]
fn child_stalled_listing() {
    if child::role().as_deref() != Some("child_stalled_listing") {
        return;
    }
    let policy = fwdsl::firewall! { allow ssh; drop all; };
    let start = Instant::now();
    let err = Firewall::new()
        .namespaces_only()
        .ssh_connection(None)
        .command_timeout(Duration::from_secs(1))
        .apply(&policy)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { command, .. } if command.contains("-S")),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_listing_that_stalls_is_ended_within_the_bound() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-stall") else {
        return;
    };
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v iptables"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let dir = std::env::temp_dir().join(format!("{}-fakebin", sb.server.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("iptables");
    // Listings hang, as under heavy foreign churn; everything else is the real thing.
    std::fs::write(
        &fake,
        format!("#!/bin/sh\ncase \" $* \" in *\" -S \"*) sleep 30;; esac\nexec {real} \"$@\"\n"),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", &fake.display().to_string()])
        .status()
        .unwrap();
    let before = both_saved(&sb);
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
    let child = child::spawn(&sb.server, "child_stalled_listing", &[], &[("PATH", path)]);
    let (passed, output) = child::finish(child);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(passed, "the child failed its assertions:\n{output}");
    assert_eq!(both_saved(&sb), before);
}

/// Packet counter of the IPv6 rule whose comment starts with `comment`.
fn v6_counter(sb: &Sandbox, comment: &str) -> u64 {
    let out = sb.server.exec("ip6tables", &["-S", "-v"]).unwrap();
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = listing
        .lines()
        .find(|l| l.contains(&format!("\"{comment}")))
        .unwrap_or_else(|| panic!("no rule `{comment}` in\n{listing}"));
    let counters = line.split(" -c ").nth(1).expect("counters");
    counters.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn neighbour_discovery_from_off_the_link_meets_the_policy() {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-nd") else {
        return;
    };
    let policy = fwdsl::firewall! { allow ssh; drop all; };
    on_server(&sb, |fw| fw.apply(&policy)).expect("apply");
    let dropped = v6_counter(&sb, "fwdsl:2 drop all");
    // A neighbour solicitation as a host off the link would send it: hop limit 64.
    sb.client
        .run(|| {
            let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)).unwrap();
            socket.set_unicast_hops_v6(64).unwrap();
            let mut packet = vec![135u8, 0, 0, 0, 0, 0, 0, 0];
            packet.extend_from_slice(&Sandbox::SERVER_V6.octets());
            let to = std::net::SocketAddr::new(Sandbox::SERVER_V6.into(), 0);
            socket.send_to(&packet, &SockAddr::from(to)).unwrap();
        })
        .unwrap();
    let start = Instant::now();
    while v6_counter(&sb, "fwdsl:2 drop all") == dropped && start.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        v6_counter(&sb, "fwdsl:2 drop all"),
        dropped + 1,
        "the off-link solicitation must reach `drop all`"
    );
    // On-link neighbour discovery (hop limit 255) still works: SSH over IPv6 connects.
    let servers = Servers::start(&sb, &[22], &[]);
    Probe::Tcp {
        src: Sandbox::CLIENT_V6.into(),
        dst: Sandbox::SERVER_V6.into(),
        port: 22,
    }
    .check(&sb, &servers, &policy, Outcome::Delivered);
}

#[test]
fn the_session_guard_knows_the_interface_the_session_comes_in_on() {
    if child::role().is_some() {
        return;
    }
    let Some(sb) = sandbox("fwdsl-sessioniface") else {
        return;
    };
    // SSH is open, except on the interface this session uses.
    let policy =
        Policy::parse("ssh none;\ndrop in veth0 tcp 22;\nallow tcp 22;\ndrop all;\n").unwrap();
    // The replies leave through that interface: dropped there before `established`.
    let egress = Policy::parse(
        "ssh none;\nallow tcp 22;\ndrop all;\ndrop out via veth0;\nallow out established;\ndrop out all;\n",
    )
    .unwrap();
    let pristine = both_saved(&sb);
    for (session, policy) in [
        "192.0.2.2 50022 192.0.2.1 22",
        "::ffff:192.0.2.2 50022 ::ffff:192.0.2.1 22",
        "[2001:db8:f::2] 50022 [2001:db8:f::1] 22",
    ]
    .into_iter()
    .flat_map(|s| [(s, &policy), (s, &egress)])
    {
        let refused = sb
            .server
            .run(|| {
                Firewall::new()
                    .namespaces_only()
                    .ssh_connection(Some(session))
                    .apply(policy)
            })
            .unwrap();
        assert!(
            matches!(refused, Err(Error::WouldCutSession { .. })),
            "{session}: {refused:?}"
        );
    }
    let unreadable = sb
        .server
        .run(|| {
            Firewall::new()
                .namespaces_only()
                .ssh_connection(Some("fe80::2%veth0 50022 fe80::1%veth0"))
                .apply(&policy)
        })
        .unwrap();
    assert!(
        matches!(unreadable, Err(Error::UnreadableSession(_))),
        "{unreadable:?}"
    );
    assert_eq!(both_saved(&sb), pristine);
}
