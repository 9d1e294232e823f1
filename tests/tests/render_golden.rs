//! What each backend renders for policies that use every match of the language, kept in
//! `tests/golden/`: a change to a rendering shows in review as a diff of that file.
//! `FWDSL_BLESS=1` writes the files anew.

use fwdsl::{Direction, Family, Policy};

/// Policies that use every match, direction and verdict of the language.
pub fn policies() -> Vec<Policy> {
    let texts = [
        "allow ssh;\nallow tcp 80, 443, 6000-6010;\nallow udp 53;\nallow dns;\ndrop all;\n",
        "ssh none;\nallow tcp sport 25;\nallow udp sport 53, 5353 dport 1024-65535;\ndrop all;\n",
        "ssh none;\ndrop src [198.51.100.7, 203.0.113.0/24];\nallow tcp 22 src 10.0.0.0/8 dst 192.0.2.10;\nallow src \"2001:db8:1e::/48\";\ndrop all;\n",
        "drop src [198.51.100.1, 198.51.100.2, 198.51.100.3, 198.51.100.4, 198.51.100.5, 198.51.100.6, 198.51.100.7, 198.51.100.8, 198.51.100.9];\nallow ssh;\ndrop all;\n",
        "allow in lo;\nallow in \"veth+\" tcp 8080;\nallow established;\ndrop invalid;\nallow new tcp 22;\ndrop all;\n",
        "ssh none;\nallow icmp echo-request;\nallow icmp 13;\nallow icmp packet-too-big;\nallow icmp;\nallow proto esp;\nallow proto 47;\ndrop all;\n",
        "allow ssh limit 6/30s;\nallow tcp 80 limit 100/s burst 200;\nlog prefix \"fw: \" limit 5/min;\nlog tcp 443;\nreject tcp 25 log;\ndrop all log;\n",
        "allow ssh comment \"operators only\";\ndrop all;\nallow out established;\nallow out dns;\nallow out tcp 587 via eth0;\nreject out tcp 25;\ndrop out all;\n",
        "ssh none;\nallow all;\nallow forward tcp 8080, 8443 src 203.0.113.0/24;\nallow forward in docker0 via eth0;\nallow forward established;\ndrop forward all;\n",
        "ssh none;\nset banned dynamic;\ndrop src $banned;\ndrop out dst $banned;\nallow all;\ndrop out all;\n",
        "allow tcp 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20;\nallow ssh;\ndrop all;\n",
        "ssh none;\nallow all;\nallow forward established;\nallow forward tcp 8080 dst 10.0.0.5;\nallow forward udp 51820 dst \"2001:db8::5\";\nallow forward tcp 8443 src 203.0.113.0/24 dst 10.0.0.6;\ndrop forward all;\ndnat tcp 8080 in eth0 to 10.0.0.5:80;\ndnat udp 51820 to \"[2001:db8::5]:51820\";\ndnat tcp 8443 src 203.0.113.0/24 to 10.0.0.6;\nredirect tcp 80 to 8080;\nmasquerade src 10.8.0.0/24 via eth0;\nsnat src \"2001:db8:8::/64\" via eth0 to \"2001:db8::1\";\n",
    ];
    // (The operator's access path is beside the point here.)
    texts
        .iter()
        .map(|t| match t.starts_with("ssh ") {
            true => t.to_string(),
            false => format!("ssh none;\n{t}"),
        })
        .map(|t| Policy::parse(&t).unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect()
}

fn iptables(policies: &[Policy]) -> String {
    let mut out = String::new();
    for policy in policies {
        for direction in policy.directions() {
            for family in [Family::V4, Family::V6] {
                for rule in policy.chain_rules(direction, family) {
                    out.push_str(&format!(
                        "{direction:?} {family:?} {}\n",
                        rule.to_command_line()
                    ));
                }
            }
        }
        for (hook, destination) in [("Prerouting", true), ("Postrouting", false)] {
            for family in [Family::V4, Family::V6] {
                for rule in policy.nat_rules(destination, family) {
                    out.push_str(&format!("{hook} {family:?} {rule}\n"));
                }
            }
        }
        out.push('\n');
    }
    out
}

fn check(name: &str, rendered: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name);
    if std::env::var("FWDSL_BLESS").is_ok() {
        std::fs::write(&path, rendered).unwrap();
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == rendered,
        "{name} differs from what is rendered now (FWDSL_BLESS=1 writes it):\n{rendered}"
    );
}

fn nft(policies: &[Policy]) -> String {
    let mut out = String::new();
    for policy in policies {
        for direction in Direction::ALL.into_iter().filter(|&d| policy.uses(d)) {
            for rule in policy.nft_rules(direction) {
                let expr = serde_json::to_string(&rule.expr).unwrap();
                out.push_str(&format!("{direction:?} {:?} {expr}\n", rule.comment));
            }
        }
        for (hook, destination) in [("Prerouting", true), ("Postrouting", false)] {
            for rule in policy.nft_nat_rules(destination) {
                let expr = serde_json::to_string(&rule.expr).unwrap();
                out.push_str(&format!("{hook} {:?} {expr}\n", rule.comment));
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn iptables_renders_as_kept() {
    check("iptables.txt", &iptables(&policies()));
}

#[test]
fn nft_renders_as_kept() {
    check("nft.txt", &nft(&policies()));
}
