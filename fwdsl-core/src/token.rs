//! Tokens of the policy language, and the lexer for policies written as text.
//!
//! The macro builds the same tokens from rustc's `TokenStream`, so the parser sees one
//! language whichever front end it came from.

use std::fmt;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A word: keyword, service name, interface name or part of an IPv6 address.
    Ident(String),
    /// A number as written (rustc may hand over `10.0` as one token: the address parser
    /// joins pieces back together, the port parser rejects what is not an integer).
    Number(String),
    /// A quoted string, already unescaped.
    Str(String),
    /// One punctuation character: `; , - : . / [ ] =`.
    Punct(char),
    /// Anything else the front end saw (a char literal, a `{` group, …): always an error.
    Other(String),
    /// The checked entries of an address list file (`[file "drop.txt"]`), all of one
    /// family: one token however long the list, so a list of a million networks costs
    /// the parser 20 bytes a network rather than two tokens.
    Nets(std::sync::Arc<[ipnet::IpNet]>),
}

/// One token and where it stands, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// 1-based line in the source.
    pub line: u32,
    /// 1-based column in the source.
    pub column: u32,
}

impl Token {
    /// A token at the start of `line`: what is spliced in from a file without columns.
    pub fn at(kind: TokenKind, line: u32) -> Token {
        Token {
            kind,
            line,
            column: 1,
        }
    }

    /// The token as it would be written in a policy.
    pub fn text(&self) -> String {
        match &self.kind {
            TokenKind::Ident(s) | TokenKind::Number(s) | TokenKind::Other(s) => s.clone(),
            TokenKind::Str(s) => format!("{s:?}"),
            TokenKind::Punct(c) => c.to_string(),
            TokenKind::Nets(nets) => format!("<{} networks of a list file>", nets.len()),
        }
    }

    pub(crate) fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct(c)
    }

    pub(crate) fn is_ident(&self, word: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(s) if s == word)
    }
}

/// A string policy that could not be split into tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// What is wrong.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Splits a policy written as text (a file, a string) into tokens.
///
/// `#` and `//` start comments that run to the end of the line, so policy files can be
/// annotated the way ferm and iptables-restore files are. Lines end at `\n`, `\r\n` or
/// a lone `\r` (old Mac files).
pub fn lex(source: &str) -> Result<Vec<Token>, LexError> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    let mut line = 1u32;
    // The column of the last position asked about: each character is counted once,
    // so a policy written on one long line lexes in linear time.
    let (mut counted_to, mut counted_column) = (0usize, 1u32);
    while let Some(&(at, c)) = chars.peek() {
        counted_column += source[counted_to..at].chars().count() as u32;
        counted_to = at;
        let column = counted_column;
        let here = |kind| Token { kind, line, column };
        if c == '\n' || c == '\r' {
            chars.next();
            if c == '\r' {
                chars.next_if(|&(_, c)| c == '\n');
            }
            line += 1;
            counted_to = chars.peek().map_or(source.len(), |&(i, _)| i);
            counted_column = 1;
        } else if c.is_whitespace() {
            chars.next();
        } else if c == '#' || source[at..].starts_with("//") {
            while chars.next_if(|&(_, c)| c != '\n' && c != '\r').is_some() {}
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some((_, c)) = chars.next_if(|&(_, c)| c.is_ascii_alphanumeric() || c == '_')
            {
                word.push(c);
            }
            let kind = if c.is_ascii_digit() {
                TokenKind::Number(word)
            } else {
                TokenKind::Ident(word)
            };
            tokens.push(here(kind));
        } else if c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('"' | '\\'))) => text.push(c),
                        _ => {
                            return Err(LexError {
                                message: "only `\\\"` and `\\\\` escapes are allowed in a string"
                                    .into(),
                                line,
                                column,
                            })
                        }
                    },
                    Some((_, '\n' | '\r')) | None => {
                        return Err(LexError {
                            message: "string is not closed before the end of the line".into(),
                            line,
                            column,
                        })
                    }
                    Some((_, c)) => text.push(c),
                }
            }
            tokens.push(here(TokenKind::Str(text)));
        } else if ";,-:./[]=$".contains(c) {
            chars.next();
            tokens.push(here(TokenKind::Punct(c)));
        } else {
            return Err(LexError {
                message: format!("unexpected character `{c}`"),
                line,
                column,
            });
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        lex(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn splits_words_numbers_and_punctuation() {
        use TokenKind::*;
        assert_eq!(
            kinds("allow tcp 80, 443; # web\n"),
            vec![
                Ident("allow".into()),
                Ident("tcp".into()),
                Number("80".into()),
                Punct(','),
                Number("443".into()),
                Punct(';')
            ]
        );
        assert_eq!(kinds("src \"::1\"")[1], Str("::1".into()));
    }

    #[test]
    fn tracks_lines_and_columns() {
        let t = lex("allow tcp 22;\n  drop all;").unwrap();
        assert_eq!((t[4].line, t[4].column), (2, 3));
    }

    #[test]
    fn every_line_ending_counts() {
        for source in ["allow tcp 22;\rdrop all;", "allow tcp 22;\r\ndrop all;"] {
            let t = lex(source).unwrap();
            assert_eq!((t[4].line, t[4].column), (2, 1), "{source:?}");
        }
        let t = lex("a # c\rb").unwrap();
        assert_eq!((t[1].line, t[1].text()), (2, "b".into()));
    }

    #[test]
    fn columns_count_characters_on_long_lines() {
        let line = "allow tcp 22; ".repeat(20_000);
        let t = lex(&format!("\"é\" {line}")).unwrap();
        assert_eq!(t.last().unwrap().column, 4 + 14 * 19_999 + 13);
    }

    #[test]
    fn reports_unclosed_string_and_stray_characters() {
        assert_eq!(lex("allow src \"10.0.0.1").unwrap_err().column, 11);
        assert!(lex("allow tcp 22 {").unwrap_err().message.contains('{'));
    }
}
