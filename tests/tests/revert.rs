//! The revert of an unconfirmed apply when its agent is attacked: the watchdog killed
//! (SIGKILL), its files deleted under `/run`, the watchdog stopped (SIGSTOP). Each ends
//! with the previous rules back, or with every operation saying loudly that the revert
//! was lost, never with the unconfirmed rules staying silently. Everything happens in
//! namespaces this test creates; the processes it signals are the watchdogs of its own
//! applies, found by the token those applies wrote. On both backends: the revert is
//! `iptables-restore` or `nft -j -f` input the agent holds.
//!
//! Trials: `FWDSL_REVERT_TRIALS` (default 3 kills and 2 deletions; the closing note of
//! the issue ran 10 and 4).

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Confirmed, Error, Firewall, Policy};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tests::child::{env_count, Rng};
use tests::each_backend;
use tests::probe::{sandbox, snapshot};

fn old() -> Policy {
    fwdsl::firewall! { allow ssh; drop all; }
}

fn new() -> Policy {
    fwdsl::firewall! { allow ssh; allow http; drop all; }
}

/// The state directory of this test (a fresh one per sandbox, as `/run/fwdsl` would be).
fn firewall(backend: Backend, state: &std::path::Path) -> Firewall {
    Firewall::new()
        .backend(backend)
        .namespaces_only()
        .ssh_connection(None)
        .state_dir(state)
        .lock("/run/xtables.lock", Duration::from_secs(2))
}

fn token(sb: &Sandbox, state: &std::path::Path) -> PathBuf {
    state.join(format!("{}.pending", sb.server.state_prefix().unwrap()))
}

/// The watchdog's process id, as the token names it.
fn watchdog(token: &std::path::Path) -> i32 {
    let text = std::fs::read_to_string(token).expect("a pending token");
    text.lines()
        .find_map(|l| l.strip_prefix("agent process "))
        .and_then(|l| l.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no watchdog process in {text}"))
}

fn signal_group(pid: i32, signal: i32) {
    // SAFETY: kill(2) on the process group of a watchdog this test's apply started.
    assert_eq!(unsafe { libc::kill(-pid, signal) }, 0);
}

fn arm(sb: &Sandbox, backend: Backend, state: &std::path::Path, window: Duration) {
    sb.server
        .run(|| firewall(backend, state).apply(&old()))
        .unwrap()
        .expect("apply the old policy");
    sb.server
        .run(|| firewall(backend, state).apply_unconfirmed(&new(), window))
        .unwrap()
        .expect("apply the new one unconfirmed");
}

each_backend! {
fn a_killed_watchdog_is_a_lost_revert_that_every_operation_names(backend) {
    let Some(sb) = sandbox("fwdsl-rvkill") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let trials = env_count("FWDSL_REVERT_TRIALS", 3);
    let mut rng = Rng::new(env_count("FWDSL_REVERT_SEED", 11));
    let mut failures = Vec::new();
    for trial in 0..trials {
        arm(&sb, backend, state.path(), Duration::from_secs(3));
        let unconfirmed = snapshot(&sb);
        std::thread::sleep(Duration::from_millis(rng.below(2000)));
        signal_group(watchdog(&token(&sb, state.path())), libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(3500));
        // Nothing reverted; every operation says why instead of going on.
        if snapshot(&sb) != unconfirmed {
            failures.push(format!(
                "trial {trial}: the rules changed without a watchdog"
            ));
        }
        let status = sb.server.run(|| firewall(backend, state.path()).status()).unwrap();
        let status = status.expect("status").to_string();
        if !status.contains("revert was lost") {
            failures.push(format!("trial {trial}: status does not say so: {status}"));
        }
        let apply = sb
            .server
            .run(|| firewall(backend, state.path()).apply(&old()))
            .unwrap();
        if !matches!(apply, Err(Error::RevertLost { .. })) {
            failures.push(format!("trial {trial}: apply: {apply:?}"));
        }
        let confirmed = sb.server.run(|| firewall(backend, state.path()).confirm()).unwrap();
        match confirmed {
            Ok(c @ Confirmed::RevertWasLost { .. }) if c.to_string().contains("WARNING") => {}
            other => failures.push(format!("trial {trial}: confirm: {other:?}")),
        }
        if snapshot(&sb) != unconfirmed {
            failures.push(format!("trial {trial}: confirm changed the rules"));
        }
    }
    eprintln!(
        "killed watchdog: {trials} trials, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let again = sb
        .server
        .run(|| firewall(backend, state.path()).apply(&old()))
        .unwrap();
    assert!(again.is_ok(), "after the confirmation: {again:?}");
}
}

each_backend! {
fn deleted_files_do_not_stop_the_revert(backend) {
    let Some(sb) = sandbox("fwdsl-rvdel") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let trials = env_count("FWDSL_REVERT_TRIALS", 2);
    for trial in 0..trials {
        sb.server
            .run(|| firewall(backend, state.path()).apply(&old()))
            .unwrap()
            .expect("apply the old policy");
        let before = snapshot(&sb);
        sb.server
            .run(|| firewall(backend, state.path()).apply_unconfirmed(&new(), Duration::from_secs(2)))
            .unwrap()
            .expect("apply unconfirmed");
        assert_ne!(snapshot(&sb), before);
        // Everything of the window is deleted, the token and the revert script too.
        for entry in std::fs::read_dir(state.path()).unwrap().flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".lock") {
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
        let start = Instant::now();
        while snapshot(&sb) != before && start.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(snapshot(&sb), before, "trial {trial}: not reverted");
        // A confirmation now is too late, and says so.
        let late = sb.server.run(|| firewall(backend, state.path()).confirm()).unwrap();
        assert!(
            matches!(late, Err(Error::Reverted)),
            "trial {trial}: {late:?}"
        );
    }
    eprintln!("deleted window files: {trials} trials, 0 failures");
}
}

each_backend! {
fn a_stopped_watchdog_is_named_and_a_confirmation_still_ends_it(backend) {
    let Some(sb) = sandbox("fwdsl-rvstop") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    arm(&sb, backend, state.path(), Duration::from_secs(2));
    let unconfirmed = snapshot(&sb);
    let pid = watchdog(&token(&sb, state.path()));
    signal_group(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2500));
    let busy = sb
        .server
        .run(|| firewall(backend, state.path()).apply(&old()))
        .unwrap();
    match &busy {
        Err(e @ Error::Busy { .. }) => assert!(
            e.to_string().contains(&format!("process {pid} is stopped")),
            "{e}"
        ),
        other => panic!("apply next to a stopped watchdog: {other:?}"),
    }
    // The confirmation takes the token and ends the watchdog, stopped as it is.
    let confirmed = sb.server.run(|| firewall(backend, state.path()).confirm()).unwrap();
    assert_eq!(confirmed.expect("confirm"), Confirmed::Cancelled);
    assert_eq!(snapshot(&sb), unconfirmed, "the confirmed rules stay");
    let next = sb
        .server
        .run(|| firewall(backend, state.path()).apply(&old()))
        .unwrap();
    assert!(next.is_ok(), "after the confirmation: {next:?}");
}
}

each_backend! {
/// A revert that runs and fails (here: an admin removed what it takes back) leaves
/// the unconfirmed rules live: that is a lost revert too, said by status, refused by
/// every operation, settled by a confirmation; a confirmation is never told "too late:
/// reverted".
fn a_revert_that_fails_is_a_lost_revert(backend) {
    let Some(sb) = sandbox("fwdsl-rvfail") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    arm(&sb, backend, state.path(), Duration::from_secs(2));
    // By hand: the jump to the new generation in one family (iptables); fwdsl's whole
    // table (nftables, whose revert puts the jump back itself).
    match backend {
        Backend::Iptables => sb.server.exec("iptables", &["-D", "FWDSL-INPUT", "1"]),
        Backend::Nftables => sb.server.exec("nft", &["delete", "table", "inet", "fwdsl"]),
    }
    .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let status = sb.server.run(|| firewall(backend, state.path()).status()).unwrap();
    let status = status.expect("status").to_string();
    assert!(
        status.contains("revert was lost") && status.contains("FAILED"),
        "{status}"
    );
    let apply = sb
        .server
        .run(|| firewall(backend, state.path()).apply(&old()))
        .unwrap();
    assert!(matches!(apply, Err(Error::RevertLost { .. })), "{apply:?}");
    let confirmed = sb.server.run(|| firewall(backend, state.path()).confirm()).unwrap();
    assert!(
        matches!(confirmed, Ok(Confirmed::RevertWasLost { .. })),
        "{confirmed:?}"
    );
    let again = sb
        .server
        .run(|| firewall(backend, state.path()).apply(&old()))
        .unwrap();
    assert!(again.is_ok(), "{again:?}");
}
}

/// The kernel gives a new namespace the inode number of one just deleted: what the old
/// one left in the state directory (here a lost revert) must not become the new one's.
/// (Under a loaded test run this made `state: absent` find files it never wrote.)
#[test]
fn a_namespace_that_reuses_an_inode_inherits_nothing() {
    let Some(first) = sandbox("fwdsl-reuse") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    arm(
        &first,
        Backend::Iptables,
        state.path(),
        Duration::from_secs(30),
    );
    signal_group(watchdog(&token(&first, state.path())), libc::SIGKILL);
    let inode = |sb: &Sandbox| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/run/netns/{}", sb.server.name()))
            .unwrap()
            .ino()
    };
    let (old_inode, old_prefix) = (inode(&first), first.server.state_prefix().unwrap());
    drop(first);
    // Namespaces until one has the same inode (the next one, as a rule).
    let mut tries = Vec::new();
    let second = loop {
        let sb = sandbox("fwdsl-reuse").unwrap();
        if inode(&sb) == old_inode || tries.len() >= 8 {
            break sb;
        }
        tries.push(sb);
    };
    if inode(&second) != old_inode {
        eprintln!("the kernel did not reuse the inode: nothing to show");
        return;
    }
    assert_ne!(second.server.state_prefix().unwrap(), old_prefix);
    let applied = second
        .server
        .run(|| firewall(Backend::Iptables, state.path()).apply(&old()))
        .unwrap();
    assert!(applied.is_ok(), "{applied:?}");
    let status = second
        .server
        .run(|| firewall(Backend::Iptables, state.path()).status())
        .unwrap();
    assert!(status.unwrap().pending.is_none());
}

/// A watchdog holds its own namespace's lock through its window, and no other: one
/// process (a provisioning binary with a thread per host) that starts a window in
/// namespace A while it holds namespace B's lock must not hand B's lock to A's
/// watchdog, or B stays locked until A's window ends. (The lock was once inherited by
/// every program the process started while it was held.)
#[test]
fn a_watchdog_holds_no_other_namespaces_lock() {
    let (Some(a), Some(b)) = (sandbox("fwdsl-lka"), sandbox("fwdsl-lkb")) else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    // Descriptors 3 and 4 taken, as in any busy process: the watchdog gets its lock and
    // script there, which would hide a lock of B's that happened to have those numbers.
    let _taken: Vec<std::fs::File> = (0..3)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    let fw = || firewall(Backend::Iptables, state.path());
    let (started, start_watchdog) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        // B's apply holds B's lock through an in-process window of 1.5 s ...
        let held = scope.spawn(|| {
            b.server.run(|| {
                fw().apply_with_confirm(&new(), Duration::from_millis(1500), move || {
                    started.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(1000));
                    true
                })
            })
        });
        // ... while A's unconfirmed apply starts its watchdog, for 10 s.
        start_watchdog.recv().unwrap();
        a.server
            .run(|| fw().apply_unconfirmed(&new(), Duration::from_secs(10)))
            .unwrap()
            .expect("A's unconfirmed apply");
        held.join().unwrap().unwrap().expect("B's confirmed apply");
    });
    // B is free at once, though A's watchdog lives on.
    let next = b
        .server
        .run(|| {
            firewall(Backend::Iptables, state.path())
                .lock("/run/xtables.lock", Duration::from_millis(500))
                .apply(&old())
        })
        .unwrap();
    assert!(next.is_ok(), "B after its own apply: {next:?}");
    a.server.run(|| fw().confirm()).unwrap().expect("confirm A");
}
