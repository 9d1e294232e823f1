//! The revert of an unconfirmed apply, done by a process of its own: it outlives the
//! process that applied (killed, crashed, or a provisioning run that returned and an
//! SSH session that ended), and puts the previous rules back unless a confirmation
//! cancels it in time, as `iptables-apply` does across the network.
//!
//! Before the new rules go live the applying process writes, under the state
//! directory:
//!
//! ```text
//! ns-<inode>.pending          the token: names the directory below
//! ns-<inode>.<id>/N.restore   per family, the iptables-restore text that undoes the switch
//! ns-<inode>.<id>/revert.sh   the exact commands of the revert, in order
//! ns-<inode>.<id>/pid         the watchdog's process id
//! ```
//!
//! A watchdog that claimed the token to revert leaves `ns-<inode>.reverted`, so that a confirmation that
//! comes too late says so (once) instead of "nothing was pending"; the next apply
//! removes it.
//!
//! and starts `sh` as the watchdog, in a session of its own, holding the namespace's
//! fwdsl lock (so nothing else changes the rules while a revert is pending). When the
//! window ends, it renames the token into its directory and reverts; a confirmation
//! renames the token first and ends the watchdog. `rename(2)` is atomic, so exactly one
//! of the two wins, whatever the timing.

use super::lock::{state_dir, state_path, NsLock};
use crate::error::Error;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// The name the watchdog runs under (its `argv[0]`), so that it is recognised before
/// being ended.
const NAME: &str = "fwdsl-revert-watchdog";

/// Sleeps out the window without the lock descriptor (so that ending the shell frees
/// the lock at once), then claims the token and runs the revert, keeping its log only
/// if it failed.
const SCRIPT: &str = r#"token=$1 dir=$2 secs=$3
sleep "$secs" 3>&-
mv -- "$token" "$dir/claimed" 2>/dev/null || exit 0
: >"${token%.pending}.reverted"
if sh "$dir/revert.sh" "$dir" >"$dir/revert.log" 2>&1; then rm -rf -- "$dir"; fi
"#;

/// An armed watchdog of this process.
#[derive(Debug)]
pub(crate) struct Pending {
    token: PathBuf,
    dir: PathBuf,
    pid: u32,
    exited: Receiver<()>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The shell commands that undo the switch: `reverts` are (restore program, text) per
/// family, `sets` the ipsets the apply created.
fn revert_script(dir: &Path, reverts: &[(&str, String)], sets: &[String]) -> Result<String, Error> {
    let mut script = String::from("status=0\n");
    for (i, (program, text)) in reverts.iter().enumerate() {
        let file = dir.join(format!("{i}.restore"));
        std::fs::write(&file, text).map_err(io(&file))?;
        script.push_str(&format!(
            "{program} --noflush --wait < \"$1/{i}.restore\" || status=1\n"
        ));
    }
    for set in sets {
        // A set just released by a rule stays busy for a moment under iptables-nft.
        script.push_str(&format!(
            "for try in 1 2 3 4 5 6 7 8 9 10; do ipset destroy {set} 2>/dev/null && break; sleep 0.2; done\n"
        ));
    }
    script.push_str("exit $status\n");
    Ok(script)
}

/// Writes the revert and starts the watchdog for namespace `ns`, handing it `lock`.
pub(crate) fn arm(
    dir: &Path,
    ns: u64,
    lock: &NsLock,
    window: Duration,
    reverts: &[(&str, String)],
    sets: &[String],
) -> Result<Pending, Error> {
    state_dir(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let work = state_path(dir, ns, &format!("{}-{nanos}", std::process::id()));
    std::fs::create_dir(&work).map_err(io(&work))?;
    let script = revert_script(&work, reverts, sets)?;
    let revert = work.join("revert.sh");
    std::fs::write(&revert, script).map_err(io(&revert))?;
    let token = state_path(dir, ns, "pending");
    std::fs::write(&token, work.display().to_string()).map_err(io(&token))?;

    let fd = lock.fd();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(NAME)
        .arg(&token)
        .arg(&work)
        .arg(format!("{:.3}", window.as_secs_f64()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec: a session of its own
    // (no hangup when the SSH session that started it ends; one group to end), and the
    // lock's descriptor as fd 3 only (dup2 leaves the copy open across exec; the
    // original is closed so that the script's `3>&-` really lets go of it).
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 || libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if fd != 3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| Error::missing("sh", e))?;
    let pid = child.id();
    let pid_file = work.join("pid");
    std::fs::write(&pid_file, pid.to_string()).map_err(io(&pid_file))?;
    lock.note_holder(&format!(
        "revert watchdog process {pid}, until the apply is confirmed or reverted"
    ));
    let (tx, exited) = std::sync::mpsc::channel();
    // Reaps the watchdog should it end while this process lives.
    std::thread::spawn(move || {
        let _ = child.wait();
        let _ = tx.send(());
    });
    Ok(Pending {
        token,
        dir: work,
        pid,
        exited,
    })
}

/// Ends watchdog `pid` (and its `sleep`) if it is one: a process id is checked against
/// its command line before anything is sent to it.
fn end(pid: u32, work: &Path) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    if cmdline.contains(NAME) && cmdline.contains(&*work.to_string_lossy()) {
        // SAFETY: kill(2) on the process group of the watchdog just identified.
        unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
    }
}

impl Pending {
    /// Takes the token with `outcome` as its new name: `true` if the watchdog had not
    /// claimed it yet (it is then ended and its files removed), `false` if it is
    /// reverting or has reverted (this waits until it is done).
    fn take(self, outcome: &str) -> bool {
        let won = std::fs::rename(&self.token, self.dir.join(outcome)).is_ok();
        if won {
            end(self.pid, &self.dir);
        }
        let _ = self.exited.recv_timeout(Duration::from_secs(60));
        if won {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        won
    }

    /// The apply was confirmed: the watchdog ends without reverting. `false` if it had
    /// already started to revert.
    pub(crate) fn confirm(self) -> bool {
        self.take("confirmed")
    }

    /// The apply was not confirmed: `true` if the caller is to revert it, `false` if
    /// the watchdog already did.
    pub(crate) fn revert_here(self) -> bool {
        self.take("reverted-by-caller")
    }
}

/// Confirms the pending apply of namespace `ns` from any process: `Ok(false)` when none
/// is pending, [`Error::Reverted`] when its revert already ran.
pub(crate) fn confirm_pending(dir: &Path, ns: u64) -> Result<bool, Error> {
    let token = state_path(dir, ns, "pending");
    let Ok(work) = std::fs::read_to_string(&token) else {
        return match std::fs::remove_file(state_path(dir, ns, "reverted")) {
            Ok(()) => Err(Error::Reverted),
            Err(_) => Ok(false),
        };
    };
    let work = PathBuf::from(work.trim());
    if std::fs::rename(&token, work.join("confirmed")).is_err() {
        return Err(Error::Reverted);
    }
    if let Some(pid) = std::fs::read_to_string(work.join("pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
    {
        end(pid, &work);
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(true)
}

/// Removes the token and files of a watchdog that is gone (the caller holds the lock,
/// so none is running): its window can no longer be honoured.
pub(crate) fn clear_stale(dir: &Path, ns: u64) {
    let _ = std::fs::remove_file(state_path(dir, ns, "reverted"));
    let token = state_path(dir, ns, "pending");
    if let Ok(work) = std::fs::read_to_string(&token) {
        let _ = std::fs::remove_dir_all(work.trim());
        let _ = std::fs::remove_file(&token);
    }
}
