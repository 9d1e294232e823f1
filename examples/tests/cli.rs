//! The `provision` example as an operator meets it: help and version, usage errors,
//! a closed pipe, a confirmation whose input ends, no root, a policy file with errors.
//! Anything that changes a firewall runs inside a network namespace this test creates.

mod common;

use common::{provision, root};
use fwdsl::sandbox::Netns;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn help_version_and_usage_errors() {
    let help = provision().arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: provision"));
    let version = provision().arg("--version").output().unwrap();
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("provision {}", env!("CARGO_PKG_VERSION"))
    );
    for wrong in [
        &["--bogus"][..],
        &["--confirm", "soon"],
        &["--apply", "--sandbox"],
    ] {
        let out = provision().args(wrong).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{wrong:?}");
    }
}

#[test]
fn a_closed_pipe_ends_it_quietly() {
    let mut child = provision()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        lines.next().unwrap().unwrap();
    }
    drop(lines);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn policy_file_errors_read_like_a_compilers() {
    let dir = std::env::temp_dir().join(format!("fwdsl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("web.policy");
    // Errors found by two passes (one rule at a time, then the whole policy).
    std::fs::write(
        &file,
        "allow ssh;\ndrop tcp 1-1024;\nallow tcp 80;\nallow tcp 0;\ndrop all;\n",
    )
    .unwrap();
    let out = provision().arg("--policy").arg(&file).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each problem: its line, the policy line itself (`  N | …`), its help.
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("  help:") && !l.contains(" | "))
        .collect();
    assert!(stderr.contains("    4 | allow tcp 0;"), "{stderr}");
    let name = file.display().to_string();
    assert_eq!(errors.len(), 2, "{stderr}");
    assert!(
        errors[0].starts_with(&format!("{name}:3:1: error: rule `allow tcp 80`")),
        "{stderr}"
    );
    assert!(
        errors[1].starts_with(&format!("{name}:4:11: error: port 0")),
        "{stderr}"
    );
    assert!(
        errors.iter().all(|l| l.matches("error:").count() == 1),
        "{stderr}"
    );
}

#[test]
fn a_confirmation_whose_input_ends_says_so() {
    if !root() {
        return;
    }
    // Applies to the namespace this test made, never to the machine's own firewall.
    let ns = Netns::create("fwdsl-cli-confirm").unwrap();
    let start = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(provision().get_program())
        .args(["--confirm", "30"])
        .env_remove("SSH_CONNECTION")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard input ended"), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "it waited out the window"
    );
    let saved = ns.exec("iptables-save", &[]).unwrap();
    assert!(!String::from_utf8_lossy(&saved.stdout).contains("FWDSL"));
}

#[test]
fn without_root_the_sandbox_says_what_it_needs() {
    if !root() {
        return;
    }
    let out = Command::new("setpriv")
        .args(["--inh-caps=-net_admin", "--bounding-set=-net_admin"])
        .arg(provision().get_program())
        .arg("--sandbox")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root or CAP_NET_ADMIN"), "{stderr}");
}

#[test]
fn flush_says_the_host_is_open_and_lockdown_keeps_only_ssh() {
    if !root() {
        return;
    }
    // Inside a namespace this test made, never the machine's own firewall.
    let ns = Netns::create("fwdsl-cli-flush").unwrap();
    let run = |arg: &str| {
        Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(provision().get_program())
            .arg(arg)
            .env_remove("SSH_CONNECTION")
            .output()
            .unwrap()
    };
    assert!(run("--apply").status.success());
    let flushed = run("--flush");
    assert!(flushed.status.success());
    let stdout = String::from_utf8_lossy(&flushed.stdout);
    assert!(
        stdout.contains("IPv4 INPUT: policy ACCEPT, OPEN"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&flushed.stderr).contains("the host is now OPEN"));
    assert!(run("--lockdown").status.success());
    let saved = ns.exec("iptables", &["-S"]).unwrap();
    let saved = String::from_utf8_lossy(&saved.stdout);
    assert!(
        saved.contains("--dport 22") && saved.contains("drop all"),
        "{saved}"
    );
    assert!(!saved.contains("--dport 443"), "{saved}");
}
