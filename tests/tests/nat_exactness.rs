//! The NAT analysis against brute force, on random gateways: a `dnat` is reported dead
//! exactly when no new connection it translates is accepted by the forward rules,
//! `decide` agrees with a first-match walk of the translated packet, and `assert closed`
//! of the backend's port breaks exactly when some connection from the asserted sources
//! gets through the dnat. The pools are
//! small enough that the candidate packets hold one of every cell the rules carve.

use fwdsl::{Action, Packet, Policy};
use ipnet::IpNet;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

const DPORTS: [Option<(u16, u16)>; 3] = [None, Some((8080, 8080)), Some((80, 80))];
const SRCS: [Option<&str>; 3] = [None, Some("10.0.0.0/8"), Some("10.1.0.0/16")];
const DSTS: [Option<&str>; 3] = [None, Some("192.0.2.5/32"), Some("192.0.2.0/24")];
const NAT_PORTS: [(u16, u16); 2] = [(8080, 8080), (8000, 8100)];
const NAT_SRCS: [Option<&str>; 2] = [None, Some("10.0.0.0/8")];
/// One packet of every cell: ports at and between the boundaries, sources in the /16,
/// in the /8 only, and outside both.
const CANDIDATE_PORTS: [u16; 5] = [80, 8000, 8050, 8080, 8100];
const CANDIDATE_SRCS: [[u8; 4]; 3] = [[10, 1, 2, 3], [10, 2, 0, 1], [11, 0, 0, 1]];
const BACKEND: [u8; 4] = [192, 0, 2, 5];
/// `assert closed tcp PORT [src NET]`: the backend's port (80) or another one.
const ASSERT_PORTS: [u16; 2] = [80, 443];
const ASSERT_SRCS: [Option<&str>; 3] = [None, Some("10.1.0.0/16"), Some("11.0.0.0/8")];

#[derive(Debug, Clone)]
struct ForwardRule {
    allow: bool,
    dport: Option<(u16, u16)>,
    src: Option<&'static str>,
    dst: Option<&'static str>,
}

impl ForwardRule {
    fn text(&self) -> String {
        let mut text = format!("{} forward", if self.allow { "allow" } else { "drop" });
        match self.dport {
            Some((a, b)) if a == b => text.push_str(&format!(" tcp {a}")),
            Some((a, b)) => text.push_str(&format!(" tcp {a}-{b}")),
            None => text.push_str(" tcp"),
        }
        if let Some(s) = self.src {
            text.push_str(&format!(" src {s}"));
        }
        if let Some(d) = self.dst {
            text.push_str(&format!(" dst {d}"));
        }
        text
    }

    /// Whether it matches a forwarded new TCP connection (the port the client
    /// connected to, the address after the translation).
    fn matches(&self, src: IpAddr, dst: IpAddr, dport: u16) -> bool {
        let within = |net: Option<&str>, a: IpAddr| {
            net.is_none_or(|n| n.parse::<IpNet>().unwrap().contains(&a))
        };
        self.dport.is_none_or(|(a, b)| (a..=b).contains(&dport))
            && within(self.src, src)
            && within(self.dst, dst)
    }
}

fn forward_rule() -> impl Strategy<Value = ForwardRule> {
    (
        any::<bool>(),
        prop::sample::select(&DPORTS[..]),
        prop::sample::select(&SRCS[..]),
        prop::sample::select(&DSTS[..]),
    )
        .prop_map(|(allow, dport, src, dst)| ForwardRule {
            allow,
            dport,
            src,
            dst,
        })
}

/// One destination statement of a random list: an exemption or a `dnat` to backend
/// `to`, `local` or not, with a source and a port or not.
#[derive(Debug, Clone)]
struct Destination {
    exempt: bool,
    local: bool,
    src: Option<&'static str>,
    port: Option<u16>,
    to: u8,
}

impl Destination {
    fn text(&self) -> String {
        let mut text = String::from(if self.exempt { "no dnat" } else { "dnat" });
        if self.local {
            text.push_str(" local");
        }
        text.push_str(&self.port.map_or(" tcp".into(), |p| format!(" tcp {p}")));
        if let Some(s) = self.src {
            text.push_str(&format!(" src {s}"));
        }
        if !self.exempt {
            text.push_str(&format!(" to 192.0.2.{}", self.to));
        }
        text
    }

    fn takes(&self, src: IpAddr, port: u16, to_this_host: bool) -> bool {
        self.src
            .is_none_or(|n| n.parse::<IpNet>().unwrap().contains(&src))
            && self.port.is_none_or(|p| p == port)
            && (!self.local || to_this_host)
    }
}

fn destination() -> impl Strategy<Value = Destination> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(&SRCS[..]),
        prop::sample::select(vec![None, Some(8080u16), Some(80)]),
        5u8..8,
    )
        .prop_map(|(exempt, local, src, port, to)| Destination {
            exempt,
            local,
            src,
            port,
            to,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("FWDSL_NAT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    /// `no dnat` and `local` against a first-match walk: a packet to this host or through
    /// it is translated by the first statement that takes it, unless that is an
    /// exemption; `local` statements take only packets to this host.
    #[test]
    fn exemptions_and_local_equal_brute_force(statements in prop::collection::vec(destination(), 1..5)) {
        let mut text = String::from("ssh none;\nallow all;\nallow forward all;\n");
        for s in &statements {
            text.push_str(&format!("{};\n", s.text()));
        }
        let policy = Policy::parse(&text).unwrap();
        for s in CANDIDATE_SRCS {
            for port in [80, 8080, 443] {
                for to_this_host in [true, false] {
                    let packet = Packet::tcp(Ipv4Addr::from(s), port);
                    let packet = match to_this_host {
                        true => packet.dst([203, 0, 113, 1]),
                        false => packet.dst([198, 51, 100, 9]).forwarded(),
                    };
                    let expected = statements
                        .iter()
                        .find(|st| st.takes(IpAddr::from(s), port, to_this_host))
                        .filter(|st| !st.exempt)
                        .map(|st| IpAddr::from([192, 0, 2, st.to]));
                    let got = policy.decide(&packet).nat.map(|t| t.packet.dst);
                    prop_assert_eq!(got, expected, "{}{:?}", text, packet);
                }
            }
        }
    }

    #[test]
    fn dead_dnat_and_decide_equal_brute_force(
        rules in prop::collection::vec(forward_rule(), 1..5),
        catch_all_allows in any::<bool>(),
        nat_ports in prop::sample::select(&NAT_PORTS[..]),
        nat_src in prop::sample::select(&NAT_SRCS[..]),
        assert_port in prop::sample::select(&ASSERT_PORTS[..]),
        assert_src in prop::sample::select(&ASSERT_SRCS[..]),
    ) {
        let mut text = String::from("ssh none;\nallow established;\ndrop all;\nallow forward established;\n");
        for rule in &rules {
            text.push_str(&format!("{};\n", rule.text()));
        }
        text.push_str(if catch_all_allows { "allow forward all;\n" } else { "drop forward all;\n" });
        let (a, b) = nat_ports;
        let ports = if a == b { a.to_string() } else { format!("{a}-{b}") };
        let src = nat_src.map_or(String::new(), |s| format!(" src {s}"));
        text.push_str(&format!("dnat tcp {ports}{src} to 192.0.2.5:80;\n"));

        // Brute force: each candidate the dnat takes, first match over the forward rules.
        let backend = IpAddr::from(BACKEND);
        let taken = |s: IpAddr, p: u16| {
            (a..=b).contains(&p)
                && nat_src.is_none_or(|n| n.parse::<IpNet>().unwrap().contains(&s))
        };
        let verdict = |s: IpAddr, p: u16| -> bool {
            rules
                .iter()
                .find(|r| r.matches(s, backend, p))
                .map_or(catch_all_allows, |r| r.allow)
        };
        let asserted = |s: IpAddr| {
            assert_port == 80 && assert_src.is_none_or(|n| n.parse::<IpNet>().unwrap().contains(&s))
        };
        let (mut accepted_any, mut assertion_broken) = (false, false);
        for s in CANDIDATE_SRCS {
            for p in CANDIDATE_PORTS {
                let s = IpAddr::from(s);
                if taken(s, p) && verdict(s, p) {
                    accepted_any = true;
                    assertion_broken |= asserted(s);
                }
            }
        }
        let assertion = format!(
            "assert closed tcp {assert_port}{};\n",
            assert_src.map_or(String::new(), |n| format!(" src {n}"))
        );
        let with_assertion = Policy::parse(&format!("{assertion}{text}"));
        let reported_broken = with_assertion
            .err()
            .is_some_and(|e| e.to_string().contains("does not hold"));
        prop_assert_eq!(reported_broken, assertion_broken, "{}{}", assertion, text);
        let parsed = Policy::parse(&text);
        let reported_dead = parsed.as_ref().err().is_some_and(|e| e.to_string().contains("is dead"));
        prop_assert_eq!(reported_dead, !accepted_any, "{}", text);
        if let Ok(policy) = parsed {
            for s in CANDIDATE_SRCS {
                for p in CANDIDATE_PORTS {
                    let packet = Packet::tcp(Ipv4Addr::from(s), p).dst([203, 0, 113, 1]);
                    let s = IpAddr::from(s);
                    if !taken(s, p) {
                        continue;
                    }
                    let d = policy.decide(&packet);
                    let expected = if verdict(s, p) { Action::Allow } else { Action::Drop };
                    prop_assert_eq!(d.action(), expected, "{} {:?}", text, packet);
                    let t = d.nat.as_ref().expect("translated");
                    prop_assert_eq!((t.packet.dst, t.packet.dport), (backend, 80));
                }
            }
        }
    }
}
