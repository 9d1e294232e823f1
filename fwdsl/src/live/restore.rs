//! Loading saved files into the running host, as a boot does (ipsets, then each
//! family's rules), checked first and taken back on failure.

use super::runner::{named_line, Context};
use super::save::SaveTarget;
use super::txn::{Txn, Undo};
use super::Session;
use crate::error::Error;
use std::path::{Path, PathBuf};

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn bad(path: &Path, line: Option<usize>, message: String) -> Error {
    Error::BadSavedFile {
        path: path.to_path_buf(),
        line,
        message,
    }
}

pub(super) fn restore(
    session: &Session,
    target: &SaveTarget,
    fault: Option<super::txn::Fault>,
) -> Result<(), Error> {
    let rules: Vec<(PathBuf, String)> = session
        .runners
        .iter()
        .map(|r| {
            let path = target.path(r.family).to_path_buf();
            read(&path).map(|text| (path, text))
        })
        .collect::<Result<_, _>>()?;
    let ipsets = target
        .ipsets
        .exists()
        .then(|| read(&target.ipsets))
        .transpose()?;
    let mut txn = Txn::new(&session.runners, session.sets, fault);
    match load(session, &mut txn, target, ipsets.as_deref(), &rules) {
        Ok(()) => {
            txn.forget();
            Ok(())
        }
        Err(e) => Err(txn.abort(e)),
    }
}

fn load(
    session: &Session,
    txn: &mut Txn<'_>,
    target: &SaveTarget,
    ipsets: Option<&str>,
    rules: &[(PathBuf, String)],
) -> Result<(), Error> {
    if let Some(text) = ipsets {
        let existing = session.sets.all_names()?;
        let created: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("create "))
            .filter_map(|l| l.split(' ').next())
            .filter(|name| !existing.contains(*name))
            .map(String::from)
            .collect();
        txn.step(
            0,
            &Context::default(),
            |_| {
                session.sets.restore_existing(text).map_err(|e| match e {
                    Error::Iptables(failed) => {
                        bad(&target.ipsets, named_line(&failed.stderr), failed.stderr)
                    }
                    other => other,
                })
            },
            Some(Undo::DestroySets(created)),
        )?;
    }
    // Every family's file is checked (with the sets in place) before any is loaded.
    for (runner, (path, text)) in session.runners.iter().zip(rules) {
        runner
            .restore_with(&["--test"], text)
            .map_err(|(line, failed)| bad(path, line, failed.stderr))?;
    }
    for (f, (runner, (path, text))) in session.runners.iter().zip(rules).enumerate() {
        let before = runner.save()?;
        txn.step(
            f,
            &Context::default(),
            |r| {
                r.restore_with(&[], text)
                    .map_err(|(line, failed)| bad(path, line, failed.stderr))
            },
            Some(Undo::Replace(f, before)),
        )?;
    }
    Ok(())
}
