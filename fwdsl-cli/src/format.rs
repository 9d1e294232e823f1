//! `fwdsl fmt`: policy files rewritten in the one canonical layout
//! ([`fwdsl::format_policy`]), or with `--check` only named.

use crate::outcome::Failure;
use crate::Out;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The file's text in canonical layout, and whether that differs from it.
fn formatted(file: &Path) -> Result<(String, bool), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Other(format!("cannot read {}: {e}", file.display())))?;
    let tidy = fwdsl::format_policy(&text).map_err(|e| {
        Failure::Other(format!(
            "{}:{}:{}: {} (not formatted)",
            file.display(),
            e.line,
            e.column,
            e.message
        ))
    })?;
    let changed = tidy != text;
    Ok((tidy, changed))
}

/// Replaces the file in one rename, so that a reader never sees half of it.
fn write(file: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::Other(format!("cannot write {}: {e}", file.display()));
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(file).map_err(fail)?.permissions();
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().set_permissions(permissions).map_err(fail)?;
    tmp.persist(file).map_err(|e| fail(e.error))?;
    Ok(())
}

pub fn run(files: &[PathBuf], check: bool, out: &Out) -> Result<ExitCode, Failure> {
    let mut would_change = Vec::new();
    for file in files {
        let (tidy, changed) = formatted(file)?;
        if !changed {
            continue;
        }
        match check {
            true => would_change.push(file),
            false => {
                write(file, &tidy)?;
                out.say(format_args!("formatted {}", file.display()));
            }
        }
    }
    for file in &would_change {
        println!("would reformat {}", file.display());
    }
    Ok(match would_change.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}
