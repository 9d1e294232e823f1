//! Assertions: `assert closed tcp 3306, 5432;`, `assert open ssh src 10.0.0.0/8;`,
//! `assert closed out tcp 25;`. After `open` or `closed` come a direction and the match
//! clauses of a rule, parsed and checked as a rule's; what only shapes a rule's action
//! (`limit`, `log`, `comment`) and states other than `new` have no meaning here.

use super::statement::{Clauses, Statement};
use crate::diag::TokenRange;
use crate::model::{Action, Assertion, ConnState, Expect};
use crate::token::TokenKind;
use std::borrow::Cow;

impl Statement<'_, '_> {
    /// After `assert`: the rest of the assertion written on `line`.
    pub(super) fn assertion(&mut self, line: u32) -> Option<Assertion> {
        let expect = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Ident(w)) if w == "open" => Expect::Open,
            Some(TokenKind::Ident(w)) if w == "closed" => Expect::Closed,
            _ => {
                self.error_at(self.pos, "expected `open` or `closed` after `assert`".into())
                    .help("write `assert closed tcp 3306;` (nothing gets in) or `assert open tcp 443;` (everything does)");
                return None;
            }
        };
        self.pos += 1;
        let direction = self.direction()?;
        if self.pos >= self.end {
            self.error_at(self.pos - 1, format!("`assert {}` needs a match", expect.keyword()))
                .help("name what it is about: `assert closed tcp 3306;`, `assert open ssh src 10.0.0.0/8;`");
            return None;
        }
        let mut c = Clauses::default();
        while self.pos < self.end {
            self.clause(&mut c)?;
        }
        let meaningless = [
            c.limit.as_ref().map(|(_, r)| (*r, "limit")),
            c.log.map(|r| (r, "log")),
            c.prefix.as_ref().map(|(_, r)| (*r, "prefix")),
            c.comment.as_ref().map(|(_, r)| (*r, "comment")),
        ];
        let mut refused = false;
        for (range, word) in meaningless.into_iter().flatten() {
            self.refuse(range, format!("`{word}` has no meaning in an assertion"), "an assertion states which new connections get in; write `limit`, `log` and `comment` on rules");
            refused = true;
        }
        if let Some((state, range)) = c.state.as_ref().filter(|(s, _)| *s != ConnState::New) {
            let message = format!(
                "an assertion speaks of new connections, so `{}` can never be in its region",
                state.keyword()
            );
            self.refuse(
                *range,
                message,
                "leave the state out: `assert closed tcp 3306;` is about new connections already",
            );
            refused = true;
        }
        if refused {
            return None;
        }
        let mut parts = self.rule(Action::Allow, direction, line, c)?;
        let text = format!(
            "assert {}{}",
            expect.keyword(),
            parts[0].text.strip_prefix("allow").unwrap_or_default()
        );
        for part in &mut parts {
            part.text = Cow::Owned(text.clone());
        }
        Some(Assertion {
            expect,
            parts: Cow::Owned(parts),
            text: Cow::Owned(text),
            line,
        })
    }

    fn refuse(&mut self, range: TokenRange, message: String, help: &str) {
        self.push(crate::diag::Diagnostic::error(range, message))
            .help(help);
    }
}
