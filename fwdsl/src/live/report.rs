//! How the live operations' reports read for an operator: a line per family, a
//! numbered listing of live rules, a diff-like plan.

use super::views::{Interrupted, PendingRevert, Plan, Status};
use super::{ApplyReport, FamilyPlan, FamilyReport, FamilyStatus, LoadPath, SaveReport};
use fwdsl_core::{Direction, Family};
use std::fmt;

fn family(f: Option<Family>) -> &'static str {
    match f {
        Some(Family::V4) => "IPv4",
        Some(Family::V6) => "IPv6",
        None => "inet",
    }
}

/// `IPv4` for input (what the reports always said), `IPv4 out`, `IPv6 forward`;
/// `inet`, `inet out` on nftables (both families in one chain).
fn chain(f: Option<Family>, d: Direction) -> String {
    match d {
        Direction::In => family(f).to_string(),
        _ => format!("{} {}", family(f), d.keyword()),
    }
}

impl fmt::Display for FamilyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.loaded {
            None => "unchanged",
            Some(LoadPath::Batch) => "loaded in one transaction",
            Some(LoadPath::PerRule) => "loaded rule by rule",
        };
        write!(
            f,
            "{:<12}  {:<28} {:>6} rules  {how}",
            chain(self.family, self.direction),
            self.chain,
            self.rules
        )
    }
}

/// ```text
/// applied: 4 iptables commands
///   IPv4  FWDSL-G-8D1A…  5 rules  loaded in one transaction
///   IPv6  FWDSL-G-03BC…  9 rules  unchanged
/// ```
impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changed {
            let what = match self.backend {
                super::Backend::Iptables => "iptables commands",
                super::Backend::Nftables => "nft transaction",
            };
            writeln!(f, "applied: {} {what}", self.commands)?;
        } else {
            writeln!(f, "already live: nothing to change")?;
        }
        for family in &self.families {
            writeln!(f, "  {family}")?;
        }
        Ok(())
    }
}

/// `iptables -S`-like, numbered as the policy numbers its rules.
impl fmt::Display for FamilyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = chain(self.family, self.direction);
        let hook = match &self.hooked_in {
            Some(builtin) => format!("hooked into {builtin}"),
            None => "NOT hooked".to_string(),
        };
        match &self.chain {
            Some(chain) => writeln!(f, "{name}: {hook}, {} rules in {chain}", self.rules.len())?,
            None => writeln!(f, "{name}: {hook}, no fwdsl rules")?,
        }
        if !self.rules.is_empty() {
            writeln!(f, "  {:>4}  {:>10}  {:>12}  rule", "#", "packets", "bytes")?;
        }
        for rule in &self.rules {
            let number = rule.number.map_or("-".to_string(), |n| n.to_string());
            writeln!(
                f,
                "  {number:>4}  {:>10}  {:>12}  {}",
                rule.packets,
                rule.bytes,
                super::layout::strip_append(&rule.spec)
            )?;
        }
        Ok(())
    }
}

/// A unified-diff-like listing: `-` live rules that would go, `+` rules that would come.
impl fmt::Display for FamilyPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = chain(self.family, self.direction);
        writeln!(f, "--- {name} live")?;
        writeln!(f, "+++ {name} policy")?;
        if self.hook {
            writeln!(
                f,
                "+ -A {} -j {}",
                self.direction.builtin_chain(),
                crate::chain_of(self.direction)
            )?;
        }
        for rule in &self.remove {
            writeln!(f, "- {rule}")?;
        }
        for rule in &self.add {
            writeln!(f, "+ {rule}")?;
        }
        if !self.hook && self.add.is_empty() && self.remove.is_empty() {
            writeln!(f, "  (no change)")?;
        }
        Ok(())
    }
}

impl fmt::Display for PendingRevert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lost {
            false => write!(
                f,
                "an unconfirmed apply is pending: its {} reverts it unless it is confirmed ({})",
                self.agent, self.deadline
            ),
            true => write!(
                f,
                "WARNING: an unconfirmed apply's revert was lost: its {} is gone ({}); its rules stay until `confirm` keeps them",
                self.agent, self.deadline
            ),
        }
    }
}

fn list(at: &[(Family, Direction)]) -> String {
    let names: Vec<String> = at.iter().map(|&(f, d)| chain(Some(f), d)).collect();
    names.join(", ")
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WARNING: an apply was interrupted between its transactions: {} serve the new policy, {} the previous one; apply again",
            list(&self.switched),
            list(&self.not_switched)
        )
    }
}

/// The other tables' base chains on fwdsl's hooks, a line each.
fn others(f: &mut fmt::Formatter<'_>, others: &[super::OtherChain]) -> fmt::Result {
    for other in others {
        writeln!(f, "other {other}")?;
    }
    Ok(())
}

/// The backend and the warnings first, then each family's listing.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backend: {}", self.backend)?;
        if let Some(pending) = &self.pending {
            writeln!(f, "{pending}")?;
        }
        if let Some(interrupted) = &self.interrupted {
            writeln!(f, "{interrupted}")?;
        }
        others(f, &self.others)?;
        for family in &self.families {
            write!(f, "{family}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backend: {}", self.backend)?;
        others(f, &self.others)?;
        if let Some(interrupted) = &self.interrupted {
            writeln!(f, "{interrupted}")?;
        }
        for family in &self.families {
            write!(f, "{family}")?;
        }
        for nat in &self.nat {
            let family = match nat.family {
                Some(Family::V4) => "IPv4 ",
                Some(Family::V6) => "IPv6 ",
                None => "",
            };
            writeln!(f, "--- {family}{} live", nat.chain)?;
            writeln!(f, "+++ {family}{} policy", nat.chain)?;
            for rule in &nat.remove {
                writeln!(f, "- {rule}")?;
            }
            for rule in &nat.add {
                writeln!(f, "+ {rule}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for SaveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for path in &self.written {
            writeln!(f, "saved {} ({})", path.display(), self.backend)?;
        }
        for path in &self.backups {
            writeln!(f, "  previous file kept as {}", path.display())?;
        }
        writeln!(f, "{}", self.boot)?;
        match self.boot.fails_closed() {
            true => writeln!(
                f,
                "if a saved file does not load at boot, the host stays closed but for `{}`",
                self.fallback_access
            )?,
            false => writeln!(
                f,
                "WARNING: a saved file that does not load at boot leaves the host open; with fwdsl's unit it would stay closed but for `{}`",
                self.fallback_access
            )?,
        }
        if !self.boot.loads_everything(self.ipsets) {
            writeln!(f, "a boot has to run, in order:")?;
            for command in self.boot_commands() {
                writeln!(f, "  {}", command.join(" "))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for super::Flushed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (fam, builtin, policy) in &self.open {
            let note = if policy == "ACCEPT" {
                "OPEN: every packet fwdsl decided is now accepted"
            } else {
                "closed by the chain's own policy"
            };
            writeln!(
                f,
                "{} {builtin}: policy {policy}, {note}",
                family(Some(*fam))
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_like_a_diff() {
        let plan = FamilyPlan {
            family: Some(Family::V4),
            direction: Direction::In,
            add: vec!["-p tcp -m tcp --dport 80 -j ACCEPT".into()],
            remove: vec!["-p tcp -m tcp --dport 8080 -j ACCEPT".into()],
            hook: false,
        };
        assert_eq!(
            plan.to_string(),
            "--- IPv4 live\n+++ IPv4 policy\n- -p tcp -m tcp --dport 8080 -j ACCEPT\n+ -p tcp -m tcp --dport 80 -j ACCEPT\n"
        );
    }

    #[test]
    fn an_apply_report_has_a_line_per_family() {
        let report = ApplyReport {
            backend: crate::Backend::Iptables,
            changed: true,
            commands: 2,
            families: vec![FamilyReport {
                family: Some(Family::V6),
                direction: Direction::In,
                chain: "FWDSL-G-1".into(),
                rules: 9,
                loaded: None,
            }],
        };
        let text = report.to_string();
        assert!(
            text.starts_with("applied: 2 iptables commands\n  IPv6          FWDSL-G-1"),
            "{text}"
        );
        assert!(text.contains("9 rules  unchanged"), "{text}");
    }
}
