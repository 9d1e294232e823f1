//! Protocols named on their own: `icmp` (with a type: `icmp echo-request`, `icmp 8`),
//! and `all` (every protocol: the catch-all).

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::model::{IcmpType, ProtoSet, ICMP_TYPES};
use crate::token::TokenKind;

impl Statement<'_, '_> {
    /// `icmp [TYPE]`, `all`.
    pub(super) fn protocol_clause(
        &mut self,
        c: &mut Clauses,
        word: &str,
        start: usize,
    ) -> Option<()> {
        if word == "all" {
            if c.all.is_some() {
                self.error_at(start, "`all` is given twice in one rule".into())
                    .help("remove one");
                return None;
            }
            c.all = Some(self.range(start));
            c.text.push(word.to_string());
            return Some(());
        }
        let range = self.range(start);
        self.set(&mut c.proto, (ProtoSet::ICMP, "icmp"), range, "protocol")?;
        let type_start = self.pos;
        match self.icmp_type()? {
            Some((icmp, name)) => {
                c.text.push(format!("icmp {name}"));
                let range = self.range(type_start);
                self.set(&mut c.icmp_type, icmp, range, "ICMP type")
            }
            None => {
                c.text.push("icmp".to_string());
                Some(())
            }
        }
    }

    /// An ICMP type after `icmp`, if one follows: a name (both families, each with its
    /// own number) or a number (an ICMP, IPv4, type).
    fn icmp_type(&mut self) -> Option<Option<(IcmpType, String)>> {
        match self.peek().map(|t| t.kind.clone()) {
            Some(TokenKind::Number(n)) => {
                let Ok(number) = n.parse::<u8>() else {
                    self.error_at(self.pos, format!("ICMP type `{n}` is out of range"))
                        .help("ICMP types go from 0 to 255");
                    return None;
                };
                self.pos += 1;
                let icmp = IcmpType {
                    v4: Some(number),
                    v6: None,
                };
                Some(Some((icmp, n)))
            }
            // A word that starts like a type name is taken as one (and a misspelt
            // one is reported as such, not as an unknown service).
            Some(TokenKind::Ident(w))
                if ICMP_TYPES
                    .iter()
                    .any(|(name, ..)| name.split('-').next() == w.split('-').next()) =>
            {
                let start = self.pos;
                let name = self.word()?;
                match ICMP_TYPES.iter().find(|(n, ..)| *n == name) {
                    Some(&(_, v4, v6)) => Some(Some((IcmpType { v4, v6 }, name))),
                    None => {
                        self.push(Diagnostic::error(
                            self.range(start),
                            format!("unknown ICMP type `{name}`"),
                        ))
                        .help(format!(
                            "the types are: {}",
                            ICMP_TYPES.map(|(n, ..)| n).join(", ")
                        ));
                        None
                    }
                }
            }
            _ => Some(None),
        }
    }
}
