//! The ipsets long address lists render to: created before the rules that use them,
//! destroyed once no live rule does. Sets are named after their contents, so an
//! existing set of the right name already holds the right members.

use crate::error::{Error, FailedCommand};
use std::io::Write;
use std::process::{Command, Output, Stdio};

const IPSET: &str = "ipset";

fn run(args: &[&str], input: Option<&str>) -> Result<Output, Error> {
    let missing = |e: std::io::Error| Error::IptablesMissing {
        binary: IPSET.into(),
        reason: e.to_string(),
    };
    let mut child = Command::new(IPSET)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(missing)?;
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())
            .map_err(missing)?;
    }
    let output = child.wait_with_output().map_err(missing)?;
    if !output.status.success() {
        return Err(Error::Iptables(Box::new(FailedCommand {
            command: format!("{IPSET} {}", args.join(" ")),
            rule: None,
            code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })));
    }
    Ok(output)
}

/// Names of the sets that exist.
pub(crate) fn existing() -> Result<Vec<String>, Error> {
    let output = run(&["list", "-n"], None)?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect())
}

/// Creates and fills sets from `ipset restore` input.
pub(crate) fn restore(text: &str) -> Result<(), Error> {
    run(&["restore"], Some(text)).map(|_| ())
}

/// The `ipset restore` input that recreates `names` as they are now.
pub(crate) fn save(names: &[String]) -> Result<String, Error> {
    let mut text = String::new();
    for name in names {
        text.push_str(&String::from_utf8_lossy(
            &run(&["save", name], None)?.stdout,
        ));
    }
    // Recreating must not fail on a set that survived.
    Ok(text.lines().map(|l| format!("{l} -exist\n")).collect())
}

pub(crate) fn destroy(names: &[String]) -> Result<(), Error> {
    for name in names {
        run(&["destroy", name], None)?;
    }
    Ok(())
}

/// The fwdsl sets that rules (`-A …` lines) refer to.
pub(crate) fn referenced<'a>(rules: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut names: Vec<String> = rules
        .into_iter()
        .filter_map(|rule| rule.split("--match-set ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|name| name.starts_with("fwdsl-"))
        .map(String::from)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
