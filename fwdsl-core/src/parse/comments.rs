//! `comment "…"`: the user's note, passed to iptables as one argument and shown by
//! `iptables -S` as it is.

use super::statement::{Clauses, Statement};
use crate::token::TokenKind;

/// Longest user comment: iptables allows 256 bytes, fwdsl prefixes the rule's own text.
pub(crate) const MAX_COMMENT_LEN: usize = 120;

impl Statement<'_, '_> {
    /// `comment "…"`.
    pub(super) fn comment_clause(&mut self, c: &mut Clauses, start: usize) -> Option<()> {
        let text = self.comment()?;
        let range = self.range(start);
        self.set(&mut c.comment, text, range, "comment")
    }

    /// `comment "…"`: rendered into an iptables argument, so it must survive the
    /// `iptables` crate's space-and-quote splitting as one argument.
    pub(super) fn comment(&mut self) -> Option<String> {
        let Some(TokenKind::Str(text)) = self.peek().map(|t| &t.kind) else {
            self.error_at(self.pos, "expected a string after `comment`".into())
                .help("write `comment \"why this rule is here\"`");
            return None;
        };
        let text = text.clone();
        let problem = if text.contains(['"', '\'', '\\']) {
            Some("quotes and backslashes cannot be passed to iptables intact".to_string())
        } else if text.chars().any(|c| c.is_control()) {
            Some("control characters (newlines, tabs) cannot be passed to iptables".to_string())
        } else if let Some(c) = text.chars().find(|&c| is_invisible(c)) {
            Some(format!(
                "it holds U+{:04X}, an invisible or direction-changing character that would make `iptables -S` show something other than what is there",
                c as u32
            ))
        } else if text.trim().is_empty() {
            Some("the comment is empty".to_string())
        } else if text.len() > MAX_COMMENT_LEN {
            Some(format!(
                "the comment is {} bytes; at most {MAX_COMMENT_LEN} fit",
                text.len()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.error_at(self.pos, format!("comment is not allowed: {problem}"))
                .help("use plain words, without quotes, backslashes or line breaks");
            return None;
        }
        self.pos += 1;
        Some(text)
    }
}

/// Characters that change how text around them is shown without showing themselves:
/// bidirectional overrides and isolates, zero-width characters, line and paragraph
/// separators, the soft hyphen, the byte-order mark.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}')
}
