//! Services by name (`ssh`, `https`, `dns`, …): a port and its protocols from the
//! table in [`crate::services`], with "did you mean" for a near miss; and services a
//! policy defines for itself (`service app = tcp 8000-8010, udp 9000;`).

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::model::{PortRange, ProtoSet};
use crate::services::Service;
use crate::token::TokenKind;

/// A service a policy defined: its parts, each a protocol and its ports.
#[derive(Debug, Clone)]
pub(crate) struct UserService {
    pub name: String,
    pub parts: Vec<(ProtoSet, Vec<PortRange>)>,
}

impl Statement<'_, '_> {
    /// `service NAME = tcp PORTS[, udp PORTS…]`, after `service`.
    pub(super) fn service_definition(&mut self) -> Option<UserService> {
        let start = self.pos;
        let name = self.word()?;
        if Service::find(&name).is_some() || self.services.iter().any(|s| s.name == name) {
            self.push(Diagnostic::error(
                self.range(start),
                format!("service `{name}` exists already"),
            ))
            .help("give it a name of its own");
            return None;
        }
        if !self.peek_punct('=') {
            self.error_at(self.pos, format!("expected `=` after `service {name}`"))
                .help(format!("write `service {name} = tcp 8000-8010, udp 9000;`"));
            return None;
        }
        self.pos += 1;
        let mut parts: Vec<(ProtoSet, Vec<PortRange>)> = Vec::new();
        loop {
            let protocols = match self.peek().map(|t| &t.kind) {
                Some(TokenKind::Ident(w)) if w == "tcp" => ProtoSet::TCP,
                Some(TokenKind::Ident(w)) if w == "udp" => ProtoSet::UDP,
                _ => {
                    self.error_at(self.pos, "expected `tcp` or `udp` and ports".into())
                        .help(format!("write `service {name} = tcp 8000-8010, udp 9000;`"));
                    return None;
                }
            };
            self.pos += 1;
            let ports = self.ports()?;
            match parts.iter_mut().find(|(p, _)| *p == protocols) {
                Some((_, existing)) => existing.extend(ports),
                None => parts.push((protocols, ports)),
            }
            if !self.peek_punct(',') {
                break;
            }
            self.pos += 1;
        }
        self.no_more("the service's ports")?;
        Some(UserService { name, parts })
    }

    /// A service name, or an unknown word (which is reported as such).
    pub(super) fn service_clause(&mut self, c: &mut Clauses, start: usize) -> Option<()> {
        self.pos = start;
        let name = self.word()?;
        let range = self.range(start);
        if let Some(i) = self.services.iter().position(|s| s.name == name) {
            c.text.push(name);
            return self.set(&mut c.user_service, i, range, "service");
        }
        let Some(service) = Service::find(&name) else {
            // The policy's own services first: `apq` is more likely its `app`.
            let own = self
                .services
                .iter()
                .map(|s| (strsim::damerau_levenshtein(&name, &s.name), s.name.as_str()))
                .filter(|&(distance, known)| distance <= 2.max(known.len() / 3))
                .min()
                .map(|(_, known)| known.to_string());
            let close = own.or_else(|| Service::closest(&name).map(String::from));
            let d = self.push(Diagnostic::error(
                range,
                format!("unknown service or match `{name}`"),
            ));
            match close {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help("use `tcp PORT` or `udp PORT`, or one of the services: ssh, http, https, dns, smtp, …"),
            };
            return None;
        };
        c.text.push(name);
        self.set(&mut c.service, service, range, "service")
    }
}
