//! Interface names (`in eth0`, `via docker0`, the wildcard `in "veth+"` as iptables
//! writes it): what the kernel accepts, and nothing that would read as something else
//! in an iptables command line or listing.

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::token::TokenKind;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
const MAX_IFACE_LEN: usize = 15;

impl Statement<'_, '_> {
    /// `in IFACE` (arrives on), `via IFACE` (leaves through); other tools' words get
    /// these.
    pub(super) fn interface_clause(
        &mut self,
        c: &mut Clauses,
        word: &str,
        start: usize,
    ) -> Option<()> {
        let (slot, what) = match word {
            "in" => (&mut c.iface, "input interface"),
            "via" => (&mut c.oface, "output interface"),
            _ => {
                self.error_at(start, format!("`{word}` is not fwdsl's word for an interface"))
                    .help("write `in IFACE` for the interface a packet arrives on, `via IFACE` for the one it leaves through");
                return None;
            }
        };
        let name = self.iface()?;
        c.text.push(format!("{word} {name}"));
        let range = self.range(start);
        self.set(slot, name, range, what)
    }

    pub(super) fn iface(&mut self) -> Option<String> {
        let start = self.pos;
        let name = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                s
            }
            _ => self.word()?,
        };
        if let Some(problem) = iface_problem(&name) {
            self.push(Diagnostic::error(
                self.range(start),
                format!("`{name}` is not a valid interface name: {problem}"),
            ))
            .help(format!(
                "interface names are 1 to {MAX_IFACE_LEN} letters, digits, `_`, `.` or `-`, starting with a letter or digit"
            ));
            return None;
        }
        Some(name)
    }
}

/// Why `name` cannot be an interface name, if it cannot: the kernel's rules (1 to 15
/// bytes, no `/`, not `.` or `..`), and what keeps it from reading as something else in
/// an iptables command line (`-j`, `--dport`) or in a rule listing (`ACCEPT`).
fn iface_problem(name: &str) -> Option<&'static str> {
    const TARGETS: [&str; 6] = ["ACCEPT", "DROP", "REJECT", "RETURN", "LOG", "QUEUE"];
    if name.is_empty() || name.len() > MAX_IFACE_LEN {
        Some("it must be 1 to 15 characters")
    } else if name
        .strip_suffix('+')
        .is_some_and(|prefix| "lo".starts_with(prefix))
    {
        Some("a wildcard that matches `lo` would take loopback traffic with it: write `in lo` for loopback")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it must start with a letter or digit (a leading `-` reads as an iptables option)")
    } else if !name
        .strip_suffix('+')
        .unwrap_or(name)
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        Some("it holds a character other than letters, digits, `_`, `.` and `-`")
    } else if TARGETS.contains(&name) {
        Some("it is the name of an iptables target")
    } else {
        None
    }
}
