//! Debian's Docker (`docker.io`) run by a test inside one of its namespaces: a daemon of
//! its own with private data, exec root and socket, in a private mount namespace over
//! `/etc/docker` and `/run/docker` (nothing of the machine's is read or written), the
//! `vfs` storage driver, and an image made from Debian's static busybox (no registry).
//! Dropping it removes its containers and ends the daemon by its pid.

use fwdsl::sandbox::Netns;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The image [`Docker::busybox_image`] makes: busybox and a web root `/www`.
pub const IMAGE: &str = "fwdsl-test/busybox:1";

/// Where Debian's `busybox-static` puts busybox.
const BUSYBOX: &str = "/bin/busybox";

/// A running Docker daemon and its directory.
pub struct Docker {
    daemon: Child,
    dir: PathBuf,
}

/// Whether Docker's daemon and client and a static busybox are installed (`.ci/run`
/// installs them).
pub fn available() -> bool {
    let runs = |program: &str| Command::new(program).arg("--version").output().is_ok();
    runs("dockerd") && runs("docker") && Path::new(BUSYBOX).exists()
}

impl Docker {
    /// Starts a daemon in namespace `ns` keeping everything in `dir`; waits (at most
    /// 60 s) until it answers.
    pub fn start(ns: &Netns, dir: &Path) -> Docker {
        let d = dir.display();
        // `exec`: the daemon keeps the pid of the child this process started.
        let script = format!(
            "mkdir -p /etc/docker /run/docker && mount -t tmpfs fwdsl-test /etc/docker && mount -t tmpfs fwdsl-test /run/docker && exec nsenter --net=/run/netns/{ns} dockerd --data-root {d}/data --exec-root {d}/exec --pidfile {d}/docker.pid -H unix://{d}/docker.sock --storage-driver vfs",
            ns = ns.name()
        );
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let daemon = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let docker = Docker {
            daemon,
            dir: dir.to_path_buf(),
        };
        let up = crate::poll(Duration::from_secs(60), Duration::from_millis(300), || {
            docker.docker(&["info"]).status.success().then_some(())
        });
        assert!(up.is_some(), "dockerd did not start: {}", docker.log());
        docker
    }

    /// `docker ARGS` against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}/docker.sock", self.dir.display()))
            .args(args)
            .output()
            .unwrap()
    }

    /// `docker ARGS`, which must succeed; its standard output.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Imports [`IMAGE`]: Debian's static busybox and a web root with one page.
    pub fn busybox_image(&self) -> &'static str {
        let root = self.dir.join("image");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("www")).unwrap();
        std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
        std::fs::write(root.join("www/index.html"), "fwdsl\n").unwrap();
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .output()
            .unwrap();
        let mut import = Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}/docker.sock", self.dir.display()))
            .args(["import", "-", IMAGE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
        assert!(import.wait().unwrap().success(), "docker import");
        IMAGE
    }

    /// The daemon's log, for messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let ids = String::from_utf8_lossy(&self.docker(&["ps", "-aq"]).stdout).into_owned();
        for id in ids.split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        // SIGTERM: the daemon stops the containerd it started; SIGKILL after 20 s.
        let _ = Command::new("kill")
            .args(["-TERM", &self.daemon.id().to_string()])
            .output();
        let ended = crate::poll(Duration::from_secs(20), Duration::from_millis(200), || {
            self.daemon.try_wait().ok().flatten()
        });
        if ended.is_some() {
            return;
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
