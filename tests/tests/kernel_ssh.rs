//! The SSH guard with a real sshd (Debian's `openssh-server`, started by this test in the
//! server namespace on that namespace's address, with keys the test generates) and a
//! real `ssh` session from the client namespace, and the apply run as `sudo` runs it:
//! without `$SSH_CONNECTION` (sudo's `env_reset` drops it, as Ansible's `become` does).
//! The guard finds the session in the kernel's connections and refuses what would cut
//! it, naming it. Every process this test starts is ended by its id.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Error, Firewall, Policy};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::probe::sandbox;

/// sshd and the ssh session, ended (with what sshd forked) when dropped.
struct Ssh {
    dir: tempfile::TempDir,
    sshd: Child,
    session: Option<Child>,
}

impl Drop for Ssh {
    fn drop(&mut self) {
        if let Some(session) = &mut self.session {
            let _ = session.kill();
            let _ = session.wait();
        }
        for child in children(self.sshd.id()) {
            // SAFETY: kill(2) on a process sshd (which this test started) forked.
            unsafe { libc::kill(child, libc::SIGTERM) };
        }
        let start = Instant::now();
        while !children(self.sshd.id()).is_empty() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|n| {
            std::fs::read_to_string(format!("/proc/{n}/stat")).is_ok_and(|stat| {
                let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
                after_name.split(' ').nth(1) == Some(&pid.to_string())
            })
        })
        .collect()
}

fn sshd_available() -> bool {
    let here = Path::new("/usr/sbin/sshd").exists()
        && Command::new("ssh-keygen").arg("-?").output().is_ok()
        && Command::new("ssh").arg("-V").output().is_ok();
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        here || !ci,
        "CI is set: this test needs openssh-server and openssh-client"
    );
    here
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// sshd on the server's IPv4 address, and a session from the client that stays open.
fn start(sb: &Sandbox) -> Ssh {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("id"));
    keygen(&d.join("host_key"));
    std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let config = d.join("sshd.conf");
    std::fs::write(
        &config,
        format!(
            "ListenAddress {}\nPort 22\nHostKey {1}/host_key\nPidFile {1}/sshd.pid\n\
             AuthorizedKeysFile {1}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\n",
            Sandbox::SERVER_V4,
            d.display()
        ),
    )
    .unwrap();
    let sshd = Command::new("ip")
        .args([
            "netns",
            "exec",
            sb.server.name(),
            "/usr/sbin/sshd",
            "-D",
            "-e",
            "-f",
        ])
        .arg(&config)
        .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let mut ssh = Ssh {
        dir,
        sshd,
        session: None,
    };
    let key: PathBuf = ssh.dir.path().join("id");
    let start = Instant::now();
    loop {
        let mut session = Command::new("ip")
            .args(["netns", "exec", sb.client.name(), "ssh", "-i"])
            .arg(&key)
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
        let _ = BufReader::new(session.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() == "ready" {
            ssh.session = Some(session);
            return ssh;
        }
        let _ = session.kill();
        let _ = session.wait();
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no SSH session: {}",
            std::fs::read_to_string(ssh.dir.path().join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The firewall as `sudo fwdsl …` runs it: no `$SSH_CONNECTION`.
fn as_sudo() -> Firewall {
    Firewall::new().namespaces_only().ssh_connection(None)
}

#[test]
fn the_guard_finds_the_session_sudo_hides() {
    let Some(sb) = sandbox("fwdsl-sudo") else {
        return;
    };
    if !sshd_available() {
        return;
    }
    let _ssh = start(&sb);
    let session = format!("{}:", Sandbox::CLIENT_V4);
    let cuts: [(&str, Policy); 3] = [
        (
            "a ban of the client",
            Policy::parse("ssh none;\ndrop src 192.0.2.2;\nallow tcp 22;\ndrop all;\n").unwrap(),
        ),
        (
            "SSH moved elsewhere",
            Policy::parse("ssh 2222;\nallow tcp 2222;\ndrop all;\n").unwrap(),
        ),
        (
            "an out policy without its replies",
            Policy::parse("ssh none;\nallow tcp 22;\ndrop all;\nallow out dns;\ndrop out all;\n")
                .unwrap(),
        ),
    ];
    for (what, policy) in &cuts {
        let refused = sb.server.run(|| as_sudo().apply(policy)).unwrap();
        match &refused {
            Err(e @ Error::WouldCutSession { sessions, .. }) => {
                assert!(
                    sessions
                        .iter()
                        .any(|s| s.starts_with(&session) && s.ends_with(" -> 192.0.2.1:22 (sshd)")),
                    "{what}: {e}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // A ban through a dynamic set, the same.
    let banned = Policy::parse(
        "ssh none;\nset banned dynamic;\ndrop src $banned;\nallow tcp 22;\ndrop all;\n",
    )
    .unwrap();
    sb.server
        .run(|| as_sudo().force(true).apply(&banned))
        .unwrap()
        .expect("a policy that keeps the session");
    let ban = sb
        .server
        .run(|| as_sudo().set_add("banned", &["192.0.2.0/24".parse().unwrap()]))
        .unwrap();
    assert!(
        matches!(&ban, Err(Error::SetChange { problem, .. }) if problem.contains("192.0.2.2:")),
        "{ban:?}"
    );
    sb.server
        .run(|| as_sudo().force(true).uninstall())
        .unwrap()
        .expect("uninstall");
    let (v4, v6) = tests::probe::both_saved(&sb);
    assert!(
        !(v4 + &v6).contains("FWDSL"),
        "uninstall left fwdsl's rules"
    );
}
