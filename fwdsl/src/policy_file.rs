//! Policy files: `Policy::from_file` reads a file in which `include "base.policy";`
//! (relative to the including file) pulls in a piece, and says where each problem is:
//! the file, the line and column, and the line itself.
//!
//! What a policy names is read with care, since the reader may run as root for a less
//! trusted caller (the Ansible module): regular files only, bounded in size; each file
//! included once (twice is an error: a diamond of includes would otherwise grow
//! exponentially); and a file that does not read as a policy (or an address list) has
//! none of its lines repeated in a message, not even the one at fault.

use crate::error::{Error, Problem, Problems};
use fwdsl_core::{Severity, Token, TokenKind};
use std::path::{Path, PathBuf};

/// One source of a policy: its name (`None` for a string), its text, where its lines
/// start, and whether its lines may be shown in messages.
pub(crate) struct Source {
    pub path: Option<PathBuf>,
    pub text: String,
    line_starts: Vec<usize>,
    shown: bool,
}

impl Source {
    fn new(path: Option<PathBuf>, text: String, shown: bool) -> Source {
        // A line ends at `\n`, `\r\n` or a lone `\r`, as the lexer counts them.
        let bytes = text.as_bytes();
        let line_starts = std::iter::once(0)
            .chain((0..bytes.len()).filter_map(|i| {
                let ends =
                    bytes[i] == b'\n' || bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
                ends.then_some(i + 1)
            }))
            .collect();
        Source {
            path,
            text,
            line_starts,
            shown,
        }
    }

    /// Line `n` (1-based) as written, if its lines may be shown.
    fn line(&self, n: u32) -> Option<String> {
        let start = *self.line_starts.get((n as usize).checked_sub(1)?)?;
        let rest = &self.text[start..];
        let line = rest.split(['\n', '\r']).next().unwrap_or(rest);
        self.shown.then(|| line.trim_end().to_string())
    }
}

/// Whether `text` starts as a policy does (with a statement, an include or nothing but
/// comments): a file that does not is not a policy, and none of its lines is shown.
fn reads_as_policy(text: &str) -> bool {
    let first = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .map(|l| l.split("//").next().unwrap_or_default().trim())
        .find(|l| !l.is_empty());
    first.is_none_or(|l| {
        let word: String = l.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        fwdsl_core::STATEMENT_WORDS.contains(&word.as_str()) || word == "include"
    })
}

/// A policy's tokens from all its sources, and which source each came from.
#[derive(Default)]
pub(crate) struct Sources {
    pub sources: Vec<Source>,
    pub tokens: Vec<Token>,
    pub origin: Vec<usize>,
    /// Every file included so far, as found.
    included: Vec<PathBuf>,
}

impl Sources {
    /// The tokens of one string.
    pub(crate) fn of_text(text: &str) -> Result<Sources, Error> {
        let mut sources = Sources::default();
        sources.add(None, text.to_string(), &mut Vec::new())?;
        Ok(sources)
    }

    /// The tokens of a file and of every file it includes.
    pub(crate) fn of_file(path: &Path) -> Result<Sources, Error> {
        let mut sources = Sources::default();
        sources.add_file(path, &mut Vec::new(), None)?;
        Ok(sources)
    }

    fn add_file(
        &mut self,
        path: &Path,
        stack: &mut Vec<PathBuf>,
        included_at: Option<Problem>,
    ) -> Result<(), Error> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let fail = |message: String| -> Error {
            let at = included_at
                .clone()
                .expect("only an include can repeat a file");
            Error::Policy(Problems(vec![Problem { message, ..at }]))
        };
        if stack.contains(&canonical) {
            return Err(fail(format!("`{}` includes itself", path.display())));
        }
        if self.included.contains(&canonical) {
            return Err(fail(format!(
                "`{}` is included already: a policy includes each file once",
                path.display()
            )));
        }
        let text =
            fwdsl_core::read_regular(path, fwdsl_core::POLICY_FILE_MAX).map_err(|source| {
                match &included_at {
                    Some(at) => Error::Policy(Problems(vec![Problem {
                        message: format!("cannot read `{}`: {source}", path.display()),
                        ..at.clone()
                    }])),
                    None => Error::Io {
                        path: path.to_path_buf(),
                        source,
                    },
                }
            })?;
        self.included.push(canonical.clone());
        stack.push(canonical);
        self.add(Some(path.to_path_buf()), text, stack)?;
        stack.pop();
        Ok(())
    }

    /// Lexes one source and splices in what its `include` statements name.
    fn add(
        &mut self,
        path: Option<PathBuf>,
        text: String,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), Error> {
        let id = self.sources.len();
        // A string is the caller's own; a file must read as a policy to be quoted.
        if path.is_some() && !reads_as_policy(&text) {
            let source = Source::new(path.clone(), String::new(), false);
            return Err(Error::Policy(Problems(vec![place(
                &source,
                1,
                1,
                Severity::Error,
                format!(
                    "this file does not read as a policy: it does not start with a statement ({})",
                    fwdsl_core::STATEMENT_WORDS.join(", ")
                ),
                None,
            )])));
        }
        let tokens = fwdsl_core::lex(&text).map_err(|e| {
            let source = Source::new(path.clone(), text.clone(), true);
            Error::Policy(Problems(vec![place(
                &source,
                e.line,
                e.column,
                Severity::Error,
                e.message,
                None,
            )]))
        })?;
        self.sources.push(Source::new(path.clone(), text, true));
        let mut i = 0;
        while i < tokens.len() {
            let starts_statement = i == 0 || tokens[i - 1].kind == TokenKind::Punct(';');
            let include = starts_statement && tokens[i].kind == TokenKind::Ident("include".into());
            // `include "x";` splices a policy file, `[file "x", …]` a list file; both
            // are relative to the file that names them.
            let named = match tokens.get(i + 1).map(|t| &t.kind) {
                Some(TokenKind::Str(file)) if include => Some(("`include`".into(), file.as_str())),
                _ => fwdsl_core::list_file_at(&tokens, i)
                    .map(|file| (format!("`file \"{file}\"`"), file)),
            };
            if let Some((what, file)) = named {
                let at = place(
                    &self.sources[id],
                    tokens[i].line,
                    tokens[i].column,
                    Severity::Error,
                    String::new(),
                    None,
                );
                let Some(path) = &path else {
                    return Err(Error::Policy(Problems(vec![Problem {
                        message: format!(
                            "{what} needs a policy file to be relative to: use `Policy::from_file`"
                        ),
                        ..at
                    }])));
                };
                let target = path.parent().unwrap_or(Path::new(".")).join(file);
                i += 2;
                if include {
                    self.add_file(&target, stack, Some(at))?;
                    // The `;` after `include "x"`.
                    i += usize::from(
                        tokens
                            .get(i)
                            .is_some_and(|t| t.kind == TokenKind::Punct(';')),
                    );
                } else {
                    self.add_list(&target, at)?;
                }
                continue;
            }
            self.tokens.push(tokens[i].clone());
            self.origin.push(id);
            i += 1;
        }
        Ok(())
    }

    /// Splices the entries of the address list file `path` in as one token, placed at
    /// the file's first line (a bad entry is reported at its own line as it is read).
    fn add_list(&mut self, path: &Path, at: Problem) -> Result<(), Error> {
        let text = fwdsl_core::read_regular(path, fwdsl_core::LIST_FILE_MAX).map_err(|source| {
            Error::Policy(Problems(vec![Problem {
                message: format!("cannot read `{}`: {source}", path.display()),
                ..at.clone()
            }]))
        })?;
        // Its lines are shown once one has read as an address.
        let shown = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .find(|l| !l.is_empty())
            .is_none_or(|first| fwdsl_core::list_file_token(first).is_ok());
        let source = Source::new(Some(path.to_path_buf()), text, shown);
        let token = match fwdsl_core::list_file_token(&source.text) {
            Ok(Some(token)) => token,
            Ok(None) => {
                return Err(Error::Policy(Problems(vec![Problem {
                    message: format!("`{}` lists no address", path.display()),
                    ..at
                }])))
            }
            Err((line, message)) => {
                let problem = place(&source, line, 1, Severity::Error, message, None);
                return Err(Error::Policy(Problems(vec![problem])));
            }
        };
        self.origin.push(self.sources.len());
        self.tokens.push(token);
        self.sources.push(source);
        Ok(())
    }

    /// A problem at token `index`.
    pub(crate) fn problem(
        &self,
        index: Option<usize>,
        severity: Severity,
        message: String,
        help: Option<String>,
    ) -> Problem {
        // A problem at the end of the input (a statement cut short) is placed at the
        // last token.
        let index = index.map(|i| i.min(self.tokens.len().saturating_sub(1)));
        match index.filter(|_| !self.tokens.is_empty()) {
            Some(i) => {
                let token = &self.tokens[i];
                place(
                    &self.sources[self.origin[i]],
                    token.line,
                    token.column,
                    severity,
                    message,
                    help,
                )
            }
            None => Problem {
                severity,
                file: None,
                line: None,
                column: None,
                source_line: None,
                message,
                help,
            },
        }
    }
}

fn place(
    source: &Source,
    line: u32,
    column: u32,
    severity: Severity,
    message: String,
    help: Option<String>,
) -> Problem {
    Problem {
        severity,
        file: source.path.clone(),
        line: Some(line),
        column: Some(column),
        source_line: source.line(line),
        message,
        help,
    }
}
