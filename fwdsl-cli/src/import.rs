//! `fwdsl import`: a host's rules as a policy ([`fwdsl::import`]), the policy on
//! standard output and the report (refused rules, differences, the proof) on standard
//! error; exit 1 when the import is not equivalent, unless `--partial`. And `fwdsl
//! lint`: the checks of `firewall!` on those rules, by their own lines.

use crate::args::SavedRules;
use crate::outcome::Failure;
use crate::Out;
use fwdsl::import::{iptables_save, nft_json, SavedFile};
use fwdsl::Backend;
use std::path::Path;
use std::process::{Command, ExitCode};

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Other(format!("cannot read {}: {e}", path.display())))
}

/// A save program's output in this namespace (`iptables-save`, `ipset save`).
fn saved(program: &str, args: &[&str]) -> Result<String, Failure> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Failure::Other(format!("cannot run `{program}`: {e}")))?;
    if !out.status.success() {
        return Err(Failure::Other(format!(
            "`{program}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The rules to import: saved files, `nft -j` output, or this namespace's live ones.
enum Inputs {
    /// (name, text) of each file, and the ipsets' `ipset save`.
    Saved {
        files: Vec<(String, String)>,
        sets: String,
    },
    /// `nft -j` output, and `iptables-save` output for iptables-nft's rules.
    Nft {
        name: String,
        text: String,
        xtables: Vec<(String, String)>,
    },
}

impl Inputs {
    /// `live` rules are read with `nft` where `backend` is nftables.
    fn load(rules: &SavedRules, backend: Backend) -> Result<Inputs, Failure> {
        let files = || -> Result<Vec<(String, String)>, Failure> {
            rules
                .files
                .iter()
                .map(|f| Ok((f.display().to_string(), read(f)?)))
                .collect()
        };
        if let Some(path) = &rules.nft {
            return Ok(Inputs::Nft {
                name: path.display().to_string(),
                text: read(path)?,
                xtables: files()?,
            });
        }
        if rules.live && backend == Backend::Nftables {
            let text = saved("nft", &["-j", "list", "ruleset"])?;
            // Rules iptables-nft made: decoded by its own save (none where it is absent).
            let xtables = match text.contains("\"xt\"") {
                true => ["iptables-save", "ip6tables-save"]
                    .into_iter()
                    .filter_map(|p| saved(p, &[]).ok().map(|t| (p.to_string(), t)))
                    .collect(),
                false => Vec::new(),
            };
            return Ok(Inputs::Nft {
                name: "nft".into(),
                text,
                xtables,
            });
        }
        let saved_files = match rules.live {
            true => ["iptables-save", "ip6tables-save"]
                .into_iter()
                .map(|p| Ok((p.to_string(), saved(p, &[])?)))
                .collect::<Result<Vec<_>, Failure>>()?,
            false => files()?,
        };
        let sets = match (&rules.ipsets, rules.live) {
            (Some(path), _) => read(path)?,
            (None, true) => saved("ipset", &["save"]).unwrap_or_default(),
            (None, false) => String::new(),
        };
        Ok(Inputs::Saved {
            files: saved_files,
            sets,
        })
    }

    fn names(&self) -> String {
        match self {
            Inputs::Saved { files, .. } => files
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            Inputs::Nft { name, .. } => name.clone(),
        }
    }

    fn import(&self, partial: bool) -> Result<fwdsl::import::Import, Failure> {
        Ok(match self {
            Inputs::Saved { files, sets } => {
                iptables_save(file(files, 0), file(files, 1), sets, partial)?
            }
            Inputs::Nft {
                name,
                text,
                xtables,
            } => nft_json(
                SavedFile { name, text },
                file(xtables, 0),
                file(xtables, 1),
                partial,
            )?,
        })
    }
}

/// The `i`th of (name, text) files.
fn file(files: &[(String, String)], i: usize) -> Option<SavedFile<'_>> {
    files.get(i).map(|(name, text)| SavedFile { name, text })
}

pub fn run(
    rules: &SavedRules,
    partial: bool,
    backend: Backend,
    out: &Out,
) -> Result<ExitCode, Failure> {
    let inputs = Inputs::load(rules, backend)?;
    out.progress(format_args!("importing {}", inputs.names()));
    let import = inputs.import(partial)?;
    if !import.text.is_empty() {
        print!("{}", import.text);
    }
    eprint!("{import}");
    Ok(
        match import.is_equivalent() || (partial && import.differences.is_empty()) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        },
    )
}

/// `fwdsl lint`: every finding by the original's line, rules that could not be read
/// as such too; exit 1 when there is any.
pub fn lint(rules: &SavedRules, backend: Backend, out: &Out) -> Result<ExitCode, Failure> {
    let inputs = Inputs::load(rules, backend)?;
    let import = inputs.import(true)?;
    let findings = import.lint();
    for r in &import.refused {
        println!("{}:{}: note: not analysed: {}", r.file, r.line, r.reason);
    }
    for finding in &findings {
        println!("{finding}");
    }
    if findings.is_empty() {
        out.say(format_args!("no findings"));
    }
    Ok(match findings.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// The host's whole running ruleset as a policy (`exposure --live`): every chain, fwdsl's
/// and other programs', as the kernel walks them; rules the language cannot say are left
/// out and named on standard error, since the judgment is then approximate there. The
/// import comes along, to name the host's own rules behind the policy's lines.
pub fn live_policy(
    backend: Backend,
    out: &Out,
) -> Result<(fwdsl::Policy, fwdsl::import::Import), Failure> {
    let inputs = Inputs::load(
        &SavedRules {
            files: Vec::new(),
            live: true,
            nft: None,
            ipsets: None,
        },
        backend,
    )?;
    let import = inputs.import(true)?;
    for r in &import.refused {
        eprintln!(
            "note: {}:{} is not judged ({}): {}",
            r.file, r.line, r.reason, r.rule
        );
    }
    out.progress(format_args!("judging against the live ruleset"));
    Ok((fwdsl::Policy::parse(&import.text)?, import))
}
