//! What remains of dynamic sets' members across a save and a boot.
//!
//! A saved set holds each member's remaining lifetime as of the save, and loading it
//! starts that count again: a host down for a day would bring back an hour's ban for
//! another hour, and one that ended while it was down for all it had left. So a save
//! also writes each member's **end** as a Unix time (`fwdsl-bans.expiry`, beside the
//! saved table: `END SET NET` a line, `0` for a member without a lifetime), and the boot
//! (fwdsl's unit, and [`Firewall::restore`](crate::Firewall::restore)) runs one more
//! command after the rules are loaded: each member gets what is left until its end, and
//! one whose end has passed is removed. Run last, it can only shorten bans to their
//! true end: should it fail, the host stays filtered with the longer ones.

use super::dynamic::SetMember;
use super::exec;
use super::Backend;
use crate::error::Error;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The sidecar's text: `END SET NET` per member of `sets` (live set name, members).
pub(crate) fn text(sets: &[(String, Vec<SetMember>)]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let mut out = String::new();
    for (name, members) in sets {
        for m in members {
            let end = m.remaining.map_or(0, |r| now + r.as_secs().max(1));
            out.push_str(&format!("{end} {name} {}\n", m.net));
        }
    }
    out
}

/// The shell command that brings each member of the sidecar at `path` to its end:
/// `awk` (srand() twice gives the time of day, with no `$(…)` for systemd to read)
/// turns the lines into `ipset restore` or `nft -f` input.
pub(crate) fn command(path: &Path, backend: Backend) -> Vec<String> {
    let program = match backend {
        // Ended: removed; else re-added with what is left (`-exist` sets the timeout).
        Backend::Iptables => {
            r#"$1 == 0 { next } $1 <= now { print "del", $2, $3; next } { print "add", $2, $3, "timeout", $1 - now }"#
        }
        // `add element` of a member nft holds sets its timeout; an ended one gets one
        // second (nft 1.0.6 has no delete that tolerates an absent member).
        Backend::Nftables => {
            r#"$1 == 0 { next } { left = $1 - now; if (left < 1) left = 1; print "add element inet fwdsl", $2, "{", $3, "timeout", left "s", "}" }"#
        }
    };
    let sink = match backend {
        Backend::Iptables => "ipset restore -exist",
        Backend::Nftables => "nft -f -",
    };
    let script = format!(
        "awk 'BEGIN {{ srand(); now = srand() }} {program}' '{}' | {sink}",
        path.display()
    );
    vec!["sh".into(), "-c".into(), script]
}

/// The sidecar to write for `sets` (none when no dynamic set has members: a stale one
/// from an earlier save is removed, so that a boot does not act on it).
pub(crate) fn file(
    target: &super::save::SaveTarget,
    sets: &[(String, Vec<SetMember>)],
) -> Option<super::files::NewFile> {
    let path = target.expiries();
    if sets.iter().all(|(_, members)| members.is_empty()) {
        let _ = std::fs::remove_file(&path);
        return None;
    }
    Some(super::files::NewFile {
        path,
        contents: text(sets).into_bytes(),
        back_up: false,
    })
}

/// Runs [`command`] now (a restore), if a save wrote the sidecar.
pub(crate) fn apply(path: &Path, backend: Backend, timeout: Duration) -> Result<(), Error> {
    if !path.exists() {
        return Ok(());
    }
    let command = command(path, backend);
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    exec::run_ok(&command[0], &args, None, timeout).map(|_| ())
}
