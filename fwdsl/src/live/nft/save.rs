//! Saving fwdsl's table and bringing it back at boot, failing closed, on nftables.
//!
//! The saved file replaces the table in one `nft -f` (`table inet fwdsl` / `delete
//! table inet fwdsl` / the table as `nft -s list` prints it: rules, sets and a
//! dynamic set's members, without counters). Beside it, the fail-closed state: the
//! operator's SSH path and `drop all` as an nft batch. A boot runs, stopping at the
//! first failure: the input hook closed (`policy drop`, which needs no file), the
//! fail-closed state, the saved file checked (`nft -c`, and fwdsl's jump in it), then
//! loaded. Other tables are never touched.

use super::listing::GENERATION_COMMENT;
use super::plan;
use super::{batch_text, Nft, PRIORITY, TABLE};
use crate::error::Error;
use crate::live::files::{write_all, NewFile};
use crate::live::save::{today, SaveReport, SaveTarget};
use crate::live::{boot, fallback};
use serde_json::json;
use std::path::Path;

/// The saved file's text: the table replaced whole when loaded.
fn saved_text(listed: &str) -> String {
    format!("table inet {TABLE}\ndelete table inet {TABLE}\n{listed}")
}

/// The fail-closed state as an nft batch that replaces the table.
fn fallback_batch(access: Option<&str>) -> String {
    let closed = fallback::policy(access);
    let mut commands = vec![
        json!({"add": {"table": {"family": "inet", "name": TABLE}}}),
        json!({"delete": {"table": {"family": "inet", "name": TABLE}}}),
    ];
    commands.extend(plan::read(&Default::default(), &closed).forward);
    batch_text(&commands)
}

/// The access path the live input jump notes (`ssh 2222 from 10.0.0.0/8`).
fn access(nft: &Nft) -> Result<Option<String>, Error> {
    let listing = nft.table()?;
    Ok(listing
        .jump(fwdsl_core::Direction::In)
        .and_then(|j| {
            j.comment
                .strip_prefix(GENERATION_COMMENT)
                .map(|n| n.trim().to_string())
        })
        .filter(|n| !n.is_empty()))
}

/// The commands a boot runs for `target`, in order.
pub(crate) fn commands(target: &SaveTarget, fwdsl_saved: bool) -> Vec<Vec<String>> {
    let nft = |args: &[&str]| -> Vec<String> {
        std::iter::once("nft")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    };
    let saved = target.nft.display().to_string();
    let closed = format!("{{ type filter hook input priority {PRIORITY}; policy drop; }}");
    let mut out = vec![
        nft(&["add", "table", "inet", TABLE]),
        nft(&["add", "chain", "inet", TABLE, "input", &closed]),
        nft(&["-j", "-f", &target.nft_fallback().display().to_string()]),
        nft(&["-c", "-f", &saved]),
    ];
    if fwdsl_saved {
        out.push(
            ["grep", "-q", "-F", "-e", GENERATION_COMMENT, &saved]
                .map(String::from)
                .to_vec(),
        );
    }
    out.push(nft(&["-f", &saved]));
    // Last: the bans brought to their true ends (only ever shorter).
    if target.expiries().exists() {
        out.push(crate::live::expiry::command(
            &target.expiries(),
            crate::Backend::Nftables,
        ));
    }
    out
}

/// Whether the saved file holds fwdsl's rules (checked again at boot).
pub(crate) fn fwdsl_saved(target: &SaveTarget) -> bool {
    std::fs::read_to_string(&target.nft).is_ok_and(|t| t.contains(GENERATION_COMMENT))
}

/// Writes the table and the fail-closed state to `target`.
pub(crate) fn save(
    nft: &Nft,
    target: &SaveTarget,
    systemd_dir: &Path,
) -> Result<SaveReport, Error> {
    let listed = match nft.table()?.exists {
        true => nft.text(&["-s", "list", "table", "inet", TABLE], None)?,
        false => String::new(),
    };
    let access = access(nft)?;
    let mut dynamic = Vec::new();
    for name in nft
        .table()?
        .sets
        .iter()
        .filter(|n| n.starts_with("fwdsl-d4-") || n.starts_with("fwdsl-d6-"))
    {
        dynamic.push((name.clone(), super::dynamic::entries(nft, name)?));
    }
    let mut files = vec![
        NewFile::kept(target.nft.clone(), saved_text(&listed).into_bytes()),
        NewFile {
            path: target.nft_fallback(),
            contents: fallback_batch(access.as_deref()).into_bytes(),
            back_up: false,
        },
    ];
    files.extend(crate::live::expiry::file(target, &dynamic));
    let backups = write_all(&files, 0o600, &today())?;
    let commands = commands(target, fwdsl_saved(target));
    if systemd_dir.join(boot::UNIT).exists() {
        boot::install(systemd_dir, &commands)?;
    }
    let closed = fallback::policy(access.as_deref());
    Ok(SaveReport::new(
        crate::Backend::Nftables,
        files.into_iter().map(|f| f.path).collect(),
        backups,
        boot::detect(systemd_dir, target, &commands),
        false,
        closed.access().to_string(),
        commands,
    ))
}

/// Loads the saved table into the running host: checked first, then in one transaction.
pub(crate) fn restore(nft: &Nft, target: &SaveTarget) -> Result<(), Error> {
    let path = target.nft.display().to_string();
    let bad = |e: Error| match e {
        Error::Iptables(failed) => Error::BadSavedFile {
            path: target.nft.clone(),
            line: line_of(&failed.stderr, &path),
            message: failed.stderr,
        },
        other => other,
    };
    if !target.nft.is_file() {
        return Err(Error::Io {
            path: target.nft.clone(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    nft.text(&["-c", "-f", &path], None).map_err(bad)?;
    nft.text(&["-f", &path], None).map_err(bad).map(|_| ())
}

/// The line nft names in `FILE:LINE:COLUMN: Error: …`.
fn line_of(message: &str, path: &str) -> Option<usize> {
    let rest = &message[message.find(path)? + path.len()..];
    rest.strip_prefix(':')?.split(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boot_closes_first_and_loads_last() {
        let target = SaveTarget::in_dir("/etc/fwdsl");
        let commands = commands(&target, true);
        assert_eq!(commands[0], ["nft", "add", "table", "inet", "fwdsl"]);
        assert_eq!(
            commands[1][6],
            "{ type filter hook input priority -10; policy drop; }"
        );
        assert_eq!(
            commands[2],
            ["nft", "-j", "-f", "/etc/fwdsl/fwdsl-fallback.nft"]
        );
        assert_eq!(
            commands.last().unwrap(),
            &["nft", "-f", "/etc/fwdsl/fwdsl.nft"]
        );
        assert_eq!(
            line_of(
                "/etc/fwdsl/fwdsl.nft:12:3-9: Error: syntax error",
                "/etc/fwdsl/fwdsl.nft"
            ),
            Some(12)
        );
    }
}
