//! Protocols named on their own: `icmp` (with a type: `icmp echo-request`, `icmp 8`),
//! other IP protocols (`proto esp`, `proto 47`), and `all` (every protocol: the
//! catch-all).

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::model::{IcmpType, ProtoSet, ICMP_TYPES, PROTOCOLS};
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
        if word == "proto" {
            let number = self.protocol_number()?;
            let range = self.range(start);
            self.set(&mut c.proto, (ProtoSet::OTHER, "proto"), range, "protocol")?;
            c.text
                .push(format!("proto {}", crate::model::protocol_name(number)));
            return self.set(&mut c.protocol, number, range, "protocol");
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

    /// A protocol after `proto`: a name or a number, other than the ones the language
    /// names itself.
    fn protocol_number(&mut self) -> Option<u8> {
        let start = self.pos;
        let number = match self.peek().map(|t| t.kind.clone()) {
            Some(TokenKind::Number(n)) => {
                self.pos += 1;
                n.parse::<u8>().ok()
            }
            Some(TokenKind::Ident(_)) => {
                let name = self.word()?;
                match name.as_str() {
                    "tcp" | "udp" | "icmp" | "ipv6-icmp" => {
                        self.push(Diagnostic::error(
                            self.range(start),
                            format!("write `{name}` without `proto`"),
                        ))
                        .help(format!("`allow {name} …;`"));
                        return None;
                    }
                    _ => PROTOCOLS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|&(_, number)| number),
                }
            }
            _ => None,
        };
        let Some(number) = number else {
            self.push(Diagnostic::error(
                self.range(start),
                "expected a protocol after `proto`: a number from 0 to 255 or a name",
            ))
            .help(format!(
                "the names are: {}",
                PROTOCOLS.map(|(n, _)| n).join(", ")
            ));
            return None;
        };
        if matches!(number, 1 | 6 | 17 | 58) {
            self.push(Diagnostic::error(
                self.range(start),
                format!(
                    "protocol {number} is one the language names: write `tcp`, `udp` or `icmp`"
                ),
            ));
            return None;
        }
        Some(number)
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
