//! Dynamic sets (`set banned dynamic;`): members added and removed while the policy
//! runs, without an apply, as fail2ban-like tools ban addresses minute by minute.
//!
//! Each change is one `ipset` call (one member) or one `ipset restore` batch (many,
//! both families in it), or on nftables one `nft` batch per family, after checking everything it can before changing anything:
//! the name, each member, and that the sets exist (a policy using them was applied).
//! These calls take no lock: each ipset command is atomic in the kernel, an apply
//! never changes a dynamic set's members, and a set an apply removes meanwhile makes
//! the change fail as if it had come after.

use super::exec;
use super::{Backend, Firewall};
use crate::error::Error;
use crate::render::dynamic_set_name;
use fwdsl_core::Family;
use ipnet::IpNet;

const IPSET: &str = "ipset";

/// What a change does to each member.
#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
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
        self.change_set(set, members, Change::Add)
    }

    /// Removes `members` from the live dynamic set `set`; members not in it are fine.
    ///
    /// ```no_run
    /// fwdsl::Firewall::new().set_remove("banned", &["198.51.100.7/32".parse()?])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_remove(&self, set: &str, members: &[IpNet]) -> Result<(), Error> {
        self.change_set(set, members, Change::Remove)
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
        let present = self.dynamic_sets_present(set)?;
        if present.is_empty() {
            return Err(no_such_set(set, None));
        }
        let mut out = Vec::new();
        for (_, name) in present {
            if self.resolved_backend() == Backend::Nftables {
                out.extend(super::nft::dynamic::members(&self.nft(), &name)?);
                continue;
            }
            let saved = exec::run_ok(IPSET, &["save", &name], None, self.command_timeout)?;
            let mut members: Vec<IpNet> = String::from_utf8_lossy(&saved.stdout)
                .lines()
                .filter_map(|line| line.strip_prefix("add ")?.split(' ').nth(1))
                .filter_map(parse_member)
                .collect();
            members.sort_unstable();
            out.extend(members);
        }
        Ok(out)
    }

    fn change_set(&self, set: &str, members: &[IpNet], change: Change) -> Result<(), Error> {
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
        if let (Change::Add, false) = (change, self.force) {
            for session in self.sessions(None)? {
                if let Some(member) = members.iter().find(|m| m.contains(&session.client())) {
                    return Err(Error::SetChange {
                        set: set.into(),
                        problem: format!("`{member}` holds the client of the SSH session {session}, which a ban would cut off (force to add it anyway)"),
                    });
                }
            }
        }
        let present = self.dynamic_sets_present(set)?;
        let mut by_set: Vec<(&str, Vec<IpNet>)> = Vec::new();
        for member in members {
            let family = Family::of(member);
            let Some((_, name)) = present.iter().find(|(f, _)| *f == family) else {
                return Err(no_such_set(set, Some(family)));
            };
            match by_set.iter_mut().find(|(n, _)| n == name) {
                Some((_, nets)) => nets.push(*member),
                None => by_set.push((name, vec![*member])),
            }
        }
        if self.resolved_backend() == Backend::Nftables {
            let nft = self.nft();
            for (name, nets) in by_set {
                match change {
                    Change::Add => super::nft::dynamic::add(&nft, name, &nets)?,
                    Change::Remove => super::nft::dynamic::remove(&nft, name, &nets)?,
                }
            }
            return Ok(());
        }
        let verb = match change {
            Change::Add => "add",
            Change::Remove => "del",
        };
        let lines: Vec<String> = by_set
            .iter()
            .flat_map(|(name, nets)| nets.iter().map(move |m| format!("{verb} {name} {m}")))
            .collect();
        match &lines[..] {
            [] => Ok(()),
            // One member: one plain command, the cheapest way there is.
            [one] => {
                let mut args: Vec<&str> = one.split(' ').collect();
                args.push("-exist");
                exec::run_ok(IPSET, &args, None, self.command_timeout).map(|_| ())
            }
            _ => exec::run_ok(
                IPSET,
                &["restore", "-exist"],
                Some((lines.join("\n") + "\n").as_bytes()),
                self.command_timeout,
            )
            .map(|_| ()),
        }
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
fn parse_member(text: &str) -> Option<IpNet> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}
