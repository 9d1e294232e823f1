//! fwdsl's one error type, and the pieces it reports (policy problems, failed commands).

use std::fmt;

/// One problem in a policy read at run time, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Whether it rejects the policy.
    pub severity: fwdsl_core::Severity,
    /// The policy file, for a policy read with `Policy::from_file` (the included file,
    /// for a problem in an included piece).
    pub file: Option<std::path::PathBuf>,
    /// 1-based line, when the problem has a place.
    pub line: Option<u32>,
    /// 1-based column, when the problem has a place.
    pub column: Option<u32>,
    /// The line the problem is on, as written.
    pub source_line: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            return write!(
                f,
                "{}",
                Problems(vec![self.clone()]).in_file(&file.display().to_string())
            );
        }
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "line {line}, column {column}: ")?;
        }
        let kind = match self.severity {
            fwdsl_core::Severity::Error => "error",
            fwdsl_core::Severity::Warning => "warning",
        };
        write!(f, "{kind}: {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The errors of a policy read at run time: all of them, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// The problems as a compiler prints them, one `FILE:LINE:COLUMN: error: …` per
    /// problem, the line itself and the help below it, in line order. `path` names
    /// the problems that carry no file of their own.
    ///
    /// ```
    /// let Err(fwdsl::Error::Policy(problems)) = fwdsl::Policy::parse("allow ssh;\nallow tcp 0;\ndrop all;") else { panic!() };
    /// assert!(problems.in_file("web.policy").to_string().starts_with("web.policy:2:11: error: port 0"));
    /// ```
    pub fn in_file<'a>(&'a self, path: &'a str) -> impl fmt::Display + 'a {
        InFile(self, path)
    }
}

struct InFile<'a>(&'a Problems, &'a str);

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut problems: Vec<&Problem> = self.0 .0.iter().collect();
        problems.sort_by_key(|p| (p.file.clone(), p.line, p.column));
        for (i, p) in problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match &p.file {
                Some(file) => write!(f, "{}", file.display())?,
                None => write!(f, "{}", self.1)?,
            }
            if let (Some(line), Some(column)) = (p.line, p.column) {
                write!(f, ":{line}:{column}")?;
            }
            let kind = match p.severity {
                fwdsl_core::Severity::Error => "error",
                fwdsl_core::Severity::Warning => "warning",
            };
            write!(f, ": {kind}: {}", p.message)?;
            if let (Some(source), Some(line)) = (&p.source_line, p.line) {
                write!(f, "\n{line:>5} | {source}")?;
                if let Some(column) = p.column {
                    // Under the column, tabs kept so the caret lines up as the line does.
                    let pad: String = source
                        .chars()
                        .take(column.saturating_sub(1) as usize)
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    write!(f, "\n      | {pad}^")?;
                }
            }
            if let Some(help) = &p.help {
                write!(f, "\n  help: {help}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// A rule of the policy, as named in run-time errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// 1-based number of the rule in the policy (as in the `fwdsl:N` comments).
    pub number: usize,
    /// The line the rule was written on.
    pub line: u32,
    /// The rule's DSL text.
    pub text: String,
}

impl RuleRef {
    #[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
    pub(crate) fn new(index: usize, rule: &fwdsl_core::Rule) -> RuleRef {
        RuleRef {
            // (0 for a rule fwdsl adds itself, whose index is `usize::MAX`.)
            number: index.wrapping_add(1),
            line: rule.line,
            text: rule.text.to_string(),
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule {} `{}` (line {})",
            self.number, self.text, self.line
        )
    }
}

/// An iptables command that failed: what ran, for which rule, and what iptables said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCommand {
    /// The command line.
    pub command: String,
    /// The policy rule it was installing, if any.
    pub rule: Option<RuleRef>,
    /// iptables' exit code (`None` when it was killed by a signal).
    pub code: Option<i32>,
    /// iptables' own message.
    pub stderr: String,
}

impl fmt::Display for FailedCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed", self.command)?;
        if let Some(code) = self.code {
            write!(f, " with exit code {code}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " while installing {rule}")?;
        }
        write!(f, ": {}", self.stderr)
    }
}

/// The package that installs `program`, by the name Debian and RHEL both use.
#[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
pub(crate) fn package_of(program: &str) -> &'static str {
    match program {
        "ipset" => "ipset",
        "ip" => "iproute2",
        "sh" => "dash",
        _ => "iptables",
    }
}

impl Error {
    /// A program that could not be started.
    #[cfg_attr(not(feature = "live"), allow(dead_code))] // used by the live side
    pub(crate) fn missing(program: &str, reason: impl ToString) -> Error {
        Error::ProgramMissing {
            program: program.to_string(),
            package: package_of(program),
            reason: reason.to_string(),
        }
    }
}

fn sessions_text(sessions: &[String]) -> String {
    match sessions {
        [one] => format!("the SSH session {one}"),
        many => format!("{} SSH sessions: {}", many.len(), many.join(", ")),
    }
}

fn policy_errors(problems: &Problems) -> String {
    if problems.0.iter().all(|p| p.file.is_some()) {
        problems.in_file("").to_string()
    } else {
        format!("the policy has errors:\n{problems}")
    }
}

/// Everything that can go wrong in fwdsl.
///
/// Its `Debug` is its `Display` (as anyhow's errors do): `fn main() -> Result<(),
/// fwdsl::Error>` prints what went wrong as a sentence, a policy's problems as a
/// compiler prints them, rather than the enum's fields.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy given as text has errors (the same ones `firewall!` reports at compile
    /// time). Those of a policy file name their file and say `error:` themselves.
    #[error("{}", policy_errors(.0))]
    Policy(Problems),
    /// An iptables command failed. From `apply`, the previous rules are back.
    #[error("{0}")]
    Iptables(Box<FailedCommand>),
    /// A program fwdsl runs (iptables, ip6tables, ipset, …) is missing or does not run.
    #[error("`{program}` cannot be run ({reason}); install the `{package}` package")]
    ProgramMissing {
        /// The program.
        program: String,
        /// The Debian (and RHEL) package that has it.
        package: &'static str,
        /// Why it could not run.
        reason: String,
    },
    /// The process may not change the firewall.
    #[error("changing the firewall needs root or CAP_NET_ADMIN, and this process has neither; nothing was changed")]
    NotPermitted,
    /// Another program held the xtables lock for longer than fwdsl waits.
    #[error(
        "the xtables lock {path} was held by another program for {waited:?}; nothing was changed"
    )]
    LockHeld {
        /// The lock file.
        path: std::path::PathBuf,
        /// How long fwdsl waited.
        waited: std::time::Duration,
    },
    /// The policy would drop an SSH session to this host: the one this process runs in
    /// (`$SSH_CONNECTION`), or one the kernel holds established to sshd.
    #[error("refusing to apply: {rule} would drop {}; nothing was changed (force the apply to override)", sessions_text(.sessions))]
    WouldCutSession {
        /// The rule that drops the session.
        rule: RuleRef,
        /// The (first) session's client address.
        client: std::net::IpAddr,
        /// The (first) session's server port.
        port: u16,
        /// Every session the rule drops (`198.51.100.7:50022 -> 192.0.2.1:22 (sshd)`).
        sessions: Vec<String>,
    },
    /// `apply_with_confirm` got no confirmation in time and put the previous rules back.
    #[error("the new rules were not confirmed within {0:?}; the previous rules are back")]
    NotConfirmed(std::time::Duration),
    /// A namespaces-only firewall handle ([`Firewall::namespaces_only`](crate::Firewall::namespaces_only))
    /// could not show that it is outside the machine's own network namespace.
    #[error("refusing to change the firewall: this handle is for network namespaces only, and {0}; nothing was changed")]
    RootNamespace(String),
    /// Another fwdsl operation in this network namespace (or the watchdog of an
    /// unconfirmed apply) held fwdsl's lock for longer than fwdsl waits.
    #[error(
        "another fwdsl operation holds {path} ({holder}); waited {waited:?}, nothing was changed"
    )]
    Busy {
        /// The lock file.
        path: std::path::PathBuf,
        /// How long fwdsl waited.
        waited: std::time::Duration,
        /// Who holds it, as the holder wrote it.
        holder: String,
    },
    /// A command ran longer than [`Firewall::command_timeout`](crate::Firewall::command_timeout)
    /// and was ended. From `apply`, the previous rules are back.
    #[error("`{command}` did not finish within {waited:?} and was ended")]
    Timeout {
        /// The command line.
        command: String,
        /// How long it was given.
        waited: std::time::Duration,
    },
    /// The watchdog of an unconfirmed apply had already put the previous rules back.
    #[error("too late: the unconfirmed rules were already reverted by their watchdog")]
    Reverted,
    /// An unconfirmed apply is pending, but what was to revert it is gone (its process
    /// killed, its systemd timer stopped): its rules are live and nothing will take
    /// them back. [`Firewall::confirm`](crate::Firewall::confirm) keeps them and clears
    /// this; until then every other operation refuses.
    #[error("an unconfirmed apply's revert was lost: its {agent} is gone ({deadline}), so its rules are live and nothing will take them back; run `confirm` to keep them (then apply what you want), nothing was changed")]
    RevertLost {
        /// What was to revert it (`revert watchdog process 4242`, `systemd timer …`).
        agent: String,
        /// When its window ends or ended, as a phrase (`window ended 42 s ago`).
        deadline: String,
    },
    /// The policy translates packets on to other hosts (`dnat` to another host,
    /// `masquerade`, `snat`) but the host does not forward that family: the NAT would
    /// be silently useless.
    #[error("`{statement}` (line {line}) needs this host to forward {family}, and it does not ({sysctl} = 0); set `sysctl -w {sysctl}=1` (and keep it in /etc/sysctl.d), or let fwdsl set it with `Firewall::enable_forwarding(true)`; nothing was changed")]
    ForwardingDisabled {
        /// The NAT statement that needs it.
        statement: String,
        /// Its line.
        line: u32,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The sysctl (`net.ipv4.ip_forward`).
        sysctl: &'static str,
    },
    /// The state directory could have been written by another user: fwdsl would act
    /// on what it finds there as root (a lock, a revert script), so it refuses it.
    #[error("refusing the state directory {path}: {reason}; make it owned by root and writable by root only (or point `Firewall::state_dir` elsewhere); nothing was changed")]
    UnsafeStateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// What makes it unsafe.
        reason: String,
    },
    /// `uninstall` refused: a rule that is not fwdsl's jumps into an fwdsl chain.
    #[error("refusing to uninstall: `{rule}` jumps into an fwdsl chain (remove it first); nothing was changed")]
    InUse {
        /// The foreign rule, as `iptables -S` prints it.
        rule: String,
    },
    /// A rule text given to `remove_rule` reads the same for several rules (long
    /// lists are shortened in rule texts).
    #[error("`{text}` names rules {numbers:?}; remove by number instead; nothing was changed")]
    AmbiguousRule {
        /// The text given.
        text: String,
        /// The policy rule numbers it matches.
        numbers: Vec<usize>,
    },
    /// A saved rules or ipsets file does not load; nothing was changed.
    #[error("{path}{}: {message}; nothing was changed", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    BadSavedFile {
        /// The file.
        path: std::path::PathBuf,
        /// The line at fault, where the loader names it.
        line: Option<usize>,
        /// What the loader said.
        message: String,
    },
    /// `$SSH_CONNECTION` is set but cannot be read, so the session cannot be protected.
    #[error("refusing to apply: SSH_CONNECTION=`{0}` cannot be read as `client port server port`, so the session cannot be checked; nothing was changed (force the apply to override)")]
    UnreadableSession(String),
    /// No live fwdsl rule matches what was asked to be removed.
    #[error("no live fwdsl rule matches {0}")]
    NoSuchRule(String),
    /// A dynamic set's members could not be changed or read: an unknown set, a set
    /// no applied policy created, a member no ipset can hold.
    #[error("dynamic set `{set}`: {problem}; nothing was changed")]
    SetChange {
        /// The set's name in the policy (`banned`).
        set: String,
        /// What is wrong.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// Applying failed, and putting the previous rules back failed too: the firewall
    /// is in neither state. Both errors are kept.
    #[error("{error}; restoring the previous rules failed as well: {rollback}")]
    RollbackFailed {
        /// What made the apply fail.
        error: Box<Error>,
        /// What made the rollback fail.
        rollback: Box<Error>,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
