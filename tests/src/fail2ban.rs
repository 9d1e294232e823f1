//! Debian's fail2ban run by a test as its own server process, inside a namespace, with a
//! private configuration, socket and database: one jail `test` watching a log the test
//! writes `Failed login from ADDR` lines into, with the action the test names. The
//! server is ended by its pid when dropped.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running fail2ban server and its configuration directory.
pub struct Fail2ban {
    server: Child,
    pub dir: PathBuf,
}

impl Drop for Fail2ban {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Whether fail2ban is installed (`.ci/run` installs it).
pub fn available() -> bool {
    Command::new("fail2ban-server")
        .arg("--version")
        .output()
        .is_ok()
}

impl Fail2ban {
    /// Starts fail2ban in namespace `ns` with configuration in `dir`: the jail `test`
    /// (`maxretry 2`, `bantime` seconds) with `action` (`fwdsl[setname=banned, …]`,
    /// `iptables-multiport[name=test, port=22]`); `action_files` are copied into
    /// `action.d` first. Waits (at most 30 s) until it answers.
    pub fn start(
        ns: &str,
        dir: &Path,
        action: &str,
        bantime: u32,
        action_files: &[&Path],
    ) -> Fail2ban {
        for sub in ["action.d", "filter.d"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for file in action_files {
            std::fs::copy(file, dir.join("action.d").join(file.file_name().unwrap())).unwrap();
        }
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
            format!("[DEFAULT]\nbackend = polling\n\n[test]\nenabled = true\nfilter = test\nlogpath = {d}/auth.log\nmaxretry = 2\nfindtime = 60\nbantime = {bantime}\naction = {action}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("auth.log"), "").unwrap();
        let server = Command::new("ip")
            .args(["netns", "exec", ns, "fail2ban-server", "-f", "-x", "-c"])
            .arg(dir)
            .arg("-s")
            .arg(dir.join("f2b.sock"))
            .arg("-p")
            .arg(dir.join("f2b.pid"))
            .env_remove("SSH_CONNECTION")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let f2b = Fail2ban {
            server,
            dir: dir.to_path_buf(),
        };
        let up = crate::poll(Duration::from_secs(30), Duration::from_millis(200), || {
            f2b.client(&["ping"]).contains("pong").then_some(())
        });
        assert!(up.is_some(), "fail2ban did not start: {}", f2b.log());
        f2b
    }

    /// Waits (at most 30 s) until `read()` (a ruleset) holds `ban`, what this server's
    /// action writes for a ban; what it read then.
    pub fn until_banned(&self, read: impl Fn() -> String, ban: &str) -> String {
        crate::poll(Duration::from_secs(30), Duration::from_millis(300), || {
            Some(read()).filter(|r| r.contains(ban))
        })
        .unwrap_or_else(|| panic!("fail2ban did not ban: {}\n{}", self.log(), read()))
    }

    /// `fail2ban-client ARGS` against this server; its output.
    pub fn client(&self, args: &[&str]) -> String {
        let out = Command::new("fail2ban-client")
            .arg("-c")
            .arg(&self.dir)
            .arg("-s")
            .arg(self.dir.join("f2b.sock"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// Writes three failed logins from `from` into the watched log.
    pub fn fail_logins(&self, from: IpAddr) {
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("auth.log"))
            .unwrap();
        for _ in 0..3 {
            writeln!(log, "Failed login from {from}").unwrap();
        }
    }

    /// fail2ban's own log, for messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("fail2ban.log")).unwrap_or_default()
    }
}
