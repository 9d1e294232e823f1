//! A state directory another user could have written: fwdsl acts on what it finds there
//! as root (writes through the lock file, removes a window's directory, runs a revert
//! script), so such a directory is refused before anything in it is opened, by every
//! operation, and nothing planted in it is followed. Also what fwdsl never does in a
//! good one: remove a path read from a file. In namespaces this test creates, with a
//! state directory of its own.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Confirmed, Error, Firewall, Policy};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::Duration;
use tests::probe::{both_saved, sandbox};

fn firewall(state: &Path) -> Firewall {
    Firewall::new()
        .namespaces_only()
        .ssh_connection(None)
        .state_dir(state)
        .lock("/run/xtables.lock", Duration::from_secs(1))
}

fn prefix(sb: &Sandbox) -> String {
    sb.server.state_prefix().unwrap()
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// Every operation that reads or changes the state directory, with its result as text.
fn every_operation(sb: &Sandbox, state: &Path) -> Vec<(&'static str, Result<(), Error>)> {
    let policy = fwdsl::firewall! { allow ssh; drop all; };
    sb.server
        .run(|| {
            let fw = firewall(state);
            vec![
                ("apply", fw.apply(&policy).map(|_| ())),
                (
                    "apply_unconfirmed",
                    fw.apply_unconfirmed(&policy, Duration::from_secs(1))
                        .map(|_| ()),
                ),
                ("confirm", fw.confirm().map(|_| ())),
                ("status", fw.status().map(|_| ())),
                ("plan", fw.plan(&policy).map(|_| ())),
                ("flush", fw.flush().map(|_| ())),
                ("uninstall", fw.uninstall()),
            ]
        })
        .unwrap()
}

#[test]
fn a_state_directory_others_could_write_is_refused_and_nothing_in_it_is_followed() {
    let Some(sb) = sandbox("fwdsl-statedir") else {
        return;
    };
    let base = tempfile::tempdir().unwrap();
    let ns = prefix(&sb);
    // Root's own things, which the planted files point at.
    let victim_file = base.path().join("victim-file");
    std::fs::write(&victim_file, "root's own\n").unwrap();
    let victim_dir = base.path().join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(victim_dir.join("keep"), "").unwrap();
    let ran = base.path().join("planted-script-ran");

    // Another user's directory, with a symlinked lock, a token naming root's
    // directory, and a revert script of theirs.
    let hostile = base.path().join("hostile");
    std::fs::create_dir(&hostile).unwrap();
    symlink(&victim_file, hostile.join(format!("{ns}.lock"))).unwrap();
    std::fs::write(
        hostile.join(format!("{ns}.pending")),
        victim_dir.display().to_string(),
    )
    .unwrap();
    let window = hostile.join(format!("{ns}.1-2"));
    std::fs::create_dir(&window).unwrap();
    std::fs::write(
        window.join("revert.sh"),
        format!("touch {}\n", ran.display()),
    )
    .unwrap();
    for path in [&hostile, &window] {
        chown(path, 65534);
    }
    let before = both_saved(&sb);
    for (op, result) in every_operation(&sb, &hostile) {
        assert!(
            matches!(&result, Err(Error::UnsafeStateDir { reason, .. }) if reason.contains("owned by user 65534")),
            "{op}: {result:?}"
        );
    }
    // The same directory owned by root but writable by everyone, or a symlink to a
    // good one: refused as well.
    chown(&hostile, 0);
    std::fs::set_permissions(&hostile, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (_, apply) = every_operation(&sb, &hostile).remove(0);
    assert!(
        matches!(&apply, Err(Error::UnsafeStateDir { reason, .. }) if reason.contains("writable")),
        "{apply:?}"
    );
    let good = base.path().join("good");
    std::fs::create_dir(&good).unwrap();
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = base.path().join("link");
    symlink(&good, &link).unwrap();
    let (_, apply) = every_operation(&sb, &link).remove(0);
    assert!(
        matches!(&apply, Err(Error::UnsafeStateDir { reason, .. }) if reason.contains("symbolic link")),
        "{apply:?}"
    );

    assert_eq!(
        both_saved(&sb),
        before,
        "a refused operation changed the rules"
    );
    assert_eq!(
        std::fs::read_to_string(&victim_file).unwrap(),
        "root's own\n"
    );
    assert!(
        victim_dir.join("keep").exists(),
        "a directory named in a token was removed"
    );
    assert!(!ran.exists(), "the planted revert script ran");
}

/// In a good directory, a token that does not read as fwdsl's (planted by hand, or
/// from another version) is never followed: operations refuse it as a lost revert, a
/// confirmation settles it, and the directory it names stays.
#[test]
fn a_token_naming_a_path_is_not_followed() {
    let Some(sb) = sandbox("fwdsl-token") else {
        return;
    };
    let base = tempfile::tempdir().unwrap();
    let state = base.path().join("state");
    let victim = base.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep"), "").unwrap();
    let policy: Policy = fwdsl::firewall! { allow ssh; drop all; };
    sb.server
        .run(|| firewall(&state).apply(&policy))
        .unwrap()
        .expect("apply");
    std::fs::write(
        state.join(format!("{}.pending", prefix(&sb))),
        victim.display().to_string(),
    )
    .unwrap();
    let refused = sb.server.run(|| firewall(&state).uninstall()).unwrap();
    assert!(
        matches!(refused, Err(Error::RevertLost { .. })),
        "{refused:?}"
    );
    let confirmed = sb.server.run(|| firewall(&state).confirm()).unwrap();
    assert!(
        matches!(confirmed, Ok(Confirmed::RevertWasLost { .. })),
        "{confirmed:?}"
    );
    let uninstalled = sb.server.run(|| firewall(&state).uninstall()).unwrap();
    assert!(uninstalled.is_ok(), "{uninstalled:?}");
    assert!(
        victim.join("keep").exists(),
        "a directory named in a token was removed"
    );
}
