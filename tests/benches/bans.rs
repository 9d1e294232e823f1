//! Bans with lifetimes, side by side with the bare tools in one run, on both backends,
//! each measurement in a fresh network namespace this benchmark creates:
//!
//! - N bans of one address each, one call each (`Firewall::set_add_for`, what a
//!   fail2ban action does), against N bare `ipset add … timeout` / `nft add element`;
//! - the same N bans in one call, against one `ipset restore` / one `nft -f`;
//! - `Firewall::set_sync` of 10·N members into an empty set, against one bare
//!   `ipset restore` / `nft -f` of the same additions.
//!
//! Run as root: `cargo bench -p tests --bench bans`. Sizes: `FWDSL_BANS_SIZES=100,10000`
//! (the default; 10,000 is the one-call-each size, its sync 100,000).

use fwdsl::sandbox::Netns;
use fwdsl::{Backend, Policy};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tests::bench::{firewall, measure, ms, ratio, run};

const POLICY: &str = "set banned dynamic timeout 1h;\ndrop src $banned;\nallow ssh;\ndrop all;\n";
const HOUR: Duration = Duration::from_secs(3600);

fn addresses(n: usize) -> Vec<IpNet> {
    (0..n as u32)
        .map(|i| IpNet::from(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))))
        .collect()
}

/// One bare command adding `a` for an hour.
fn bare_one(backend: Backend, a: &IpNet) {
    let a = a.addr().to_string();
    match backend {
        Backend::Iptables => run(
            "ipset",
            &["add", "fwdsl-d4-banned", &a, "timeout", "3600"],
            None,
        ),
        Backend::Nftables => run(
            "nft",
            &[
                "add",
                "element",
                "inet",
                "fwdsl",
                "fwdsl-d4-banned",
                &format!("{{ {a} timeout 1h }}"),
            ],
            None,
        ),
    }
}

/// One bare batch adding all of `list` for an hour.
fn bare_batch(backend: Backend, list: &[IpNet]) {
    match backend {
        Backend::Iptables => {
            let input: String = list
                .iter()
                .map(|a| format!("add fwdsl-d4-banned {} timeout 3600\n", a.addr()))
                .collect();
            run("ipset", &["restore", "-exist"], Some(&input));
        }
        Backend::Nftables => {
            let elements: Vec<String> = list
                .iter()
                .map(|a| format!("{} timeout 1h", a.addr()))
                .collect();
            let input = format!(
                "add element inet fwdsl fwdsl-d4-banned {{ {} }}\n",
                elements.join(", ")
            );
            run("nft", &["-f", "-"], Some(&input));
        }
    }
}

fn main() {
    tests::bench::require_root("root, iproute2, iptables, ipset and nft");
    let sizes = tests::bench::sizes("FWDSL_BANS_SIZES", &[100, 10_000]);
    let policy = Policy::parse(POLICY).expect("the policy");
    println!("| backend | what | members | fwdsl (ms) | bare (ms) | ratio |");
    println!("|---|---|---:|---:|---:|---:|");
    for backend in [Backend::Iptables, Backend::Nftables] {
        let fw = || firewall().backend(backend);
        let applied = |ns: &Netns| {
            ns.run(|| fw().apply(&policy).expect("apply"))
                .map(|_| ())
                .unwrap()
        };
        for &n in &sizes {
            let list = addresses(n);
            let row = |what: &str, members: usize, mine: Duration, bare: Duration| {
                println!(
                    "| {backend} | {what} | {members} | {} | {} | {} |",
                    ms(mine),
                    ms(bare),
                    ratio(mine, bare)
                );
            };
            let mine = measure(3, applied, || {
                for a in &list {
                    fw().set_add_for("banned", std::slice::from_ref(a), Some(HOUR))
                        .expect("ban");
                }
            });
            let bare = measure(3, applied, || {
                list.iter().for_each(|a| bare_one(backend, a))
            });
            row("one call each", n, mine, bare);
            let mine = measure(3, applied, || {
                fw().set_add_for("banned", &list, Some(HOUR)).expect("ban")
            });
            let bare = measure(3, applied, || bare_batch(backend, &list));
            row("one batch", n, mine, bare);
            let many = addresses(n * 10);
            let wanted: Vec<(IpNet, Option<Duration>)> =
                many.iter().map(|a| (*a, Some(HOUR))).collect();
            let mine = measure(3, applied, || {
                let report = fw().set_sync("banned", &wanted).expect("sync");
                assert_eq!(report.added.len(), many.len());
            });
            let bare = measure(3, applied, || bare_batch(backend, &many));
            row("set_sync into an empty set", n * 10, mine, bare);
        }
    }
}
