//! What a long address list costs the kernel per packet: a blocklist of N addresses as
//! one iptables rule per address, against the same list as one ipset match (fwdsl's
//! rendering above `fwdsl::IPSET_ABOVE` addresses), measured with real packets: a
//! flood ping of 2,000 echo requests from the client namespace, which none of the list
//! matches, so every request walks the whole list. Run as root:
//! `cargo bench -p tests --bench lookup`.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Family, Firewall, Policy};
use std::process::Command;

const PINGS: &str = "2000";

fn blocklist(n: usize) -> Vec<String> {
    (0..n as u32)
        .map(|i| {
            let [a, b, c, d] = (0x6440_0000u32 + i).to_be_bytes();
            format!("{a}.{b}.{c}.{d}")
        })
        .collect()
}

fn policy(hosts: &[String]) -> Policy {
    let list = if hosts.is_empty() {
        String::new()
    } else {
        format!("drop src [{}];\n", hosts.join(", "))
    };
    Policy::parse(&format!("{list}allow ssh;\nallow icmp;\ndrop all;\n")).expect("policy")
}

/// The same rules with the list written out, one `-s` rule per address.
fn load_expanded(sb: &Sandbox, hosts: &[String]) {
    let mut text = String::from("*filter\n:BENCH - [0:0]\n-A INPUT -j BENCH\n");
    for h in hosts {
        text.push_str(&format!("-A BENCH -s {h}/32 -j DROP\n"));
    }
    text.push_str("-A BENCH -p tcp -m tcp --dport 22 -j ACCEPT\n-A BENCH -p icmp -j ACCEPT\n-A BENCH -j DROP\nCOMMIT\n");
    tests::run_with_input(
        Command::new("ip").args([
            "netns",
            "exec",
            sb.server.name(),
            "iptables-restore",
            "--noflush",
        ]),
        &text,
    );
}

/// Flood-pings the server; returns (average round trip in µs, total time in ms).
fn ping(sb: &Sandbox) -> (f64, f64) {
    let out = sb
        .client
        .exec(
            "ping",
            &[
                "-q",
                "-n",
                "-f",
                "-c",
                PINGS,
                "-W",
                "1",
                &Sandbox::SERVER_V4.to_string(),
            ],
        )
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout);
    let total = text
        .split("time ")
        .nth(1)
        .and_then(|t| t.split("ms").next())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let avg = text
        .split(" = ")
        .nth(1)
        .and_then(|t| t.split('/').nth(1))
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    (avg * 1000.0, total)
}

fn main() {
    tests::bench::require_root("root, iproute2 and iptables");
    println!("| list size | rules per address: avg rtt (µs) | total (ms) | ipset: avg rtt (µs) | total (ms) | no list: avg rtt (µs) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let fw = Firewall::new().namespaces_only().ssh_connection(None);
    for n in tests::bench::sizes("FWDSL_BENCH_SIZES", &[100, 1_000, 10_000]) {
        let hosts = blocklist(n);
        let expanded = Sandbox::new("fwdsl-lookup").expect("sandbox");
        load_expanded(&expanded, &hosts);
        let (rules_rtt, rules_total) = ping(&expanded);
        drop(expanded);

        let with_set = Sandbox::new("fwdsl-lookup").expect("sandbox");
        let listed = policy(&hosts);
        assert_eq!(listed.ipsets(Family::V4).len(), 1, "rendered as an ipset");
        with_set
            .server
            .run(|| fw.apply(&listed))
            .unwrap()
            .expect("apply");
        let (set_rtt, set_total) = ping(&with_set);
        drop(with_set);

        let plain = Sandbox::new("fwdsl-lookup").expect("sandbox");
        plain
            .server
            .run(|| fw.apply(&policy(&[])))
            .unwrap()
            .expect("apply");
        let (plain_rtt, _) = ping(&plain);
        println!("| {n} | {rules_rtt:.0} | {rules_total:.0} | {set_rtt:.0} | {set_total:.0} | {plain_rtt:.0} |");
    }
}
