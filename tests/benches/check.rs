//! Run-time check cost: `Policy::parse` (lex, parse, every check) of generated policies
//! of 100, 1,000 and 10,000 rules. Prints a table; run with `cargo bench -p tests --bench check`.

use std::time::Instant;

fn main() {
    println!("| rules | parse + check (ms) | per rule (µs) |");
    println!("|---:|---:|---:|");
    for n in [100, 1_000, 10_000] {
        let text = tests::large_policy(n);
        // Best of three: the first run pays for page faults, not for the analysis.
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                let policy =
                    fwdsl::Policy::parse(&text).expect("generated policies pass the checks");
                assert_eq!(policy.rules().len(), n);
                start.elapsed()
            })
            .min()
            .unwrap();
        println!(
            "| {n} | {:.1} | {:.1} |",
            best.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e6 / n as f64
        );
    }
}
