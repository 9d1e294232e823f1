//! Dynamic sets (`set banned dynamic;`): members added and removed while the policy
//! runs, without an apply, as fail2ban-like tools ban addresses minute by minute, each
//! with a lifetime of its own where asked ([`lifetimes`](super::lifetimes)): a member
//! added again keeps the later of its two ends, and [`Firewall::set_sync`] makes a set
//! hold exactly a ban manager's list.
//!
//! Each change is one `ipset` call (one member) or one `ipset restore` batch (many,
//! both families in it), or on nftables one `nft` batch per family, after checking everything it can before changing anything:
//! the name, each member, and that the sets exist (a policy using them was applied).
//! These calls take no lock: each ipset command is atomic in the kernel, an apply
//! never changes a dynamic set's members, and a set an apply removes meanwhile makes
//! the change fail as if it had come after.

use super::exec;
use super::lifetimes;
use super::{Backend, Firewall};
use crate::error::Error;
use crate::render::dynamic_set_name;
use fwdsl_core::Family;
use ipnet::IpNet;
use std::time::Duration;

const IPSET: &str = "ipset";

/// One member of a live dynamic set, and how long it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetMember {
    /// The address (a `/32` or `/128`) or network.
    pub net: IpNet,
    /// What remains of its lifetime; `None`: it stays until removed.
    pub remaining: Option<Duration>,
}

/// What [`Firewall::set_sync`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Members that were not there.
    pub added: Vec<IpNet>,
    /// Members whose lifetime now ends later.
    pub extended: Vec<IpNet>,
    /// Members whose lifetime now ends earlier, as the list asks.
    pub shortened: Vec<IpNet>,
    /// Members not on the list any more.
    pub removed: Vec<IpNet>,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} extended, {} shortened, {} removed",
            self.added.len(),
            self.extended.len(),
            self.shortened.len(),
            self.removed.len()
        )
    }
}

/// One change of one member of one set: add (or re-add) with a lifetime in seconds
/// (`None`: until removed), or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Add(IpNet, Option<u64>),
    Del(IpNet),
}

/// How far apart a listed lifetime and what remains in the kernel may be and still be
/// the same to [`Firewall::set_sync`]: both count down, from slightly different starts.
const SYNC_SLACK: Duration = Duration::from_secs(2);

/// Whether a lifetime of `new` seconds ends later than `remaining`.
pub(crate) fn ends_later(new: Option<u64>, remaining: Option<Duration>) -> bool {
    match (new, remaining) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(n), Some(r)) => Duration::from_secs(n) > r,
    }
}

impl Firewall {
    /// Adds `members` (addresses or networks, IPv4 and IPv6 mixed) to the live dynamic
    /// set `set`, which a policy declared (`set banned dynamic;`) and an apply created.
    /// Members already in the set are fine. They stay through later applies of any
    /// policy that uses the set, and [`Firewall::save`] saves them. A member that holds
    /// the client of the SSH session this runs in is refused unless
    /// [`Firewall::force`]d: the set is most likely a ban list.
    ///
    /// ```no_run
    /// let fw = fwdsl::Firewall::new();
    /// fw.set_add("banned", &["198.51.100.7/32".parse()?, "2001:db8::/64".parse()?])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_add(&self, set: &str, members: &[IpNet]) -> Result<(), Error> {
        self.set_add_for(set, members, None)
    }

    /// [`Firewall::set_add`] with a lifetime: the members leave the set by themselves
    /// when it ends (`None`: the set's declared default, `set banned dynamic timeout
    /// 1h;`, or until removed). A member already there keeps the **later** of its two
    /// ends: adding never shortens a ban (a member that stays until removed stays so).
    /// A lifetime above the set's `max`, or longer than the backend holds (ipset:
    /// 2,147,483 s), is refused, never cut.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let fw = fwdsl::Firewall::new();
    /// fw.set_add_for("banned", &["198.51.100.0/24".parse()?], Some(Duration::from_secs(3600)))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_add_for(
        &self,
        set: &str,
        members: &[IpNet],
        lifetime: Option<Duration>,
    ) -> Result<(), Error> {
        self.validate(set, members, true)?;
        let (state, ns) = self.state()?;
        let declared = lifetimes::declared(&state, ns, set);
        let lifetime = lifetimes::resolve(&declared, lifetime, self.resolved_backend())?;
        for (name, nets) in self.by_live_set(set, members)? {
            let adds: Vec<Op> = nets.iter().map(|n| Op::Add(*n, lifetime)).collect();
            // One member on ipset: one `ipset add`, which refuses a member that is
            // there; only then is the set read, to keep the later end.
            if let ([Op::Add(net, seconds)], Backend::Iptables) =
                (&adds[..], self.resolved_backend())
            {
                if self.ipset_add_new(&name, net, *seconds)? {
                    continue;
                }
            }
            // One address on nftables: what holds it, asked of nft alone (`get element`),
            // instead of the whole set, which grows with every ban.
            let single = match (&adds[..], self.resolved_backend()) {
                ([Op::Add(net, _)], Backend::Nftables)
                    if net.prefix_len() == net.max_prefix_len() =>
                {
                    super::nft::dynamic::holding(&self.nft(), &name, net)?
                }
                _ => None,
            };
            let current = match single {
                Some(current) => current,
                None => self.live_entries(&name)?,
            };
            let ops: Vec<Op> = adds
                .into_iter()
                .filter(|op| match op {
                    Op::Add(net, seconds) => current
                        .iter()
                        .find(|m| m.net == *net)
                        .is_none_or(|m| ends_later(*seconds, m.remaining)),
                    Op::Del(_) => true,
                })
                .collect();
            self.write(&name, &ops, &current)?;
        }
        Ok(())
    }

    /// Makes the live dynamic set `set` hold exactly `wanted` (each with its lifetime;
    /// `None`: the set's default), in one batch per family: what a ban manager calls
    /// after a restart or on a timer, so that the kernel never drifts from its list.
    /// Unlike [`Firewall::set_add_for`], a lifetime the list shortens is shortened.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let decisions = [("203.0.113.9/32".parse()?, Some(Duration::from_secs(600)))];
    /// let report = fwdsl::Firewall::new().set_sync("banned", &decisions)?;
    /// println!("{report}"); // 1 added, 0 extended, 0 shortened, 3 removed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_sync(
        &self,
        set: &str,
        wanted: &[(IpNet, Option<Duration>)],
    ) -> Result<SyncReport, Error> {
        let nets: Vec<IpNet> = wanted.iter().map(|(n, _)| *n).collect();
        self.validate(set, &nets, true)?;
        let (state, ns) = self.state()?;
        let declared = lifetimes::declared(&state, ns, set);
        let backend = self.resolved_backend();
        let mut lifetimes = std::collections::HashMap::new();
        for (net, asked) in wanted {
            let seconds = lifetimes::resolve(&declared, *asked, backend)?;
            // Listed twice: the later end.
            let kept = lifetimes.entry(*net).or_insert(seconds);
            if ends_later(seconds, kept.map(Duration::from_secs)) {
                *kept = seconds;
            }
        }
        let present = self.dynamic_sets_present(set)?;
        if present.is_empty() {
            return Err(no_such_set(set, None));
        }
        // Every listed member's family has its live set, or nothing changes.
        by_family(&present, set, &nets)?;
        let mut report = SyncReport::default();
        for (family, name) in present {
            let current = self.live_entries(&name)?;
            let mut ops = Vec::new();
            for m in &current {
                if !lifetimes.contains_key(&m.net) {
                    ops.push(Op::Del(m.net));
                    report.removed.push(m.net);
                }
            }
            let mut mine: Vec<(&IpNet, &Option<u64>)> = lifetimes
                .iter()
                .filter(|(n, _)| Family::of(n) == family)
                .collect();
            mine.sort_unstable();
            for (net, &seconds) in mine {
                let Some(m) = current.iter().find(|m| m.net == *net) else {
                    report.added.push(*net);
                    ops.push(Op::Add(*net, seconds));
                    continue;
                };
                // Within the slack of a clock that ticked since the list was made: the same.
                match (seconds, m.remaining) {
                    (None, None) => {}
                    (Some(s), Some(r)) if Duration::from_secs(s).abs_diff(r) <= SYNC_SLACK => {}
                    _ if ends_later(seconds, m.remaining) => {
                        report.extended.push(*net);
                        ops.push(Op::Add(*net, seconds));
                    }
                    _ => {
                        report.shortened.push(*net);
                        ops.push(Op::Add(*net, seconds));
                    }
                }
            }
            self.write(&name, &ops, &current)?;
        }
        Ok(report)
    }

    /// Removes `members` from the live dynamic set `set`; members not in it are fine.
    ///
    /// ```no_run
    /// fwdsl::Firewall::new().set_remove("banned", &["198.51.100.7/32".parse()?])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_remove(&self, set: &str, members: &[IpNet]) -> Result<(), Error> {
        self.validate(set, members, false)?;
        for (name, nets) in self.by_live_set(set, members)? {
            let current = self.live_entries(&name)?;
            let ops: Vec<Op> = nets
                .into_iter()
                .filter(|n| current.iter().any(|m| m.net == *n))
                .map(Op::Del)
                .collect();
            self.write(&name, &ops, &current)?;
        }
        Ok(())
    }

    /// The members of the live dynamic set `set`, IPv4 then IPv6, each sorted (a
    /// single address as a `/32` or `/128`).
    ///
    /// ```no_run
    /// for member in fwdsl::Firewall::new().set_members("banned")? {
    ///     println!("{member}");
    /// }
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn set_members(&self, set: &str) -> Result<Vec<IpNet>, Error> {
        Ok(self.set_entries(set)?.into_iter().map(|m| m.net).collect())
    }

    /// The members of the live dynamic set `set` with what remains of each one's
    /// lifetime, IPv4 then IPv6, each sorted.
    ///
    /// ```no_run
    /// for m in fwdsl::Firewall::new().set_entries("banned")? {
    ///     println!("{} {:?}", m.net, m.remaining);
    /// }
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn set_entries(&self, set: &str) -> Result<Vec<SetMember>, Error> {
        let present = self.dynamic_sets_present(set)?;
        if present.is_empty() {
            return Err(no_such_set(set, None));
        }
        let mut out = Vec::new();
        for (_, name) in present {
            let mut members = self.live_entries(&name)?;
            members.sort_unstable_by_key(|m| m.net);
            out.extend(members);
        }
        Ok(out)
    }

    /// What is checked before any member changes: a set name a policy can declare,
    /// members an ipset holds (no /0, no host bits), and (adding) no member that holds
    /// the client of this SSH session unless forced.
    fn validate(&self, set: &str, members: &[IpNet], adding: bool) -> Result<(), Error> {
        super::guard::check_permissions(self.namespaces_only)?;
        if let Some(zero) = members.iter().find(|m| m.prefix_len() == 0) {
            return Err(Error::SetChange {
                set: set.into(),
                problem: format!("`{zero}` is every address, which an ipset cannot hold (write a policy rule for it)"),
            });
        }
        // `1.2.3.4/8` is a typo for a host or for the network: banning `1.0.0.0/8`
        // silently would take 16 million addresses for one (the language refuses it too).
        if let Some(host_bits) = members.iter().find(|m| m.trunc() != **m) {
            return Err(Error::SetChange {
                set: set.into(),
                problem: format!(
                    "`{host_bits}` has host bits set: write the network `{}`, or `{}` for the single host",
                    host_bits.trunc(),
                    host_bits.addr()
                ),
            });
        }
        if adding && !self.force {
            for session in self.sessions(None)? {
                if let Some(member) = members.iter().find(|m| m.contains(&session.client())) {
                    return Err(Error::SetChange {
                        set: set.into(),
                        problem: format!("`{member}` holds the client of the SSH session {session}, which a ban would cut off (force to add it anyway)"),
                    });
                }
            }
        }
        Ok(())
    }

    /// `members` by the live set of their family; an error naming the family whose set
    /// is not there.
    fn by_live_set(
        &self,
        set: &str,
        members: &[IpNet],
    ) -> Result<Vec<(String, Vec<IpNet>)>, Error> {
        by_family(&self.dynamic_sets_present(set)?, set, members)
    }

    /// The members of one live set (`fwdsl-d4-banned`), as its backend lists them.
    fn live_entries(&self, name: &str) -> Result<Vec<SetMember>, Error> {
        if self.resolved_backend() == Backend::Nftables {
            return super::nft::dynamic::entries(&self.nft(), name);
        }
        let saved = exec::run_ok(IPSET, &["save", name], None, self.command_timeout)?;
        Ok(
            super::ipset::dynamic_members(&String::from_utf8_lossy(&saved.stdout))
                .into_iter()
                .flat_map(|(_, members)| members)
                .collect(),
        )
    }

    /// `ipset add NAME NET timeout N` of a member that is not there yet: `false` when it
    /// is there (ipset refuses to add it again), so the caller compares lifetimes.
    fn ipset_add_new(&self, name: &str, net: &IpNet, seconds: Option<u64>) -> Result<bool, Error> {
        let (net, timeout) = (net.to_string(), seconds.unwrap_or(0).to_string());
        let args = ["add", name, &net, "timeout", &timeout];
        let out = exec::run(IPSET, &args, None, self.command_timeout)?;
        if out.status.success() {
            return Ok(true);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("already added") {
            return Ok(false);
        }
        // Anything else is the error it is.
        exec::run_ok(IPSET, &args, None, self.command_timeout).map(|_| true)
    }

    /// Carries out `ops` on one live set in one batch (`ipset restore`, one nft
    /// transaction); `current` is what the set held when they were worked out.
    fn write(&self, name: &str, ops: &[Op], current: &[SetMember]) -> Result<(), Error> {
        if ops.is_empty() {
            return Ok(());
        }
        if self.resolved_backend() == Backend::Nftables {
            return super::nft::dynamic::write(&self.nft(), name, ops, current);
        }
        let lines: String = ops
            .iter()
            .map(|op| match op {
                Op::Add(net, seconds) => {
                    format!("add {name} {net} timeout {}\n", seconds.unwrap_or(0))
                }
                Op::Del(net) => format!("del {name} {net}\n"),
            })
            .collect();
        exec::run_ok(
            IPSET,
            &["restore", "-exist"],
            Some(lines.as_bytes()),
            self.command_timeout,
        )
        .map(|_| ())
    }

    /// The ipsets of dynamic set `set` that exist here, by family.
    fn dynamic_sets_present(&self, set: &str) -> Result<Vec<(Family, String)>, Error> {
        if set.is_empty()
            || set.len() > fwdsl_core::DYNAMIC_SET_NAME_MAX
            || !set
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(Error::SetChange {
                set: set.into(),
                problem: "no policy can declare a dynamic set of that name".into(),
            });
        }
        let existing = match self.resolved_backend() {
            Backend::Iptables => self.sets().existing()?,
            Backend::Nftables => self.nft().table()?.sets,
        };
        Ok([Family::V4, Family::V6]
            .into_iter()
            .map(|f| (f, dynamic_set_name(set, f)))
            .filter(|(_, name)| existing.contains(name))
            .collect())
    }
}

/// `members` by the set of their family among `present`; an error naming the family whose
/// set is not there.
fn by_family(
    present: &[(Family, String)],
    set: &str,
    members: &[IpNet],
) -> Result<Vec<(String, Vec<IpNet>)>, Error> {
    let mut by_set: Vec<(String, Vec<IpNet>)> = Vec::new();
    for member in members {
        let family = Family::of(member);
        let Some((_, name)) = present.iter().find(|(f, _)| *f == family) else {
            return Err(no_such_set(set, Some(family)));
        };
        match by_set.iter_mut().find(|(n, _)| n == name) {
            Some((_, nets)) => nets.push(*member),
            None => by_set.push((name.clone(), vec![*member])),
        }
    }
    Ok(by_set)
}

fn no_such_set(set: &str, family: Option<Family>) -> Error {
    let which = match family {
        Some(Family::V4) => " for IPv4",
        Some(Family::V6) => " for IPv6",
        None => "",
    };
    Error::SetChange {
        set: set.into(),
        problem: format!(
            "no live set holds it{which}: apply a policy that declares `set {set} dynamic;` and uses `${set}`{which} first"
        ),
    }
}

/// A member as `ipset save` prints it: a network, or an address (a host network).
pub(crate) fn parse_member(text: &str) -> Option<IpNet> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}
