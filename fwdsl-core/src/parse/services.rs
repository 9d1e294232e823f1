//! Services by name (`ssh`, `https`, `dns`, …): a port and its protocols from the
//! table in [`crate::services`], with "did you mean" for a near miss.

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::services::Service;

impl Statement<'_, '_> {
    /// A service name, or an unknown word (which is reported as such).
    pub(super) fn service_clause(&mut self, c: &mut Clauses, start: usize) -> Option<()> {
        self.pos = start;
        let name = self.word()?;
        let range = self.range(start);
        let Some(service) = Service::find(&name) else {
            let d = self.push(Diagnostic::error(
                range,
                format!("unknown service or match `{name}`"),
            ));
            match Service::closest(&name) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help("use `tcp PORT` or `udp PORT`, or one of the services: ssh, http, https, dns, smtp, …"),
            };
            return None;
        };
        c.text.push(name);
        self.set(&mut c.service, service, range, "service")
    }
}
