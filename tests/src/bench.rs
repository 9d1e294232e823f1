//! What the benchmarks share: the firewall handle they apply with, a best-of-N
//! measurement in fresh network namespaces, the process's peak memory, and the smoke
//! run (`cargo test --benches`, part of the test command) in which each runs once at
//! its smallest size, so that none stops building or running unnoticed.

use fwdsl::sandbox::Netns;
use fwdsl::Firewall;
use std::time::{Duration, Instant};

/// The benchmarks' firewall handle: namespaces only, no SSH session to guard.
pub fn firewall() -> Firewall {
    Firewall::new().namespaces_only().ssh_connection(None)
}

/// Best of `runs`, each in a fresh namespace prepared by `prepare` (untimed) and
/// timed over `work`, which runs inside it.
pub fn measure(runs: usize, prepare: impl Fn(&Netns), work: impl Fn() + Sync) -> Duration {
    (0..self::runs(runs))
        .map(|_| {
            let ns = Netns::create("fwdsl-bench").expect("namespace");
            prepare(&ns);
            ns.run(|| {
                let start = Instant::now();
                work();
                start.elapsed()
            })
            .expect("enter namespace")
        })
        .min()
        .expect("at least one run")
}

/// Milliseconds with one decimal, as the tables print them.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// This process's peak resident memory (VmHWM), in KiB.
pub fn hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Whether this is a smoke run: `cargo bench` passes `--bench`, `cargo test --benches`
/// (the test command, in CI) does not.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// The sizes to measure: `var` (`100,1000`) if set, else `default`; in a smoke run the
/// smallest of them alone.
pub fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    let mut sizes: Vec<usize> = match std::env::var(var) {
        Ok(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().expect("sizes are numbers"))
            .collect(),
        Err(_) => default.to_vec(),
    };
    if smoke() {
        sizes.sort_unstable();
        sizes.truncate(1);
    }
    sizes
}

/// `runs` measurements, or one in a smoke run.
pub fn runs(runs: usize) -> usize {
    if smoke() {
        1
    } else {
        runs
    }
}

/// Ends a kernel benchmark that cannot run on this machine (`needs` says what it
/// lacks): a failure under `cargo bench` and in CI, a skip in a smoke run elsewhere.
pub fn require_root(needs: &str) {
    if fwdsl::sandbox::Sandbox::available() {
        return;
    }
    eprintln!("this benchmark needs {needs}");
    std::process::exit(if smoke() && !crate::skip::ci() { 0 } else { 1 });
}

/// Runs a bare tool for a side-by-side measurement, `input` on its standard input;
/// panics if it fails (the comparison would mean nothing).
pub fn run(program: &str, args: &[&str], input: Option<&str>) {
    let mut command = std::process::Command::new(program);
    command.args(args);
    match input {
        Some(text) => crate::run_with_input(&mut command, text),
        None => {
            let out = command.output().expect("run");
            assert!(out.status.success(), "{program} {args:?}");
        }
    }
}

/// `a / b` with two decimals, as the tables print ratios.
pub fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
}
