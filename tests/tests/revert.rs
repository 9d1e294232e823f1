//! The revert of an unconfirmed apply when its agent is attacked: the watchdog killed
//! (SIGKILL), its files deleted under `/run`, the watchdog stopped (SIGSTOP). Each ends
//! with the previous rules back, or with every operation saying loudly that the revert
//! was lost, never with the unconfirmed rules staying silently. Everything happens in
//! namespaces this test creates; the processes it signals are the watchdogs of its own
//! applies, found by the token those applies wrote.
//!
//! Trials: `FWDSL_REVERT_TRIALS` (default 3 kills and 2 deletions; the closing note of
//! the issue ran 10 and 4).

use fwdsl::sandbox::Sandbox;
use fwdsl::{Confirmed, Error, Firewall, Policy};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tests::child::{env_count, Rng};
use tests::probe::{both_saved, sandbox};

fn old() -> Policy {
    fwdsl::firewall! { allow ssh; drop all; }
}

fn new() -> Policy {
    fwdsl::firewall! { allow ssh; allow http; drop all; }
}

/// The state directory of this test (a fresh one per sandbox, as `/run/fwdsl` would be).
fn firewall(state: &std::path::Path) -> Firewall {
    Firewall::new()
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

fn arm(sb: &Sandbox, state: &std::path::Path, window: Duration) {
    sb.server
        .run(|| firewall(state).apply(&old()))
        .unwrap()
        .expect("apply the old policy");
    sb.server
        .run(|| firewall(state).apply_unconfirmed(&new(), window))
        .unwrap()
        .expect("apply the new one unconfirmed");
}

#[test]
fn a_killed_watchdog_is_a_lost_revert_that_every_operation_names() {
    let Some(sb) = sandbox("fwdsl-rvkill") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let trials = env_count("FWDSL_REVERT_TRIALS", 3);
    let mut rng = Rng::new(env_count("FWDSL_REVERT_SEED", 11));
    let mut failures = Vec::new();
    for trial in 0..trials {
        arm(&sb, state.path(), Duration::from_secs(3));
        let unconfirmed = both_saved(&sb);
        std::thread::sleep(Duration::from_millis(rng.below(2000)));
        signal_group(watchdog(&token(&sb, state.path())), libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(3500));
        // Nothing reverted; every operation says why instead of going on.
        if both_saved(&sb) != unconfirmed {
            failures.push(format!(
                "trial {trial}: the rules changed without a watchdog"
            ));
        }
        let status = sb.server.run(|| firewall(state.path()).status()).unwrap();
        let status = status.expect("status").to_string();
        if !status.contains("revert was lost") {
            failures.push(format!("trial {trial}: status does not say so: {status}"));
        }
        let apply = sb
            .server
            .run(|| firewall(state.path()).apply(&old()))
            .unwrap();
        if !matches!(apply, Err(Error::RevertLost { .. })) {
            failures.push(format!("trial {trial}: apply: {apply:?}"));
        }
        let confirmed = sb.server.run(|| firewall(state.path()).confirm()).unwrap();
        match confirmed {
            Ok(c @ Confirmed::RevertWasLost { .. }) if c.to_string().contains("WARNING") => {}
            other => failures.push(format!("trial {trial}: confirm: {other:?}")),
        }
        if both_saved(&sb) != unconfirmed {
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
        .run(|| firewall(state.path()).apply(&old()))
        .unwrap();
    assert!(again.is_ok(), "after the confirmation: {again:?}");
}

#[test]
fn deleted_files_do_not_stop_the_revert() {
    let Some(sb) = sandbox("fwdsl-rvdel") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let trials = env_count("FWDSL_REVERT_TRIALS", 2);
    for trial in 0..trials {
        sb.server
            .run(|| firewall(state.path()).apply(&old()))
            .unwrap()
            .expect("apply the old policy");
        let before = both_saved(&sb);
        sb.server
            .run(|| firewall(state.path()).apply_unconfirmed(&new(), Duration::from_secs(2)))
            .unwrap()
            .expect("apply unconfirmed");
        assert_ne!(both_saved(&sb), before);
        // Everything of the window is deleted, the token and the revert script too.
        for entry in std::fs::read_dir(state.path()).unwrap().flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".lock") {
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
        let start = Instant::now();
        while both_saved(&sb) != before && start.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(both_saved(&sb), before, "trial {trial}: not reverted");
        // A confirmation now is too late, and says so.
        let late = sb.server.run(|| firewall(state.path()).confirm()).unwrap();
        assert!(
            matches!(late, Err(Error::Reverted)),
            "trial {trial}: {late:?}"
        );
    }
    eprintln!("deleted window files: {trials} trials, 0 failures");
}

#[test]
fn a_stopped_watchdog_is_named_and_a_confirmation_still_ends_it() {
    let Some(sb) = sandbox("fwdsl-rvstop") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    arm(&sb, state.path(), Duration::from_secs(2));
    let unconfirmed = both_saved(&sb);
    let pid = watchdog(&token(&sb, state.path()));
    signal_group(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2500));
    let busy = sb
        .server
        .run(|| firewall(state.path()).apply(&old()))
        .unwrap();
    match &busy {
        Err(e @ Error::Busy { .. }) => assert!(
            e.to_string().contains(&format!("process {pid} is stopped")),
            "{e}"
        ),
        other => panic!("apply next to a stopped watchdog: {other:?}"),
    }
    // The confirmation takes the token and ends the watchdog, stopped as it is.
    let confirmed = sb.server.run(|| firewall(state.path()).confirm()).unwrap();
    assert_eq!(confirmed.expect("confirm"), Confirmed::Cancelled);
    assert_eq!(both_saved(&sb), unconfirmed, "the confirmed rules stay");
    let next = sb
        .server
        .run(|| firewall(state.path()).apply(&old()))
        .unwrap();
    assert!(next.is_ok(), "after the confirmation: {next:?}");
}

/// A revert that runs and fails (here: an admin removed the jump it takes back) leaves
/// the unconfirmed rules live: that is a lost revert too, said by status, refused by
/// every operation, settled by a confirmation; a confirmation is never told "too late:
/// reverted".
#[test]
fn a_revert_that_fails_is_a_lost_revert() {
    let Some(sb) = sandbox("fwdsl-rvfail") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    arm(&sb, state.path(), Duration::from_secs(2));
    // The jump to the new generation, by hand, in one family.
    sb.server
        .exec("iptables", &["-D", "FWDSL-INPUT", "1"])
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let status = sb.server.run(|| firewall(state.path()).status()).unwrap();
    let status = status.expect("status").to_string();
    assert!(
        status.contains("revert was lost") && status.contains("FAILED"),
        "{status}"
    );
    let apply = sb
        .server
        .run(|| firewall(state.path()).apply(&old()))
        .unwrap();
    assert!(matches!(apply, Err(Error::RevertLost { .. })), "{apply:?}");
    let confirmed = sb.server.run(|| firewall(state.path()).confirm()).unwrap();
    assert!(
        matches!(confirmed, Ok(Confirmed::RevertWasLost { .. })),
        "{confirmed:?}"
    );
    let again = sb
        .server
        .run(|| firewall(state.path()).apply(&old()))
        .unwrap();
    assert!(again.is_ok(), "{again:?}");
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
    arm(&first, state.path(), Duration::from_secs(30));
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
        .run(|| firewall(state.path()).apply(&old()))
        .unwrap();
    assert!(applied.is_ok(), "{applied:?}");
    let status = second
        .server
        .run(|| firewall(state.path()).status())
        .unwrap();
    assert!(status.unwrap().pending.is_none());
}
