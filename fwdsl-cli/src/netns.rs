//! `--netns NAME`: the whole process enters a named network namespace (as `ip netns
//! exec` does) before any thread starts, so that every socket it opens and every
//! program it runs (iptables, nft, ipset) lives there.

use std::fs::File;
use std::os::fd::AsRawFd;

pub fn enter(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(format!("`{name}` is not a network namespace name"));
    }
    let path = format!("/run/netns/{name}");
    let file = File::open(&path).map_err(|e| {
        format!("cannot open network namespace `{name}` ({path}: {e}); `ip netns add {name}` creates one")
    })?;
    // SAFETY: setns on a namespace file descriptor we hold open, on the main thread
    // before any other thread exists; it changes only this process's network namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "cannot enter network namespace `{name}`: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
