//! The one canonical layout of a policy file (`fwdsl fmt`): one statement a line,
//! single spaces between words, `, ` in lists, ` = ` in definitions, no space inside
//! `[…]`, at most one blank line in a row, comments kept where they are (on their own
//! line, or after the statement they follow), a newline at the end.
//!
//! It only ever changes whitespace: what is written stays as written (`8000-9000`,
//! `10.0.0.0/8`, a string's quotes and escapes), and the result lexes to the same
//! tokens as the source, which [`format`] checks before it returns.

use crate::token::{lex, LexError, TokenKind};

/// A piece of a policy file as the formatter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    /// A run of characters with no space, punctuation of its own or quote in it, as
    /// written (`tcp`, `10.0.0.0/8`, `8000-9000`, `$admins`, `6/30s`).
    Word(&'a str),
    /// `;`, `,`, `=`, `[` or `]`.
    Punct(char),
    /// A quoted string, quotes and escapes as written.
    Str(&'a str),
    /// `# …` or `// …`, to the end of its line, trailing spaces dropped.
    Comment(&'a str),
}

/// The pieces and the 1-based line each starts on.
fn pieces(source: &str) -> Vec<(Piece<'_>, u32)> {
    let mut out = Vec::new();
    let mut line = 1u32;
    let bytes = source.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        let rest = &source[at..];
        if c == b'\n' || c == b'\r' {
            at += if rest.starts_with("\r\n") { 2 } else { 1 };
            line += 1;
        } else if c.is_ascii_whitespace() {
            at += 1;
        } else if c == b'#' || rest.starts_with("//") {
            let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            out.push((Piece::Comment(rest[..end].trim_end()), line));
            at += end;
        } else if c == b'"' {
            // To the closing quote, `\"` and `\\` skipped (the lexer has checked them).
            let mut end = 1;
            while end < rest.len() && rest.as_bytes()[end] != b'"' {
                end += if rest.as_bytes()[end] == b'\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(rest.len());
            out.push((Piece::Str(&rest[..end]), line));
            at += end;
        } else if b";,=[]".contains(&c) {
            out.push((Piece::Punct(c as char), line));
            at += 1;
        } else {
            let end = word_end(rest).max(1);
            out.push((Piece::Word(&rest[..end]), line));
            at += end;
        }
    }
    out
}

/// Where a word ends: at a space, a punctuation piece, a quote, or a comment.
fn word_end(rest: &str) -> usize {
    let mut chars = rest.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if ch.is_whitespace() || ";,=[]\"#".contains(ch) {
            return i;
        }
        if ch == '/' && chars.peek().is_some_and(|&(_, next)| next == '/') {
            return i;
        }
    }
    rest.len()
}

/// The policy text in canonical layout. Fails only where the source does not lex.
///
/// ```
/// let tidy = fwdsl_core::format("allow tcp 80 ,443 ;allow ssh; # admins\n\n\n\ndrop   all;").unwrap();
/// assert_eq!(tidy, "allow tcp 80, 443;\nallow ssh; # admins\n\ndrop all;\n");
/// ```
pub fn format(source: &str) -> Result<String, LexError> {
    let before = lex(source)?;
    let mut out = String::new();
    let mut line = String::new();
    // Whether a statement is open (its continuation lines are indented), and the
    // source line of the last piece placed.
    let (mut in_statement, mut last_line) = (false, 0u32);
    let mut ended_on: Option<u32> = None;
    let flush = |out: &mut String, line: &mut String| {
        if !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        line.clear();
    };
    for (piece, at) in pieces(source) {
        // A statement ended on an earlier line, or this is not its trailing comment.
        if let Some(end) = ended_on {
            if !(matches!(piece, Piece::Comment(_)) && at == end) {
                flush(&mut out, &mut line);
                ended_on = None;
            }
        }
        if line.is_empty() && !out.is_empty() && at > last_line + 1 && !out.ends_with("\n\n") {
            out.push('\n');
        }
        if line.is_empty() && in_statement {
            line.push_str("    ");
        }
        let starts_line = line.trim().is_empty();
        match piece {
            Piece::Comment(text) => {
                if !starts_line {
                    line.push(' ');
                }
                line.push_str(text);
                flush(&mut out, &mut line);
                ended_on = None;
            }
            Piece::Punct(';') => {
                line.push(';');
                in_statement = false;
                ended_on = Some(at);
            }
            Piece::Punct(c @ (',' | ']')) => line.push(c),
            Piece::Punct('=') => {
                if !starts_line {
                    line.push(' ');
                }
                line.push('=');
                in_statement = true;
            }
            Piece::Punct(c) => {
                if !starts_line && !line.ends_with('[') {
                    line.push(' ');
                }
                line.push(c);
                in_statement = true;
            }
            Piece::Word(text) | Piece::Str(text) => {
                if !starts_line && !line.ends_with('[') {
                    line.push(' ');
                }
                line.push_str(text);
                in_statement = true;
            }
        }
        last_line = at;
    }
    flush(&mut out, &mut line);
    while out.ends_with("\n\n") {
        out.pop();
    }
    // Only whitespace may change: the same tokens, or the source is left as it is.
    let kinds = |tokens: Vec<crate::token::Token>| -> Vec<TokenKind> {
        tokens.into_iter().map(|t| t.kind).collect()
    };
    match lex(&out).map(kinds) {
        Ok(after) if after == kinds(before) => Ok(out),
        _ => Ok(source.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn canonical_and_idempotent() {
        let cases = [
            ("allow tcp 22;", "allow tcp 22;\n"),
            (
                "  allow  tcp   80,443;drop all;",
                "allow tcp 80, 443;\ndrop all;\n",
            ),
            (
                "# head\n\n\n\nallow ssh; // trailing  \n",
                "# head\n\nallow ssh; // trailing\n",
            ),
            (
                "service app=tcp 8000;\nallow app;",
                "service app = tcp 8000;\nallow app;\n",
            ),
            (
                "drop src [ file \"x.txt\" ];",
                "drop src [file \"x.txt\"];\n",
            ),
            (
                "allow tcp 80, # web\n  443;",
                "allow tcp 80, # web\n    443;\n",
            ),
            (
                "allow tcp\n 8000-9000 src 10.0.0.0/8;\r\n",
                "allow tcp 8000-9000 src 10.0.0.0/8;\n",
            ),
            (
                "log tcp 443 prefix \"a \\\" b\";",
                "log tcp 443 prefix \"a \\\" b\";\n",
            ),
            (
                "allow ssh;\n# before drop\ndrop all;",
                "allow ssh;\n# before drop\ndrop all;\n",
            ),
            ("", ""),
        ];
        for (source, expected) in cases {
            let once = format(source).unwrap();
            assert_eq!(once, expected, "{source:?}");
            assert_eq!(format(&once).unwrap(), once, "{source:?}");
        }
    }
}
