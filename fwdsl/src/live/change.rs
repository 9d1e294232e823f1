//! What an apply changes in one family's table, as one `iptables-restore --noflush`
//! transaction and the transaction that undoes it. Every direction goes through the
//! same code: a direction the policy uses gets its generation, its jump and its hook;
//! one it no longer uses loses them.

use super::layout::{
    debris, hook_chain, hook_rule, jump_to, recreate, restore_text, strip_append, Layout,
    GENERATION_PREFIX,
};
use super::runner::Table;
use super::{FamilyReport, LoadPath};
use crate::error::RuleRef;
use crate::render::{chain_of, fnv1a, RenderedRule};
use crate::Policy;
use fwdsl_core::{Direction, Family};

/// What happens to the hook of one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HookMove {
    /// It is where it belongs, or the direction is not used and has none.
    Keep,
    /// It is added at the top of this chain.
    Add(&'static str),
    /// It moves from (chain, position) to the top of another chain (Docker came).
    Move(String, usize, &'static str),
    /// It goes from (chain, position): the policy no longer uses the direction.
    Remove(String, usize),
}

/// One direction of one family.
pub(super) struct Part {
    pub direction: Direction,
    layout: Layout,
    pub rendered: Vec<RenderedRule>,
    pub lines: Vec<String>,
    /// Whether the policy has rules for the direction.
    used: bool,
    /// The new generation chain, unless the serving one already holds the rules.
    pub new: Option<String>,
    hook: HookMove,
}

impl Part {
    fn chain(&self) -> &'static str {
        chain_of(self.direction)
    }

    /// Whether the transaction creates fwdsl's chain of this direction.
    fn creates_chain(&self) -> bool {
        self.used && !self.layout.has_chain
    }

    /// Whether the transaction removes fwdsl's chain of this direction.
    fn removes_chain(&self) -> bool {
        !self.used && self.layout.has_chain
    }
}

/// Everything an apply changes in one family.
pub(super) struct Change<'p> {
    pub family: Family,
    pub parts: Vec<Part>,
    /// Generation chains the transaction removes: those replaced, those of directions
    /// no longer used, and any a crash left.
    pub retire: Vec<String>,
    policy: &'p Policy,
}

/// A generation chain's name: a hash of its rules (and of the direction, for all but
/// the input chain, whose names stay what they always were).
pub(super) fn base_name(direction: Direction, lines: &[String]) -> String {
    let text = lines.join("\n");
    let hash = match direction {
        Direction::In => fnv1a(&text),
        _ => fnv1a(format!("{}\n{text}", direction.name())),
    };
    format!("{GENERATION_PREFIX}{hash:016X}")
}

/// What the jump to a generation of `direction` notes: the policy's access path, for the
/// input direction (a boot's fail-closed fallback reads it from the saved rules).
pub(crate) fn jump_note(policy: &Policy, direction: Direction) -> Option<String> {
    (direction == Direction::In).then(|| policy.access().to_string())
}

/// Per direction (in [`Direction::ALL`] order): the rendered rules and their command lines.
pub(super) type Rendered = Vec<(Vec<RenderedRule>, Vec<String>)>;

impl<'p> Change<'p> {
    /// The policy's rules of `family`, rendered and as command lines, per direction it
    /// uses (empty for the others): what [`Change::read`] compares with the live table.
    /// It needs no listing, so an apply renders while the listings run.
    pub(super) fn render(policy: &Policy, family: Family) -> Rendered {
        Direction::ALL
            .iter()
            .map(|&direction| match policy.uses(direction) {
                true => {
                    let rendered = policy.chain_rules(direction, family);
                    let lines = rendered.iter().map(RenderedRule::to_command_line).collect();
                    (rendered, lines)
                }
                false => Default::default(),
            })
            .collect()
    }

    /// What `policy` changes in `table`; `rendered` is [`Change::render`] of the
    /// policy for `family`.
    pub(super) fn read(
        table: &Table,
        family: Family,
        policy: &'p Policy,
        mut rendered: Rendered,
    ) -> Change<'p> {
        let mut taken: Vec<String> = Vec::new();
        let mut retire = debris(table);
        let mut parts = Vec::new();
        for direction in Direction::ALL {
            let layout = Layout::read(table, direction);
            let used = policy.uses(direction);
            if !used && !layout.installed() {
                continue;
            }
            let (rendered, lines) = std::mem::take(&mut rendered[direction as usize]);
            let wanted_hook = hook_chain(table, direction);
            let hook = match (&layout.hook, used) {
                (None, true) => HookMove::Add(wanted_hook),
                (Some((at, pos)), true) if at != wanted_hook => {
                    HookMove::Move(at.clone(), *pos, wanted_hook)
                }
                (Some((at, pos)), false) => HookMove::Remove(at.clone(), *pos),
                _ => HookMove::Keep,
            };
            let base = base_name(direction, &lines);
            let note = jump_note(policy, direction);
            let serving = layout.current_chain().is_some_and(|c| {
                layout.hook.is_some()
                    && layout.note() == note.as_deref()
                    && c.starts_with(&base)
                    && table
                        .rules(c)
                        .iter()
                        .map(|l| strip_append(l))
                        .eq(lines.iter().map(String::as_str))
            });
            let new = (used && !serving).then(|| {
                // A fresh name: the live chain may carry this hash but have been edited
                // by hand, and a crash may have left a chain of that name.
                let mut chain = base.clone();
                let mut n = 1;
                while table.has_chain(&chain) || taken.contains(&chain) {
                    chain = format!("{base}-{n}");
                    n += 1;
                }
                taken.push(chain.clone());
                chain
            });
            if new.is_some() || !used {
                retire.extend(layout.current_chain().map(String::from));
            }
            parts.push(Part {
                direction,
                layout,
                rendered,
                lines,
                used,
                new,
                hook,
            });
        }
        Change {
            family,
            parts,
            retire,
            policy,
        }
    }

    pub(super) fn is_noop(&self) -> bool {
        self.retire.is_empty()
            && self
                .parts
                .iter()
                .all(|p| p.new.is_none() && p.hook == HookMove::Keep && !p.removes_chain())
    }

    /// The transaction: declarations, then (with `build`) the new chains' rules, then
    /// the jumps, the hooks, and the removals. Also returns, for each part whose rules
    /// it loads, the input line of its first rule.
    pub(super) fn forward(&self, build: impl Fn(&Part) -> bool) -> (String, Vec<(usize, usize)>) {
        let mut lines = Vec::new();
        for part in &self.parts {
            if let (Some(new), true) = (&part.new, build(part)) {
                lines.push(format!(":{new} - [0:0]"));
            }
            if part.creates_chain() {
                lines.push(format!(":{} - [0:0]", part.chain()));
            }
        }
        let mut first_rules = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            if let (Some(new), true) = (&part.new, build(part)) {
                // `*filter` is line 1.
                first_rules.push((lines.len() + 2, i));
                lines.extend(part.lines.iter().map(|l| format!("-A {new} {l}")));
            }
        }
        for part in &self.parts {
            let chain = part.chain();
            if let Some(new) = &part.new {
                let jump = jump_to(new, jump_note(self.policy, part.direction).as_deref());
                match (&part.layout.current, &part.layout.jump) {
                    // The jump is found by its comment and put back where it stood, so
                    // an admin's rule before it stays before it.
                    (Some((_, position)), Some(live)) => {
                        lines.push(format!("-D {chain} {live}"));
                        lines.push(format!("-I {chain} {position} {jump}"));
                    }
                    _ => lines.push(format!("-A {chain} {jump}")),
                }
            }
            let hook = hook_rule(part.direction);
            match &part.hook {
                HookMove::Keep => {}
                HookMove::Add(to) => lines.push(format!("-I {to} 1 {hook}")),
                HookMove::Move(from, _, to) => {
                    lines.push(format!("-D {from} {hook}"));
                    lines.push(format!("-I {to} 1 {hook}"));
                }
                HookMove::Remove(from, _) => lines.push(format!("-D {from} {hook}")),
            }
        }
        let removed = self.removed_chains();
        lines.extend(removed.iter().map(|c| format!("-F {c}")));
        for chain in &self.retire {
            lines.extend([format!("-F {chain}"), format!("-X {chain}")]);
        }
        lines.extend(removed.iter().map(|c| format!("-X {c}")));
        (restore_text(&lines), first_rules)
    }

    /// The chains of the directions the policy no longer uses (they go with the apply).
    fn removed_chains(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter(|p| p.removes_chain())
            .map(Part::chain)
            .collect()
    }

    /// The transaction that undoes [`Change::forward`]; with `drop_new(part)` it also
    /// removes that part's new chain.
    pub(super) fn inverse(&self, table: &Table, drop_new: impl Fn(&Part) -> bool) -> String {
        let removed = self.removed_chains();
        let mut lines = recreate(
            table,
            self.retire
                .iter()
                .map(String::as_str)
                .chain(removed.iter().copied()),
        );
        for part in &self.parts {
            let chain = part.chain();
            if let Some(new) = &part.new {
                let jump = jump_to(new, jump_note(self.policy, part.direction).as_deref());
                lines.push(format!("-D {chain} {jump}"));
                if let (Some((_, position)), Some(live)) = (&part.layout.current, &part.layout.jump)
                {
                    lines.push(format!("-I {chain} {position} {live}"));
                }
            }
            let hook = hook_rule(part.direction);
            match &part.hook {
                HookMove::Keep => {}
                HookMove::Add(to) => lines.push(format!("-D {to} {hook}")),
                HookMove::Move(from, position, to) => {
                    lines.push(format!("-D {to} {hook}"));
                    lines.push(format!("-I {from} {position} {hook}"));
                }
                HookMove::Remove(from, position) => {
                    lines.push(format!("-I {from} {position} {hook}"))
                }
            }
            if let (Some(new), true) = (&part.new, drop_new(part)) {
                lines.extend([format!("-F {new}"), format!("-X {new}")]);
            }
            if part.creates_chain() {
                lines.push(format!("-X {chain}"));
            }
        }
        restore_text(&lines)
    }

    /// The generations the transaction switches, for the journal.
    pub(super) fn switches(&self) -> Vec<super::journal::Entry> {
        self.parts
            .iter()
            .filter_map(|p| {
                Some(super::journal::Entry {
                    family: self.family,
                    direction: p.direction,
                    from: p.layout.current_chain().map(String::from),
                    to: p.new.clone()?,
                })
            })
            .collect()
    }

    /// The policy rule behind line `i` of a part's rules.
    pub(super) fn rule_of(&self, part: &Part, i: usize) -> Option<RuleRef> {
        let index = part.rendered.get(i)?.rule?;
        Some(RuleRef::new(index, &self.policy.rules()[index]))
    }

    /// Per direction the policy uses, what is serving after the apply.
    pub(super) fn reports(&self, loaded: impl Fn(&Part) -> Option<LoadPath>) -> Vec<FamilyReport> {
        self.parts
            .iter()
            .filter(|p| p.used)
            .map(|p| FamilyReport {
                family: Some(self.family),
                direction: p.direction,
                chain: p
                    .new
                    .clone()
                    .or_else(|| p.layout.current_chain().map(String::from))
                    .unwrap_or_default(),
                rules: p.lines.len(),
                loaded: p.new.as_ref().and(loaded(p)),
            })
            .collect()
    }
}
