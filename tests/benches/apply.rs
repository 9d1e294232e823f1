//! Apply cost against the kernel, side by side in one run, each measurement in a fresh
//! network namespace this benchmark creates (never the machine's own):
//!
//! - fwdsl's apply, batch path (rules in one `iptables-restore --noflush`) and per-rule
//!   path (one `iptables -A` through the `iptables` crate per rule);
//! - `iptables-restore --noflush` of exactly the rules fwdsl renders, alone;
//! - one `iptables -A` process per rule;
//! - `iptables-save` then `iptables-restore --noflush`, per family: the reference
//!   guide's "back up, then load", which reads the live table as fwdsl must;
//! - a no-op re-apply of the unchanged policy against `iptables-save` + `ip6tables-save`
//!   (reading the same state: fwdsl reads both families).
//!
//! Run as root: `cargo bench -p tests --bench apply`. Sizes: `FWDSL_BENCH_SIZES=100,1000`.

use fwdsl::sandbox::Netns;
use fwdsl::{Family, Policy};
use std::process::Command;
use std::time::Duration;
use tests::bench::{firewall, hwm_kib, ms};

const RUNS: usize = 5;

/// Best of [`RUNS`], each in a fresh namespace.
fn measure(prepare: impl Fn(&Netns), work: impl Fn() + Sync) -> Duration {
    tests::bench::measure(RUNS, prepare, work)
}

fn restore(program: &str, text: &str) {
    tests::run_with_input(Command::new(program).arg("--noflush"), text);
}

fn restore_both(policy: &Policy) {
    restore("iptables-restore", &policy.to_restore(Family::V4));
    restore("ip6tables-restore", &policy.to_restore(Family::V6));
}

fn save_both() {
    for program in ["iptables-save", "ip6tables-save"] {
        let out = Command::new(program).output().unwrap();
        assert!(out.status.success(), "{program}");
    }
}

fn append_each(policy: &Policy) {
    for (family, program) in [(Family::V4, "iptables"), (Family::V6, "ip6tables")] {
        let status = Command::new(program)
            .args(["-N", "FWDSL-BENCH"])
            .status()
            .unwrap();
        assert!(status.success());
        for rule in policy.iptables_rules(family) {
            let status = Command::new(program)
                .args(["-A", "FWDSL-BENCH"])
                .args(&rule.args)
                .status()
                .unwrap();
            assert!(status.success(), "{program} -A {}", rule.to_command_line());
        }
    }
}

fn main() {
    tests::bench::require_root("root, iproute2 and iptables");
    let sizes = tests::bench::sizes("FWDSL_BENCH_SIZES", &[100, 1000, 10000]);
    println!("| rules | iptables rules (v4+v6) | iptables-restore ×2 (ms) | fwdsl batch (ms) | ratio | save, then restore ×2 (ms) | ratio | fwdsl per-rule (ms) | iptables -A each (ms) | iptables-save ×2 (ms) | fwdsl no-op (ms) | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let policy = Policy::parse(&tests::large_policy(n)).expect("generated policy");
        let rendered =
            policy.iptables_rules(Family::V4).len() + policy.iptables_rules(Family::V6).len();
        let nothing = |_: &Netns| {};
        let restore_time = measure(nothing, || restore_both(&policy));
        let backed_up = measure(nothing, || {
            save_both();
            restore_both(&policy)
        });
        let batch = measure(nothing, || {
            firewall().batch_above(0).apply(&policy).expect("apply");
        });
        // One process per rule grows with the ruleset: measured where it finishes in minutes.
        let (per_rule, each) = if n <= 1000 {
            (
                ms(measure(nothing, || {
                    firewall()
                        .batch_above(usize::MAX)
                        .apply(&policy)
                        .expect("apply");
                })),
                ms(measure(nothing, || append_each(&policy))),
            )
        } else {
            ("-".into(), "-".into())
        };
        let installed = |ns: &Netns| {
            ns.run(|| firewall().apply(&policy).expect("apply"))
                .map(|_| ())
                .unwrap()
        };
        let save = measure(installed, save_both);
        let noop = measure(installed, || {
            let report = firewall().apply(&policy).expect("re-apply");
            assert!(!report.changed);
        });
        println!(
            "| {n} | {rendered} | {} | {} | {:.2} | {} | {:.2} | {per_rule} | {each} | {} | {} | {:.2} |",
            ms(restore_time),
            ms(batch),
            batch.as_secs_f64() / restore_time.as_secs_f64(),
            ms(backed_up),
            batch.as_secs_f64() / backed_up.as_secs_f64(),
            ms(save),
            ms(noop),
            noop.as_secs_f64() / save.as_secs_f64()
        );
    }
    println!();
    println!("peak memory of this process (policies, renderings, snapshots of the live table): {} KiB (VmHWM)", hwm_kib());
}
