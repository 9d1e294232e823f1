//! Diagnostics: what the parser and the checks report, pointing at tokens so that each
//! front end can show them at its own spans (rustc spans, or line and column of a file).

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The policy is rejected.
    Error,
    /// The policy is accepted; the user should still look (redundant rules, `sport` holes).
    Warning,
}

/// The first and last token (inclusive indices into the token list) a diagnostic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRange {
    /// Index of the first token.
    pub first: usize,
    /// Index of the last token (inclusive).
    pub last: usize,
}

impl TokenRange {
    /// The range covering exactly one token.
    pub fn single(index: usize) -> Self {
        TokenRange {
            first: index,
            last: index,
        }
    }
}

/// One problem found in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Lowercase, no trailing period, DSL syntax in backquotes.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub help: Option<String>,
    /// For warnings, the name of what is warned about (`redundant_rule`,
    /// `source_port_rule`): the macro names its warning item after it.
    pub lint: Option<&'static str>,
    /// The tokens at fault; `None` when the problem is the policy as a whole (for
    /// example an empty policy), which front ends show at the whole input.
    pub tokens: Option<TokenRange>,
}

impl Diagnostic {
    pub(crate) fn error(tokens: impl Into<Option<TokenRange>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            help: None,
            lint: None,
            tokens: tokens.into(),
        }
    }

    pub(crate) fn warning(
        tokens: TokenRange,
        lint: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            help: None,
            lint: Some(lint),
            tokens: Some(tokens),
        }
    }

    pub(crate) fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }
}
