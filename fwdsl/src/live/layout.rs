//! fwdsl's chains in a table snapshot: which rules are fwdsl's own (found by their
//! comments, never by position, so an admin's rule in fwdsl's chain is never mistaken
//! for one), which generation serves each direction, and what a crash left behind.
//!
//! ```text
//! INPUT:            -A INPUT -m comment --comment "fwdsl:hook" -j FWDSL-INPUT
//! FWDSL-INPUT:      -A FWDSL-INPUT -m comment --comment "fwdsl:generation ssh 22" -j FWDSL-G-<hash>
//! FWDSL-G-<hash>:   the policy's input rules
//! OUTPUT:           -A OUTPUT -m comment --comment "fwdsl:hook" -j FWDSL-OUTPUT      (same shape)
//! DOCKER-USER, or FORWARD where Docker is not installed:
//!                   -A DOCKER-USER -m comment --comment "fwdsl:hook" -j FWDSL-FORWARD
//! ```
//!
//! A direction is data for one code path: its built-in chain (where the hook goes), its
//! own chain, and the generation it jumps to. The input direction's jump also carries
//! the policy's access path (`ssh 22`, `ssh 2222 from 10.0.0.0/8`): saved with the rules,
//! it is what a boot's fail-closed fallback keeps open when the saved files are bad.

use super::runner::Table;
use crate::render::chain_of;
use fwdsl_core::Direction;

/// Prefix of generation chains.
pub(crate) const GENERATION_PREFIX: &str = "FWDSL-G-";
/// How a jump to a generation starts its comment (older fwdsl wrote it with nothing
/// after it; the input direction now adds the access path).
const GENERATION_MARK: &str = "--comment \"fwdsl:generation";
/// Docker's chain for the user's own forwarding rules, consulted before its own.
pub(crate) const DOCKER_USER: &str = "DOCKER-USER";

/// The rule in a built-in chain that sends a direction's packets to fwdsl.
pub(crate) fn hook_rule(direction: Direction) -> String {
    format!(
        "-m comment --comment \"fwdsl:hook\" -j {}",
        chain_of(direction)
    )
}

/// The rule in fwdsl's chain that jumps to generation `chain`, with `note` (the access
/// path of an input generation) in its comment.
pub(crate) fn jump_to(chain: &str, note: Option<&str>) -> String {
    let note = note.map(|n| format!(" {n}")).unwrap_or_default();
    format!("-m comment {GENERATION_MARK}{note}\" -j {chain}")
}

/// "-A CHAIN rest" -> "rest".
pub(crate) fn strip_append(spec: &str) -> &str {
    spec.splitn(3, ' ').nth(2).unwrap_or_default()
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
    Direction::ALL.iter().any(|&d| chain == chain_of(d)) || chain.starts_with(GENERATION_PREFIX)
}

/// Where a direction's hook belongs on this host: Docker's `DOCKER-USER` when it
/// exists (Docker's own rules in `FORWARD` would otherwise accept published ports
/// first), else the built-in chain.
pub(crate) fn hook_chain(table: &Table, direction: Direction) -> &'static str {
    if direction == Direction::Forward && table.has_chain(DOCKER_USER) {
        DOCKER_USER
    } else {
        direction.builtin_chain()
    }
}

/// What one direction of one family's table holds of fwdsl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The direction.
    pub direction: Direction,
    /// The chain and 1-based position of the hook, where it is.
    pub hook: Option<(String, usize)>,
    /// Whether the direction's fwdsl chain exists.
    pub has_chain: bool,
    /// The generation serving, and the 1-based position of its jump in fwdsl's chain.
    pub current: Option<(String, usize)>,
    /// That jump as `iptables -S` prints it, without `-A CHAIN` (deleted by its text).
    pub jump: Option<String>,
}

impl Layout {
    pub(crate) fn read(table: &Table, direction: Direction) -> Layout {
        let hook = hook_rule(direction);
        let chains = [direction.builtin_chain(), DOCKER_USER];
        let hook = chains.iter().find_map(|&c| {
            let at = table
                .rules(c)
                .iter()
                .position(|l| strip_append(l) == hook)?;
            Some((c.to_string(), at + 1))
        });
        let jump = table
            .rules(chain_of(direction))
            .iter()
            .enumerate()
            .find(|(_, l)| l.contains(GENERATION_MARK));
        let current = jump.and_then(|(i, l)| Some((target(l)?.to_string(), i + 1)));
        Layout {
            direction,
            hook,
            has_chain: table.has_chain(chain_of(direction)),
            current,
            jump: jump.map(|(_, l)| strip_append(l).to_string()),
        }
    }

    /// The note in the serving jump's comment (the access path of an input generation).
    pub(crate) fn note(&self) -> Option<&str> {
        let jump = self.jump.as_deref()?;
        let start = jump.find(GENERATION_MARK)? + GENERATION_MARK.len();
        let rest = &jump[start..jump[start..].find('"')? + start];
        rest.strip_prefix(' ')
    }

    /// The serving generation's name.
    pub(crate) fn current_chain(&self) -> Option<&str> {
        self.current.as_ref().map(|(c, _)| c.as_str())
    }

    /// Whether anything of this direction is installed.
    pub(crate) fn installed(&self) -> bool {
        self.hook.is_some() || self.has_chain
    }
}

/// Generation chains nothing jumps to: left by a crash, removed by the next apply.
pub(crate) fn debris(table: &Table) -> Vec<String> {
    table
        .chains()
        .filter(|c| c.starts_with(GENERATION_PREFIX))
        .filter(|c| !references(table, c))
        .map(String::from)
        .collect()
}

/// Whether any rule of the table jumps or goes to `chain`.
pub(crate) fn references(table: &Table, chain: &str) -> bool {
    table
        .chains()
        .flat_map(|c| table.rules(c))
        .any(|l| target(l) == Some(chain))
}

/// Rules outside fwdsl's chains (other than the hooks) that jump into them: an
/// uninstall would have to break them, so it refuses instead.
pub(crate) fn foreign_jumps(table: &Table) -> Vec<String> {
    let hooks: Vec<String> = Direction::ALL.iter().map(|&d| hook_rule(d)).collect();
    table
        .chains()
        .filter(|c| !is_fwdsl_chain(c))
        .flat_map(|c| table.rules(c))
        .filter(|l| {
            target(l).is_some_and(is_fwdsl_chain) && !hooks.iter().any(|h| h == strip_append(l))
        })
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

/// `iptables-restore --noflush` input for `lines` of the filter table.
pub(crate) fn restore_text(lines: &[String]) -> String {
    table_text("filter", lines)
}

/// `iptables-restore --noflush` input for `lines` of `table`.
pub(crate) fn table_text(table: &str, lines: &[String]) -> String {
    let mut text = format!("*{table}\n");
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
        let table = Table::parse(LISTING);
        let layout = Layout::read(&table, Direction::In);
        assert_eq!(layout.hook, Some(("INPUT".into(), 1)));
        assert!(layout.has_chain);
        assert_eq!(layout.current, Some(("FWDSL-G-1".into(), 2)));
        assert_eq!(layout.note(), None);
        let noted = Table::parse(&LISTING.replace(
            "\"fwdsl:generation\"",
            "\"fwdsl:generation ssh 2222 from 10.0.0.0/8\"",
        ));
        let layout = Layout::read(&noted, Direction::In);
        assert_eq!(layout.current, Some(("FWDSL-G-1".into(), 2)));
        assert_eq!(layout.note(), Some("ssh 2222 from 10.0.0.0/8"));
        assert_eq!(debris(&table), ["FWDSL-G-2"]);
        assert!(!Layout::read(&table, Direction::Out).installed());
    }

    #[test]
    fn forward_hooks_into_docker_user_where_docker_is() {
        let plain = Table::parse("-P FORWARD DROP\n");
        assert_eq!(hook_chain(&plain, Direction::Forward), "FORWARD");
        let docker = Table::parse("-P FORWARD DROP\n-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n");
        assert_eq!(hook_chain(&docker, Direction::Forward), "DOCKER-USER");
        assert_eq!(hook_chain(&docker, Direction::In), "INPUT");
    }

    #[test]
    fn foreign_jumps_into_fwdsl_chains_are_found() {
        let table = Table::parse(&format!("{LISTING}-A FORWARD -j FWDSL-G-2\n"));
        assert_eq!(foreign_jumps(&table), ["-A FORWARD -j FWDSL-G-2"]);
        assert!(debris(&table).is_empty());
    }
}
