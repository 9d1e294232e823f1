//! fwdsl's one error type.

use std::fmt;

/// One problem in a policy read at run time, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Whether it rejects the policy.
    pub severity: fwdsl_core::Severity,
    /// 1-based line, when the problem has a place.
    pub line: Option<u32>,
    /// 1-based column, when the problem has a place.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Everything that can go wrong in fwdsl.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy given as text has errors (the same ones `firewall!` reports at compile time).
    #[error("the policy has errors:\n{0}")]
    Policy(Problems),
}
