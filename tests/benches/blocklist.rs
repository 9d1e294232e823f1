//! Large blocklists and dynamic sets, side by side with the bare tools in one run, each
//! kernel measurement in a fresh network namespace this benchmark creates (never the
//! machine's own):
//!
//! - `Policy::from_file` of a policy whose list file holds N random, unsorted,
//!   overlapping networks (parse and every check; in a process of its own, so that its
//!   peak memory is its own), against `ipset restore` loading the same list;
//! - fwdsl's apply of that policy, against `ipset restore` + `iptables-restore` +
//!   `ip6tables-restore` of exactly what fwdsl loads;
//! - a no-op re-apply, against one `ipset save` + `iptables-save` + `ip6tables-save`
//!   (what reading the same state costs with the bare tools);
//! - `Firewall::set_add` of 10,000 addresses to a live dynamic set, against one `ipset
//!   restore` of the same additions.
//!
//! Run as root: `cargo bench -p tests --bench blocklist`. Sizes:
//! `FWDSL_BLOCKLIST_SIZES=10000,100000,1000000` (the default).

use fwdsl::sandbox::Netns;
use fwdsl::{Family, Policy};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tests::bench::{firewall, hwm_kib, measure, ms, ratio, run};

const POLICY: &str = "drop src [file \"drop.txt\"];\nallow ssh;\nallow tcp 80, 443;\ndrop all;\n";

/// In the child: `Policy::from_file` of the policy in `dir`; prints `ms hwm_kib`.
fn parse_child(dir: &Path) {
    let start = Instant::now();
    let policy = Policy::from_file(dir.join("host.policy")).expect("the policy checks");
    let elapsed = start.elapsed();
    assert_eq!(policy.rules().len(), 4);
    println!("{:.1} {}", elapsed.as_secs_f64() * 1e3, hwm_kib());
}

/// The list as bare `ipset restore` input.
fn ipset_input(list: &str, name: &str) -> String {
    let mut text = format!("create {name} hash:net family inet maxelem 2097152\n");
    for line in list.lines() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if !entry.is_empty() {
            text.push_str(&format!("add {name} {entry} -exist\n"));
        }
    }
    text
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--parse") {
        parse_child(Path::new(&args[i + 1]));
        return;
    }
    tests::bench::require_root("root, iproute2, iptables and ipset");
    let sizes = tests::bench::sizes("FWDSL_BLOCKLIST_SIZES", &[10_000, 100_000, 1_000_000]);
    let nothing = |_: &Netns| {};
    println!("| networks | parse + check (ms) | peak memory (MiB) | ipset restore of the list (ms) | ratio | fwdsl apply (ms) | ipset restore + iptables-restore ×2 (ms) | ratio | fwdsl no-op (ms) | ipset save + iptables-save ×2 (ms) | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let runs = if n >= 1_000_000 { 2 } else { 3 };
        let dir = tempfile::tempdir().expect("temp dir");
        let list = tests::blocklist(n, 7);
        std::fs::write(dir.path().join("drop.txt"), &list).unwrap();
        std::fs::write(dir.path().join("host.policy"), POLICY).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .arg("--parse")
            .arg(dir.path())
            .output()
            .expect("parse in a child");
        let out = String::from_utf8_lossy(&child.stdout);
        let (parse_ms, hwm) = out.trim().split_once(' ').expect("child output");
        let parse = Duration::from_secs_f64(parse_ms.parse::<f64>().unwrap() / 1e3);
        let hwm_mib = hwm.parse::<f64>().unwrap() / 1024.0;

        let bare_list = ipset_input(&list, "bench");
        let ipset_load = measure(runs, nothing, || {
            run("ipset", &["restore"], Some(&bare_list))
        });

        let policy = Policy::from_file(dir.path().join("host.policy")).unwrap();
        let sets: String = policy
            .ipsets(Family::V4)
            .iter()
            .map(|s| s.to_restore())
            .collect();
        let (v4, v6) = (policy.to_restore(Family::V4), policy.to_restore(Family::V6));
        let bare_apply = measure(runs, nothing, || {
            run("ipset", &["restore"], Some(&sets));
            run("iptables-restore", &["--noflush"], Some(&v4));
            run("ip6tables-restore", &["--noflush"], Some(&v6));
        });
        // fwdsl's runs start from a policy fresh from the file (parsed untimed): a
        // provisioning run renders and hashes its lists once, and that is timed.
        let fresh = std::sync::Mutex::new(None);
        let parse_fresh = || {
            *fresh.lock().unwrap() =
                Some(Policy::from_file(dir.path().join("host.policy")).unwrap());
        };
        let take = || fresh.lock().unwrap().take().expect("a fresh policy");
        let apply = measure(
            runs,
            |_| parse_fresh(),
            || {
                firewall().apply(&take()).expect("apply");
            },
        );
        let installed = |ns: &Netns| {
            ns.run(|| firewall().apply(&policy).expect("apply"))
                .map(|_| ())
                .unwrap()
        };
        let bare_read = measure(runs, installed, || {
            run("ipset", &["save"], None);
            run("iptables-save", &[], None);
            run("ip6tables-save", &[], None);
        });
        let noop = measure(
            runs,
            |ns| {
                installed(ns);
                parse_fresh();
            },
            || assert!(!firewall().apply(&take()).expect("re-apply").changed),
        );
        println!(
            "| {n} | {} | {hwm_mib:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ms(parse),
            ms(ipset_load),
            ratio(parse, ipset_load),
            ms(apply),
            ms(bare_apply),
            ratio(apply, bare_apply),
            ms(noop),
            ms(bare_read),
            ratio(noop, bare_read),
        );
    }

    // Dynamic sets: 10,000 bans at once, live.
    let dynamic = Policy::parse("set banned dynamic;\ndrop src $banned;\nallow ssh;\ndrop all;\n")
        .expect("the dynamic policy");
    let bans: Vec<ipnet::IpNet> = tests::blocklist(10_000, 11)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    let adds: String = bans
        .iter()
        .map(|b| format!("add fwdsl-d4-banned {b} -exist\n"))
        .collect();
    let applied = |ns: &Netns| {
        ns.run(|| firewall().apply(&dynamic).expect("apply"))
            .map(|_| ())
            .unwrap()
    };
    let bare_add = measure(5, applied, || run("ipset", &["restore"], Some(&adds)));
    let set_add = measure(5, applied, || {
        firewall().set_add("banned", &bans).expect("set_add")
    });
    println!();
    println!("| additions to a live dynamic set | `Firewall::set_add` (ms) | one `ipset restore` (ms) | ratio |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} |",
        bans.len(),
        ms(set_add),
        ms(bare_add),
        ratio(set_add, bare_add)
    );
}
