//! The one skip rule of every test that needs something this machine may lack (root,
//! iptables, nft, the Ansible venv, sshd): under `CI=true` a failure, elsewhere a skip
//! that says so. The harness swallows a passing test's `eprintln!`, so the line goes
//! straight to the process's standard error, where `cargo test` shows it.

use std::io::Write;

/// Whether `CI` is set (to anything but `false` or `0`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Says that the calling test is skipped and why, where `cargo test` shows it; fails
/// instead under `CI=true`.
pub fn skip(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(!ci(), "CI is set: {test} must run, but {why}");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}
