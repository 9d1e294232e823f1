//! What the kernel benchmarks share: the firewall handle they apply with, a best-of-N
//! measurement in fresh network namespaces, and the process's peak memory.

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
    (0..runs)
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
