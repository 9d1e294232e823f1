//! One fwdsl operation at a time per network namespace: an exclusive `flock` on a file
//! named after the namespace, held for the whole operation (an apply and its
//! confirmation window, remove, flush, uninstall, save). The kernel drops the lock
//! when its last holder exits, so a crashed process never leaves it taken.
//!
//! The lock is inherited by every program the operation starts (the descriptor is
//! not close-on-exec while held): an `iptables-restore` still running after its fwdsl
//! process was killed keeps the lock until it has committed or failed, so the next
//! operation never reads a table that is about to change under it. (A program the
//! same process starts for other reasons during an operation inherits it too, and
//! delays the next fwdsl operation until it exits.)
//!
//! The xtables lock cannot serve: iptables-nft does not take it, and iptables holds it
//! per command, not across the several commands of an apply.

use crate::error::Error;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The held lock of one network namespace; released when dropped (and when every
/// process it was handed to, such as a revert watchdog, has exited).
#[derive(Debug)]
pub(crate) struct NsLock {
    file: File,
}

/// Where fwdsl keeps the state of namespace `ns` (`ns-<inode>`, plus an extension).
pub(crate) fn state_path(dir: &Path, ns: u64, extension: &str) -> PathBuf {
    dir.join(format!("ns-{ns}.{extension}"))
}

/// Creates the state directory, readable by root only.
pub(crate) fn state_dir(dir: &Path) -> Result<(), Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })
}

impl NsLock {
    /// Takes the lock of namespace `ns`, waiting at most `timeout` for another fwdsl
    /// process to finish.
    pub(crate) fn acquire(dir: &Path, ns: u64, timeout: Duration) -> Result<NsLock, Error> {
        state_dir(dir)?;
        let path = state_path(dir, ns, "lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        let start = Instant::now();
        while file.try_lock().is_err() {
            if start.elapsed() >= timeout {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Busy {
                    path,
                    waited: start.elapsed(),
                    holder: holder.trim().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: fcntl(2) on a descriptor this function owns.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, 0) };
        // Who holds it, for the message another process gets while it waits.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "process {}", std::process::id());
        Ok(NsLock { file })
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

    #[test]
    fn a_second_holder_waits_then_gets_a_typed_error() {
        let dir = std::env::temp_dir().join(format!("fwdsl-nslock-{}", std::process::id()));
        let first = NsLock::acquire(&dir, 7, Duration::from_secs(1)).unwrap();
        // Another open file description of the same file, as another process has.
        let err = NsLock::acquire(&dir, 7, Duration::from_millis(100)).unwrap_err();
        assert!(
            matches!(&err, Error::Busy { holder, .. } if holder.contains(&std::process::id().to_string())),
            "{err}"
        );
        assert!(NsLock::acquire(&dir, 8, Duration::from_millis(100)).is_ok());
        drop(first);
        assert!(NsLock::acquire(&dir, 7, Duration::from_millis(100)).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
