//! The `fwdsl` command as a user meets it, without root: help, usage errors and exit
//! statuses, `check` on a corpus of good and bad policy files (human and JSON, the
//! same messages as the library's), `fmt` on every policy file of the repository,
//! `explain` against `decide` on random packets, `diff` and `assertions`.

mod common;

use common::{corpus, corpus_files, exits, fwdsl};
use fwdsl::{Packet, Policy};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const SUBCOMMANDS: [&str; 24] = [
    "check",
    "fmt",
    "explain",
    "diff",
    "assertions",
    "plan",
    "apply",
    "confirm",
    "status",
    "exposure",
    "save",
    "restore",
    "persist",
    "uninstall",
    "flush",
    "ban",
    "unban",
    "bans",
    "sync",
    "import",
    "lint",
    "completions",
    "man",
    "help",
];

#[test]
fn help_version_and_usage_errors() {
    let (help, _) = exits(fwdsl().arg("--help"), 0);
    for command in SUBCOMMANDS {
        assert!(help.contains(&format!("  {command} ")), "{command}: {help}");
    }
    assert!(help.contains("3 another fwdsl holds the lock"), "{help}");
    for command in &SUBCOMMANDS[..23] {
        let (text, _) = exits(fwdsl().args([command, "--help"]), 0);
        assert!(text.contains("Usage: fwdsl"), "{command}: {text}");
    }
    let (version, _) = exits(fwdsl().arg("--version"), 0);
    assert_eq!(
        version.trim(),
        format!("fwdsl {}", env!("CARGO_PKG_VERSION"))
    );
    let web = corpus("good/web.fw");
    let web = web.to_str().unwrap();
    for wrong in [
        &["bogus"][..],
        &["check"],
        &["apply", web, "--confirm", "soon"],
        &["apply", web, "--confirm", "0s"],
        &["--backend", "pf", "status"],
        &["status", "--json"],
        &["explain", web, "tcp", "1.2.3.4"],
        &["explain", web, "sctp", "1.2.3.4", "->", ":1"],
        &["ban", "banned", "not-an-address", "--dry-run"],
        &["completions", "tcsh"],
    ] {
        let (_, stderr) = exits(fwdsl().args(wrong), 2);
        assert!(stderr.contains("error"), "{wrong:?}: {stderr}");
    }
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let (script, _) = exits(fwdsl().args(["completions", shell]), 0);
        assert!(
            script.contains("explain") && script.contains("netns"),
            "{shell}"
        );
    }
    let (man, _) = exits(fwdsl().arg("man"), 0);
    assert!(
        man.starts_with(".ie") && man.contains(".TH fwdsl 1"),
        "{man}"
    );
}

/// The library's problems of a policy text: (line, column, severity, message).
fn library_problems(file: &Path) -> Vec<(u32, u32, String, String)> {
    Policy::problems_of_file(file)
        .unwrap()
        .into_iter()
        .map(|p| {
            let severity = format!("{:?}", p.severity).to_lowercase();
            (p.line.unwrap(), p.column.unwrap(), severity, p.message)
        })
        .collect()
}

#[test]
fn check_reads_like_the_compiler_and_as_json() {
    for file in corpus_files("good") {
        let (out, _) = exits(fwdsl().arg("check").arg(&file), 0);
        let clean = library_problems(&file).is_empty();
        assert_eq!(out.contains(": ok"), clean, "{out}");
    }
    for file in corpus_files("bad") {
        let expected = library_problems(&file);
        assert!(
            expected.iter().any(|p| p.2 == "error"),
            "{}",
            file.display()
        );
        let (human, _) = exits(fwdsl().arg("check").arg(&file), 1);
        let (json, _) = exits(fwdsl().args(["check", "--format", "json"]).arg(&file), 1);
        let seen: Vec<(u32, u32, String, String)> = json
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["file"], file.display().to_string());
                assert!(v["help"].is_string(), "every problem has its help: {l}");
                (
                    v["line"].as_u64().unwrap() as u32,
                    v["column"].as_u64().unwrap() as u32,
                    v["severity"].as_str().unwrap().to_string(),
                    v["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(seen, expected, "{json}");
        // Human: `FILE:LINE:COL: error: message`, the line, a caret under the column.
        let source = std::fs::read_to_string(&file).unwrap();
        for (line, column, severity, message) in &expected {
            let head = format!("{}:{line}:{column}: {severity}: {message}", file.display());
            assert!(human.contains(&head), "{head}\n{human}");
            let written = source.lines().nth(*line as usize - 1).unwrap();
            let caret = format!(
                "{line:>5} | {written}\n      | {}^",
                " ".repeat(*column as usize - 1)
            );
            assert!(human.contains(&caret), "{caret}\n{human}");
        }
    }
    // Several files: every one checked, the status of the worst.
    let (out, _) = exits(
        fwdsl()
            .arg("check")
            .arg(corpus("good/web.fw"))
            .arg(corpus("bad/order.fw")),
        1,
    );
    assert!(
        out.contains("web.fw: ok") && out.contains("order.fw:4:1: error"),
        "{out}"
    );
    // Warnings pass unless denied; --json is check's --format json.
    let warned = corpus("good/warned.fw");
    let (out, _) = exits(fwdsl().arg("check").arg(&warned), 0);
    assert!(
        out.contains("warning: rule `drop all` drops the replies"),
        "{out}"
    );
    exits(fwdsl().args(["check", "--deny-warnings"]).arg(&warned), 1);
    let (json, _) = exits(fwdsl().args(["--json", "check"]).arg(&warned), 0);
    assert!(json.contains("\"severity\":\"warning\""), "{json}");
    // A file that is not there is an error of its own.
    let (out, _) = exits(fwdsl().args(["check", "/nonexistent/x.fw"]), 1);
    assert!(out.contains("/nonexistent/x.fw"), "{out}");
}

/// Every policy file of the repository, outside `target`.
fn policy_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            policy_files(&path, out);
        } else if name.ends_with(".fw") || name.ends_with(".policy") {
            out.push(path);
        }
    }
}

#[test]
fn fmt_is_canonical_idempotent_and_keeps_meaning() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    policy_files(repo, &mut files);
    assert!(files.len() >= 8, "{files:?}");
    let dir = tempfile::tempdir().unwrap();
    // Comments everywhere: before, after, inside a statement, in a row, at the end.
    let commented = dir.path().join("commented.fw");
    std::fs::write(
        &commented,
        "# head\n\n\n  allow  established ; # replies\n// the web\nallow tcp 80 ,# plain\n   443;\n\n\n\nallow ssh;drop all;   # end\n# tail\n",
    )
    .unwrap();
    for (i, original) in files.iter().chain([&commented]).enumerate() {
        // Beside its includes and lists, under a name of its own.
        let copy = original.with_file_name(format!(".fmt-test-{i}-{}", std::process::id()));
        std::fs::copy(original, &copy).unwrap();
        let before = Policy::from_file(&copy).map(|p| p.rules().to_vec());
        exits(fwdsl().arg("fmt").arg(&copy), 0);
        exits(fwdsl().args(["fmt", "--check"]).arg(&copy), 0);
        let once = std::fs::read_to_string(&copy).unwrap();
        exits(fwdsl().arg("fmt").arg(&copy), 0);
        let twice = std::fs::read_to_string(&copy).unwrap();
        let after = Policy::from_file(&copy).map(|p| p.rules().to_vec());
        std::fs::remove_file(&copy).unwrap();
        assert_eq!(once, twice, "not idempotent: {}", original.display());
        // The same rules, lines aside (blank lines may go).
        let strip = |r: Result<Vec<fwdsl::Rule>, fwdsl::Error>| {
            r.map(|rules| {
                rules
                    .into_iter()
                    .map(|r| (r.text, r.action, r.direction))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string().lines().count())
        };
        assert_eq!(strip(before), strip(after), "{}", original.display());
    }
    assert_eq!(
        fwdsl::format_policy(&std::fs::read_to_string(&commented).unwrap()).unwrap(),
        "# head\n\nallow established; # replies\n// the web\nallow tcp 80, # plain\n    443;\n\nallow ssh;\ndrop all; # end\n# tail\n"
    );
    // --check names what would change, changes nothing, and fails.
    let ugly = dir.path().join("ugly.fw");
    std::fs::write(&ugly, "allow ssh;drop all;").unwrap();
    let (out, _) = exits(fwdsl().args(["fmt", "--check"]).arg(&ugly), 1);
    assert!(
        out.contains("would reformat") && out.contains("ugly.fw"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&ugly).unwrap(),
        "allow ssh;drop all;"
    );
    // A file that does not lex is left alone, with where and why.
    std::fs::write(&ugly, "allow tcp 80 ~;\n").unwrap();
    let (_, err) = exits(fwdsl().arg("fmt").arg(&ugly), 1);
    assert!(err.contains("ugly.fw:1:14: unexpected character"), "{err}");
}

#[test]
fn diff_says_what_a_change_opens_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let old = corpus("good/web.fw");
    let new = dir.path().join("new.fw");
    let text = std::fs::read_to_string(&old)
        .unwrap()
        .replace("drop all;", "allow tcp 8080;\ndrop all;");
    std::fs::write(&new, text).unwrap();
    let (out, _) = exits(fwdsl().arg("diff").arg(&old).arg(&new), 1);
    assert!(
        out.starts_with(
            "+ `allow tcp 8080` (line 10) now accepts what `drop all` (line 10 of OLD)"
        ),
        "{out}"
    );
    // The witness is a packet `explain` reads back.
    let witness = out.split("e.g. ").nth(1).unwrap().trim();
    let (explained, _) = exits(
        fwdsl()
            .args(["--json", "explain"])
            .arg(&new)
            .args(witness.split(' ')),
        0,
    );
    assert!(
        explained.contains("\"text\":\"allow tcp 8080\""),
        "{explained}"
    );
    exits(
        fwdsl()
            .args(["diff", "--allow-openings"])
            .arg(&old)
            .arg(&new),
        0,
    );
    let (out, _) = exits(fwdsl().arg("diff").arg(&new).arg(&old), 0);
    assert!(
        out.starts_with("- `allow tcp 8080`") && out.contains("NEW opens nothing"),
        "{out}"
    );
    let (json, _) = exits(fwdsl().args(["diff", "--json"]).arg(&new).arg(&old), 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["opens"].as_array().unwrap().len(), 0);
    assert_eq!(v["closes"][0]["rule"]["text"], "allow tcp 8080");
    let (out, _) = exits(fwdsl().arg("diff").arg(&old).arg(&old), 0);
    assert!(out.contains("exactly the same"), "{out}");
}

#[test]
fn assertions_are_listed() {
    let (out, _) = exits(fwdsl().arg("assertions").arg(corpus("good/web.fw")), 0);
    assert_eq!(out.trim(), "line    3: assert closed tcp 3306;  holds");
    let (out, _) = exits(
        fwdsl()
            .args(["assertions", "--json"])
            .arg(corpus("good/web.fw")),
        0,
    );
    assert!(
        out.contains("\"assertion\":\"assert closed tcp 3306\""),
        "{out}"
    );
    // A policy whose assertion fails does not load: its errors, exit 1.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.fw");
    std::fs::write(
        &broken,
        "assert closed tcp 3306;\nallow established;\nallow ssh;\nallow tcp 3306;\ndrop all;\n",
    )
    .unwrap();
    let (_, err) = exits(fwdsl().arg("assertions").arg(&broken), 1);
    assert!(
        err.contains("broken.fw:1:1: error: `assert closed tcp 3306` does not hold"),
        "{err}"
    );
}

/// A packet of the pools the corpus' rules carve.
fn packet() -> impl Strategy<Value = Packet> {
    let src = prop::sample::select(vec!["10.1.2.3", "203.0.113.9", "10.8.0.7", "[2001:db8::9]"]);
    let dport = prop::sample::select(vec![22u16, 80, 443, 8080, 51820, 3306]);
    let proto = prop::sample::select(vec!["tcp", "udp", "icmp"]);
    let direction = prop::sample::select(vec!["", "out ", "forward "]);
    let state = prop::sample::select(vec!["new", "established", "invalid"]);
    let iface = prop::sample::select(vec!["", " in eth0", " in wg0"]);
    (src, dport, proto, direction, state, iface).prop_map(
        |(src, dport, proto, dir, state, iface)| {
            let to = if src.starts_with('[') {
                "[2001:db8::1]"
            } else {
                "198.51.100.1"
            };
            let text = match proto {
                "icmp" => format!("{dir}icmp {src} -> {to} type echo-request {state}{iface}"),
                p => format!("{dir}{p} {src} -> {to}:{dport} {state}{iface}"),
            };
            text.parse().unwrap()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("FWDSL_CLI_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
    ))]

    /// `explain` says what `decide` says: the same verdict by the same rule, the same
    /// translation.
    #[test]
    fn explain_agrees_with_decide(packet in packet(), gateway in any::<bool>()) {
        let file = corpus(if gateway { "good/gateway.fw" } else { "good/web.fw" });
        let policy = Policy::from_file(&file).unwrap();
        let text = packet.to_string();
        let out = fwdsl().args(["--json", "explain"]).arg(&file).args(text.split(' ')).output().unwrap();
        match policy.try_decide(&packet) {
            None => prop_assert_eq!(out.status.code(), Some(1)),
            Some(d) => {
                prop_assert_eq!(out.status.code(), Some(0));
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                prop_assert_eq!(v["packet"].as_str().unwrap(), text.as_str());
                prop_assert_eq!(v["action"].as_str().unwrap(), d.action().keyword());
                prop_assert_eq!(v["rule"]["line"].as_u64(), d.number().map(|_| u64::from(d.rule.line)));
                prop_assert_eq!(v["nat"]["line"].as_u64(), d.nat.as_ref().map(|t| u64::from(t.rule.line)));
                let logged: Vec<u64> = d.logged_by.iter().map(|&i| u64::from(policy.rules()[i].line)).collect();
                let seen: Vec<u64> = v["logged_by"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
                prop_assert_eq!(seen, logged);
            }
        }
    }
}

#[test]
fn explain_reads_like_sentences() {
    let (out, _) = exits(
        fwdsl().arg("explain").arg(corpus("good/web.fw")).args([
            "tcp",
            "203.0.113.9",
            "->",
            ":443",
        ]),
        0,
    );
    assert_eq!(
        out,
        "tcp 203.0.113.9:49152 -> :443 new\n\
         logged by rule 4 (line 7) `log tcp 443 prefix web`\n\
         allow: decided by rule 5 (line 8) `allow tcp 80,443 limit 100/s burst 200`\n\
         above its rate limit, rule 7 (line 10) `drop all` decides instead (drop)\n"
    );
    let (out, _) = exits(
        fwdsl().arg("explain").arg(corpus("good/gateway.fw")).args([
            "tcp",
            "203.0.113.9",
            "->",
            "198.51.100.1:8080",
            "in",
            "eth0",
        ]),
        0,
    );
    assert!(out.contains("translated by `dnat tcp 8080 in eth0 to 10.0.0.5:80` (line 10) to forward tcp 203.0.113.9:49152 -> 10.0.0.5:80 new in eth0"), "{out}");
    assert!(
        out.contains("allow: decided by rule 6 (line 7) `allow forward tcp 8080 dst 10.0.0.5`"),
        "{out}"
    );
    // A direction the policy leaves to the host.
    let (_, err) = exits(
        fwdsl().arg("explain").arg(corpus("good/web.fw")).args([
            "out",
            "udp",
            "192.0.2.1",
            "->",
            "198.51.100.53:53",
        ]),
        1,
    );
    assert!(err.contains("the policy has no out rules"), "{err}");
}

/// `fn main() -> Result<(), fwdsl::Error>` prints the error as `Display` does, not
/// as a struct dump.
#[test]
fn an_error_debug_prints_like_display() {
    let e = Policy::parse("allow tcp 0;\ndrop all;").unwrap_err();
    assert_eq!(format!("{e:?}"), e.to_string());
    assert!(!format!("{e:?}").contains("Problem {"));
}

/// `import --nft` on `nft -j list ruleset` output: Debian's workstation example (listed by
/// nft from `tests/rulesets/workstation.nft`) imports exactly, the policy on standard
/// output checks clean; a rule with a `meta mark set` is refused by its handle (exit 1,
/// nothing on standard output), `--partial` writes the rest, and `lint` names the
/// rule that never decides by its handle, once for both families.
#[test]
fn import_and_lint_read_nft_json() {
    let dir = tempfile::tempdir().unwrap();
    let workstation = corpus("nft/workstation.json");
    let (policy, report) = exits(fwdsl().args(["import", "--nft"]).arg(&workstation), 0);
    assert!(report.contains("equivalent: "), "{report}");
    assert!(
        policy.contains("\nallow established;\n") && policy.contains("\ndrop all;\n"),
        "{policy}"
    );
    let file = dir.path().join("host.fw");
    std::fs::write(&file, &policy).unwrap();
    exits(fwdsl().arg("check").arg(&file), 0);
    let marks = corpus("nft/marks.json");
    let (out, report) = exits(fwdsl().args(["import", "--nft"]).arg(&marks), 1);
    assert!(out.is_empty(), "{out}");
    assert!(
        report.contains("marks.json:4: the `mangle` statement"),
        "{report}"
    );
    let (partial, report) = exits(
        fwdsl().args(["import", "--partial", "--nft"]).arg(&marks),
        0,
    );
    assert!(
        partial.contains("# REFUSED") && partial.contains("allow tcp 22;"),
        "{partial}"
    );
    assert!(report.contains("NOT equivalent"), "{report}");
    let (lint, _) = exits(fwdsl().args(["lint", "--nft"]).arg(&marks), 1);
    let never: Vec<&str> = lint
        .lines()
        .filter(|l| l.contains("never decides"))
        .collect();
    assert_eq!(never.len(), 1, "{lint}");
    assert!(never[0].contains("marks.json:5: warning"), "{lint}");
}
