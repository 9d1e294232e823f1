//! The NAT statements without root: what parses and what is refused, the checks of
//! their traffic against the filter rules, `decide` through the translation.

use fwdsl::{Action, NatKind, Packet, Policy};
use std::net::IpAddr;

fn errors(text: &str) -> String {
    Policy::parse(text).unwrap_err().to_string()
}

fn warnings(text: &str) -> Vec<String> {
    Policy::parse(text)
        .unwrap_or_else(|e| panic!("{e}"))
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect()
}

const FORWARDING: &str = "ssh none;\nallow all;\nallow forward established;\n";

#[test]
fn every_form_of_the_issue_parses_to_its_canonical_text() {
    let policy = Policy::parse(&format!(
        "{FORWARDING}allow forward all;\n\
         dnat tcp 8080 to 10.0.0.5:80;\n\
         dnat tcp 8080 in eth0 to 10.0.0.5;\n\
         dnat udp 51820 to \"[2001:db8::5]:51820\";\n\
         redirect tcp 80 to 8080;\n\
         masquerade src 10.8.0.0/24 via eth0;\n\
         snat src 10.8.0.0/24 via eth0 to 203.0.113.5;\n"
    ))
    .unwrap();
    let texts: Vec<&str> = policy.nat().iter().map(|n| n.text.as_ref()).collect();
    assert_eq!(
        texts,
        [
            "dnat tcp 8080 to 10.0.0.5:80",
            "dnat tcp 8080 in eth0 to 10.0.0.5",
            "dnat udp 51820 to [2001:db8::5]:51820",
            "redirect tcp 80 to 8080",
            "masquerade src 10.8.0.0/24 via eth0",
            "snat src 10.8.0.0/24 via eth0 to 203.0.113.5",
        ]
    );
    assert_eq!(
        policy.nat()[0].kind,
        NatKind::Dnat {
            addr: [10, 0, 0, 5].into(),
            port: Some(80)
        }
    );
    // The macro builds the same.
    let macro_built = fwdsl::firewall! {
        ssh none; allow all; allow forward established; allow forward all;
        dnat tcp 8080 to 10.0.0.5:80;
        dnat tcp 8080 in eth0 to 10.0.0.5;
        dnat udp 51820 to "[2001:db8::5]:51820";
        redirect tcp 80 to 8080;
        masquerade src 10.8.0.0/24 via eth0;
        snat src 10.8.0.0/24 via eth0 to 203.0.113.5;
    };
    // The same statements (their lines are the macro's own).
    let without_lines = |p: &Policy| -> Vec<(NatKind, fwdsl::Matches, String)> {
        p.nat()
            .iter()
            .map(|n| (n.kind, n.matches.clone(), n.text.to_string()))
            .collect()
    };
    assert_eq!(without_lines(&macro_built), without_lines(&policy));
}

#[test]
fn what_nat_cannot_do_is_refused_with_the_fix() {
    for (text, says) in [
        (
            "masquerade src 10.8.0.0/24 via eth0 to 1.2.3.4;",
            "remove `to …`",
        ),
        ("dnat tcp 8080;", "`dnat` needs a target"),
        ("dnat to 10.0.0.5;", "`dnat` has no match"),
        ("masquerade;", "`masquerade` has no match"),
        (
            "dnat tcp 8080 established to 10.0.0.5;",
            "sees only the first packet",
        ),
        ("dnat tcp 8080 to 10.0.0.5:0;", "port 0"),
        (
            "dnat tcp 8080 to ten.zero;",
            "is not an address to translate to",
        ),
        (
            "dnat tcp 8080 src \"2001:db8::/32\" to 10.0.0.5;",
            "one statement per address family",
        ),
        ("redirect tcp 80 to 70000;", "out of range"),
        ("snat src 10.8.0.0/24 to 203.0.113.5:99;", "not its port"),
        (
            "masquerade src 10.8.0.0/24 in eth0;",
            "`in eth0` is for input",
        ),
    ] {
        let e = errors(&format!("{FORWARDING}allow forward all;\n{text}\n"));
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn a_dnat_the_forward_rules_drop_is_dead_and_the_error_names_the_fix() {
    let e = errors(&format!(
        "{FORWARDING}allow forward tcp 443 dst 10.0.0.9;\ndrop forward all;\ndnat tcp 8080 to 10.0.0.5:80;\n"
    ));
    assert!(
        e.contains("`dnat tcp 8080 to 10.0.0.5:80` is dead: the forward rules drop every connection it sends on; `drop forward all` (line 5) drops them"),
        "{e}"
    );
    assert!(
        e.contains("add `allow forward tcp 8080 dst 10.0.0.5;` before line 5"),
        "{e}"
    );
    // With that rule, it lives.
    Policy::parse(&format!(
        "{FORWARDING}allow forward tcp 8080 dst 10.0.0.5;\ndrop forward all;\ndnat tcp 8080 to 10.0.0.5:80;\n"
    ))
    .unwrap();
    // A redirect to a port the input rules drop is dead too.
    let e = errors("ssh none;\nallow tcp 80;\ndrop all;\nredirect tcp 80 to 8080;\n");
    assert!(e.contains("add `allow tcp 8080;` before line 3"), "{e}");
}

#[test]
fn rules_blind_to_a_translation_are_warned_about() {
    let blind = warnings(
        "ssh none;\nallow tcp 8080;\ndrop all;\nallow forward established;\nallow forward tcp 80 dst 10.0.0.5;\nallow forward tcp 8080 dst 10.0.0.5;\ndrop forward all;\ndnat tcp 8080 to 10.0.0.5:80;\n",
    );
    assert!(
        blind.iter().any(|w| w
            .contains("rule `allow tcp 8080` never sees the new connections it is written for")),
        "{blind:?}"
    );
    assert!(
        blind
            .iter()
            .any(|w| w
                .contains("rule `allow forward tcp 80 dst 10.0.0.5` matches the translated port")),
        "{blind:?}"
    );
    let dropped = warnings(&format!(
        "{FORWARDING}allow forward tcp 443 src 192.0.2.0/24;\ndrop forward all;\nmasquerade src 10.8.0.0/24 via eth0;\n"
    ));
    assert!(
        dropped
            .iter()
            .any(|w| w.contains("translates connections the forward rules drop")),
        "{dropped:?}"
    );
}

/// A host part every assertion test here shares.
const HOST: &str = "ssh none;\nallow tcp 443;\ndrop all;\nallow forward established;\n";

#[test]
fn assert_closed_holds_through_nat() {
    let e = errors(&format!(
        "assert closed tcp 3306;\n{HOST}allow forward tcp 13306;\ndrop forward all;\ndnat tcp 13306 to 10.0.0.5:3306;\n"
    ));
    assert!(
        e.contains("`assert closed tcp 3306` does not hold: `dnat tcp 13306 to 10.0.0.5:3306` (line 8) lets a new connection"),
        "{e}"
    );
    // The same port translated to a port nobody asserted about: holds.
    Policy::parse(&format!(
        "assert closed tcp 3306;\n{HOST}allow forward tcp 13306;\ndrop forward all;\ndnat tcp 13306 to 10.0.0.5:443;\n"
    ))
    .unwrap();
}

#[test]
fn decide_follows_the_translation() {
    let policy = fwdsl::firewall! {
        ssh none; allow tcp 9090; drop all;
        allow forward established;
        allow forward tcp 8080 src 198.51.100.0/24 dst 10.0.0.5;
        allow forward in wg0 via eth0;
        drop forward all;
        dnat tcp 8080 to 10.0.0.5:80;
        redirect tcp 8081 to 9090;
        masquerade src 10.8.0.0/24 via eth0;
    };
    let d = policy.decide(&Packet::tcp([198, 51, 100, 7], 8080).dst([203, 0, 113, 1]));
    assert_eq!((d.action(), d.index), (Action::Allow, 3));
    let t = d.nat.unwrap();
    assert_eq!(
        (t.index, t.packet.dst, t.packet.dport),
        (0, IpAddr::from([10, 0, 0, 5]), 80)
    );
    let other = policy.decide(&Packet::tcp([192, 0, 2, 7], 8080).dst([203, 0, 113, 1]));
    assert_eq!(other.action(), Action::Drop);
    // Only the first packet is translated; the rest follow conntrack.
    let later = policy.decide(&Packet::tcp([198, 51, 100, 7], 8080).established());
    assert!(later.nat.is_none());
    let redirected = policy.decide(&Packet::tcp([192, 0, 2, 7], 8081));
    assert_eq!(
        (redirected.action(), redirected.rule.text.as_ref()),
        (Action::Allow, "allow tcp 9090")
    );
    let vpn = Packet::tcp([10, 8, 0, 2], 443)
        .dst([93, 184, 216, 34])
        .forwarded()
        .iface("wg0")
        .via("eth0");
    let d = policy.decide(&vpn);
    assert_eq!((d.action(), d.source_nat), (Action::Allow, Some(2)));
}

/// `assert closed` through a dnat speaks of the translated connection exactly: the
/// assertion's sources and ports narrow it, so a dnat whose forwarded connections are
/// allowed only from elsewhere, or on other ports, does not break it.
#[test]
fn assert_closed_through_nat_is_narrowed_by_the_assertion() {
    let broken = |text: &str| fwdsl::Policy::parse(text).err().map(|e| e.to_string());
    // A port range kept by the dnat: only 3306 of it is the assertion's concern, and
    // the forward rules let only 3307 through.
    let p = format!(
        "assert closed tcp 3306;\n{HOST}allow forward tcp 3307 dst 10.0.0.5;\ndrop forward all;\ndnat tcp 3300-3310 to 10.0.0.5;\n"
    );
    assert_eq!(broken(&p), None);
    let p = p.replace("3307", "3306");
    assert!(broken(&p).is_some_and(|e| e.contains("tcp port 3306")));
    // The assertion's sources: the forward rules let only 10/8 through.
    let p = format!(
        "assert closed tcp 3306 src 203.0.113.0/24;\n{HOST}allow forward tcp 3306 src 10.0.0.0/8;\ndrop forward all;\ndnat tcp 3306 to 10.0.0.5;\n"
    );
    assert_eq!(broken(&p), None);
    let p = p.replace("10.0.0.0/8", "203.0.0.0/8");
    assert!(
        broken(&p).is_some_and(|e| e.contains("from 203.0.113.")),
        "{p}"
    );
}
