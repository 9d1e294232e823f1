//! Assertions (`assert closed tcp 3306;`, `assert open tcp 443;`): proved against the
//! rules at run time as at compile time, with the rule that breaks one and a witness
//! packet that `decide` confirms.

use fwdsl::{Action, Expect, Packet, Policy};

use tests::policy_errors as errors;

const DATABASE: &str = "ssh 22 from 10.0.0.0/8;
assert closed tcp 3306, 5432;
assert open tcp 443;
assert open ssh src 10.0.0.0/8;
allow established;
allow ssh src 10.0.0.0/8;
allow https;
allow tcp 5432 src 10.20.0.0/16;
drop all;
";

#[test]
fn a_policy_that_keeps_its_assertions_carries_them() {
    let text = DATABASE.replace("allow tcp 5432 src 10.20.0.0/16;\n", "");
    let policy = Policy::parse(&text).unwrap();
    let asserted: Vec<(Expect, &str, u32)> = policy
        .assertions()
        .iter()
        .map(|a| (a.expect, a.text.as_ref(), a.line))
        .collect();
    assert_eq!(
        asserted,
        [
            (Expect::Closed, "assert closed tcp 3306,5432", 2),
            (Expect::Open, "assert open tcp 443", 3),
            (Expect::Open, "assert open ssh src 10.0.0.0/8", 4),
        ]
    );
}

#[test]
fn a_broken_assertion_names_the_rule_and_a_witness_decide_confirms() {
    let found = errors(DATABASE);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("line 2, column 1: error: `assert closed tcp 3306,5432` does not hold: rule `allow tcp 5432 src 10.20.0.0/16` (line 8) accepts a new connection from 10.20.0.0"), "{}", found[0]);
    assert!(
        found[0].contains("help: witness for a `decide` test: `Packet::tcp([10, 20, 0, 0], 5432)"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with(
            "line 8, column 1: error: this rule breaks `assert closed tcp 3306,5432` (line 2)"
        ),
        "{}",
        found[1]
    );
    // The witness, pasted: the rule named accepts it.
    let allowed = Policy::parse(&DATABASE.replace("assert closed tcp 3306, 5432;\n", "")).unwrap();
    let witness = Packet::tcp([10, 20, 0, 0], 5432).sport(0).dst([0, 0, 0, 0]);
    let d = allowed.decide(&witness);
    assert_eq!(
        (d.action(), d.rule.text.as_ref()),
        (Action::Allow, "allow tcp 5432 src 10.20.0.0/16")
    );
}

#[test]
fn open_fails_where_some_source_is_not_let_in() {
    let found =
        errors("ssh none;\nassert open tcp 443;\nallow tcp 443 src 10.0.0.0/8;\ndrop all;\n");
    assert!(found[0].contains("`assert open tcp 443` does not hold: rule `drop all` (line 4) drops a new connection from 0.0.0.0"), "{found:?}");
    // New connections only: `allow established` does not break `closed`.
    assert!(
        Policy::parse("ssh none;\nassert closed tcp 25;\nallow established;\ndrop all;\n").is_ok()
    );
    // Both families: an IPv6 opening breaks `closed` too.
    let v6 = errors(
        "ssh none;\nassert closed tcp 25;\nallow tcp 25 src \"2001:db8::/32\";\ndrop all;\n",
    );
    assert!(v6[0].contains("from 2001:db8::"), "{v6:?}");
    // The host talking to itself over loopback is not "a source": `allow in lo` keeps
    // `closed`, and an assertion that names `lo` speaks of it.
    assert!(Policy::parse("ssh none;\nassert closed tcp 3306;\nallow in lo;\ndrop all;\n").is_ok());
    let lo = errors("ssh none;\nassert closed tcp 3306 in lo;\nallow in lo;\ndrop all;\n");
    assert!(
        lo[0].contains("rule `allow in lo` (line 3) accepts a new connection")
            && lo[0].contains(" in lo"),
        "{lo:?}"
    );
    // Other directions: the host sends no mail.
    let out = errors(
        "ssh none;\nassert closed out tcp 25;\ndrop all;\nallow out tcp 25;\ndrop out all;\n",
    );
    assert!(
        out[0].contains("rule `allow out tcp 25` (line 4) accepts"),
        "{out:?}"
    );
}

#[test]
fn assertions_about_nothing_or_with_rule_words_are_errors() {
    let no_out = errors("ssh none;\nassert closed out tcp 25;\ndrop all;\n");
    assert!(
        no_out[0].contains("is about out packets, and the policy has no out rules"),
        "{no_out:?}"
    );
    // An input assertion in a policy of `out` rules only: named, not an empty `` word.
    let no_input =
        errors("ssh none;\nassert closed tcp 25;\nallow out established;\ndrop out all;\n");
    assert!(
        no_input[0].contains("is about input packets, and the policy has no input rules")
            && no_input[0].contains("(`drop all;`)"),
        "{no_input:?}"
    );
    let state = errors("ssh none;\nassert closed established tcp 25;\ndrop all;\n");
    assert!(
        state[0].contains(
            "an assertion speaks of new connections, so `established` can never be in its region"
        ),
        "{state:?}"
    );
    let limit = errors("ssh none;\nassert open tcp 443 limit 5/s;\nallow tcp 443;\ndrop all;\n");
    assert!(
        limit[0].contains("`limit` has no meaning in an assertion"),
        "{limit:?}"
    );
    let word = errors("ssh none;\nassert shut tcp 25;\ndrop all;\n");
    assert!(
        word[0].contains("expected `open` or `closed` after `assert`"),
        "{word:?}"
    );
}
