//! `fwdsl`: the command for policy files. A thin layer over the `fwdsl` crate: each
//! subcommand reads its arguments, calls the library, and prints the library's report;
//! the policy language, its checks and every host operation are the library's.

mod args;
mod check;
mod explain;
mod format;
mod host;
mod import;
mod netns;
mod outcome;
mod review;

use args::{Cli, Command};
use clap::{CommandFactory, Parser};
use fwdsl::Policy;
use host::Saving;
use outcome::Failure;
use std::fmt::Arguments;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

/// Where messages go: `-q` silences them, `-v` adds progress, which also shows on a
/// terminal (and never when standard error is piped).
pub struct Out {
    quiet: bool,
    verbose: bool,
    netns: Option<String>,
}

impl Out {
    /// A message of the command's own (not its data): on standard output, unless `-q`.
    pub fn say(&self, message: Arguments) {
        if !self.quiet {
            let text = message.to_string();
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
    }

    /// What a long operation is doing: on a terminal or with `-v`, never with `-q`.
    pub fn progress(&self, message: Arguments) {
        if !self.quiet && (self.verbose || std::io::stderr().is_terminal()) {
            eprintln!("{message} …");
        }
    }

    /// ` --netns NAME`, for a command the user is told to run next.
    pub fn netns_flag(&self) -> String {
        self.netns
            .as_ref()
            .map_or_else(String::new, |n| format!(" --netns {n}"))
    }
}

/// A policy file, its warnings on standard error (unless `-q`).
fn policy(file: &Path, out: &Out) -> Result<Policy, Failure> {
    out.progress(format_args!("reading {}", file.display()));
    let policy = Policy::from_file(file)?;
    if !out.quiet {
        for warning in policy.warnings() {
            eprintln!("{warning}");
        }
    }
    Ok(policy)
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let g = &cli.global;
    let out = Out {
        quiet: g.quiet,
        verbose: g.verbose,
        netns: g.netns.clone(),
    };
    let fw = || host::firewall(g);
    let no_json = |what: &str| {
        match g.json {
        true => Err(Failure::Usage(format!(
            "`{what}` has no JSON form: its report is text (`--json` is for check, explain, diff, assertions and bans)"
        ))),
        false => Ok(()),
    }
    };
    let ok = |()| ExitCode::SUCCESS;
    match &cli.command {
        Command::Check {
            files,
            deny_warnings,
            format,
        } => {
            let format = if g.json { args::Format::Json } else { *format };
            Ok(check::run(files, *deny_warnings, format, &out))
        }
        Command::Fmt { files, check } => {
            no_json("fmt")?;
            format::run(files, *check, &out)
        }
        Command::Explain { file, packet } => explain::run(&policy(file, &out)?, packet, g.json),
        Command::Diff {
            old,
            new,
            allow_openings,
        } => Ok(review::diff(
            &policy(old, &out)?,
            &policy(new, &out)?,
            *allow_openings,
            g.json,
            &out,
        )),
        Command::Assertions { file } => Ok(review::assertions(&policy(file, &out)?, g.json, &out)),
        Command::Bans { set } => host::bans(&fw(), set, g.json).map(ok),
        Command::Import { rules, partial } => {
            import::run(rules, *partial, fw().resolved_backend(), &out)
        }
        Command::Lint { rules } => import::lint(rules, fw().resolved_backend(), &out),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "fwdsl", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::Other(e.to_string()))?;
            Ok(ExitCode::SUCCESS)
        }
        command => {
            no_json(command_name(command))?;
            host_command(command, fw(), &out).map(ok)
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Plan { .. } => "plan",
        Command::Apply { .. } => "apply",
        Command::Confirm => "confirm",
        Command::Status => "status",
        Command::Exposure { .. } => "exposure",
        Command::Save { .. } => "save",
        Command::Restore { .. } => "restore",
        Command::Persist { .. } => "persist",
        Command::Uninstall { .. } => "uninstall",
        Command::Flush { .. } => "flush",
        Command::Ban { .. } => "ban",
        Command::Sync { .. } => "sync",
        Command::Unban { .. } => "unban",
        _ => "this command",
    }
}

/// The commands whose report is text: they read or change the live firewall.
fn host_command(command: &Command, fw: fwdsl::Firewall, out: &Out) -> Result<(), Failure> {
    match command {
        Command::Plan { file } => host::plan(&fw, &policy(file, out)?),
        Command::Apply {
            file,
            confirm,
            change,
            enable_forwarding,
        } => host::apply(
            fw.enable_forwarding(*enable_forwarding),
            &policy(file, out)?,
            file,
            *confirm,
            change,
            out,
        ),
        Command::Confirm => host::confirm(&fw, out),
        Command::Status => host::status(&fw),
        Command::Exposure {
            file: Some(file), ..
        } => host::exposure(&fw, &policy(file, out)?),
        Command::Exposure { file: None, .. } => {
            let (policy, import) = import::live_policy(fw.resolved_backend(), out)?;
            host::exposure_live(&fw, &policy, &import)
        }
        Command::Save { dir, change } => {
            host::saving(fw, Saving::Save, dir.as_deref(), change, out)
        }
        Command::Restore { dir, change } => {
            host::saving(fw, Saving::Restore, dir.as_deref(), change, out)
        }
        Command::Persist { dir, change } => {
            host::saving(fw, Saving::Persist, dir.as_deref(), change, out)
        }
        Command::Uninstall { change } => host::uninstall(fw, change, out),
        Command::Flush { change } => host::flush(fw, change, out),
        Command::Ban {
            set,
            members,
            lifetime,
            change,
        } => host::ban(fw, set, members, Some(*lifetime), change, out),
        Command::Unban {
            set,
            members,
            change,
        } => host::ban(fw, set, members, None, change, out),
        Command::Sync { set, file, change } => host::sync(fw, set, file, change, out),
        _ => unreachable!("handled in run"),
    }
}

fn main() -> ExitCode {
    // Printing into a closed pipe (`fwdsl status | head -3`) ends the program quietly,
    // as it does for other Unix tools, instead of panicking.
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Usage errors exit with 2, `--help` and `--version` with 0 (clap's convention).
    let cli = Cli::parse();
    if let Some(name) = &cli.global.netns {
        if let Err(e) = netns::enter(name) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("{failure}");
            failure.code()
        }
    }
}
