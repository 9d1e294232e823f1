//! Protocols named on their own: `icmp`, and `all` (every protocol: the catch-all).

use super::statement::{Clauses, Statement};
use crate::model::ProtoSet;

impl Statement<'_, '_> {
    /// `icmp`, `all`.
    pub(super) fn protocol_clause(
        &mut self,
        c: &mut Clauses,
        word: &str,
        start: usize,
    ) -> Option<()> {
        if word == "icmp" {
            let range = self.range(start);
            self.set(&mut c.proto, (ProtoSet::ICMP, "icmp"), range, "protocol")?;
        } else {
            if c.all.is_some() {
                self.error_at(start, "`all` is given twice in one rule".into())
                    .help("remove one");
                return None;
            }
            c.all = Some(self.range(start));
        }
        c.text.push(word.to_string());
        Some(())
    }
}
