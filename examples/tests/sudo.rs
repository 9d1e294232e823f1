//! The SSH guard with a real sshd and a real `ssh` session, the apply run as `sudo`
//! runs it: without `$SSH_CONNECTION` (sudo's `env_reset` drops it, as Ansible's `become`
//! does). The guard finds the session in the kernel's connections and refuses what
//! would cut it, naming it. Everything happens in namespaces this test creates; every
//! process it starts is ended by its id.

mod common;

use common::sshd::{self, Sshd};
use fwdsl::sandbox::Sandbox;
use fwdsl::{Error, Firewall, Policy};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An `ssh` session from the client namespace that stays open; killed when dropped.
struct Session(Child);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn open_session(sb: &Sandbox, dir: &std::path::Path) -> Session {
    let start = Instant::now();
    loop {
        let mut ssh = Command::new("ip")
            .args(["netns", "exec", sb.client.name(), "ssh", "-i"])
            .arg(dir.join("id"))
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=3",
                &format!("root@{}", Sandbox::SERVER_V4),
                "echo ready; sleep 120",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let _ = BufReader::new(ssh.stdout.take().unwrap()).read_line(&mut line);
        let session = Session(ssh);
        if line.trim() == "ready" {
            return session;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no SSH session: {}",
            std::fs::read_to_string(dir.join("sshd-server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The firewall as `sudo` runs it: no `$SSH_CONNECTION`.
fn as_sudo() -> Firewall {
    Firewall::new().namespaces_only().ssh_connection(None)
}

#[test]
fn the_guard_finds_the_session_sudo_hides() {
    if !common::root() || !sshd::available() {
        return;
    }
    let sb = Sandbox::new("fwdsl-sudo").unwrap();
    let dir = tempfile::tempdir().unwrap();
    sshd::keys(dir.path());
    let _sshd = Sshd::start(&sb.server, Sandbox::SERVER_V4.into(), dir.path(), "server");
    let _session = open_session(&sb, dir.path());
    let client = format!("{}:", Sandbox::CLIENT_V4);
    let cuts = [
        (
            "a ban of the client",
            "ssh none;\ndrop src 192.0.2.2;\nallow tcp 22;\ndrop all;\n",
        ),
        (
            "SSH moved elsewhere",
            "ssh 2222;\nallow tcp 2222;\ndrop all;\n",
        ),
        (
            "an out policy without its replies",
            "ssh none;\nallow tcp 22;\ndrop all;\nallow out dns;\ndrop out all;\n",
        ),
    ];
    for (what, text) in cuts {
        let policy = Policy::parse(text).unwrap();
        let refused = sb.server.run(|| as_sudo().apply(&policy)).unwrap();
        match &refused {
            Err(e @ Error::WouldCutSession { sessions, .. }) => assert!(
                sessions
                    .iter()
                    .any(|s| s.starts_with(&client) && s.ends_with(" -> 192.0.2.1:22 (sshd)")),
                "{what}: {e}"
            ),
            other => panic!("{what}: {other:?}"),
        }
    }
    // A ban through a dynamic set, the same.
    let banned = Policy::parse(
        "ssh none;\nset banned dynamic;\ndrop src $banned;\nallow tcp 22;\ndrop all;\n",
    )
    .unwrap();
    sb.server
        .run(|| as_sudo().apply(&banned))
        .unwrap()
        .expect("a policy that keeps the session");
    let ban = sb
        .server
        .run(|| as_sudo().set_add("banned", &["192.0.2.0/24".parse().unwrap()]))
        .unwrap();
    assert!(
        matches!(&ban, Err(Error::SetChange { problem, .. }) if problem.contains(&client)),
        "{ban:?}"
    );
    sb.server
        .run(|| as_sudo().uninstall())
        .unwrap()
        .expect("uninstall");
}
