//! Seeded random policies against the kernel: each is applied in a network namespace
//! this test creates, probed with real packets whose fate must be what `decide` says,
//! re-applied (which must change nothing), replaced by the next, and at the end
//! uninstalled without a trace. Once per backend, with the same seed: both agree with
//! `decide` on every probe, so with each other.
//!
//! Small by default; `FWDSL_DIFF_POLICIES`, `FWDSL_DIFF_PROBES` and `FWDSL_DIFF_SEED`
//! make bigger or other runs (a failing seed replays exactly).

use fwdsl::sandbox::Sandbox;
use fwdsl::Policy;
use std::net::IpAddr;
use tests::child::{env_count, Rng};
use tests::each_backend;
use tests::probe::{firewall_on, sandbox, snapshot, Probe, Servers};

const TCP_PORTS: [u16; 5] = [22, 80, 443, 8080, 9002];
const UDP_PORTS: [u16; 2] = [53, 9001];

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.below(from.len() as u64) as usize]
}

/// One random rule's matches, from pools that meet the probes' addresses and ports.
fn matches(rng: &mut Rng) -> String {
    let tcp = [
        "tcp 80",
        "tcp 443",
        "tcp 8080",
        "tcp 9001-9003",
        "tcp 80, 443",
        "http",
    ];
    let udp = ["udp 53", "udp 9001", "dns"];
    let src = [
        "src 192.0.2.2",
        "src 192.0.2.3",
        "src 192.0.2.0/24",
        "src 0.0.0.0/0",
        "src \"2001:db8:f::2\"",
        "src ::/0",
        "src 198.51.100.0/24",
        "dst 192.0.2.1",
    ];
    match rng.below(7) {
        0 => pick(rng, &tcp).to_string(),
        1 => pick(rng, &udp).to_string(),
        2 => pick(rng, &src).to_string(),
        3 => format!("{} {}", pick(rng, &tcp), pick(rng, &src)),
        4 => format!("{} {}", pick(rng, &udp), pick(rng, &src)),
        5 => "icmp".to_string(),
        // A list long enough to become an ipset.
        _ => {
            let hosts: Vec<String> = (1..=9).map(|i| format!("198.51.100.{i}")).collect();
            format!("src [192.0.2.3, {}]", hosts.join(", "))
        }
    }
}

/// A random policy that passes every check (drawn again until one does).
fn policy(rng: &mut Rng) -> Policy {
    for _ in 0..500 {
        let mut text = String::from("allow ssh;\n");
        for _ in 0..2 + rng.below(5) {
            let verb = pick(rng, &["allow", "allow", "drop", "reject"]);
            text.push_str(&format!("{verb} {};\n", matches(rng)));
        }
        text.push_str(pick(rng, &["drop all;\n", "reject all;\n", "drop all;\n"]));
        if let Ok(policy) = Policy::parse(&text) {
            return policy;
        }
    }
    panic!("no random policy passed the checks in 500 draws");
}

fn probe(rng: &mut Rng) -> Probe {
    let v6 = rng.below(3) == 0;
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (Sandbox::CLIENT_V6.into(), Sandbox::SERVER_V6.into())
    } else if rng.below(2) == 0 {
        (Sandbox::CLIENT_V4_ALT.into(), Sandbox::SERVER_V4.into())
    } else {
        (Sandbox::CLIENT_V4.into(), Sandbox::SERVER_V4.into())
    };
    match rng.below(5) {
        0 => Probe::Udp {
            src,
            dst,
            sport: 40000 + rng.below(10000) as u16,
            port: UDP_PORTS[rng.below(UDP_PORTS.len() as u64) as usize],
        },
        1 if !v6 => Probe::Ping { dst },
        _ => Probe::Tcp {
            src,
            dst,
            port: TCP_PORTS[rng.below(TCP_PORTS.len() as u64) as usize],
        },
    }
}

each_backend! {
fn random_policies_decide_as_the_kernel_does(backend) {
    let Some(sb) = sandbox("fwdsl-diff") else {
        return;
    };
    let servers = Servers::start(&sb, &TCP_PORTS, &UDP_PORTS);
    let seed = env_count("FWDSL_DIFF_SEED", 2026);
    let mut rng = Rng::new(seed);
    let fw = || firewall_on(backend);
    let policies = env_count("FWDSL_DIFF_POLICIES", 3);
    let probes = env_count("FWDSL_DIFF_PROBES", 6);
    for n in 0..policies {
        let policy = policy(&mut rng);
        let context = format!("seed {seed}, policy {n}:\n{policy:?}");
        sb.server
            .run(|| fw().apply(&policy))
            .unwrap()
            .unwrap_or_else(|e| panic!("{context}\napply: {e}"));
        for _ in 0..probes {
            probe(&mut rng).agrees(&sb, &servers, &policy);
        }
        let again = sb.server.run(|| fw().apply(&policy)).unwrap().unwrap();
        assert_eq!(again.commands, 0, "{context}\nre-apply was not a no-op");
    }
    sb.server
        .run(|| fw().uninstall())
        .unwrap()
        .expect("uninstall");
    let left = snapshot(&sb);
    assert!(!left.to_lowercase().contains("fwdsl"), "left after uninstall:\n{left}");
}
}
