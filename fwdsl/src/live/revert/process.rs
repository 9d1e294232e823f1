//! The revert agent where systemd does not run: fwdsl's watchdog, a `sh` in a session of
//! its own (no hangup when the SSH session that started it ends; one process group to
//! end), holding the namespace's lock (descriptor 3) for the whole window and the
//! revert script (descriptor 4) from the start, so that deleting `revert.sh` cannot
//! stop the revert.

use super::{Agent, CLAIM};
use crate::error::Error;
use crate::live::lock::NsLock;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// The name the watchdog runs under (its `argv[0]`), so that it is recognised.
const NAME: &str = "fwdsl-revert-watchdog";

/// Sleeps out the window without the lock and the script (so that ending the shell
/// frees the lock at once), then claims the token and reverts.
fn script() -> String {
    format!("secs=$3\nsleep \"$secs\" 3>&- 4<&-\n{CLAIM}")
}

/// A process's start time (clock ticks since boot), from `/proc/PID/stat`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the fields after the command name (in parentheses) start at field 3.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Whether the watchdog `pid` started at `start` still runs (a zombie does not).
pub(super) fn alive(pid: u32, start: u64) -> bool {
    let running = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? != "Z"))
        .unwrap_or(false);
    running && start_time(pid) == Some(start)
}

/// Ends the watchdog and its `sleep` (SIGKILL to its group reaches a stopped one too);
/// whether it is gone within a few seconds.
pub(super) fn end(pid: u32, start: u64) -> bool {
    if alive(pid, start) {
        // SAFETY: kill(2) on the process group of the watchdog just identified by its
        // id and start time (it leads its own session and group).
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    }
    let since = Instant::now();
    while alive(pid, start) {
        if since.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Starts the watchdog for the window at `work` (token `token`, revert `script_path`),
/// handing it `lock`; returns it and a receiver that says when it has exited.
pub(super) fn start(
    lock: &NsLock,
    work: &Path,
    token: &Path,
    script_path: &Path,
    window: Duration,
) -> Result<(Agent, Receiver<()>), Error> {
    let revert = std::fs::File::open(script_path).map_err(|source| Error::Io {
        path: script_path.to_path_buf(),
        source,
    })?;
    let (lock_fd, revert_fd) = (lock.fd(), revert.as_raw_fd());
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script())
        .arg(NAME)
        .arg(token)
        .arg(work)
        .arg(format!("{:.3}", window.as_secs_f64()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec: a session of its own,
    // the lock as descriptor 3 and the script as descriptor 4 only (dup2 leaves the
    // copies open across exec; the originals are closed so that the script's `3>&-`
    // really lets go of the lock).
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The script's descriptor first, in case it is 3 itself.
            let revert_fd = match revert_fd {
                3 => libc::fcntl(3, libc::F_DUPFD, 5),
                fd => fd,
            };
            if revert_fd < 0 || libc::dup2(lock_fd, 3) < 0 || libc::dup2(revert_fd, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for fd in [lock_fd, revert_fd] {
                if fd != 3 && fd != 4 {
                    libc::close(fd);
                }
            }
            // dup2 onto itself keeps close-on-exec: clear it on both.
            for fd in [3, 4] {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| Error::missing("sh", e))?;
    drop(revert);
    let pid = child.id();
    let (tx, exited) = std::sync::mpsc::channel();
    // Reaps the watchdog should it end while this process lives.
    std::thread::spawn(move || {
        let _ = child.wait();
        let _ = tx.send(());
    });
    let start = start_time(pid).unwrap_or(0);
    Ok((Agent::Process { pid, start }, exited))
}
