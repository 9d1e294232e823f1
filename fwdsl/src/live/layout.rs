//! fwdsl's chains in a table snapshot: which rules are fwdsl's own (found by their
//! comments, never by position, so an admin's rule in fwdsl's chain is never mistaken
//! for one), which generation serves, and what a crash left behind.
//!
//! ```text
//! INPUT:          -A INPUT -m comment --comment "fwdsl:hook" -j FWDSL-INPUT
//! FWDSL-INPUT:    -A FWDSL-INPUT -m comment --comment "fwdsl:generation" -j FWDSL-G-<hash>
//! FWDSL-G-<hash>: the policy's rules
//! ```

use super::runner::Table;
use crate::render::CHAIN;

/// The rule in `INPUT` that sends packets to fwdsl.
pub(crate) const HOOK: &str = "-m comment --comment \"fwdsl:hook\" -j FWDSL-INPUT";
/// Prefix of generation chains.
pub(crate) const GENERATION_PREFIX: &str = "FWDSL-G-";
const GENERATION_COMMENT: &str = "--comment \"fwdsl:generation\"";

/// The rule in `FWDSL-INPUT` that jumps to generation `chain`.
pub(crate) fn jump_to(chain: &str) -> String {
    format!("-m comment {GENERATION_COMMENT} -j {chain}")
}

/// "-A CHAIN rest" -> "rest".
pub(crate) fn strip_append(spec: &str) -> String {
    spec.splitn(3, ' ').nth(2).unwrap_or_default().to_string()
}

/// The chain a rule jumps or goes to, if any.
fn target(spec: &str) -> Option<&str> {
    let mut words = spec.split(' ');
    while let Some(word) = words.next() {
        if word == "-j" || word == "-g" {
            return words.next();
        }
    }
    None
}

/// Whether a chain is one fwdsl owns.
pub(crate) fn is_fwdsl_chain(chain: &str) -> bool {
    chain == CHAIN || chain.starts_with(GENERATION_PREFIX)
}

/// What one family's table holds of fwdsl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Whether `INPUT` jumps to fwdsl.
    pub hooked: bool,
    /// Whether `FWDSL-INPUT` exists.
    pub has_chain: bool,
    /// The generation serving, and the 1-based position of its jump in `FWDSL-INPUT`.
    pub current: Option<(String, usize)>,
    /// Generation chains nothing jumps to: left by a crash, removed by the next apply.
    pub debris: Vec<String>,
}

impl Layout {
    pub(crate) fn read(table: &Table) -> Layout {
        let hooked = table.rules("INPUT").iter().any(|l| strip_append(l) == HOOK);
        let current = table
            .rules(CHAIN)
            .iter()
            .enumerate()
            .find(|(_, l)| l.contains(GENERATION_COMMENT))
            .and_then(|(i, l)| Some((target(l)?.to_string(), i + 1)));
        let debris = table
            .chains()
            .filter(|c| c.starts_with(GENERATION_PREFIX))
            .filter(|c| !references(table, c))
            .map(String::from)
            .collect();
        Layout {
            hooked,
            has_chain: table.has_chain(CHAIN),
            current,
            debris,
        }
    }

    /// The serving generation's name.
    pub(crate) fn current_chain(&self) -> Option<&str> {
        self.current.as_ref().map(|(c, _)| c.as_str())
    }
}

/// Whether any rule of the table jumps or goes to `chain`.
pub(crate) fn references(table: &Table, chain: &str) -> bool {
    table
        .chains()
        .flat_map(|c| table.rules(c))
        .any(|l| target(l) == Some(chain))
}

/// Rules outside fwdsl's chains (other than the hook) that jump into them: an
/// uninstall would have to break them, so it refuses instead.
pub(crate) fn foreign_jumps(table: &Table) -> Vec<String> {
    table
        .chains()
        .filter(|c| !is_fwdsl_chain(c))
        .flat_map(|c| table.rules(c))
        .filter(|l| target(l).is_some_and(is_fwdsl_chain) && strip_append(l) != HOOK)
        .cloned()
        .collect()
}

/// `iptables-restore` lines that recreate `chains` as the snapshot has them: every
/// declaration first, then the rules, so jumps between them resolve.
pub(crate) fn recreate<'a>(
    table: &Table,
    chains: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let chains: Vec<&str> = chains.into_iter().collect();
    let mut lines: Vec<String> = chains.iter().map(|c| format!(":{c} - [0:0]")).collect();
    for chain in chains {
        lines.extend(table.rules(chain).iter().cloned());
    }
    lines
}

/// `iptables-restore --noflush` input for `lines`.
pub(crate) fn restore_text(lines: &[String]) -> String {
    let mut text = String::from("*filter\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("COMMIT\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "-P INPUT ACCEPT\n-N FWDSL-INPUT\n-N FWDSL-G-1\n-N FWDSL-G-2\n\
        -A INPUT -m comment --comment \"fwdsl:hook\" -j FWDSL-INPUT\n\
        -A FWDSL-INPUT -s 203.0.113.5/32 -j DROP\n\
        -A FWDSL-INPUT -m comment --comment \"fwdsl:generation\" -j FWDSL-G-1\n\
        -A FWDSL-G-1 -j ACCEPT\n";

    #[test]
    fn finds_fwdsl_rules_by_comment_not_position() {
        let layout = Layout::read(&Table::parse(LISTING));
        assert!(layout.hooked && layout.has_chain);
        assert_eq!(layout.current, Some(("FWDSL-G-1".into(), 2)));
        assert_eq!(layout.debris, ["FWDSL-G-2"]);
    }

    #[test]
    fn foreign_jumps_into_fwdsl_chains_are_found() {
        let table = Table::parse(&format!("{LISTING}-A FORWARD -j FWDSL-G-2\n"));
        assert_eq!(foreign_jumps(&table), ["-A FORWARD -j FWDSL-G-2"]);
        assert!(Layout::read(&table).debris.is_empty());
    }
}
