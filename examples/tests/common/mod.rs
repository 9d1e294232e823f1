//! What the example's tests share: the built binary, whether kernel tests can run, and
//! a real sshd.
#![allow(dead_code)] // (each test file uses a part)

pub mod sshd;

use fwdsl::sandbox::Sandbox;
use std::path::PathBuf;
use std::process::Command;

/// The example binary, which `cargo test` builds next to this test's own.
pub fn provision() -> Command {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let bin: PathBuf = path.join("examples").join("provision");
    assert!(bin.exists(), "{} is not built", bin.display());
    Command::new(bin)
}

/// Whether namespaces can be made here; under `CI=true` they must be, elsewhere the
/// test says it is skipped.
pub fn root() -> bool {
    if Sandbox::available() {
        return true;
    }
    tests::skip(&format!(
        "this machine lacks {}",
        Sandbox::missing().join(", ")
    ));
    false
}
