//! fail2ban end to end: Debian's fail2ban, run by this test as its own server process
//! inside the server namespace with a private configuration and socket directory,
//! watching a log the test writes failed logins into, bans through the shipped
//! `examples/fail2ban/action.d/fwdsl.conf` (the `fwdsl` command). The kernel judges: the
//! client is cut off, `fail2ban-client unbanip` lets it back, and a short `bantime`
//! ends by itself. The test ends the server it started, by its pid.

mod common;

use fwdsl::sandbox::Sandbox;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::probe::{connect, listen, sandbox, Outcome};

const SERVER: IpAddr = IpAddr::V4(Sandbox::SERVER_V4);
const CLIENT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4);
const CLIENT_ALT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4_ALT);

/// The fail2ban server this test started; ended by its pid when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fwdsl_bin() -> String {
    std::env::var("FWDSL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_fwdsl").to_string())
}

/// fail2ban's configuration in `dir`: the shipped action, a filter for the test's log,
/// one jail with a 4 s bantime.
fn configure(dir: &Path) {
    for sub in ["action.d", "filter.d"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fail2ban/action.d/fwdsl.conf");
    std::fs::copy(shipped, dir.join("action.d/fwdsl.conf")).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("fail2ban.conf"),
        format!("[Definition]\nloglevel = INFO\nlogtarget = {d}/fail2ban.log\nsocket = {d}/f2b.sock\npidfile = {d}/f2b.pid\ndbfile = :memory:\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("filter.d/test.conf"),
        "[Definition]\nfailregex = ^Failed login from <HOST>$\ndatepattern = {NONE}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("jail.conf"),
        format!(
            "[DEFAULT]\nbackend = polling\n\n[test]\nenabled = true\nfilter = test\nlogpath = {d}/auth.log\nmaxretry = 2\nfindtime = 60\nbantime = 4\naction = fwdsl[setname=banned, fwdsl=\"{}\"]\n",
            fwdsl_bin()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("auth.log"), "").unwrap();
}

fn client(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("fail2ban-client")
        .arg("-c")
        .arg(dir)
        .arg("-s")
        .arg(dir.join("f2b.sock"))
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn fail_logins(dir: &Path, from: IpAddr) {
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("auth.log"))
        .unwrap();
    for _ in 0..3 {
        writeln!(log, "Failed login from {from}").unwrap();
    }
}

/// Polls the client's connection until it gives `want`, for at most `limit`.
fn until(sb: &Sandbox, want: Outcome, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if connect(&sb.client, CLIENT, SERVER, 80).0 == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    false
}

#[test]
fn fail2ban_bans_through_fwdsl_and_the_ban_ends() {
    let Some(sb) = sandbox("fwdsl-f2b") else {
        return;
    };
    if Command::new("fail2ban-server")
        .arg("--version")
        .output()
        .is_err()
    {
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
    let conf = dir.path().join("f2b");
    configure(&conf);
    let server = Server(
        Command::new("ip")
            .args(["netns", "exec", &ns, "fail2ban-server", "-f", "-x", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(conf.join("f2b.sock"))
            .arg("-p")
            .arg(conf.join("f2b.pid"))
            .env_remove("SSH_CONNECTION")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while !client(&conf, &["ping"]).contains("pong") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "fail2ban did not start: {}",
            std::fs::read_to_string(conf.join("fail2ban.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(until(&sb, Outcome::Delivered, Duration::from_secs(5)));

    // Failed logins: banned through fwdsl, for fail2ban's bantime.
    fail_logins(&conf, CLIENT);
    assert!(
        until(&sb, Outcome::Dropped, Duration::from_secs(20)),
        "not banned: {}",
        std::fs::read_to_string(conf.join("fail2ban.log")).unwrap_or_default()
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
    let said = client(&conf, &["set", "test", "unbanip", "192.0.2.2"]);
    assert!(
        until(&sb, Outcome::Delivered, Duration::from_secs(10)),
        "unban: {said}"
    );

    // Banned again, and the 4 s bantime ends by itself.
    fail_logins(&conf, CLIENT);
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
