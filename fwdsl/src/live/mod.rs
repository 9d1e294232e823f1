//! The live host: apply a policy atomically and reversibly, inspect what is installed,
//! save it, remove rules, uninstall. Everything stays inside fwdsl's own chains
//! ([`layout`] shows them), and every operation holds the network namespace's fwdsl
//! lock ([`lock`]) from its first read to its last change, in a state directory only
//! root can have written ([`state`]).
//!
//! - [`apply`]: the policy's generation chain and the switch to it, one
//!   `iptables-restore` transaction per family; confirm-or-revert through a
//!   [`revert`] agent (a transient systemd timer, or a watchdog process).
//! - [`inspect`]: status and plan, read from one listing per family.
//! - [`remove`]: remove one rule, flush, uninstall.
//! - [`dynamic`]: the members of dynamic sets, changed without an apply.

mod apply;
mod backend;
mod boot;
pub(crate) mod change;
pub(crate) mod dynamic;
mod exec;
mod expiry;
mod fallback;
mod files;
mod forwarding;
mod guard;
mod inspect;
mod ipset;
mod iptables;
mod journal;
mod layout;
mod lifetimes;
mod lock;
mod nat;
mod nft;
mod remove;
mod report;
mod restore;
mod revert;
mod runner;
mod save;
mod state;
mod txn;
mod views;

pub use backend::Backend;
pub use boot::Boot;
pub use dynamic::{SetMember, SyncReport};
pub(crate) use guard::namespace_key;
#[cfg(feature = "sandbox")]
pub(crate) use guard::{has_net_admin, in_own_namespace};
pub use lifetimes::IPSET_TIMEOUT_MAX;
pub use nft::others::OtherChain;
pub use revert::Confirmed;
pub use save::{SaveReport, SaveTarget};
pub use views::{Interrupted, NatPlan, PendingRevert, Plan, Status};

use crate::error::Error;
use crate::Policy;
use fwdsl_core::{Direction, Family};
use ipset::Sets;
use lock::NsLock;
use runner::Runner;
use state::{NsKey, StateDir};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How rules reach a new generation chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPath {
    /// One `iptables -A` per rule through the `iptables` crate.
    PerRule,
    /// All rules in one `iptables-restore --noflush` transaction.
    Batch,
}

/// What an apply did for one direction of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyReport {
    /// The family; `None` for both (the nftables backend's one `inet` table).
    pub family: Option<Family>,
    /// The direction (its chain).
    pub direction: Direction,
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
    /// The backend it went through.
    pub backend: Backend,
    /// Whether anything changed (`false`: the policy was already live, nothing was rewritten).
    pub changed: bool,
    /// Mutating commands run (iptables commands, or nft transactions).
    pub commands: usize,
    /// Per family and direction the policy uses.
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
    /// Packets the rule matched since it was loaded ([`Firewall::status`] reads them;
    /// elsewhere 0).
    pub packets: u64,
    /// Bytes of those packets.
    pub bytes: u64,
}

/// What is installed for one direction of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyStatus {
    /// The family; `None` for both (the nftables backend's one `inet` table).
    pub family: Option<Family>,
    /// The direction.
    pub direction: Direction,
    /// The built-in chain (or Docker's `DOCKER-USER`) that jumps to fwdsl, if one does.
    pub hooked_in: Option<String>,
    /// Whether a built-in chain jumps to fwdsl.
    pub hooked: bool,
    /// The generation chain serving, if any.
    pub chain: Option<String>,
    /// Its rules, in order.
    pub rules: Vec<LiveRule>,
}

/// What an apply of a policy would change, per family and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyPlan {
    /// The family; `None` for both (the nftables backend's one `inet` table).
    pub family: Option<Family>,
    /// The direction.
    pub direction: Direction,
    /// Rules the policy has that are not live (as `iptables -S` prints them, without `-A CHAIN`).
    pub add: Vec<String>,
    /// Live rules the policy does not have.
    pub remove: Vec<String>,
    /// Whether the hook from the built-in chain would be added.
    pub hook: bool,
}

/// What a [`Firewall::flush`] left open: for each family, every built-in chain whose
/// packets fwdsl no longer filters, and that chain's own policy, which now decides them
/// (`ACCEPT` on most hosts: everything gets in).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a flush opens the host: check what it left open"]
pub struct Flushed {
    /// (family, built-in chain, its policy).
    pub open: Vec<(Family, String, String)>,
}

impl Flushed {
    /// Whether some direction now accepts every packet fwdsl used to decide.
    pub fn host_is_open(&self) -> bool {
        self.open.iter().any(|(_, _, policy)| policy == "ACCEPT")
    }
}

/// Which live rule to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSelector {
    /// By its 1-based number in the policy (as in `iptables -D INPUT 3`).
    Number(usize),
    /// By its DSL text (as in `iptables -D INPUT -p tcp --dport 80 -j ACCEPT`).
    Text(String),
}

impl RuleSelector {
    /// Checks that the live rules it selected, by their policy rule numbers, are those
    /// of exactly one policy rule: rule texts shorten long lists, so two different
    /// rules can read the same.
    pub(crate) fn one_rule(&self, mut numbers: Vec<usize>) -> Result<(), Error> {
        numbers.sort_unstable();
        numbers.dedup();
        match (self, numbers.len()) {
            (RuleSelector::Text(text), 2..) => Err(Error::AmbiguousRule {
                text: text.clone(),
                numbers,
            }),
            (_, 0) => Err(Error::NoSuchRule(match self {
                RuleSelector::Number(n) => format!("rule number {n}"),
                RuleSelector::Text(t) => format!("`{t}`"),
            })),
            _ => Ok(()),
        }
    }
}

impl FamilyPlan {
    /// The plan that turns the `live` rules into the `wanted` ones.
    pub(crate) fn diff(
        family: Option<Family>,
        direction: Direction,
        wanted: &[String],
        live: &[String],
        hook: bool,
    ) -> FamilyPlan {
        let missing = |from: &[String], other: &[String]| {
            from.iter()
                .filter(|r| !other.contains(r))
                .cloned()
                .collect()
        };
        FamilyPlan {
            family,
            direction,
            add: missing(wanted, live),
            remove: missing(live, wanted),
            hook,
        }
    }
}

/// A handle on a host's firewall (the network namespace of the calling thread), with
/// the knobs of how fwdsl changes it.
#[derive(Debug, Clone)]
pub struct Firewall {
    backend: Option<Backend>,
    families: Vec<Family>,
    lock_path: PathBuf,
    lock_timeout: Duration,
    command_timeout: Duration,
    state_dir: PathBuf,
    systemd_dir: PathBuf,
    batch_above: usize,
    namespaces_only: bool,
    ssh_connection: Option<String>,
    kernel_sessions: bool,
    force: bool,
    enable_forwarding: bool,
    fault: Option<txn::Fault>,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            backend: None,
            families: vec![Family::V4, Family::V6],
            lock_path: PathBuf::from("/run/xtables.lock"),
            lock_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            state_dir: PathBuf::from("/run/fwdsl"),
            systemd_dir: PathBuf::from("/etc/systemd/system"),
            batch_above: 0,
            namespaces_only: false,
            ssh_connection: std::env::var("SSH_CONNECTION").ok(),
            kernel_sessions: true,
            force: false,
            enable_forwarding: false,
            fault: None,
        }
    }
}

/// What an operation works with: the families' runners, the ipset commands, the
/// namespace it is in, the state directory, and that namespace's fwdsl lock, held
/// until this is dropped.
struct Session {
    backend: Backend,
    runners: Vec<Runner>,
    nft: nft::Nft,
    sets: Sets,
    ns: NsKey,
    state: StateDir,
    lock: NsLock,
}

impl Firewall {
    /// The host's firewall, both families, with fwdsl's defaults.
    ///
    /// ```
    /// let fw = fwdsl::Firewall::new(); // nothing is read or changed until an operation runs
    /// # let _ = fw;
    /// ```
    pub fn new() -> Firewall {
        Firewall::default()
    }

    /// The backend to use: [`Backend::Nftables`] on a host without iptables, say
    /// (default: [`Backend::detect`], asked by each operation).
    ///
    /// ```
    /// use fwdsl::{Backend, Firewall};
    /// let nft = Firewall::new().backend(Backend::Nftables);
    /// # let _ = nft;
    /// ```
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The backend in use: the one chosen, or the one [`Backend::detect`] finds.
    pub fn resolved_backend(&self) -> Backend {
        self.backend.unwrap_or_else(Backend::detect)
    }

    fn nft(&self) -> nft::Nft {
        nft::Nft {
            timeout: self.command_timeout,
        }
    }

    /// Only these families (a host without IPv6, say).
    ///
    /// ```
    /// use fwdsl::{Family, Firewall};
    /// let ipv4_only = Firewall::new().families(&[Family::V4]);
    /// # let _ = ipv4_only;
    /// ```
    pub fn families(mut self, families: &[Family]) -> Self {
        self.families = families.to_vec();
        self
    }

    /// The xtables lock and how long to wait for another program to release it; the
    /// same bound applies to waiting for another fwdsl process in this network
    /// namespace (default: 10 s each).
    ///
    /// ```
    /// use std::time::Duration;
    /// let fw = fwdsl::Firewall::new().lock("/run/xtables.lock", Duration::from_secs(30));
    /// # let _ = fw;
    /// ```
    pub fn lock(mut self, path: impl Into<PathBuf>, timeout: Duration) -> Self {
        self.lock_path = path.into();
        self.lock_timeout = timeout;
        self
    }

    /// How long one iptables or ipset command may run before it is ended and the
    /// operation fails with [`Error::Timeout`] (default: 60 s). A listing can stall
    /// for minutes while other programs churn the rules.
    ///
    /// ```
    /// let fw = fwdsl::Firewall::new().command_timeout(std::time::Duration::from_secs(120));
    /// # let _ = fw;
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Where fwdsl keeps its per-namespace lock and pending reverts (default:
    /// `/run/fwdsl`, cleared at boot as it should be).
    ///
    /// ```
    /// let fw = fwdsl::Firewall::new().state_dir("/run/my-provisioner/fwdsl");
    /// # let _ = fw;
    /// ```
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    /// Where [`Firewall::persist_at_boot`] installs fwdsl's unit and where boot loaders
    /// are looked for (default: `/etc/systemd/system`).
    ///
    /// ```
    /// let fw = fwdsl::Firewall::new().systemd_dir("/etc/systemd/system");
    /// # let _ = fw;
    /// ```
    pub fn systemd_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.systemd_dir = dir.into();
        self
    }

    /// Generations of more than `rules` iptables rules load in one
    /// `iptables-restore --noflush` transaction together with the switch, smaller ones
    /// one `iptables -A` at a time through the `iptables` crate before it. The default,
    /// 0, always batches: it is 10 to 40 times faster at every size measured
    /// (BENCHMARKS.md) and loads all or nothing.
    ///
    /// ```
    /// let per_rule_below_50 = fwdsl::Firewall::new().batch_above(50);
    /// # let _ = per_rule_below_50;
    /// ```
    pub fn batch_above(mut self, rules: usize) -> Self {
        self.batch_above = rules;
        self
    }

    /// Refuses every change in the machine's own network namespace: for tests and
    /// sandboxes, so that no mistake can reach the real host's firewall.
    ///
    /// ```no_run
    /// # #[cfg(feature = "sandbox")] {
    /// use fwdsl::{sandbox::Sandbox, Firewall};
    /// let sb = Sandbox::new("my-test")?;
    /// let policy = fwdsl::firewall! { allow established; allow ssh; drop all; };
    /// sb.server.run(|| Firewall::new().namespaces_only().apply(&policy))??;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn namespaces_only(mut self) -> Self {
        self.namespaces_only = true;
        self
    }

    /// The SSH session to protect, as `$SSH_CONNECTION` writes it (`client port server
    /// port`); read from the environment by default, `None` for none. (The sessions
    /// the kernel holds are protected as well: [`Firewall::kernel_sessions`].)
    ///
    /// ```
    /// // Protect a session other than this process's own (a jump host's, say).
    /// let fw = fwdsl::Firewall::new().ssh_connection(Some("198.51.100.7 50022 192.0.2.1 22"));
    /// # let _ = fw;
    /// ```
    pub fn ssh_connection(mut self, connection: Option<&str>) -> Self {
        self.ssh_connection = connection.map(String::from);
        self
    }

    /// Whether the SSH sessions established to this host are found in the kernel's
    /// socket tables too (default: yes): every TCP connection to a port sshd listens
    /// on, or to the policy's declared `ssh PORT`. `$SSH_CONNECTION` alone goes blind
    /// under `sudo` (its `env_reset`) and Ansible's `become`, which drop it.
    ///
    /// ```
    /// // Only the session of $SSH_CONNECTION (or none) is protected.
    /// let fw = fwdsl::Firewall::new().kernel_sessions(false);
    /// # let _ = fw;
    /// ```
    pub fn kernel_sessions(mut self, find: bool) -> Self {
        self.kernel_sessions = find;
        self
    }

    /// The SSH sessions an apply or a ban must not cut.
    fn sessions(&self, policy: Option<&Policy>) -> Result<Vec<guard::Session>, Error> {
        let declared = policy.and_then(|p| match p.access() {
            fwdsl_core::Access::Ssh { port, .. } => Some(*port),
            fwdsl_core::Access::Console => None,
        });
        guard::sessions(
            self.ssh_connection.as_deref(),
            self.kernel_sessions,
            declared,
        )
    }

    /// Applies even a policy that would drop the current SSH session.
    ///
    /// ```no_run
    /// // The policy moves SSH to another port on purpose.
    /// let policy = fwdsl::firewall! { allow established; ssh 2222; allow tcp 2222; drop all; };
    /// fwdsl::Firewall::new().force(true).apply(&policy)?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Sets `net.ipv4.ip_forward` (or IPv6's `forwarding`) when the policy's NAT needs it
    /// and it is off, after the apply's switch; by default such an apply is refused
    /// ([`Error::ForwardingDisabled`]). Not undone by a revert.
    ///
    /// ```no_run
    /// let gateway = fwdsl::firewall! { allow established; allow ssh; drop all; masquerade src 10.8.0.0/24 via eth0; };
    /// fwdsl::Firewall::new().enable_forwarding(true).apply(&gateway)?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn enable_forwarding(mut self, enable: bool) -> Self {
        self.enable_forwarding = enable;
        self
    }

    /// Makes the mutating step number `step` (0-based) fail with a real iptables error.
    #[doc(hidden)]
    pub fn inject_fault(mut self, step: usize) -> Self {
        self.fault = Some(txn::Fault::Fail(step));
        self
    }

    /// Makes the process abort before the mutating step number `step` (0-based), as a
    /// SIGKILL at that moment would (for tests, in a child process).
    #[doc(hidden)]
    pub fn inject_crash(mut self, step: usize) -> Self {
        self.fault = Some(txn::Fault::Crash(step));
        self
    }

    fn runners(&self) -> Vec<Runner> {
        self.families
            .iter()
            .map(|&f| Runner::new(f, self.command_timeout))
            .collect()
    }

    fn sets(&self) -> Sets {
        Sets {
            timeout: self.command_timeout,
        }
    }

    /// Everything checked before a change, then the namespace's lock, with no
    /// unconfirmed apply pending (one whose revert agent is there is waited for, within
    /// the lock's timeout; one whose agent is gone is [`Error::RevertLost`]).
    fn session(&self) -> Result<Session, Error> {
        guard::check_permissions(self.namespaces_only)?;
        let runners = self.runners();
        let backend = self.resolved_backend();
        if backend == Backend::Iptables {
            guard::wait_for_lock(&self.lock_path, self.lock_timeout)?;
        }
        let ns = namespace_key();
        let state = StateDir::open(&self.state_dir)?;
        let start = Instant::now();
        let lock = loop {
            let left = self.lock_timeout.saturating_sub(start.elapsed());
            let lock = NsLock::acquire(&state, ns, left)?;
            match revert::pending(&state, ns) {
                None => break lock,
                Some(p) if p.lost => {
                    return Err(Error::RevertLost {
                        agent: p.agent,
                        deadline: p.deadline,
                    })
                }
                Some(p) if start.elapsed() >= self.lock_timeout => {
                    return Err(Error::Busy {
                        path: NsLock::path(&state, ns),
                        waited: start.elapsed(),
                        holder: format!("an unconfirmed apply waits for its confirmation, or for its revert by {} ({})", p.agent, p.deadline),
                    })
                }
                Some(_) => {
                    drop(lock);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        // Holding the lock with nothing pending: what finished windows left is stale.
        revert::clear_stale(&state, ns);
        Ok(Session {
            backend,
            runners,
            nft: self.nft(),
            sets: self.sets(),
            ns,
            state,
            lock,
        })
    }

    /// Makes `policy` the live firewall: atomically, idempotently, and with every step
    /// taken back if one fails.
    ///
    /// ```no_run
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow https; drop all; };
    /// let report = fwdsl::Firewall::new().apply(&policy)?;
    /// print!("{report}"); // `already live: nothing to change` the second time
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn apply(&self, policy: &Policy) -> Result<ApplyReport, Error> {
        apply::apply(self, policy, apply::Confirm::<fn() -> bool>::No)
    }

    /// Applies `policy`, then keeps it only if `confirm` returns `true` within
    /// `timeout`; otherwise (or if it returns `false`) puts the previous rules back and
    /// returns [`Error::NotConfirmed`]. As `iptables-apply` does, for changes made over
    /// the very connection the new rules could cut. The revert does not depend on this
    /// process: an agent of its own (a transient systemd timer where systemd runs, a
    /// watchdog process elsewhere) reverts at the end of the window even if this one
    /// has died or its SSH session has ended.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow https; drop all; };
    /// let still_reachable = || std::net::TcpStream::connect("192.0.2.1:443").is_ok();
    /// fwdsl::Firewall::new().apply_with_confirm(&policy, Duration::from_secs(30), still_reachable)?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn apply_with_confirm<F>(
        &self,
        policy: &Policy,
        timeout: Duration,
        confirm: F,
    ) -> Result<ApplyReport, Error>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        apply::apply(self, policy, apply::Confirm::Wait(timeout, confirm))
    }

    /// Applies `policy` and returns at once, leaving an agent (a transient systemd
    /// timer where systemd runs, a watchdog process elsewhere) that puts the previous
    /// rules back after `timeout` unless [`Firewall::confirm`] is called before (from
    /// this process or any other, over a new SSH connection say). Until then other
    /// fwdsl operations in this namespace wait for it; should the agent be ended before
    /// it could revert, they refuse ([`Error::RevertLost`]) until a confirmation.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow https; drop all; };
    /// fwdsl::Firewall::new().apply_unconfirmed(&policy, Duration::from_secs(60))?;
    /// // … later, from a new SSH connection, perhaps another process:
    /// fwdsl::Firewall::new().confirm()?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn apply_unconfirmed(
        &self,
        policy: &Policy,
        timeout: Duration,
    ) -> Result<ApplyReport, Error> {
        apply::apply(
            self,
            policy,
            apply::Confirm::<fn() -> bool>::Detached(timeout),
        )
    }

    /// Keeps the rules of a pending [`Firewall::apply_unconfirmed`]: says whether a
    /// revert was pending and is cancelled ([`Confirmed::Cancelled`]), none was
    /// ([`Confirmed::NothingPending`]), or one was but its agent was gone
    /// ([`Confirmed::RevertWasLost`]: the rules stay all the same, and this is how an
    /// operator learns that nothing would have reverted them); [`Error::Reverted`] when
    /// it came too late.
    ///
    /// ```no_run
    /// let confirmed = fwdsl::Firewall::new().confirm()?;
    /// println!("{confirmed}");
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn confirm(&self) -> Result<Confirmed, Error> {
        guard::check_permissions(self.namespaces_only)?;
        let ns = namespace_key();
        let state = StateDir::open(&self.state_dir)?;
        let confirmed = revert::confirm_pending(&state, ns)?;
        if confirmed.changed() {
            // The agent is gone once its lock is free; then collect the sets the
            // replaced rules used. The confirmation stands whatever happens here: the
            // next apply collects them otherwise.
            if let Ok(session) = self.session() {
                let _ = match session.backend {
                    Backend::Iptables => iptables::collect_sets(&session),
                    Backend::Nftables => nft::apply::collect_sets(&session),
                };
            }
        }
        Ok(confirmed)
    }

    /// What is installed now, and what an operator must know beside it: an
    /// unconfirmed apply pending (or whose revert was lost), an apply interrupted
    /// between the families' transactions.
    ///
    /// ```no_run
    /// print!("{}", fwdsl::Firewall::new().status()?); // numbered like the policy's rules
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn status(&self) -> Result<Status, Error> {
        // Reading the rules needs CAP_NET_ADMIN as much as changing them.
        guard::check_permissions(false)?;
        let (state, ns) = self.state()?;
        match self.resolved_backend() {
            Backend::Iptables => inspect::status(&self.runners(), &state, ns, self.lock_timeout),
            Backend::Nftables => {
                let (listing, others) = self.nft_read(&Direction::ALL)?;
                let families = nft::ops::status(&listing);
                let others = others
                    .into_iter()
                    .filter(|o| {
                        families
                            .iter()
                            .any(|f| nft::base_chain(f.direction) == o.hook)
                    })
                    .collect();
                Ok(Status {
                    backend: Backend::Nftables,
                    others,
                    families,
                    pending: revert::pending(&state, ns),
                    interrupted: None,
                })
            }
        }
    }

    /// fwdsl's table and the other tables' base chains on the hooks of `directions`
    /// (nftables only), from one listing.
    fn nft_read(&self, directions: &[Direction]) -> Result<(nft::Listing, Vec<OtherChain>), Error> {
        let doc = self.nft().ruleset()?;
        let hooks: Vec<&str> = directions.iter().map(|&d| nft::base_chain(d)).collect();
        let others = nft::others::on_hooks(&doc, &hooks);
        Ok((nft::Listing::parse(doc, nft::TABLE), others))
    }

    /// What applying `policy` would add and remove, per family.
    ///
    /// ```no_run
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow https; drop all; };
    /// print!("{}", fwdsl::Firewall::new().plan(&policy)?); // `+` rules to come, `-` rules to go
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn plan(&self, policy: &Policy) -> Result<Plan, Error> {
        guard::check_permissions(false)?;
        let (state, ns) = self.state()?;
        match self.resolved_backend() {
            Backend::Iptables => {
                inspect::plan(&self.runners(), &state, ns, self.lock_timeout, policy)
            }
            Backend::Nftables => {
                let (listing, others) = self.nft_read(&policy.directions())?;
                Ok(Plan {
                    backend: Backend::Nftables,
                    families: nft::ops::plan(&listing, policy),
                    nat: nft::ops::nat_plan(&listing, policy),
                    others,
                    interrupted: None,
                })
            }
        }
    }

    /// The state directory, checked, and the calling thread's namespace.
    fn state(&self) -> Result<(StateDir, NsKey), Error> {
        Ok((StateDir::open(&self.state_dir)?, namespace_key()))
    }

    /// Removes live rules of one policy rule, by number or by its full text, from
    /// every family; returns how many iptables rules went.
    ///
    /// ```no_run
    /// use fwdsl::{Firewall, RuleSelector};
    /// Firewall::new().remove_rule(&RuleSelector::Text("allow https".into()))?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn remove_rule(&self, which: &RuleSelector) -> Result<usize, Error> {
        let session = self.session()?;
        match session.backend {
            Backend::Iptables => remove::remove_rule(&session, which),
            Backend::Nftables => nft::ops::remove_rule(&session.nft, which),
        }
    }

    /// Removes every fwdsl rule but keeps the chains and the hooks (the guide's
    /// `iptables -F`, for fwdsl's chains only): packets go on to the rest of the
    /// built-in chains, **which on most hosts accept everything**. The returned
    /// [`Flushed`] says which chains are now open and under what policy;
    /// [`Firewall::flush_to_access`] is the fail-closed alternative.
    ///
    /// ```no_run
    /// let flushed = fwdsl::Firewall::new().flush()?;
    /// if flushed.host_is_open() {
    ///     eprintln!("warning: the host now accepts everything fwdsl used to decide");
    /// }
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn flush(&self) -> Result<Flushed, Error> {
        let session = self.session()?;
        match session.backend {
            Backend::Iptables => remove::flush(&session),
            Backend::Nftables => nft::ops::flush(&session.nft),
        }
    }

    /// The fail-closed flush: replaces the live rules with the operator's access path
    /// of `policy` and a catch-all (`allow established; allow in lo; allow tcp PORT src
    /// FROM; drop all;`), so the host stays reachable over SSH and closed to the rest.
    /// Directions other than input are left to the built-in chains, as after
    /// [`Firewall::uninstall`].
    ///
    /// ```no_run
    /// let policy = fwdsl::firewall! { allow established; ssh 22 from 10.0.0.0/8; allow tcp 22 src 10.0.0.0/8; allow https; drop all; };
    /// fwdsl::Firewall::new().flush_to_access(&policy)?; // only the admin net's SSH gets in
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn flush_to_access(&self, policy: &Policy) -> Result<ApplyReport, Error> {
        self.apply(&policy.access_only())
    }

    /// Removes the hook and every fwdsl chain and set, all or nothing, and fwdsl's boot
    /// unit if [`Firewall::persist_at_boot`] installed one; other rules stay as they
    /// are. Refuses ([`Error::InUse`]) while a foreign rule jumps into an fwdsl chain.
    ///
    /// ```no_run
    /// fwdsl::Firewall::new().uninstall()?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn uninstall(&self) -> Result<(), Error> {
        let session = self.session()?;
        match session.backend {
            Backend::Iptables => remove::uninstall(&session, self.fault)?,
            Backend::Nftables => nft::ops::uninstall(&session.nft)?,
        }
        lifetimes::forget(&session.state, session.ns);
        boot::remove(&self.systemd_dir).map(|_| ())
    }

    /// The host's listening sockets (of the calling thread's network namespace)
    /// against `policy`: which are reachable from the world, from the operator network
    /// only, dropped (by which rule), bound to loopback, and which openings of the
    /// policy nothing listens behind. Reads `/proc`; needs no root and changes nothing.
    ///
    /// ```no_run
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow tcp 80, 443; drop all; };
    /// print!("{}", fwdsl::Firewall::new().exposure(&policy)?);
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn exposure(&self, policy: &Policy) -> Result<crate::Exposure, Error> {
        crate::Exposure::read(policy)
    }

    /// Writes the running rules of every table (NAT too) where the distribution keeps
    /// them, and the ipsets they use, all files or none, after a dated backup of each
    /// file already there (never overwriting an earlier backup). A replaced file keeps
    /// its mode and owner; a new one is readable by root only. The report says who will
    /// load the files at boot ([`SaveReport::boot`]) and the exact commands a boot runs.
    ///
    /// ```no_run
    /// use fwdsl::{Firewall, SaveTarget};
    /// print!("{}", Firewall::new().save(&SaveTarget::detect())?);
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn save(&self, target: &SaveTarget) -> Result<SaveReport, Error> {
        let session = self.session()?;
        match session.backend {
            Backend::Iptables => {
                save::save(&session.runners, &session.sets, target, &self.systemd_dir)
            }
            Backend::Nftables => nft::save::save(&session.nft, target, &self.systemd_dir),
        }
    }

    /// Makes this host load `target`'s files at boot, failing closed: installs and
    /// enables fwdsl's systemd oneshot unit `fwdsl-restore.service`, which runs
    /// [`SaveReport::boot_commands`] (the fail-closed state, the ipsets, every file
    /// checked, then the rules) before the network comes up. Where the distribution's
    /// own loader (netfilter-persistent, iptables-services) is enabled too, fwdsl's unit
    /// runs after it: those leave a family open when its file does not load.
    /// Idempotent; [`Firewall::uninstall`] removes the unit again.
    ///
    /// ```no_run
    /// use fwdsl::{Firewall, SaveTarget};
    /// let fw = Firewall::new();
    /// let saved = fw.save(&SaveTarget::detect())?;
    /// println!("{}", fw.persist_at_boot(&SaveTarget::detect())?); // who loads them at boot
    /// # let _ = saved;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn persist_at_boot(&self, target: &SaveTarget) -> Result<Boot, Error> {
        let commands = match self.resolved_backend() {
            Backend::Iptables => {
                let ipsets = target.ipsets.exists();
                let saved = boot::fwdsl_saved(target, &self.families);
                boot::commands(target, &self.families, ipsets, &saved)
            }
            Backend::Nftables => nft::save::commands(target, nft::save::fwdsl_saved(target)),
        };
        boot::install(&self.systemd_dir, &commands).map(Boot::FwdslUnit)
    }

    /// Loads saved files into the running host, as a boot would (the reference guide's
    /// `/etc/init.d/iptables start`): ipsets first, then each family's rules, with the
    /// guards and the rollback of an apply. A file that does not load (truncated, a
    /// bad line, a set it needs missing) is [`Error::BadSavedFile`] naming the line,
    /// and nothing changes. The SSH-session guard cannot judge raw iptables text: it
    /// does not apply here.
    ///
    /// ```no_run
    /// fwdsl::Firewall::new().restore(&fwdsl::SaveTarget::detect())?;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn restore(&self, target: &SaveTarget) -> Result<(), Error> {
        let session = self.session()?;
        match session.backend {
            Backend::Iptables => restore::restore(&session, target, self.fault)?,
            Backend::Nftables => nft::save::restore(&session.nft, target)?,
        }
        // What the saved bans have left, as a boot gives them.
        expiry::apply(&target.expiries(), session.backend, self.command_timeout)
    }
}
