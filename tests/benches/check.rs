//! Run-time cost of the language: `Policy::parse` (lex, parse, every check) of generated
//! policies of 100, 1,000 and 10,000 rules, and `decide` throughput on them.
//! Prints tables; run with `cargo bench -p tests --bench check`.

use fwdsl::{Packet, Policy};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Packets of every kind the generated policies decide: banned hosts, customers on
/// their port, strangers that fall through to `drop all`.
fn packets(n: usize) -> Vec<Packet> {
    (0..n as u32)
        .map(|i| match i % 3 {
            0 => Packet::tcp(Ipv4Addr::from(0x6440_0000 + i % 5000), 22),
            1 => Packet::tcp(
                Ipv4Addr::new(10, ((i >> 8) & 255) as u8, (i & 255) as u8, 7),
                10000 + (i % 5000) as u16,
            ),
            _ => Packet::udp(Ipv4Addr::new(198, 51, 100, (i & 255) as u8), 53),
        })
        .collect()
}

fn main() {
    println!("| rules | parse + check (ms) | per rule (µs) | decide (packets/s) |");
    println!("|---:|---:|---:|---:|");
    for n in tests::bench::sizes("FWDSL_BENCH_SIZES", &[100, 1_000, 10_000]) {
        let text = tests::large_policy(n);
        // Best of three: the first run pays for page faults, not for the analysis.
        let (best, policy) = (0..3)
            .map(|_| {
                let start = Instant::now();
                let policy = Policy::parse(&text).expect("generated policies pass the checks");
                (start.elapsed(), policy)
            })
            .min_by_key(|(t, _)| *t)
            .unwrap();
        assert_eq!(policy.rules().len(), n);
        let probes = packets(3_000);
        let start = Instant::now();
        let mut rounds = 0;
        while start.elapsed().as_millis() < 300 {
            for p in &probes {
                black_box(policy.decide(black_box(p)).index);
            }
            rounds += 1;
        }
        let pps = (rounds * probes.len()) as f64 / start.elapsed().as_secs_f64();
        println!(
            "| {n} | {:.1} | {:.1} | {:.0} |",
            best.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e6 / n as f64,
            pps
        );
    }
}
