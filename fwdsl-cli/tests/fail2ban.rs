//! fail2ban end to end: Debian's fail2ban, run by this test as its own server process
//! inside the server namespace with a private configuration and socket directory
//! (`tests::fail2ban`), watching a log the test writes failed logins into, bans through
//! the shipped `examples/fail2ban/action.d/fwdsl.conf` (the `fwdsl` command). The kernel
//! judges: the client is cut off, `fail2ban-client unbanip` lets it back, and a short
//! `bantime` ends by itself. The test ends the server it started, by its pid.

mod common;

use fwdsl::sandbox::Sandbox;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tests::fail2ban::Fail2ban;
use tests::probe::{connect, listen, sandbox, Outcome};

const SERVER: IpAddr = IpAddr::V4(Sandbox::SERVER_V4);
const CLIENT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4);
const CLIENT_ALT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4_ALT);

fn fwdsl_bin() -> String {
    std::env::var("FWDSL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_fwdsl").to_string())
}

/// Polls the client's connection until it gives `want`, for at most `limit`.
fn until(sb: &Sandbox, want: Outcome, limit: Duration) -> bool {
    let gives = || (connect(&sb.client, CLIENT, SERVER, 80).0 == want).then_some(());
    tests::poll(limit, Duration::from_millis(300), gives).is_some()
}

#[test]
fn fail2ban_bans_through_fwdsl_and_the_ban_ends() {
    let Some(sb) = sandbox("fwdsl-f2b") else {
        return;
    };
    if !tests::fail2ban::available() {
        tests::skip("it needs Debian's fail2ban (run .ci/run)");
        return;
    }
    let _listeners = listen(&sb.server, &[SERVER], &[80]);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ban.fw");
    std::fs::write(&policy, "ssh none;\nset banned dynamic timeout 1h max 1d;\nallow established;\ndrop src $banned;\nallow tcp 80;\ndrop all;\n").unwrap();
    let ns = sb.server.name().to_string();
    let applied = Command::new(fwdsl_bin())
        .args(["--netns", &ns, "-q", "apply"])
        .arg(&policy)
        .env_remove("SSH_CONNECTION")
        .status()
        .unwrap();
    assert!(applied.success());
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fail2ban/action.d/fwdsl.conf");
    let action = format!("fwdsl[setname=banned, fwdsl=\"{}\"]", fwdsl_bin());
    let server = Fail2ban::start(&ns, &dir.path().join("f2b"), &action, 4, &[&shipped]);
    assert!(until(&sb, Outcome::Delivered, Duration::from_secs(5)));

    // Failed logins: banned through fwdsl, for fail2ban's bantime.
    server.fail_logins(CLIENT);
    assert!(
        until(&sb, Outcome::Dropped, Duration::from_secs(20)),
        "not banned: {}",
        server.log()
    );
    assert_eq!(
        connect(&sb.client, CLIENT_ALT, SERVER, 80).0,
        Outcome::Delivered
    );
    let bans = Command::new(fwdsl_bin())
        .args(["--netns", &ns, "--json", "bans", "banned"])
        .output()
        .unwrap();
    let bans: serde_json::Value = serde_json::from_slice(&bans.stdout).unwrap();
    assert_eq!(bans[0]["member"], "192.0.2.2/32");
    assert!(bans[0]["remaining"].as_u64().unwrap() <= 4, "{bans}");

    // fail2ban's own unban lets it back.
    let said = server.client(&["set", "test", "unbanip", "192.0.2.2"]);
    assert!(
        until(&sb, Outcome::Delivered, Duration::from_secs(10)),
        "unban: {said}"
    );

    // Banned again, and the 4 s bantime ends by itself.
    server.fail_logins(CLIENT);
    assert!(until(&sb, Outcome::Dropped, Duration::from_secs(20)));
    let banned_at = Instant::now();
    assert!(
        until(&sb, Outcome::Delivered, Duration::from_secs(20)),
        "the ban did not end"
    );
    assert!(
        banned_at.elapsed() >= Duration::from_secs(2),
        "{:?}",
        banned_at.elapsed()
    );
    drop(server);
    let removed = Command::new(fwdsl_bin())
        .args(["--netns", &ns, "-q", "uninstall"])
        .status()
        .unwrap();
    assert!(removed.success());
}
