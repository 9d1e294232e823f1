//! Whatever fwdsl renders must reach iptables as the same arguments. The `iptables`
//! crate (0.6) turns each rule string back into arguments with the regex below and then
//! strips quotes from both ends of every piece (`split_quoted` in its lib.rs); a comment
//! that could break that split (a quote inside) must be rejected when the policy is
//! checked, never passed on.

use fwdsl::{Family, Policy};
use proptest::prelude::*;
use regex::Regex;

/// The `iptables` crate's splitting, as in its source.
fn split_like_the_crate(line: &str) -> Vec<String> {
    let re = Regex::new(r#"["'].+?["']|[^ ]+"#).unwrap();
    re.find_iter(line)
        .map(|m| {
            m.as_str()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string()
        })
        .collect()
}

fn round_trips(policy: &Policy) {
    for family in [Family::V4, Family::V6] {
        for rule in policy.iptables_rules(family) {
            assert_eq!(
                split_like_the_crate(&rule.to_command_line()),
                rule.args,
                "{}",
                rule.to_command_line()
            );
        }
    }
}

#[test]
fn every_rendered_form_survives_the_crates_split() {
    let policy = Policy::parse(
        "drop src [198.51.100.1, 198.51.100.2];\nallow established;\nallow in lo;\nallow ssh comment \"the operators' way in\";\ndrop all;\n",
    );
    // The apostrophe above is exactly what must not get through.
    assert!(policy.is_err());
    let policy = Policy::parse(
        "drop src [198.51.100.1, 198.51.100.2];\nallow established;\nallow in br-lan;\nallow ssh comment \"operators  only, from the VPN\";\nallow tcp 80, 443, 8000-8080 dst 192.0.2.10;\nallow udp sport 53, 5353;\nreject tcp 113;\nallow icmp;\ndrop all;\n",
    )
    .unwrap();
    round_trips(&policy);
}

proptest! {
    #[test]
    fn any_comment_the_checks_accept_survives_the_split(comment in "[ -~]{0,40}") {
        let text = format!("allow ssh comment \"{}\";\ndrop all;\n", comment.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(policy) = Policy::parse(&text) {
            prop_assert!(!comment.contains(['"', '\'']));
            round_trips(&policy);
        }
    }
}
