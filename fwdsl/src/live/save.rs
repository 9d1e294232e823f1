//! Saving the running rules where the distribution's boot scripts load them from, after
//! a dated backup of the previous file, as the reference guide does by hand
//! (`cp /etc/sysconfig/iptables{,.bak-$(date +%F)}`, `iptables-save > …`).

use super::runner::Runner;
use crate::error::Error;
use fwdsl_core::Family;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where to save each family's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveTarget {
    /// The IPv4 rules file.
    pub v4: PathBuf,
    /// The IPv6 rules file.
    pub v6: PathBuf,
}

impl SaveTarget {
    /// Debian's iptables-persistent files (`/etc/iptables/rules.v4`, `rules.v6`).
    pub fn debian() -> SaveTarget {
        SaveTarget {
            v4: "/etc/iptables/rules.v4".into(),
            v6: "/etc/iptables/rules.v6".into(),
        }
    }

    /// RHEL's iptables-services files (`/etc/sysconfig/iptables`, `ip6tables`).
    pub fn rhel() -> SaveTarget {
        SaveTarget {
            v4: "/etc/sysconfig/iptables".into(),
            v6: "/etc/sysconfig/ip6tables".into(),
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

    /// Both files in one directory (`rules.v4`, `rules.v6`).
    pub fn in_dir(dir: impl AsRef<Path>) -> SaveTarget {
        SaveTarget {
            v4: dir.as_ref().join("rules.v4"),
            v6: dir.as_ref().join("rules.v6"),
        }
    }

    fn path(&self, family: Family) -> &Path {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
}

/// What a save wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveReport {
    /// The rules files written.
    pub written: Vec<PathBuf>,
    /// The backups made of the files they replaced.
    pub backups: Vec<PathBuf>,
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

/// The first backup name not taken yet: `file.bak-DATE`, then `file.bak-DATE.1`, …
pub(crate) fn backup_path(file: &Path, date: &str) -> PathBuf {
    let base = format!("{}.bak-{date}", file.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn save(runners: &[Runner], target: &SaveTarget) -> Result<SaveReport, Error> {
    let mut report = SaveReport {
        written: Vec::new(),
        backups: Vec::new(),
    };
    let date = today();
    for runner in runners {
        let rules = runner.save()?;
        let path = target.path(runner.family);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        if path.exists() {
            let backup = backup_path(path, &date);
            std::fs::copy(path, &backup).map_err(io(&backup))?;
            report.backups.push(backup);
        }
        // Write beside, then rename: a crash never leaves a half-written rules file.
        let temporary = path.with_extension("fwdsl-tmp");
        std::fs::write(&temporary, rules).map_err(io(&temporary))?;
        std::fs::rename(&temporary, path).map_err(io(path))?;
        report.written.push(path.to_path_buf());
    }
    Ok(report)
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

    #[test]
    fn never_reuses_a_backup_name() {
        let dir = std::env::temp_dir().join(format!("fwdsl-backup-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rules.v4");
        let first = backup_path(&file, "2026-11-25");
        assert_eq!(first, dir.join("rules.v4.bak-2026-11-25"));
        std::fs::write(&first, "old").unwrap();
        assert_eq!(
            backup_path(&file, "2026-11-25"),
            dir.join("rules.v4.bak-2026-11-25.1")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
