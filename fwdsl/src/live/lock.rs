//! One fwdsl operation at a time per network namespace: an exclusive `flock` on a file
//! named after the namespace, held for the whole operation (an apply and its
//! confirmation window, remove, flush, uninstall, save). The kernel drops the lock
//! when its last holder exits, so a crashed process never leaves it taken.
//!
//! The lock is handed to every program the operation starts in its namespace
//! ([`handed_here`], which [`exec`](super::exec) clears close-on-exec for in the child
//! only): an `iptables-restore` still running after its fwdsl process was killed keeps
//! the lock until it has committed or failed, so the next operation never reads a
//! table that is about to change under it. Everything else the process starts (another
//! thread's operation on another namespace, its revert watchdog, the program's own
//! children) does not get it: the descriptor stays close-on-exec, so a watchdog of
//! namespace A never holds namespace B's lock through its window.(The `iptables` crate's
//! single-rule commands, which only the opt-in per-rule path and `remove_rule` use,
//! start their programs themselves and are not handed it: each is one short command.)
//!
//! The xtables lock cannot serve: iptables-nft does not take it, and iptables holds it
//! per command, not across the several commands of an apply.

use super::state::{NsKey, StateDir};
use crate::error::Error;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The locks this process holds, by namespace: what [`handed_here`] looks up.
static HELD: Mutex<Vec<(NsKey, RawFd)>> = Mutex::new(Vec::new());

/// The lock this process holds on the calling thread's namespace, if any: the
/// descriptor a program started for the operation inherits.
pub(crate) fn handed_here() -> Option<RawFd> {
    let held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held.is_empty() {
        return None;
    }
    let here = super::guard::namespace_key();
    held.iter().find(|(ns, _)| *ns == here).map(|(_, fd)| *fd)
}

/// The held lock of one network namespace; released when dropped (and when every
/// process it was handed to, such as a revert watchdog, has exited).
#[derive(Debug)]
pub(crate) struct NsLock {
    file: File,
    ns: NsKey,
}

impl Drop for NsLock {
    fn drop(&mut self) {
        let fd = self.file.as_raw_fd();
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|&(ns, f)| (ns, f) != (self.ns, fd));
    }
}

/// What the process a lock file names is doing, for a message about a lock that is
/// not released: a stopped holder never will be, a gone one left it to a child.
fn holder_state(holder: &str) -> Option<String> {
    let pid: u32 = holder
        .split("process ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Some(format!(
            "process {pid} is gone: a program it started still holds the lock"
        ));
    };
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    Some(match state {
        "T" | "t" => format!(
            "process {pid} is stopped: it holds the lock until `kill -CONT {pid}` resumes it (or it is ended)"
        ),
        "Z" => format!("process {pid} has exited, but a program it started holds the lock"),
        "D" => format!("process {pid} is waiting on the kernel (state D)"),
        _ => format!("process {pid} is running"),
    })
}

impl NsLock {
    /// Takes the lock of namespace `ns` in `state`, waiting at most `timeout` for
    /// another fwdsl process to finish.
    pub(crate) fn acquire(state: &StateDir, ns: NsKey, timeout: Duration) -> Result<NsLock, Error> {
        let path = state.of(ns, "lock");
        let mut file = state.open_file(&path)?;
        let start = Instant::now();
        while file.try_lock().is_err() {
            if start.elapsed() >= timeout {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().to_string();
                let holder = match holder_state(&holder) {
                    Some(state) => format!("{holder}; {state}"),
                    None => holder,
                };
                return Err(Error::Busy {
                    path,
                    waited: start.elapsed(),
                    holder,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        HELD.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((ns, file.as_raw_fd()));
        // Who holds it, for the message another process gets while it waits.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "process {}", std::process::id());
        Ok(NsLock { file, ns })
    }

    /// The lock file (what the systemd revert agent takes with `flock`).
    pub(crate) fn path(state: &StateDir, ns: NsKey) -> std::path::PathBuf {
        state.of(ns, "lock")
    }

    /// Says who holds the lock now (a watchdog that took it over).
    pub(crate) fn note_holder(&self, holder: &str) {
        let mut file = &self.file;
        let _ = self.file.set_len(0);
        let _ = file.rewind();
        let _ = file.write_all(holder.as_bytes());
    }

    /// The descriptor, to hand the lock to a child process: `flock` locks belong to
    /// the open file, so the child holds it as long as it keeps the descriptor.
    pub(crate) fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(inode: u64) -> NsKey {
        NsKey { inode, cookie: 1 }
    }

    #[test]
    fn a_second_holder_waits_then_gets_a_typed_error() {
        let dir = std::env::temp_dir().join(format!("fwdsl-nslock-{}", std::process::id()));
        let dir = StateDir::open(&dir).unwrap();
        let first = NsLock::acquire(&dir, key(7), Duration::from_secs(1)).unwrap();
        // Another open file description of the same file, as another process has.
        let err = NsLock::acquire(&dir, key(7), Duration::from_millis(100)).unwrap_err();
        assert!(
            matches!(&err, Error::Busy { holder, .. } if holder.contains(&format!("process {} is running", std::process::id()))),
            "{err}"
        );
        assert!(NsLock::acquire(&dir, key(8), Duration::from_millis(100)).is_ok());
        drop(first);
        assert!(NsLock::acquire(&dir, key(7), Duration::from_millis(100)).is_ok());
        std::fs::remove_dir_all(dir.path()).unwrap();
    }

    #[test]
    fn a_stopped_or_gone_holder_is_named() {
        let me = std::process::id();
        let running = holder_state(&format!("process {me}")).unwrap();
        assert_eq!(running, format!("process {me} is running"));
        let gone = holder_state("revert watchdog process 4294967295, until …").unwrap();
        assert!(gone.contains("is gone"), "{gone}");
        assert!(holder_state("nobody").is_none());
    }
}
