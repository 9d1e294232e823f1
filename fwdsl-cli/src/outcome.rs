//! How a command ends: its exit status, and the message for a failure.
//!
//! 0 ok; 1 refused or failed, with nothing changed (fwdsl's operations are atomic and
//! say so); 2 a usage error (clap's own status); 3 another fwdsl operation (or the
//! xtables lock's holder) kept the lock, so a script can wait and retry.

use std::fmt;
use std::process::ExitCode;

/// The exit status for "the lock was held": distinct, so scripts can retry.
pub const LOCK_HELD: u8 = 3;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// From the library: its message says what failed and that nothing changed.
    Fwdsl(fwdsl::Error),
    /// The command line asked for something that cannot be (exit 2).
    Usage(String),
    /// Anything else, as a sentence (a file that cannot be read or written).
    Other(String),
}

impl From<fwdsl::Error> for Failure {
    fn from(e: fwdsl::Error) -> Failure {
        Failure::Fwdsl(e)
    }
}

impl Failure {
    pub fn code(&self) -> ExitCode {
        match self {
            Failure::Fwdsl(fwdsl::Error::Busy { .. } | fwdsl::Error::LockHeld { .. }) => {
                ExitCode::from(LOCK_HELD)
            }
            Failure::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A policy file's problems say `FILE:LINE:COL: error:` themselves.
            Failure::Fwdsl(e @ fwdsl::Error::Policy(_)) => write!(f, "{e}"),
            Failure::Fwdsl(e @ fwdsl::Error::WouldCutSession { .. }) => {
                write!(
                    f,
                    "error: {e}\n  help: pass --force to go on anyway (from a console, say)"
                )
            }
            Failure::Fwdsl(e @ fwdsl::Error::RevertLost { .. }) => {
                write!(f, "error: {e}\n  help: `fwdsl confirm` keeps them")
            }
            Failure::Fwdsl(e) => write!(f, "error: {e}"),
            Failure::Usage(m) => write!(f, "error: {m}"),
            Failure::Other(m) => write!(f, "error: {m}"),
        }
    }
}
