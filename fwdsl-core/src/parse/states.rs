//! Connection-tracking states: `established` (replies and related traffic).

use super::statement::{Clauses, Statement};

impl Statement<'_, '_> {
    /// `established`.
    pub(super) fn state_clause(&mut self, c: &mut Clauses, word: &str, start: usize) -> Option<()> {
        if c.established.is_some() {
            self.error_at(start, format!("`{word}` is given twice in one rule"));
            return None;
        }
        c.established = Some(self.range(start));
        c.text.push(word.to_string());
        Some(())
    }
}
