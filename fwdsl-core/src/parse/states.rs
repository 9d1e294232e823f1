//! Connection-tracking states: `new` (a connection's first packet), `established`
//! (replies and related traffic), `invalid` (packets of no connection, such as a stray
//! ACK, which `drop invalid` discards before anything else sees them).

use super::statement::{Clauses, Statement};
use crate::model::ConnState;

impl Statement<'_, '_> {
    /// `new`, `established`, `invalid`.
    pub(super) fn state_clause(&mut self, c: &mut Clauses, word: &str, start: usize) -> Option<()> {
        let state = match word {
            "new" => ConnState::New,
            "invalid" => ConnState::Invalid,
            _ => ConnState::Established,
        };
        let range = self.range(start);
        self.set(&mut c.state, state, range, "connection state")?;
        c.text.push(word.to_string());
        Some(())
    }
}
