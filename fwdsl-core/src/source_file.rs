//! Reading the files a policy names (policy files, their includes, address lists):
//! regular files only, bounded in size. A FIFO would hang the reader until someone
//! writes to it, `/dev/zero` would fill memory, a directory reads as nothing useful; so
//! the file is opened without blocking (`O_NONBLOCK`, which makes opening a FIFO return
//! at once), checked through its descriptor, and read up to its limit.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest policy file (or included piece) read: far above any hand-written policy.
pub const POLICY_FILE_MAX: u64 = 16 << 20;

/// The largest address list file read: a million networks take about 18 MiB.
pub const LIST_FILE_MAX: u64 = 128 << 20;

/// The text of the regular file at `path`, if it is one of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a FIFO, a device, a socket or a directory)",
        ));
    }
    let too_big = || {
        std::io::Error::other(format!(
            "larger than the {} MiB a file of this kind may have",
            limit >> 20
        ))
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // (A file that grows while it is read still stops at the limit.)
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit() {
        let dir = std::env::temp_dir().join(format!("fwdsl-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p");
        std::fs::write(&file, "allow ssh;\n").unwrap();
        assert_eq!(read_regular(&file, 100).unwrap(), "allow ssh;\n");
        assert!(read_regular(&file, 4)
            .unwrap_err()
            .to_string()
            .contains("larger"));
        for special in ["/dev/zero", "/dev/null"] {
            let err = read_regular(Path::new(special), 100).unwrap_err();
            assert!(
                err.to_string().contains("not a regular file"),
                "{special}: {err}"
            );
        }
        assert!(read_regular(&dir, 100).is_err());
        // A FIFO with no writer: refused at once instead of waiting for one.
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a NUL-terminated path of this test's own directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_regular(&fifo, 100).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
