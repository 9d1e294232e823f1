//! The `fwdsl` command against the kernel, in namespaces this test creates and enters
//! with `--netns` (never the machine's own firewall): plan, apply, status, uninstall;
//! confirm-or-revert across two processes; ban and unban; the exit status of a held
//! lock. Every verdict is a real connection from the client namespace. Both backends.

mod common;

use common::{exits, fwdsl};
use fwdsl::sandbox::Sandbox;
use fwdsl::Backend;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::each_backend;
use tests::probe::{connect, listen, sandbox, Outcome};

const SERVER: IpAddr = IpAddr::V4(Sandbox::SERVER_V4);
const CLIENT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4);
const CLIENT_ALT: IpAddr = IpAddr::V4(Sandbox::CLIENT_V4_ALT);

/// `fwdsl --netns NS --backend B ARGS…`, with no SSH session of the test's own to guard.
fn on(sb: &Sandbox, backend: Backend, args: &[&str]) -> assert_cmd::Command {
    let mut command = fwdsl();
    command
        .env_remove("SSH_CONNECTION")
        .args([
            "--netns",
            sb.server.name(),
            "--backend",
            &backend.to_string(),
        ])
        .args(args);
    command
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn tcp(sb: &Sandbox, src: IpAddr, port: u16) -> Outcome {
    connect(&sb.client, src, SERVER, port).0
}

/// Polls until `port` gives `want` (a revert happens at the end of its window), for
/// at most `limit`.
fn until(sb: &Sandbox, port: u16, want: Outcome, limit: Duration) -> bool {
    let gives = || (tcp(sb, CLIENT, port) == want).then_some(());
    tests::poll(limit, Duration::from_millis(200), gives).is_some()
}

const WEB: &str = "ssh none;\nallow established;\nallow tcp 80;\ndrop all;\n";
const WEB_AND_8080: &str = "ssh none;\nallow established;\nallow tcp 80, 8080;\ndrop all;\n";

each_backend! {
/// What an admin does first: plan, apply, status, re-apply, uninstall.
fn apply_status_and_uninstall_through_netns(backend) {
    let Some(sb) = sandbox("fwdsl-cli") else { return };
    let _listeners = listen(&sb.server, &[SERVER], &[80, 8080]);
    let dir = tempfile::tempdir().unwrap();
    let web = write(dir.path(), "web.fw", WEB);
    let (plan, _) = exits(&mut on(&sb, backend, &["plan", &web]), 0);
    assert!(plan.contains(&format!("backend: {backend}")) && plan.contains("+ "), "{plan}");
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Delivered, "nothing applied yet");
    let (report, _) = exits(&mut on(&sb, backend, &["apply", &web]), 0);
    assert!(!report.is_empty());
    assert_eq!(tcp(&sb, CLIENT, 80), Outcome::Delivered);
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Dropped);
    let (status, _) = exits(&mut on(&sb, backend, &["status"]), 0);
    assert!(status.contains("allow tcp 80"), "{status}");
    let (again, _) = exits(&mut on(&sb, backend, &["apply", &web]), 0);
    assert!(again.contains("already live"), "{again}");
    // -q: nothing but errors.
    let (quiet, _) = exits(&mut on(&sb, backend, &["-q", "apply", &web]), 0);
    assert_eq!(quiet, "");
    let (dry, _) = exits(&mut on(&sb, backend, &["uninstall", "--dry-run"]), 0);
    assert!(dry.contains("dry run") && dry.contains("allow tcp 80"), "{dry}");
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Dropped, "a dry run changes nothing");
    exits(&mut on(&sb, backend, &["uninstall"]), 0);
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Delivered);
}
}

each_backend! {
/// `apply --confirm` returns at once; `fwdsl confirm` from another process keeps the
/// rules; without it, they go back by themselves. Meanwhile another apply waits for
/// the window and gives up with exit status 3.
fn confirm_or_revert_across_two_processes(backend) {
    let Some(sb) = sandbox("fwdsl-clic") else { return };
    let _listeners = listen(&sb.server, &[SERVER], &[80, 8080]);
    let dir = tempfile::tempdir().unwrap();
    let web = write(dir.path(), "web.fw", WEB);
    let wide = write(dir.path(), "wide.fw", WEB_AND_8080);
    exits(&mut on(&sb, backend, &["apply", &web]), 0);

    // Kept: confirmed by a second process within the window.
    let (_, told) = exits(&mut on(&sb, backend, &["apply", &wide, "--confirm", "4s"]), 0);
    assert!(told.contains(&format!("fwdsl confirm --netns {}", sb.server.name())), "{told}");
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Delivered);
    let (busy, _) = exits(&mut on(&sb, backend, &["--wait", "1s", "apply", &web]), 3);
    assert_eq!(busy, "");
    let (confirmed, _) = exits(&mut on(&sb, backend, &["confirm"]), 0);
    assert!(!confirmed.is_empty());
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Delivered, "confirmed rules stay");

    // Not confirmed: the previous rules (8080 open) come back by themselves.
    exits(&mut on(&sb, backend, &["apply", &web, "--confirm", "2s"]), 0);
    assert_eq!(tcp(&sb, CLIENT, 8080), Outcome::Dropped);
    assert!(until(&sb, 8080, Outcome::Delivered, Duration::from_secs(15)), "reverted");
    let (_, late) = exits(&mut on(&sb, backend, &["confirm"]), 1);
    assert!(late.contains("too late"), "{late}");
    exits(&mut on(&sb, backend, &["uninstall"]), 0);
}
}

each_backend! {
/// Bans through the command, judged by real connections: the banned client is cut
/// off, another is not; `bans` lists it; `unban` lets it back.
fn ban_and_unban_with_real_packets(backend) {
    let Some(sb) = sandbox("fwdsl-clib") else { return };
    let _listeners = listen(&sb.server, &[SERVER], &[80]);
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "ban.fw",
        "ssh none;\nset banned dynamic;\nallow established;\ndrop src $banned;\nallow tcp 80;\ndrop all;\n",
    );
    exits(&mut on(&sb, backend, &["apply", &policy]), 0);
    assert_eq!(tcp(&sb, CLIENT, 80), Outcome::Delivered);
    exits(&mut on(&sb, backend, &["ban", "banned", "192.0.2.2", "--dry-run"]), 0);
    assert_eq!(tcp(&sb, CLIENT, 80), Outcome::Delivered, "a dry run bans nobody");
    let (said, _) = exits(&mut on(&sb, backend, &["ban", "banned", "192.0.2.2"]), 0);
    assert!(said.contains("192.0.2.2/32"), "{said}");
    assert_eq!(tcp(&sb, CLIENT, 80), Outcome::Dropped);
    assert_eq!(tcp(&sb, CLIENT_ALT, 80), Outcome::Delivered);
    let (members, _) = exits(&mut on(&sb, backend, &["bans", "banned"]), 0);
    assert!(members.starts_with("192.0.2.2/32 ") && members.trim_end().ends_with("until unbanned"), "{members}");
    // With a lifetime: it shows what remains; adding again never shortens it.
    exits(&mut on(&sb, backend, &["ban", "banned", "192.0.2.3", "--for", "1h"]), 0);
    exits(&mut on(&sb, backend, &["ban", "banned", "192.0.2.3", "--for", "10s"]), 0);
    let (json, _) = exits(&mut on(&sb, backend, &["--json", "bans", "banned"]), 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["member"], "192.0.2.2/32");
    assert_eq!(v[0]["remaining"], serde_json::Value::Null);
    assert!(v[1]["remaining"].as_u64().unwrap() > 3500, "{json}");
    // sync: exactly the file's members.
    let list = write(dir.path(), "bans.txt", "# from the ban manager\n192.0.2.9 10m\n");
    let (synced, _) = exits(&mut on(&sb, backend, &["sync", "banned", &list]), 0);
    assert!(synced.contains("1 added, 0 extended, 0 shortened, 2 removed"), "{synced}");
    let (members, _) = exits(&mut on(&sb, backend, &["bans", "banned"]), 0);
    assert!(members.starts_with("192.0.2.9/32 "), "{members}");
    exits(&mut on(&sb, backend, &["ban", "banned", "192.0.2.2"]), 0);
    exits(&mut on(&sb, backend, &["unban", "banned", "192.0.2.2"]), 0);
    assert_eq!(tcp(&sb, CLIENT, 80), Outcome::Delivered);
    // A set the policy does not have: an error, exit 1.
    let (_, err) = exits(&mut on(&sb, backend, &["ban", "nosuch", "192.0.2.2"]), 1);
    assert!(err.starts_with("error: "), "{err}");
    exits(&mut on(&sb, backend, &["uninstall"]), 0);
}
}

/// A namespace that is not there: exit 1, and nothing anywhere is touched.
#[test]
fn a_missing_namespace_is_an_error() {
    let (_, err) = exits(fwdsl().args(["--netns", "fwdsl-no-such-ns", "status"]), 1);
    assert!(err.contains("ip netns add fwdsl-no-such-ns"), "{err}");
}

each_backend! {
/// `exposure --live` judges the sockets against the host's whole ruleset: a foreign rule
/// inserted before fwdsl's hook drops a port the policy opens, which the policy file alone
/// cannot see. On nftables it reads `nft -j list ruleset` (fwdsl's table and the foreign
/// rule iptables-nft made), on iptables `iptables-save`.
fn exposure_live_sees_foreign_rules_before_fwdsls_hook(backend) {
    let Some(sb) = sandbox("fwdsl-clie") else {
        return;
    };
    let _listeners = listen(&sb.server, &[SERVER], &[80, 8080]);
    let dir = tempfile::tempdir().unwrap();
    let web = write(dir.path(), "web.fw", WEB_AND_8080);
    exits(&mut on(&sb, backend, &["-q", "apply", &web]), 0);
    let foreign = [
        "-I", "INPUT", "1", "-p", "tcp", "--dport", "8080", "-j", "DROP",
    ];
    assert!(sb
        .server
        .exec("iptables", &foreign)
        .unwrap()
        .status
        .success());
    let (by_file, _) = exits(&mut on(&sb, backend, &["exposure", &web]), 0);
    let world = |report: &str| {
        report
            .split("listening, but dropped")
            .next()
            .unwrap_or_default()
            .contains(":8080")
    };
    assert!(world(&by_file), "{by_file}");
    let (live, _) = exits(&mut on(&sb, backend, &["exposure", "--live"]), 0);
    assert!(!world(&live) && live.contains("dropped"), "{live}");
    // The dropping rule named in the host's own ruleset, not by the imported text's line.
    let origin = live.split("in the host's own ruleset:").nth(1).unwrap_or_default();
    assert!(origin.contains("INPUT)") && !origin.contains("(no note)"), "{live}");
    assert_eq!(
        tcp(&sb, CLIENT, 8080),
        Outcome::Dropped,
        "the kernel agrees with --live"
    );
    assert_eq!(tcp(&sb, CLIENT, 80), Outcome::Delivered);
}
}

each_backend! {
/// The migration path the README walks through: a host with the guide's hand-made
/// rules, `fwdsl import --live > host.fw`, `fwdsl check host.fw`, `fwdsl apply host.fw`:
/// every connection is decided as before, now by fwdsl's rules.
fn import_live_check_apply_changes_nothing(backend) {
    let Some(sb) = sandbox("fwdsl-clim") else { return };
    let ports = [22, 25, 80, 443, 3306, 8080];
    let _listeners = listen(&sb.server, &[SERVER], &ports);
    for rule in [
        "-A INPUT -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -p tcp --dport 80 -j ACCEPT",
        "-A INPUT -p tcp --dport 443 -j ACCEPT",
        "-A INPUT -s 192.0.2.3 -p tcp --dport 3306 -j ACCEPT",
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A INPUT -p tcp --dport 25 -j REJECT",
        "-P INPUT DROP",
    ] {
        let args: Vec<&str> = rule.split(' ').collect();
        assert!(sb.server.exec("iptables", &args).unwrap().status.success(), "{rule}");
    }
    let probe = || -> Vec<Outcome> {
        [CLIENT, CLIENT_ALT]
            .iter()
            .flat_map(|&src| ports.iter().map(move |&p| (src, p)))
            .map(|(src, p)| tcp(&sb, src, p))
            .collect()
    };
    let before = probe();
    assert!(before.contains(&Outcome::Delivered) && before.contains(&Outcome::Dropped));
    let dir = tempfile::tempdir().unwrap();
    let (policy, report) = exits(&mut on(&sb, backend, &["import", "--live"]), 0);
    assert!(report.contains("equivalent"), "{report}");
    let host = write(dir.path(), "host.fw", &policy);
    exits(fwdsl().args(["check", &host]), 0);
    exits(&mut on(&sb, backend, &["-q", "apply", &host]), 0);
    assert_eq!(probe(), before, "{policy}");
    let (status, _) = exits(&mut on(&sb, backend, &["status"]), 0);
    assert!(status.contains("allow tcp 3306 src 192.0.2.3"), "{status}");
}
}
