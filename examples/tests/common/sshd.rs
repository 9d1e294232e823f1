//! Debian's sshd for tests that need a real SSH server: started by the test in a
//! network namespace on that namespace's address, with keys the test generates (no
//! host-wide sshd, nothing outside the test's directory), and ended by its process id
//! with every session it forked.

use fwdsl::sandbox::Netns;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Whether sshd and the ssh tools are installed; under `CI=true` they must be.
pub fn available() -> bool {
    let here = Path::new("/usr/sbin/sshd").exists()
        && Command::new("ssh-keygen").arg("-?").output().is_ok()
        && Command::new("ssh").arg("-V").output().is_ok();
    if !here {
        tests::skip("it needs openssh-server and openssh-client (run .ci/run)");
    }
    here
}

/// Generates in `dir` the client key `id` (authorized for root) and the host key.
pub fn keys(dir: &Path) {
    for key in ["id", "host_key"] {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.join(key))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).unwrap();
    // sshd refuses to start without its privilege separation directory.
    std::fs::create_dir_all("/run/sshd").unwrap();
}

/// An sshd this test started; ended, with the sessions it forked, when dropped.
pub struct Sshd {
    child: Child,
}

impl Sshd {
    /// Starts sshd in `ns` on `address` port 22, with the keys [`keys`] made in `dir`
    /// and its log in `dir/sshd-<name>.log`.
    pub fn start(ns: &Netns, address: IpAddr, dir: &Path, name: &str) -> Sshd {
        let d = dir.display();
        let config = dir.join(format!("sshd-{name}.conf"));
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}\nPort 22\nHostKey {d}/host_key\nPidFile {d}/sshd-{name}.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nSubsystem sftp internal-sftp\n"
            ),
        )
        .unwrap();
        // `ip netns exec` execs sshd, so the child's id is sshd's.
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
            ])
            .arg(&config)
            .stderr(std::fs::File::create(dir.join(format!("sshd-{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        Sshd { child }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Only the sessions this sshd forked, by their ids.
        for session in children(self.child.id()) {
            // SAFETY: kill(2) on a process id read just now; no memory is shared.
            unsafe { libc::kill(session, libc::SIGTERM) };
        }
        // Let sshd reap them, so that none is left a zombie (bounded).
        let start = Instant::now();
        while !children(self.child.id()).is_empty() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes whose parent is `pid`, from `/proc/N/stat` (the field after the name).
fn children(pid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|n| {
            std::fs::read_to_string(format!("/proc/{n}/stat")).is_ok_and(|stat| {
                let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
                after_name.split(' ').nth(1) == Some(&pid.to_string())
            })
        })
        .collect()
}
