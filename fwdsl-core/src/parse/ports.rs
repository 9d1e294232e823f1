//! Port lists: `80`, `80,443`, `6000-6010`, `22,6000-6010`.

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::model::{ports_text, PortRange, ProtoSet};
use crate::token::TokenKind;

impl Statement<'_, '_> {
    /// `tcp [PORTS]`, `udp [PORTS]`, `dport PORTS`, `sport PORTS`.
    pub(super) fn port_clause(&mut self, c: &mut Clauses, word: &str, start: usize) -> Option<()> {
        match word {
            "tcp" | "udp" => {
                let (proto, name) = if word == "tcp" {
                    (ProtoSet::TCP, "tcp")
                } else {
                    (ProtoSet::UDP, "udp")
                };
                let proto_range = self.range(start);
                self.set(&mut c.proto, (proto, name), proto_range, "protocol")?;
                if self.peek_number() || self.peek_punct('$') {
                    let ports_start = self.pos;
                    let ports = self.ports()?;
                    c.text.push(format!("{name} {}", ports_text(&ports)));
                    self.set(
                        &mut c.dports,
                        ports,
                        self.range(ports_start),
                        "destination port list",
                    )?;
                } else {
                    c.text.push(name.into());
                }
            }
            _ => {
                let ports = self.ports()?;
                c.text.push(format!("{word} {}", ports_text(&ports)));
                let (slot, what) = if word == "dport" {
                    (&mut c.dports, "destination port list")
                } else {
                    (&mut c.sports, "source port list")
                };
                let range = self.range(start);
                self.set(slot, ports, range, what)?;
            }
        }
        Some(())
    }

    /// `80`, `80,443`, `6000-6010`, `22,6000-6010`.
    pub(super) fn ports(&mut self) -> Option<Vec<PortRange>> {
        if let Some(value) = self.name_use("ports")? {
            let super::names::Value::Ports(ports) = value else {
                unreachable!("name_use checks the kind")
            };
            return Some(ports);
        }
        let mut ranges = Vec::new();
        loop {
            let start = self.pos;
            let first = self.port()?;
            let last = if self.peek_punct('-') {
                self.pos += 1;
                self.port()?
            } else {
                first
            };
            // iptables' `8000:9000`: the range the user meant, written fwdsl's way.
            if self.peek_punct(':') {
                let colon = self.pos;
                self.pos += 1;
                let hint = match self.peek().map(|t| &t.kind) {
                    Some(TokenKind::Number(n)) => format!("write `{first}-{n}`"),
                    _ => format!("write a range as `{first}-LAST`"),
                };
                self.error_at(colon, "port ranges are written with `-`, not `:`".into())
                    .help(hint);
                return None;
            }
            if first > last {
                self.push(Diagnostic::error(
                    self.range(start),
                    format!("port range `{first}-{last}` is empty"),
                ))
                .help(format!("write the lower port first: `{last}-{first}`"));
                return None;
            }
            ranges.push(PortRange::new(first, last));
            // `, 443` continues the list; `, udp 53` (a service's next part) does not.
            let continues = self.peek_punct(',')
                && matches!(
                    self.tokens[..self.end].get(self.pos + 1).map(|t| &t.kind),
                    Some(TokenKind::Number(_))
                );
            if !continues {
                return Some(ranges);
            }
            self.pos += 1;
        }
    }

    pub(super) fn port(&mut self) -> Option<u16> {
        let Some(token) = self.peek() else {
            self.error_at(self.pos, "expected a port number".into());
            return None;
        };
        let TokenKind::Number(text) = &token.kind else {
            let text = token.text();
            self.error_at(self.pos, format!("expected a port number, found `{text}`"));
            return None;
        };
        let value = text.parse::<u64>().ok();
        let text = text.clone();
        match value {
            Some(port @ 1..=65535) => {
                self.pos += 1;
                Some(port as u16)
            }
            Some(0) => {
                self.error_at(self.pos, "port 0 is not a valid port".into())
                    .help("ports go from 1 to 65535");
                None
            }
            Some(_) => {
                self.error_at(self.pos, format!("port `{text}` is out of range"))
                    .help("ports go from 1 to 65535");
                None
            }
            None => {
                self.error_at(self.pos, format!("`{text}` is not a port number"))
                    .help("ports are whole numbers from 1 to 65535");
                None
            }
        }
    }
}
