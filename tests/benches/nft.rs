//! The nftables backend against the kernel, side by side in one run, each measurement
//! in a fresh network namespace this benchmark creates (never the machine's own):
//!
//! - fwdsl's apply on nftables against `nft -f` of exactly the table fwdsl loads (taken
//!   from a scratch namespace, untimed), and against fwdsl's apply on iptables;
//! - a no-op re-apply against `nft -j -t list ruleset` (reading the same state);
//! - a blocklist of N networks from a file (`tests::blocklist`), applied and re-applied,
//!   against `nft -f` of the same table and the same listing.
//!
//! Run as root: `cargo bench -p tests --bench nft`. Sizes: `FWDSL_BENCH_SIZES=100,1000`
//! (rules) and `FWDSL_BLOCKLIST_SIZES=10000,100000,1000000` (networks).

use fwdsl::sandbox::Netns;
use fwdsl::{Backend, Policy};
use std::time::Duration;
use tests::bench::{firewall, hwm_kib, measure, ms, ratio, run};

fn nft(args: &[&str], input: Option<&str>) {
    run("nft", args, input);
}

fn apply(backend: Backend, policy: &Policy) {
    let report = firewall().backend(backend).apply(policy).expect("apply");
    assert!(report.changed);
}

/// The table fwdsl loads for `policy`, as `nft -s list` prints it: applied in a scratch
/// namespace, listed, the namespace removed.
fn table_of(policy: &Policy) -> String {
    let ns = Netns::create("fwdsl-bench-ref").expect("namespace");
    ns.run(|| apply(Backend::Nftables, policy)).unwrap();
    let out = ns
        .exec("nft", &["-s", "list", "table", "inet", "fwdsl"])
        .expect("list");
    String::from_utf8(out.stdout).unwrap()
}

/// One row: apply, the bare load, the no-op, the bare listing.
struct Row {
    apply: Duration,
    bare: Duration,
    noop: Duration,
    listing: Duration,
}

fn row(runs: usize, policy: &Policy, fresh: impl Fn() -> Policy + Sync) -> Row {
    let table = table_of(policy);
    let nothing = |_: &Netns| {};
    let installed = |ns: &Netns| {
        ns.run(|| apply(Backend::Nftables, policy)).unwrap();
    };
    // Made untimed for each run; taken by the timed apply.
    let slot = std::sync::Mutex::new(None);
    let prepare = |_: &Netns| *slot.lock().unwrap() = Some(fresh());
    let take = || slot.lock().unwrap().take().expect("a fresh policy");
    Row {
        apply: measure(runs, prepare, || apply(Backend::Nftables, &take())),
        bare: measure(runs, nothing, || nft(&["-f", "-"], Some(&table))),
        noop: measure(runs, installed, || {
            let report = firewall().backend(Backend::Nftables).apply(policy).unwrap();
            assert!(!report.changed);
        }),
        listing: measure(runs, installed, || {
            nft(&["-j", "-t", "list", "ruleset"], None)
        }),
    }
}

fn main() {
    tests::bench::require_root("root, iproute2, iptables and nft");
    println!("| rules | nft -f (ms) | fwdsl nft apply (ms) | ratio | fwdsl iptables apply (ms) | nft / iptables | nft -j -t list ruleset (ms) | fwdsl nft no-op (ms) | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in tests::bench::sizes("FWDSL_BENCH_SIZES", &[100, 1000, 10000]) {
        let policy = Policy::parse(&tests::large_policy(n)).expect("generated policy");
        let r = row(5, &policy, || policy.clone());
        let iptables = measure(5, |_| {}, || apply(Backend::Iptables, &policy));
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ms(r.bare),
            ms(r.apply),
            ratio(r.apply, r.bare),
            ms(iptables),
            ratio(r.apply, iptables),
            ms(r.listing),
            ms(r.noop),
            ratio(r.noop, r.listing),
        );
    }
    println!();
    println!("| networks | nft -f (ms) | fwdsl nft apply (ms) | ratio | nft -j -t list ruleset (ms) | fwdsl nft no-op (ms) | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    const POLICY: &str =
        "drop src [file \"drop.txt\"];\nallow ssh;\nallow tcp 80, 443;\ndrop all;\n";
    for n in tests::bench::sizes("FWDSL_BLOCKLIST_SIZES", &[10_000, 100_000, 1_000_000]) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("drop.txt"), tests::blocklist(n, 7)).unwrap();
        std::fs::write(dir.path().join("host.policy"), POLICY).unwrap();
        let from_file = || Policy::from_file(dir.path().join("host.policy")).unwrap();
        let policy = from_file();
        // Each timed apply starts from a policy fresh from the file (parsed untimed), as
        // a provisioning run does: its sets are named and rendered in the timed run.
        let runs = if n >= 1_000_000 { 2 } else { 3 };
        let r = row(runs, &policy, from_file);
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} |",
            ms(r.bare),
            ms(r.apply),
            ratio(r.apply, r.bare),
            ms(r.listing),
            ms(r.noop),
            ratio(r.noop, r.listing),
        );
    }
    println!();
    println!("peak memory of this process: {} KiB (VmHWM)", hwm_kib());
}
