//! Token soup: random sequences of the language's own words, numbers, addresses and
//! punctuation (and stray bytes), which must each get errors or a policy, never a
//! panic, from every front end of the runtime (`Policy::parse`, `Policy::from_file`
//! with includes and list files) and from the core the macro runs (`fwdsl_core::compile`
//! on the same tokens). Cases per run: `FWDSL_FUZZ_CASES` (default 3,000, about a
//! second); the issue that asked for this found 16 panics in 520,000 inputs.

use proptest::prelude::*;
use std::io::Write;

/// What soup is made of: every word a statement or clause can hold, values good and
/// bad, the punctuation of lists, sets, ranges and comments.
const PIECES: &[&str] = &[
    "allow",
    "drop",
    "reject",
    "log",
    "ssh",
    "none",
    "from",
    "set",
    "service",
    "ports",
    "dynamic",
    "include",
    "file",
    "assert",
    "open",
    "closed",
    "out",
    "forward",
    "in",
    "via",
    "src",
    "dst",
    "sport",
    "dport",
    "tcp",
    "udp",
    "icmp",
    "proto",
    "all",
    "established",
    "new",
    "invalid",
    "limit",
    "burst",
    "prefix",
    "comment",
    "lo",
    "\"veth+\"",
    "https",
    "htps",
    "echo-request",
    "esp",
    "47",
    "0",
    "22",
    "80",
    "65535",
    "65536",
    "99999",
    "1-1024",
    "1000-900",
    "8000:9000",
    "6/30s",
    "100/s",
    "5/min",
    "10.0.0.0/8",
    "10.0.0.1/8",
    "192.0.2.1",
    "::1",
    "\"2001:db8::/32\"",
    "fe80::1",
    "\"x\"",
    "\"a.fw\"",
    "\"list.txt\"",
    "\"\"",
    "[",
    "]",
    ",",
    ";",
    "=",
    "$",
    "$a",
    "$banned",
    "a",
    "banned",
    "#",
    "//",
    "/",
    ":",
    "-",
    "\n",
    "\"",
    "\\",
    "{",
    "}",
    "(",
    ")",
    "\u{e9}",
    "\u{0}",
];

/// How statements start.
const STARTS: &[&str] = &[
    "allow",
    "drop",
    "reject",
    "log",
    "ssh",
    "set",
    "service",
    "ports",
    "include",
    "assert",
    "allow out",
    "drop forward",
    "set a =",
    "set banned dynamic",
    "service app =",
];

/// Statements of soup: a start, a few pieces, mostly a `;` (a statement cut short at
/// the end of the input is where parsers trip), sometimes stray text in between.
fn soup() -> impl Strategy<Value = String> {
    let separator = prop::sample::select(&[" ", " ", " ", "\n", ""][..]);
    let statement = (
        prop::sample::select(STARTS),
        prop::collection::vec((prop::sample::select(PIECES), separator), 0..6),
        prop::sample::select(&[";\n", ";", "", " "][..]),
    )
        .prop_map(|(start, pieces, end)| {
            let mut text = format!("{start} ");
            text.extend(pieces.into_iter().flat_map(|(p, s)| [p, s]));
            text.push_str(end);
            text
        });
    prop::collection::vec(statement, 0..5).prop_map(|statements| statements.concat())
}

fn cases() -> u32 {
    std::env::var("FWDSL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn soup_never_panics(main in soup(), included in soup(), list in soup()) {
        // The runtime's string front end, and the core the macro's front end feeds.
        let _ = fwdsl::Policy::parse(&main);
        if let Ok(tokens) = fwdsl_core::lex(&main) {
            // Every diagnostic points at a token there is: the macro maps each to a span.
            for d in fwdsl_core::compile(&tokens).diagnostics {
                if let Some(range) = d.tokens {
                    prop_assert!(range.first <= range.last && range.last < tokens.len(), "{d:?}");
                }
            }
        }
        // Files, with what `include` and `file` name in the soup.
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("main.fw", &main), ("a.fw", &included), ("list.txt", &list)] {
            std::fs::File::create(dir.path().join(name))
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .unwrap();
        }
        let _ = fwdsl::Policy::from_file(dir.path().join("main.fw"));
    }
}

/// The two inputs of 11 bytes the fuzzing found, as regression cases.
#[test]
fn the_inputs_that_panicked_get_errors() {
    for text in [
        "allow proto",
        "set a = [#",
        "drop src [",
        "allow tcp 22 src [10.0.0.1,",
    ] {
        let errors = tests::policy_errors(text);
        assert!(!errors.is_empty(), "{text:?}");
    }
}
