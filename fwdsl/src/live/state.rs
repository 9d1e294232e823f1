//! The state directory (`/run/fwdsl`): where the per-namespace lock, the pending revert
//! and the journal of a switch live. Root acts on what it finds there (runs a revert
//! script, removes a directory, writes through a lock file), so a directory another
//! user could have written is refused before anything in it is opened, as OpenSSH's
//! `StrictModes` refuses a writable home:
//!
//! - the directory is opened with `O_DIRECTORY | O_NOFOLLOW` (a symlink is refused)
//!   and checked through that descriptor: owned by this user (root) and not writable
//!   by group or others;
//! - every directory above it is owned by root (or this user) and not writable by
//!   group or others, unless it has the sticky bit (`/tmp`), which keeps others from
//!   renaming what root put there;
//! - files in it are opened with `O_NOFOLLOW`, and names in it are made by fwdsl, never
//!   read from a file.
//!
//! Once checked, nobody but root can change the directory, so what fwdsl finds there
//! was written by root.

use crate::error::Error;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Which network namespace state belongs to: its inode, and its cookie (`SO_NETNS_COOKIE`,
/// 0 where the kernel has none). The kernel reuses a namespace's inode number once the
/// namespace is gone, so the inode alone would hand a new namespace what an old one
/// left (a pending revert, a switch journal); the cookie is never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NsKey {
    /// The namespace's inode (`/proc/thread-self/ns/net`).
    pub inode: u64,
    /// Its cookie.
    pub cookie: u64,
}

impl std::fmt::Display for NsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.inode, self.cookie)
    }
}

/// A state directory that only this user (root) can have written.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    path: PathBuf,
}

fn unsafe_dir(path: &Path, reason: String) -> Error {
    Error::UnsafeStateDir {
        path: path.to_path_buf(),
        reason,
    }
}

/// Why a directory with this owner and mode could have been written by someone else,
/// if it could. `sticky_ok`: whether the sticky bit makes a world-writable one safe (it
/// does above the state directory, where it only protects entries of others).
fn writable_by_others(meta: &std::fs::Metadata, euid: u32, sticky_ok: bool) -> Option<String> {
    let mode = meta.mode();
    if meta.uid() != 0 && meta.uid() != euid {
        return Some(format!("it is owned by user {}", meta.uid()));
    }
    let sticky = sticky_ok && mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky {
        return Some(format!(
            "it is writable by its group or by others (mode {:o})",
            mode & 0o7777
        ));
    }
    None
}

impl StateDir {
    /// The state directory at `path`, created (mode 0700) if it does not exist;
    /// [`Error::UnsafeStateDir`] if another user could have written it.
    pub(crate) fn open(path: &Path) -> Result<StateDir, Error> {
        // SAFETY: geteuid(2) cannot fail.
        let euid = unsafe { libc::geteuid() };
        let absolute = std::path::absolute(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        for ancestor in absolute.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(ancestor) else {
                continue;
            };
            if let Some(reason) = writable_by_others(&meta, euid, true) {
                return Err(unsafe_dir(
                    path,
                    format!("{} above it: {reason}", ancestor.display()),
                ));
            }
        }
        if std::fs::symlink_metadata(&absolute).is_err() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&absolute)
                .map_err(|source| Error::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&absolute)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => {
                    unsafe_dir(path, "it is a symbolic link, or not a directory".into())
                }
                _ => Error::Io {
                    path: path.to_path_buf(),
                    source: e,
                },
            })?;
        let meta = dir.metadata().map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(reason) = writable_by_others(&meta, euid, false) {
            return Err(unsafe_dir(path, reason));
        }
        if meta.uid() != euid {
            return Err(unsafe_dir(
                path,
                format!("it is owned by user {}, not by this one", meta.uid()),
            ));
        }
        Ok(StateDir { path: absolute })
    }

    /// Where fwdsl keeps the state of namespace `ns`: `ns-<inode>-<cookie>.<extension>`.
    pub(crate) fn of(&self, ns: NsKey, extension: &str) -> PathBuf {
        self.path.join(format!("ns-{ns}.{extension}"))
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens (creating if needed, mode 0600) a file in the directory for reading and
    /// writing, never through a symbolic link.
    pub(crate) fn open_file(&self, path: &Path) -> Result<File, Error> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Writes a new file (it must not exist), never through a symbolic link.
    pub(crate) fn create(&self, path: &Path, contents: &[u8]) -> Result<(), Error> {
        use std::io::Write;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .and_then(|mut f| f.write_all(contents))
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Reads a file of the directory, never through a symbolic link; `None` if absent.
    pub(crate) fn read(&self, path: &Path) -> Option<String> {
        use std::io::Read;
        let mut text = String::new();
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .ok()
            .map(|_| text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fwdsl-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_a_private_directory_and_refuses_writable_ones() {
        let dir = scratch("mode");
        let state = StateDir::open(&dir).unwrap();
        let meta = std::fs::metadata(state.path()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(&dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("writable by its group or by others"),
            "{err}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // A symlink to a good directory is refused all the same.
        let link = scratch("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = StateDir::open(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A directory above that others may write (no sticky bit) is refused.
        let parent = scratch("parent");
        std::fs::create_dir(&parent).unwrap();
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(&parent.join("fwdsl")).unwrap_err();
        assert!(err.to_string().contains("above it"), "{err}");
        for path in [&dir, &parent] {
            std::fs::remove_dir_all(path).unwrap();
        }
        std::fs::remove_file(link).unwrap();
    }
}
