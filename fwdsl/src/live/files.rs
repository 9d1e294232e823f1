//! Writing saved rules files safely: all of them or none, each through an unpredictable
//! temporary created with `O_EXCL` beside it, synced before it replaces the file, with
//! the replaced file's mode and owner, and a dated backup that never overwrites
//! anything (not even through a symlink planted at its name).
//!
//! A target that is a symlink is resolved on purpose and the real file written, so the
//! link stays a link. Every temporary is written before any file is replaced: a target
//! that cannot be written fails the save while every file is still as it was.

use crate::error::Error;
use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The file a path names, following symlinks (also one whose target does not exist
/// yet), at most 16 deep.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf, Error> {
    let mut real = path.to_path_buf();
    for _ in 0..16 {
        match std::fs::symlink_metadata(&real) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&real).map_err(io(&real))?;
                real = real.parent().unwrap_or(Path::new("/")).join(target);
            }
            _ => return Ok(real),
        }
    }
    Err(Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("too many levels of symbolic links"),
    })
}

/// The first backup name not taken yet: `file.bak-DATE`, then `file.bak-DATE.1`, …
/// (a name taken by anything, a dangling symlink included, is skipped).
pub(crate) fn backup_path(file: &Path, date: &str) -> PathBuf {
    let base = format!("{}.bak-{date}", file.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while std::fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

/// Copies `file` to a new backup, created with `O_EXCL` and `O_NOFOLLOW` so that it is
/// always a new file of its own.
fn back_up(file: &Path, date: &str, mode: u32) -> Result<PathBuf, Error> {
    loop {
        let backup = backup_path(file, date);
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&backup);
        match created {
            Ok(mut out) => {
                let mut from = File::open(file).map_err(io(file))?;
                std::io::copy(&mut from, &mut out).map_err(io(&backup))?;
                out.sync_all().map_err(io(&backup))?;
                return Ok(backup);
            }
            // Taken between the look and the create: the next name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&backup)(e)),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A file to write.
pub(crate) struct NewFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// Whether the file it replaces is backed up first (not those fwdsl alone writes,
    /// which it can write again: its unit, the fail-closed state).
    pub back_up: bool,
}

impl NewFile {
    /// A file whose previous contents are backed up.
    pub(crate) fn kept(path: PathBuf, contents: Vec<u8>) -> NewFile {
        NewFile {
            path,
            contents,
            back_up: true,
        }
    }
}

/// Writes every file, or none. A new file gets mode `new_mode`; a replaced one keeps
/// its mode and owner and is backed up first where asked. Returns the backups.
pub(crate) fn write_all(
    files: &[NewFile],
    new_mode: u32,
    date: &str,
) -> Result<Vec<PathBuf>, Error> {
    let mut staged = Vec::new();
    for NewFile {
        path,
        contents,
        back_up,
    } in files
    {
        let real = resolve(path)?;
        let dir = real.parent().unwrap_or(Path::new("/")).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let old = std::fs::metadata(&real).ok();
        let mut temp = tempfile::Builder::new()
            .prefix(".fwdsl-")
            .tempfile_in(&dir)
            .map_err(io(&dir))?;
        temp.write_all(contents).map_err(io(temp.path()))?;
        let mode = old.as_ref().map_or(new_mode, |m| m.mode() & 0o7777);
        let file = temp.as_file();
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io(&real))?;
        if let Some(old) = &old {
            std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).map_err(io(&real))?;
        }
        file.sync_all().map_err(io(&real))?;
        staged.push((
            real,
            dir,
            temp,
            old.filter(|_| *back_up).map(|m| m.mode() & 0o7777),
        ));
    }
    // Every file can be written: only now is anything replaced.
    let mut backups = Vec::new();
    for (real, _, _, old_mode) in &staged {
        if let Some(mode) = old_mode {
            backups.push(back_up(real, date, *mode)?);
        }
    }
    for (real, dir, temp, _) in staged {
        temp.persist(&real).map_err(|e| io(&real)(e.error))?;
        sync_dir(&dir)?;
    }
    Ok(backups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fwdsl-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn keeps_mode_and_backs_up_without_overwriting() {
        let d = dir("mode");
        let file = d.join("rules.v4");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o600)).unwrap();
        let backups = write_all(
            &[NewFile::kept(file.clone(), b"new".to_vec())],
            0o644,
            "2026-11-26",
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), "old");
        let again = write_all(
            &[NewFile::kept(file.clone(), b"newer".to_vec())],
            0o644,
            "2026-11-26",
        )
        .unwrap();
        assert_ne!(again[0], backups[0]);
        assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), "old");
        // A new file gets the mode asked for.
        let fresh = d.join("ipsets");
        write_all(
            &[NewFile::kept(fresh.clone(), b"x".to_vec())],
            0o600,
            "2026-11-26",
        )
        .unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o600);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_dangling_symlink_at_the_backup_name_is_not_written_through() {
        let d = dir("dangling");
        let file = d.join("rules.v4");
        std::fs::write(&file, "old").unwrap();
        let elsewhere = d.join("elsewhere");
        symlink(&elsewhere, d.join("rules.v4.bak-2026-11-26")).unwrap();
        let backups =
            write_all(&[NewFile::kept(file, b"new".to_vec())], 0o600, "2026-11-26").unwrap();
        assert!(!elsewhere.exists(), "the planted link was followed");
        assert!(backups[0].ends_with("rules.v4.bak-2026-11-26.1"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_symlinked_target_keeps_its_link_and_its_real_file_is_written() {
        let d = dir("link");
        let real = d.join("managed.v4");
        std::fs::write(&real, "old").unwrap();
        let link = d.join("rules.v4");
        symlink("managed.v4", &link).unwrap();
        write_all(
            &[NewFile::kept(link.clone(), b"new".to_vec())],
            0o600,
            "2026-11-26",
        )
        .unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_target_that_cannot_be_written_leaves_every_file_as_it_was() {
        let d = dir("partial");
        let v4 = d.join("rules.v4");
        std::fs::write(&v4, "old").unwrap();
        // The IPv6 file's directory cannot exist: its name is taken by a file (this
        // fails for root too, unlike a read-only directory).
        std::fs::write(d.join("not-a-dir"), "").unwrap();
        let v6 = d.join("not-a-dir").join("rules.v6");
        let err = write_all(
            &[
                NewFile::kept(v4.clone(), b"new".to_vec()),
                NewFile::kept(v6, b"new".to_vec()),
            ],
            0o600,
            "2026-11-26",
        )
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&v4).unwrap(), "old");
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with(".fwdsl-") && !n.contains(".bak-")),
            "{names:?}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
