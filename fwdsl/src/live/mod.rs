//! The live host: apply a policy atomically and reversibly, inspect what is installed,
//! save it, remove rules, uninstall. Everything stays inside fwdsl's own chains:
//!
//! ```text
//! INPUT:        -A INPUT -m comment --comment "fwdsl:hook" -j FWDSL-INPUT    (one jump, added once)
//! FWDSL-INPUT:  -A FWDSL-INPUT -m comment --comment "fwdsl:generation" -j FWDSL-G-<hash>
//! FWDSL-G-<hash>: the policy's rules
//! ```
//!
//! An apply builds the new generation chain while the old one still serves, switches the
//! single jump in `FWDSL-INPUT` with one `iptables -R`, and only then removes the old
//! chain; any failure takes every step back.

mod guard;
mod ipset;
#[cfg(feature = "sandbox")]
pub(crate) use guard::{has_net_admin, in_own_namespace};
mod runner;
mod save;
mod txn;

pub use save::{SaveReport, SaveTarget};

use crate::error::{Error, RuleRef};
use crate::render::{fnv1a, RenderedRule, CHAIN, COMMENT_PREFIX};
use crate::Policy;
use fwdsl_core::Family;
use runner::{Context, Runner, Table};
use std::path::PathBuf;
use std::time::Duration;
use txn::{Txn, Undo};

/// The rule in `INPUT` that sends packets to fwdsl.
const HOOK: &str = "-m comment --comment \"fwdsl:hook\" -j FWDSL-INPUT";
/// Prefix of generation chains.
const GENERATION_PREFIX: &str = "FWDSL-G-";

fn jump_to(chain: &str) -> String {
    format!("-m comment --comment \"fwdsl:generation\" -j {chain}")
}

/// How rules reach a new generation chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPath {
    /// One `iptables -A` per rule through the `iptables` crate.
    PerRule,
    /// All rules in one `iptables-restore --noflush` transaction.
    Batch,
}

/// What an apply did for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyReport {
    /// The family.
    pub family: Family,
    /// The generation chain now serving.
    pub chain: String,
    /// iptables rules in it.
    pub rules: usize,
    /// How they were loaded; `None` when nothing changed.
    pub loaded: Option<LoadPath>,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Whether anything changed (`false`: the policy was already live, nothing was rewritten).
    pub changed: bool,
    /// Mutating iptables commands run.
    pub commands: usize,
    /// Per family.
    pub families: Vec<FamilyReport>,
}

/// One live rule in fwdsl's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    /// The policy rule number from its `fwdsl:N` comment (`None` for rules fwdsl adds
    /// itself, and for anything that is not fwdsl's).
    pub number: Option<usize>,
    /// The rule as `iptables -S` prints it.
    pub spec: String,
}

/// What is installed for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyStatus {
    /// The family.
    pub family: Family,
    /// Whether `INPUT` jumps to fwdsl.
    pub hooked: bool,
    /// The generation chain serving, if any.
    pub chain: Option<String>,
    /// Its rules, in order.
    pub rules: Vec<LiveRule>,
}

/// What an apply of a policy would change, per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyPlan {
    /// The family.
    pub family: Family,
    /// Rules the policy has that are not live (as `iptables -S` prints them, without `-A CHAIN`).
    pub add: Vec<String>,
    /// Live rules the policy does not have.
    pub remove: Vec<String>,
    /// Whether the hook from `INPUT` would be added.
    pub hook: bool,
}

/// Which live rule to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSelector {
    /// By its 1-based number in the policy (as in `iptables -D INPUT 3`).
    Number(usize),
    /// By its DSL text (as in `iptables -D INPUT -p tcp --dport 80 -j ACCEPT`).
    Text(String),
}

/// A handle on a host's firewall (the network namespace of the calling thread), with
/// the knobs of how fwdsl changes it.
#[derive(Debug, Clone)]
pub struct Firewall {
    families: Vec<Family>,
    lock_path: PathBuf,
    lock_timeout: Duration,
    batch_above: usize,
    namespaces_only: bool,
    ssh_connection: Option<String>,
    force: bool,
    fault: Option<usize>,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            families: vec![Family::V4, Family::V6],
            lock_path: PathBuf::from("/run/xtables.lock"),
            lock_timeout: Duration::from_secs(10),
            batch_above: 0,
            namespaces_only: false,
            ssh_connection: std::env::var("SSH_CONNECTION").ok(),
            force: false,
            fault: None,
        }
    }
}

impl Firewall {
    /// The host's firewall, both families, with fwdsl's defaults.
    pub fn new() -> Firewall {
        Firewall::default()
    }

    /// Only these families (a host without IPv6, say).
    pub fn families(mut self, families: &[Family]) -> Self {
        self.families = families.to_vec();
        self
    }

    /// The xtables lock and how long to wait for another program to release it.
    pub fn lock(mut self, path: impl Into<PathBuf>, timeout: Duration) -> Self {
        self.lock_path = path.into();
        self.lock_timeout = timeout;
        self
    }

    /// Generations of more than `rules` iptables rules load in one
    /// `iptables-restore --noflush` transaction, smaller ones one `iptables -A` at a
    /// time through the `iptables` crate. The default, 0, always batches: it is 10 to 40
    /// times faster at every size measured (BENCHMARKS.md) and loads all or nothing.
    pub fn batch_above(mut self, rules: usize) -> Self {
        self.batch_above = rules;
        self
    }

    /// Refuses every change in the machine's own network namespace (that of PID 1):
    /// for tests and sandboxes, so that no mistake can reach the real host's firewall.
    pub fn namespaces_only(mut self) -> Self {
        self.namespaces_only = true;
        self
    }

    /// The SSH session to protect, as `$SSH_CONNECTION` writes it (`client port server
    /// port`); read from the environment by default, `None` for no session.
    pub fn ssh_connection(mut self, connection: Option<&str>) -> Self {
        self.ssh_connection = connection.map(String::from);
        self
    }

    /// Applies even a policy that would drop the current SSH session.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Makes the mutating step number `step` (0-based) fail with a real iptables error.
    #[doc(hidden)]
    pub fn inject_fault(mut self, step: usize) -> Self {
        self.fault = Some(step);
        self
    }

    fn runners(&self) -> Result<Vec<Runner>, Error> {
        guard::check_permissions(self.namespaces_only)?;
        let runners = self
            .families
            .iter()
            .map(|&f| Runner::new(f))
            .collect::<Result<Vec<_>, _>>()?;
        guard::wait_for_lock(&self.lock_path, self.lock_timeout)?;
        Ok(runners)
    }

    /// Makes `policy` the live firewall: atomically, idempotently, and with every step
    /// taken back if one fails.
    pub fn apply(&self, policy: &Policy) -> Result<ApplyReport, Error> {
        self.apply_inner(policy, None::<(Duration, fn() -> bool)>)
    }

    /// Applies `policy`, then keeps it only if `confirm` returns `true` within
    /// `timeout`; otherwise (or if it returns `false`) puts the previous rules back and
    /// returns [`Error::NotConfirmed`]. As `iptables-apply` does, for changes made over
    /// the very connection the new rules could cut.
    pub fn apply_with_confirm<F>(
        &self,
        policy: &Policy,
        timeout: Duration,
        confirm: F,
    ) -> Result<ApplyReport, Error>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        self.apply_inner(policy, Some((timeout, confirm)))
    }

    fn apply_inner<F>(
        &self,
        policy: &Policy,
        confirm: Option<(Duration, F)>,
    ) -> Result<ApplyReport, Error>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        if !self.force {
            guard::check_session(policy, self.ssh_connection.as_deref())?;
        }
        let runners = self.runners()?;
        let mut txn = Txn::new(&runners, self.fault);
        match self.transact(&mut txn, &runners, policy, confirm) {
            Ok(families) => Ok(ApplyReport {
                changed: txn.commands > 0,
                commands: txn.commands,
                families,
            }),
            // Whatever failed (a step, or the confirmation that never came), every
            // change made so far is taken back.
            Err(e) => Err(txn.abort(e)),
        }
    }

    /// The steps of an apply, in order; the caller rolls back on any error.
    fn transact<F>(
        &self,
        txn: &mut Txn<'_>,
        runners: &[Runner],
        policy: &Policy,
        confirm: Option<(Duration, F)>,
    ) -> Result<Vec<FamilyReport>, Error>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        create_sets(txn, policy, &self.families)?;
        let tables = snapshots(runners)?;
        let mut reports = Vec::new();
        let mut retire = Vec::new();
        for (f, (runner, table)) in runners.iter().zip(&tables).enumerate() {
            let (report, old) = build_generation(txn, f, runner, table, policy, self.batch_above)?;
            reports.push(report);
            retire.extend(old.map(|old| (f, old)));
        }
        if let Some((timeout, confirm)) = confirm {
            if !confirmed(timeout, confirm) {
                return Err(Error::NotConfirmed(timeout));
            }
        }
        let stale = stale_sets(
            policy,
            &self.families,
            retire.iter().flat_map(|(_, (_, rules))| rules),
        );
        for (f, old) in &retire {
            retire_chain(txn, *f, old)?;
        }
        destroy_sets(txn, stale)?;
        Ok(reports)
    }

    /// What is installed now.
    pub fn status(&self) -> Result<Vec<FamilyStatus>, Error> {
        let runners = self
            .families
            .iter()
            .map(|&f| Runner::new(f))
            .collect::<Result<Vec<_>, _>>()?;
        runners
            .iter()
            .map(|r| Ok(read_status(r, &r.table()?)))
            .collect()
    }

    /// What applying `policy` would add and remove, per family.
    pub fn plan(&self, policy: &Policy) -> Result<Vec<FamilyPlan>, Error> {
        let mut plans = Vec::new();
        for status in self.status()? {
            let wanted: Vec<String> = policy
                .iptables_rules(status.family)
                .iter()
                .map(RenderedRule::to_command_line)
                .collect();
            let live: Vec<String> = status.rules.iter().map(|r| strip_append(&r.spec)).collect();
            plans.push(FamilyPlan {
                family: status.family,
                add: wanted
                    .iter()
                    .filter(|w| !live.contains(w))
                    .cloned()
                    .collect(),
                remove: live
                    .iter()
                    .filter(|l| !wanted.contains(l))
                    .cloned()
                    .collect(),
                hook: !status.hooked,
            });
        }
        Ok(plans)
    }

    /// Removes live rules of one policy rule, by number or text, from every family;
    /// returns how many iptables rules went.
    pub fn remove_rule(&self, which: &RuleSelector) -> Result<usize, Error> {
        let runners = self.runners()?;
        let mut removed = 0;
        for runner in &runners {
            let status = read_status(runner, &runner.table()?);
            let Some(chain) = &status.chain else { continue };
            for rule in &status.rules {
                let hit = match which {
                    RuleSelector::Number(n) => rule.number == Some(*n),
                    RuleSelector::Text(text) => {
                        rule.number.is_some()
                            && comment_text(&rule.spec).as_deref() == Some(text.as_str())
                    }
                };
                if hit {
                    runner.delete(chain, &strip_append(&rule.spec), &Context::default())?;
                    removed += 1;
                }
            }
        }
        if removed == 0 {
            return Err(Error::NoSuchRule(match which {
                RuleSelector::Number(n) => format!("rule number {n}"),
                RuleSelector::Text(t) => format!("`{t}`"),
            }));
        }
        Ok(removed)
    }

    /// Removes every fwdsl rule but keeps the chains and the hook (`iptables -F`, for
    /// fwdsl's chain only): packets go on to the rest of `INPUT`.
    pub fn flush(&self) -> Result<(), Error> {
        for runner in &self.runners()? {
            if let Some(chain) = read_status(runner, &runner.table()?).chain {
                runner.flush_chain(&chain)?;
            }
        }
        Ok(())
    }

    /// Removes the hook and every fwdsl chain; other rules stay as they are.
    pub fn uninstall(&self) -> Result<(), Error> {
        let mut sets = Vec::new();
        for runner in &self.runners()? {
            let table = runner.table()?;
            if hooked(&table) {
                runner.delete("INPUT", HOOK, &Context::default())?;
            }
            if table.has_chain(CHAIN) {
                runner.delete_chain(CHAIN)?;
            }
            for chain in table.chains().filter(|c| c.starts_with(GENERATION_PREFIX)) {
                sets.extend(ipset::referenced(table.rules(chain)));
                runner.delete_chain(chain)?;
            }
        }
        ipset::destroy(&sets)
    }

    /// Writes the running rules where the distribution keeps them, after a dated backup
    /// of the file already there (never overwriting an earlier backup).
    pub fn save(&self, target: &SaveTarget) -> Result<SaveReport, Error> {
        let runners = self
            .families
            .iter()
            .map(|&f| Runner::new(f))
            .collect::<Result<Vec<_>, _>>()?;
        save::save(&runners, target)
    }
}

fn confirmed<F: FnOnce() -> bool + Send + 'static>(timeout: Duration, confirm: F) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    // A detached thread: a confirmation that never comes must not keep the apply waiting
    // past its timeout.
    std::thread::spawn(move || {
        let _ = tx.send(confirm());
    });
    rx.recv_timeout(timeout).unwrap_or(false)
}

fn strip_append(spec: &str) -> String {
    // "-A CHAIN rest" -> "rest"
    spec.splitn(3, ' ').nth(2).unwrap_or_default().to_string()
}

/// The DSL text in a rule's `fwdsl:N text` comment.
fn comment_text(spec: &str) -> Option<String> {
    let start = spec.find(&format!("\"{COMMENT_PREFIX}"))? + 1;
    let end = start + spec[start..].find('"')?;
    let comment = &spec[start + COMMENT_PREFIX.len()..end];
    let (_, text) = comment.split_once(' ')?;
    Some(text.split(" -- ").next().unwrap_or(text).to_string())
}

fn rule_number(spec: &str) -> Option<usize> {
    let start = spec.find(&format!("\"{COMMENT_PREFIX}"))? + 1 + COMMENT_PREFIX.len();
    let digits: String = spec[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn hooked(table: &Table) -> bool {
    table.rules("INPUT").iter().any(|l| strip_append(l) == HOOK)
}

/// The generation chain `FWDSL-INPUT` jumps to.
fn current_generation(table: &Table) -> Option<String> {
    table
        .rules(CHAIN)
        .first()
        .and_then(|l| l.split(" -j ").nth(1))
        .map(|c| c.trim().to_string())
}

fn read_status(runner: &Runner, table: &Table) -> FamilyStatus {
    let chain = current_generation(table);
    let rules = match &chain {
        Some(c) => table
            .rules(c)
            .iter()
            .cloned()
            .map(|spec| LiveRule {
                number: rule_number(&spec),
                spec,
            })
            .collect(),
        None => Vec::new(),
    };
    FamilyStatus {
        family: runner.family,
        hooked: hooked(table),
        chain,
        rules,
    }
}

/// Builds and switches to the policy's generation for one family; returns the report
/// and the old generation to retire once the switch is final.
fn build_generation(
    txn: &mut Txn<'_>,
    f: usize,
    runner: &Runner,
    table: &Table,
    policy: &Policy,
    batch_above: usize,
) -> Result<(FamilyReport, Option<Retired>), Error> {
    let rendered = policy.iptables_rules(runner.family);
    let lines: Vec<String> = rendered.iter().map(RenderedRule::to_command_line).collect();
    let hash = fnv1a(&lines.join("\n"));
    let base = format!("{GENERATION_PREFIX}{hash:016X}");
    let current = current_generation(table);
    let hooked = hooked(table);
    if hooked && current.as_deref().is_some_and(|c| c.starts_with(&base)) {
        let chain = current.clone().expect("checked");
        let live = table.rules(&chain).iter().map(|l| strip_append(l));
        if live.eq(lines.iter().cloned()) {
            let report = FamilyReport {
                family: runner.family,
                chain,
                rules: lines.len(),
                loaded: None,
            };
            return Ok((report, None));
        }
    }
    // A fresh name: the live chain may carry this hash but have been edited by hand,
    // and a crashed apply may have left a chain of that name behind.
    let mut chain = base.clone();
    let mut n = 1;
    while current.as_deref() == Some(chain.as_str()) || table.has_chain(&chain) {
        chain = format!("{base}-{n}");
        n += 1;
    }
    let rule_of = |i: usize| {
        rendered[i]
            .rule
            .map(|r| RuleRef::new(r, &policy.rules()[r]))
    };
    let loaded = if rendered.len() > batch_above {
        let mut text = format!("*filter\n:{chain} - [0:0]\n");
        for line in &lines {
            text.push_str(&format!("-A {chain} {line}\n"));
        }
        text.push_str("COMMIT\n");
        // Input line 3 is the first rule.
        let restore = |r: &Runner| {
            r.restore(&text, |line| {
                line.checked_sub(3)
                    .filter(|&i| i < rendered.len())
                    .and_then(rule_of)
            })
        };
        txn.step(
            f,
            &Context::default(),
            restore,
            Some(Undo::DeleteChain(f, chain.clone())),
        )?;
        LoadPath::Batch
    } else {
        txn.step(
            f,
            &Context::default(),
            |r| r.new_chain(&chain),
            Some(Undo::DeleteChain(f, chain.clone())),
        )?;
        for (i, line) in lines.iter().enumerate() {
            let context = Context { rule: rule_of(i) };
            txn.step(
                f,
                &context.clone(),
                |r| r.append(&chain, line, &context),
                None,
            )?;
        }
        LoadPath::PerRule
    };
    if !table.has_chain(CHAIN) {
        txn.step(
            f,
            &Context::default(),
            |r| r.new_chain(CHAIN),
            Some(Undo::DeleteChain(f, CHAIN.to_string())),
        )?;
    }
    let jump = jump_to(&chain);
    let mut old = None;
    match &current {
        Some(previous) => {
            let old_rules = table.rules(previous).to_vec();
            txn.step(
                f,
                &Context::default(),
                |r| r.replace(CHAIN, &jump, 1),
                Some(Undo::Replace(f, CHAIN.into(), jump_to(previous), 1)),
            )?;
            old = Some((previous.clone(), old_rules));
        }
        None => txn.step(
            f,
            &Context::default(),
            |r| r.append(CHAIN, &jump, &Context::default()),
            Some(Undo::DeleteRule(f, CHAIN.into(), jump.clone())),
        )?,
    }
    if !hooked {
        txn.step(
            f,
            &Context::default(),
            |r| r.insert("INPUT", HOOK, 1),
            Some(Undo::DeleteRule(f, "INPUT".into(), HOOK.into())),
        )?;
    }
    let report = FamilyReport {
        family: runner.family,
        chain,
        rules: lines.len(),
        loaded: Some(loaded),
    };
    Ok((report, old))
}

/// One snapshot of the filter table per family, taken side by side: the listing is most
/// of a no-op re-apply's cost, and `iptables` and `ip6tables` need not wait for each
/// other. The threads inherit the calling thread's network namespace; each checks it
/// did before listing anything.
fn snapshots(runners: &[Runner]) -> Result<Vec<Table>, Error> {
    let caller = guard::namespace_id();
    std::thread::scope(|scope| {
        let handles: Vec<_> = runners
            .iter()
            .map(|runner| {
                scope.spawn(move || {
                    if guard::namespace_id() != caller {
                        return Err(Error::RootNamespace);
                    }
                    runner.table()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Creates the ipsets the policy's rules need and that do not exist yet.
fn create_sets(txn: &mut Txn<'_>, policy: &Policy, families: &[Family]) -> Result<(), Error> {
    let needed: Vec<crate::IpSet> = families.iter().flat_map(|&f| policy.ipsets(f)).collect();
    if needed.is_empty() {
        return Ok(());
    }
    let existing = ipset::existing()?;
    let missing: Vec<&crate::IpSet> = needed
        .iter()
        .filter(|s| !existing.contains(&s.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let text: String = missing.iter().map(|s| s.to_restore()).collect();
    let names = missing.iter().map(|s| s.name.clone()).collect();
    txn.step(
        0,
        &Context::default(),
        |_| ipset::restore(&text),
        Some(Undo::DestroySets(names)),
    )
}

/// Sets the retired generations used that the new policy does not.
fn stale_sets<'a>(
    policy: &Policy,
    families: &[Family],
    retired: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let kept: Vec<String> = families
        .iter()
        .flat_map(|&f| policy.ipsets(f))
        .map(|s| s.name)
        .collect();
    ipset::referenced(retired)
        .into_iter()
        .filter(|name| !kept.contains(name))
        .collect()
}

/// Destroys sets no live rule refers to any more, one step each, with its contents
/// saved first so that a rollback can recreate it.
fn destroy_sets(txn: &mut Txn<'_>, names: Vec<String>) -> Result<(), Error> {
    for name in names {
        let saved = ipset::save(std::slice::from_ref(&name))?;
        txn.step(
            0,
            &Context::default(),
            |_| ipset::destroy(std::slice::from_ref(&name)),
            Some(Undo::RestoreSets(saved)),
        )?;
    }
    Ok(())
}

/// A generation chain to remove once the switch is final, with its rules (`-A` lines)
/// to recreate it should a later step fail.
type Retired = (String, Vec<String>);

/// Removes the previous generation in one transaction, so a failure leaves it whole.
fn retire_chain(txn: &mut Txn<'_>, f: usize, (chain, rules): &Retired) -> Result<(), Error> {
    let text = format!("*filter\n-F {chain}\n-X {chain}\nCOMMIT\n");
    txn.step(
        f,
        &Context::default(),
        |r| r.restore(&text, |_| None),
        Some(Undo::Recreate(f, chain.clone(), rules.clone())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rule_number_and_text_from_comments() {
        let spec = "-A FWDSL-G-1 -p tcp -m tcp --dport 22 -m comment --comment \"fwdsl:3 allow tcp 22 -- admins\" -j ACCEPT";
        assert_eq!(rule_number(spec), Some(3));
        assert_eq!(comment_text(spec).as_deref(), Some("allow tcp 22"));
        assert_eq!(
            rule_number("-A FWDSL-G-1 -m comment --comment \"fwdsl:nd x\" -j ACCEPT"),
            None
        );
        assert_eq!(strip_append(spec).split(' ').next(), Some("-p"));
    }
}
