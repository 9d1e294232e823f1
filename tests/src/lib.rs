//! Helpers shared by the integration tests and benchmarks: generated policies of any
//! size, shaped like the large rule sets operators load (blocklists, per-customer ports).

// The README's examples compile without warnings.
#![doc(test(attr(deny(warnings))))]

/// A policy of `n` rules (n >= 3) that passes every check: `allow ssh` first, then a
/// blocklist of single hosts and /24 networks, per-customer port openings, and
/// `drop all` last. Addresses are from documentation and private ranges only.
pub fn large_policy(n: usize) -> String {
    assert!(n >= 3, "a policy needs ssh, one rule and the catch-all");
    let mut text = String::from("allow ssh;\n");
    let body = n - 2;
    let bans = body / 2;
    for i in 0..bans {
        // Distinct /32s in 100.64.0.0/10 (shared address space), never overlapping.
        let host = 0x6440_0000u32 + i as u32;
        let [a, b, c, d] = host.to_be_bytes();
        text.push_str(&format!("drop src {a}.{b}.{c}.{d};\n"));
    }
    for i in 0..body - bans {
        // Customer i: its own port, open to its own 10.x.y.0/24.
        let port = 10000 + (i % 50000) as u16;
        let net = i as u32;
        text.push_str(&format!(
            "allow tcp {port} src 10.{}.{}.0/24;\n",
            (net >> 8) & 255,
            net & 255
        ));
    }
    text.push_str("drop all;\n");
    text
}

pub mod bench;
pub mod child;

fwdsl::rules! {
    /// The base every host of the example fleet gets: the admin network reaches SSH,
    /// replies come back. Used across crates by the trybuild cases (`use tests::base;`).
    pub base {
        set admins = [10.0.0.0/8];
        ssh 22 from 10.0.0.0/8;
        allow ssh src $admins;
        allow established;
    }
}
pub mod backends;
pub mod docker;
pub mod fail2ban;
pub mod poll;
pub mod probe;
pub mod raw;
pub mod routed;
pub mod skip;
pub use poll::poll;
pub use skip::skip;

/// The reference VPS guide's INPUT rules in the DSL, in the guide's order (its
/// source-port rules included, whose warnings are silenced here on purpose).
#[allow(deprecated)]
pub fn guide_policy() -> fwdsl::Policy {
    fwdsl::firewall! {
        allow tcp 22;
        allow tcp 80;
        allow tcp 25;
        allow tcp sport 25;
        allow tcp sport 53;
        allow udp sport 53;
        allow src 127.0.0.1;
        allow icmp;
        drop all;
    }
}

/// A policy's input rules of one family as `iptables -S` prints them (after `-A CHAIN`).
pub fn command_lines(policy: &fwdsl::Policy, family: fwdsl::Family) -> Vec<String> {
    policy
        .iptables_rules(family)
        .iter()
        .map(fwdsl::RenderedRule::to_command_line)
        .collect()
}

/// Runs `command` with `input` on its standard input; panics if it fails.
pub fn run_with_input(command: &mut std::process::Command, input: &str) {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("write input");
    assert!(child.wait().expect("wait").success(), "{command:?} failed");
}

/// The errors `Policy::parse` reports for `text`, each as the user sees it.
///
/// # Panics
/// When `text` parses.
pub fn policy_errors(text: &str) -> Vec<String> {
    match fwdsl::Policy::parse(text) {
        Err(fwdsl::Error::Policy(problems)) => problems.0.iter().map(|p| p.to_string()).collect(),
        other => panic!("expected errors, got {other:?}"),
    }
}

/// A published-style IPv4 blocklist of `n` networks: random, unsorted, overlapping
/// (one in eight a /16–/24 that holds many of the others), one per line with a few
/// comments, from `seed`. Never a network that reaches into the test namespaces'
/// addresses (10.x, 192.168.x, 192.0.2.0/24) or 198.51.100.0/24: which of those a test
/// lists is its own choice.
pub fn blocklist(n: usize, seed: u64) -> String {
    let mut rng = child::Rng::new(seed);
    let mut out = String::with_capacity(n * 16);
    out.push_str("# generated blocklist\n");
    let mut written = 0;
    while written < n {
        let address = rng.next_u64() as u32;
        let first = address >> 24;
        if first == 10
            || first == 0
            || first >= 224
            || address >> 16 == 0xc0a8
            || address >> 8 == 0xc63364
        {
            continue;
        }
        let prefix = if rng.below(8) == 0 {
            16 + rng.below(9) as u32
        } else {
            32
        };
        let net = ipnet::Ipv4Net::new(address.into(), prefix as u8)
            .expect("prefix <= 32")
            .trunc();
        let kept: [ipnet::Ipv4Net; 2] = [
            "192.0.2.0/24".parse().unwrap(),
            "198.51.100.0/24".parse().unwrap(),
        ];
        if kept.iter().any(|k| k.contains(&net) || net.contains(k)) {
            continue;
        }
        out.push_str(&net.to_string());
        out.push('\n');
        written += 1;
        if written % 10_000 == 0 {
            out.push_str("# a comment line\n");
        }
    }
    out
}

/// The README's examples, compiled and run as doctests so they cannot go stale (here,
/// in a crate that is never packaged: the README lives outside the `fwdsl` package).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
