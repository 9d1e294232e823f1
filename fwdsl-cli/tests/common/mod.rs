//! What the CLI tests share: the binary under test, and the corpus of policy files.

#![allow(dead_code)] // each test file uses its own part

use assert_cmd::Command;
use std::path::PathBuf;

/// The `fwdsl` binary: the one `FWDSL_BIN` names (an installed one, as `.ci/run`
/// checks), else the one cargo built for these tests.
pub fn fwdsl() -> Command {
    match std::env::var_os("FWDSL_BIN") {
        Some(path) => Command::new(path),
        None => Command::new(env!("CARGO_BIN_EXE_fwdsl")),
    }
}

/// A file of the corpus (`good/web.fw`).
pub fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// Every policy file of a corpus directory (`good`, `bad`), sorted.
pub fn corpus_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "fw"))
        .collect();
    files.sort();
    files
}

/// Runs it to the end, asserts the exit status, and returns standard output and error.
pub fn exits(command: &mut Command, code: i32) -> (String, String) {
    let assert = command.assert().code(code);
    let out = assert.get_output();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
