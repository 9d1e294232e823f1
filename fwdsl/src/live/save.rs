//! Saving the running rules where the distribution's boot scripts load them from, after
//! a dated backup of the previous file, as the reference guide does by hand
//! (`cp /etc/sysconfig/iptables{,.bak-$(date +%F)}`, `iptables-save > …`): every table
//! `iptables-save` prints (NAT included), and the ipsets the rules use.

use super::boot::{self, Boot};
use super::fallback;
use super::files::NewFile;
use super::ipset::{self, Sets};
use super::runner::Runner;
use super::Backend;
use crate::error::Error;
use fwdsl_core::Family;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where to save each family's rules, and the ipsets they use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveTarget {
    /// The IPv4 rules file.
    pub v4: PathBuf,
    /// The IPv6 rules file.
    pub v6: PathBuf,
    /// The ipsets file (`ipset save` output), written when the rules use sets.
    pub ipsets: PathBuf,
    /// fwdsl's nftables table (`nft -s list table inet fwdsl`), on the nftables backend.
    pub nft: PathBuf,
}

impl SaveTarget {
    /// Debian's and Ubuntu's iptables-persistent files (`/etc/iptables/rules.v4`,
    /// `rules.v6`), and `/etc/iptables/ipsets`, where ipset-persistent loads sets from;
    /// on nftables, `/etc/fwdsl/fwdsl.nft` (fwdsl's unit loads it).
    pub fn debian() -> SaveTarget {
        SaveTarget {
            v4: "/etc/iptables/rules.v4".into(),
            v6: "/etc/iptables/rules.v6".into(),
            ipsets: "/etc/iptables/ipsets".into(),
            nft: "/etc/fwdsl/fwdsl.nft".into(),
        }
    }

    /// RHEL's iptables-services files (`/etc/sysconfig/iptables`, `ip6tables`), and
    /// `/etc/sysconfig/ipset`, where ipset-service loads sets from.
    pub fn rhel() -> SaveTarget {
        SaveTarget {
            v4: "/etc/sysconfig/iptables".into(),
            v6: "/etc/sysconfig/ip6tables".into(),
            ipsets: "/etc/sysconfig/ipset".into(),
            nft: "/etc/fwdsl/fwdsl.nft".into(),
        }
    }

    /// The files of the distribution this runs on: RHEL's where `/etc/redhat-release`
    /// exists, Debian's otherwise.
    pub fn detect() -> SaveTarget {
        if Path::new("/etc/redhat-release").exists() {
            SaveTarget::rhel()
        } else {
            SaveTarget::debian()
        }
    }

    /// The files in one directory (`rules.v4`, `rules.v6`, `ipsets`, `fwdsl.nft`).
    pub fn in_dir(dir: impl AsRef<Path>) -> SaveTarget {
        SaveTarget {
            v4: dir.as_ref().join("rules.v4"),
            v6: dir.as_ref().join("rules.v6"),
            ipsets: dir.as_ref().join("ipsets"),
            nft: dir.as_ref().join("fwdsl.nft"),
        }
    }

    pub(crate) fn path(&self, family: Family) -> &Path {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    /// The fail-closed state a boot loads before the rules, beside the family's rules
    /// file (`fwdsl-fallback.v4`, `fwdsl-fallback.v6`): the operator's SSH path and
    /// `drop all`, which a save writes with the rules.
    pub fn fallback(&self, family: Family) -> PathBuf {
        let name = match family {
            Family::V4 => "fwdsl-fallback.v4",
            Family::V6 => "fwdsl-fallback.v6",
        };
        self.path(family)
            .parent()
            .unwrap_or(Path::new("/"))
            .join(name)
    }

    /// Each dynamic set member's end as a Unix time, beside fwdsl's table file
    /// (`fwdsl-bans.expiry`), which a boot uses to give members only what is left of
    /// their lifetimes.
    pub fn expiries(&self) -> PathBuf {
        self.nft
            .parent()
            .unwrap_or(Path::new("/"))
            .join("fwdsl-bans.expiry")
    }

    /// The fail-closed state of the nftables backend, beside its table's file
    /// (`fwdsl-fallback.nft`, libnftables JSON).
    pub fn nft_fallback(&self) -> PathBuf {
        self.nft
            .parent()
            .unwrap_or(Path::new("/"))
            .join("fwdsl-fallback.nft")
    }
}

/// What a save wrote, and how the host will load it at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveReport {
    /// The backend whose rules were saved.
    pub backend: Backend,
    /// The files written: rules per family, the ipsets file if the rules use sets, then
    /// the fail-closed state per family ([`SaveTarget::fallback`]).
    pub written: Vec<PathBuf>,
    /// The backups made of the files they replaced.
    pub backups: Vec<PathBuf>,
    /// Who loads the files at boot.
    pub boot: Boot,
    /// Whether the rules use ipsets (saved to [`SaveTarget::ipsets`]).
    pub ipsets: bool,
    /// The access path the fail-closed state keeps open (`ssh 22`), as the live input
    /// generation notes it (the default, `ssh 22`, where none does).
    pub fallback_access: String,
    commands: Vec<Vec<String>>,
}

impl SaveReport {
    pub(crate) fn new(
        backend: Backend,
        written: Vec<PathBuf>,
        backups: Vec<PathBuf>,
        boot: Boot,
        ipsets: bool,
        fallback_access: String,
        commands: Vec<Vec<String>>,
    ) -> SaveReport {
        SaveReport {
            backend,
            written,
            backups,
            boot,
            ipsets,
            fallback_access,
            commands,
        }
    }

    /// The exact commands a boot runs to bring these rules back, in order, each as a
    /// program and its arguments, stopping at the first that fails: `iptables -w -P
    /// INPUT DROP` per family, the fail-closed state (`iptables-restore
    /// fwdsl-fallback.v4`, …), `ipset restore -exist -file IPSETS` (when the rules use
    /// sets), every rules file checked (`iptables-restore --test`, and `grep -q -F -e
    /// fwdsl:hook` where fwdsl's rules were saved), then `iptables-restore RULES.V4` and
    /// `ip6tables-restore RULES.V6`. Whatever is wrong with the files, the host ends
    /// filtered. fwdsl's boot unit runs exactly these; a test can replay them in a
    /// fresh network namespace.
    pub fn boot_commands(&self) -> &[Vec<String>] {
        &self.commands
    }
}

/// Today's date as `YYYY-MM-DD` (UTC), what `date +%F` gives.
pub(crate) fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    civil_date(days)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Writes the running rules of every table (and the sets they use) to `target`, with
/// the fail-closed state a boot loads first.
pub(crate) fn save(
    runners: &[Runner],
    sets: &Sets,
    target: &SaveTarget,
    systemd_dir: &Path,
) -> Result<SaveReport, Error> {
    let mut files = Vec::new();
    let mut used = BTreeSet::new();
    let mut access = None;
    for runner in runners {
        let rules = runner.save()?;
        used.extend(rules.lines().flat_map(ipset::referenced_any));
        access = access.or_else(|| fallback::access_in(&rules));
        files.push(NewFile::kept(
            target.path(runner.family).to_path_buf(),
            rules.into_bytes(),
        ));
    }
    let ipsets = !used.is_empty();
    let mut dynamic = Vec::new();
    if ipsets {
        let names: Vec<String> = used.into_iter().collect();
        let saved = sets.save(&names)?;
        dynamic = ipset::dynamic_members(&saved);
        files.push(NewFile::kept(target.ipsets.clone(), saved.into_bytes()));
    }
    if let Some(file) = super::expiry::file(target, &dynamic) {
        files.push(file);
    }
    let closed = fallback::policy(access.as_deref());
    for runner in runners {
        let text = fallback::table_text(&closed, runner.family);
        files.push(NewFile {
            path: target.fallback(runner.family),
            contents: text.into_bytes(),
            back_up: false,
        });
    }
    // Rules files say what a host lets in: readable by root only, unless the file
    // being replaced said otherwise.
    let backups = super::files::write_all(&files, 0o600, &today())?;
    let families: Vec<Family> = runners.iter().map(|r| r.family).collect();
    let commands = boot::commands(
        target,
        &families,
        ipsets,
        &boot::fwdsl_saved(target, &families),
    );
    // fwdsl's own unit follows what is saved (sets now used, say).
    if systemd_dir.join(boot::UNIT).exists() {
        boot::install(systemd_dir, &commands)?;
    }
    Ok(SaveReport {
        backend: Backend::Iptables,
        written: files.into_iter().map(|f| f.path).collect(),
        backups,
        boot: boot::detect(systemd_dir, target, &commands),
        ipsets,
        fallback_access: closed.access().to_string(),
        commands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_date_f() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_782), "2026-11-25");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
