//! Other processes inside a sandbox: this very test binary started again (by
//! `ip netns exec`) to run one test function in the role of a child, so that a race, a
//! crash or a restricted environment involves a real second process.
//!
//! A test that has a child role checks [`role`] first: in the child it returns the
//! role's name and the test does the child's work; in the parent it returns `None`.

use fwdsl::sandbox::Netns;
use std::process::{Child, Command, Stdio};

/// Names, in a child process, the role it was started for.
pub const ROLE: &str = "FWDSL_TEST_CHILD";

/// The child role of this process, if it is a child started by [`spawn`].
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// Starts this test binary's `test` in namespace `ns` as a child in role `test`,
/// behind `wrapper` (a program that changes what the child may do, may be empty), with
/// `env` added to its environment. Its output is kept for [`finish`], apart from ours:
/// the test harness's own summary lines of a child must not mix with the parent's.
pub fn spawn(ns: &Netns, test: &str, wrapper: &[String], env: &[(&str, String)]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .args(wrapper)
        .arg(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(ROLE, test)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child test process")
}

/// Waits for a child; returns whether it passed, and its output.
pub fn finish(child: Child) -> (bool, String) {
    let output = child.wait_with_output().expect("wait for the child");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Ends a child we started, by its process id, and reaps it.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A small deterministic random source (SplitMix64) for seeded race and crash trials:
/// a failing seed can be replayed exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// `NAME` from the environment as a number, or `default`: how many trials a race or
/// crash test runs (small by default, bigger on demand).
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
