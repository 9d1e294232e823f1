//! What brings saved rules back at boot: the exact commands a boot runs, which program
//! or unit of the host runs them, and fwdsl's own systemd oneshot unit.
//!
//! A boot fails closed. The commands first close the input chains (`-P INPUT DROP`,
//! which needs no file) and load the fail-closed state ([`fallback`](super::fallback):
//! the operator's SSH path and `drop all`), then the ipsets, then check every rules file
//! (`iptables-restore --test`, and that fwdsl's rules are in it) before loading any.
//! Run as a oneshot unit runs them, stopping at the first that fails, they leave the
//! host filtered whatever is wrong with the files: missing, truncated, empty, a set
//! missing. The failure shows in `systemctl status fwdsl-restore` and the journal.
//!
//! The distributions' loaders fail open: netfilter-persistent and iptables-services log a
//! file that does not load and go on, leaving that family unfiltered. fwdsl's unit is
//! ordered after them, so that it has the last word, and before the network comes up.

use super::save::SaveTarget;
use crate::error::Error;
use fwdsl_core::Family;
use std::path::{Path, PathBuf};

/// fwdsl's own unit.
pub(crate) const UNIT: &str = "fwdsl-restore.service";
/// Where an enabled unit's link goes (`WantedBy=multi-user.target`).
const WANTS: &str = "multi-user.target.wants";
/// Where distributions install their units.
const VENDOR_UNITS: [&str; 2] = ["/usr/lib/systemd/system", "/lib/systemd/system"];

/// How this host will load the saved files when it boots.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Boot {
    /// fwdsl's own unit (installed by [`Firewall::persist_at_boot`](crate::Firewall::persist_at_boot))
    /// runs [`SaveReport::boot_commands`](crate::SaveReport::boot_commands), after any
    /// distribution loader, and fails closed.
    FwdslUnit(PathBuf),
    /// Debian's and Ubuntu's `netfilter-persistent` (package `iptables-persistent`) is
    /// enabled; `ipsets` says whether its ipset plugin (package `ipset-persistent`) is
    /// installed too. It fails open: a file that does not load is logged, and that
    /// family stays unfiltered.
    NetfilterPersistent {
        /// Whether the saved ipsets are loaded too.
        ipsets: bool,
    },
    /// RHEL's `iptables.service` and `ip6tables.service` (package `iptables-services`)
    /// are enabled; `ipsets` says whether `ipset.service` (package `ipset-service`) is.
    /// They fail open, as netfilter-persistent does.
    IptablesServices {
        /// Whether the saved ipsets are loaded too.
        ipsets: bool,
    },
    /// Nothing loads these files at boot: [`Firewall::persist_at_boot`](crate::Firewall::persist_at_boot)
    /// installs a unit that does.
    Nothing,
}

impl Boot {
    /// Whether the boot loads everything that was saved (`ipsets`: whether sets were).
    pub fn loads_everything(&self, ipsets: bool) -> bool {
        match self {
            Boot::FwdslUnit(_) => true,
            Boot::NetfilterPersistent { ipsets: loaded }
            | Boot::IptablesServices { ipsets: loaded } => *loaded || !ipsets,
            Boot::Nothing => false,
        }
    }

    /// Whether a boot with a bad saved file (missing, truncated, a set missing) leaves
    /// the host filtered: only fwdsl's unit does; the distributions' loaders log the
    /// failure and go on with that family unfiltered.
    pub fn fails_closed(&self) -> bool {
        matches!(self, Boot::FwdslUnit(_))
    }
}

impl std::fmt::Display for Boot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Boot::FwdslUnit(unit) => {
                write!(f, "at boot, fwdsl's unit {} loads them", unit.display())
            }
            Boot::NetfilterPersistent { ipsets } => write!(
                f,
                "at boot, netfilter-persistent loads them{}, but leaves the host OPEN if a file does not load: Firewall::persist_at_boot adds fwdsl's unit, which fails closed",
                if *ipsets {
                    ", ipsets included"
                } else {
                    " (not the ipsets: install ipset-persistent)"
                }
            ),
            Boot::IptablesServices { ipsets } => write!(
                f,
                "at boot, iptables.service and ip6tables.service load them{}, but leave the host OPEN if a file does not load: Firewall::persist_at_boot adds fwdsl's unit, which fails closed",
                if *ipsets {
                    ", and ipset.service the ipsets"
                } else {
                    " (not the ipsets: enable ipset.service)"
                }
            ),
            Boot::Nothing => write!(
                f,
                "NOTHING loads them at boot: Firewall::persist_at_boot installs a unit that does"
            ),
        }
    }
}

fn restore_program(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables-restore",
        Family::V6 => "ip6tables-restore",
    }
}

fn program(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

fn words(words: &[&str], path: &Path) -> Vec<String> {
    words
        .iter()
        .map(|w| w.to_string())
        .chain([path.display().to_string()])
        .collect()
}

/// What a boot finds of fwdsl in the saved files: the families whose rules carry fwdsl's
/// hook (checked again at boot: an empty or foreign file then fails the unit).
pub(crate) fn fwdsl_saved(target: &SaveTarget, families: &[Family]) -> Vec<Family> {
    families
        .iter()
        .copied()
        .filter(|&f| std::fs::read_to_string(target.path(f)).is_ok_and(|t| t.contains(HOOK_MARK)))
        .collect()
}

/// What fwdsl's hook rule has in its comment, for `grep -F`.
const HOOK_MARK: &str = "fwdsl:hook";

/// The commands a boot runs, in order, stopping at the first that fails: close the
/// input chains, load the fail-closed state, the ipsets, check every rules file (that it
/// loads, and that fwdsl's rules are in it where they were saved), then load them.
pub(crate) fn commands(
    target: &SaveTarget,
    families: &[Family],
    ipsets: bool,
    fwdsl_saved: &[Family],
) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for &f in families {
        out.push(
            [program(f), "-w", "-P", "INPUT", "DROP"]
                .map(String::from)
                .to_vec(),
        );
    }
    for &f in families {
        out.push(words(&[restore_program(f)], &target.fallback(f)));
    }
    if ipsets {
        out.push(words(
            &["ipset", "restore", "-exist", "-file"],
            &target.ipsets,
        ));
    }
    for &f in families {
        out.push(words(&[restore_program(f), "--test"], target.path(f)));
    }
    for &f in fwdsl_saved {
        out.push(words(
            &["grep", "-q", "-F", "-e", HOOK_MARK],
            target.path(f),
        ));
    }
    for &f in families {
        out.push(words(&[restore_program(f)], target.path(f)));
    }
    // Last: the bans brought to their true ends (only ever shorter).
    if ipsets && target.expiries().exists() {
        out.push(super::expiry::command(
            &target.expiries(),
            super::Backend::Iptables,
        ));
    }
    out
}

/// One word of an `ExecStart=` line: in double quotes where it holds a space or a
/// semicolon (a lone `;` would end the command), `%` and `$` doubled (a specifier and a
/// variable otherwise).
fn quoted(word: &str) -> String {
    // `$` too: systemd would expand `$1` as a variable.
    let word = word.replace('%', "%%").replace('$', "$$");
    match word.contains([' ', ';', '"', '\\', '\'']) {
        true => format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\"")),
        false => word,
    }
}

/// Where `program` is on PATH (systemd wants absolute paths).
fn absolute(program: &str) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .map_or_else(
            || format!("/usr/sbin/{program}"),
            |p| p.display().to_string(),
        )
}

/// fwdsl's unit: exactly the boot commands, before the network comes up and after the
/// distributions' own loaders. (A failure does not hold the network back: the host is
/// filtered by then, and SSH is how an operator repairs it.)
pub(crate) fn unit_text(commands: &[Vec<String>]) -> String {
    let mut text = String::from(
        "# Written by fwdsl (Firewall::persist_at_boot); removed by Firewall::uninstall.\n\
         [Unit]\n\
         Description=fwdsl: load the saved ipsets and firewall rules, or fail closed\n\
         DefaultDependencies=no\n\
         Wants=network-pre.target\n\
         Before=network-pre.target shutdown.target\n\
         After=systemd-modules-load.service local-fs.target\n\
         After=netfilter-persistent.service iptables.service ip6tables.service ipset.service nftables.service\n\
         Conflicts=shutdown.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n",
    );
    for command in commands {
        let mut words = command.iter();
        let program = absolute(words.next().expect("a program"));
        let args: Vec<String> = words.map(|w| quoted(w)).collect();
        text.push_str(&format!("ExecStart={program} {}\n", args.join(" ")));
    }
    text.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    text
}

fn enabled(systemd_dir: &Path, unit: &str) -> bool {
    [
        "multi-user.target.wants",
        "sysinit.target.wants",
        "basic.target.wants",
    ]
    .iter()
    .any(|wants| std::fs::symlink_metadata(systemd_dir.join(wants).join(unit)).is_ok())
}

fn vendor_has(path: &str) -> bool {
    VENDOR_UNITS
        .iter()
        .any(|dir| Path::new(dir).join(path).exists())
}

/// Which of the host's loaders will load `target`'s files at boot.
pub(crate) fn detect(systemd_dir: &Path, target: &SaveTarget, commands: &[Vec<String>]) -> Boot {
    let ours = systemd_dir.join(UNIT);
    if enabled(systemd_dir, UNIT)
        && std::fs::read_to_string(&ours).is_ok_and(|text| text == unit_text(commands))
    {
        return Boot::FwdslUnit(ours);
    }
    if *target == SaveTarget::debian() && enabled(systemd_dir, "netfilter-persistent.service") {
        return Boot::NetfilterPersistent {
            ipsets: Path::new("/usr/share/netfilter-persistent/plugins.d/10-ipset").exists(),
        };
    }
    if *target == SaveTarget::rhel()
        && enabled(systemd_dir, "iptables.service")
        && vendor_has("iptables.service")
    {
        return Boot::IptablesServices {
            ipsets: enabled(systemd_dir, "ipset.service"),
        };
    }
    Boot::Nothing
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Installs and enables fwdsl's unit running `commands` (as `systemctl enable` would:
/// the unit file and its link in `multi-user.target.wants`). Rewrites nothing that is
/// already right.
pub(crate) fn install(systemd_dir: &Path, commands: &[Vec<String>]) -> Result<PathBuf, Error> {
    let unit = systemd_dir.join(UNIT);
    let text = unit_text(commands);
    if std::fs::read_to_string(&unit).ok().as_deref() != Some(text.as_str()) {
        let file = super::files::NewFile {
            path: unit.clone(),
            contents: text.into_bytes(),
            back_up: false,
        };
        super::files::write_all(&[file], 0o644, &super::save::today())?;
    }
    let wants = systemd_dir.join(WANTS);
    std::fs::create_dir_all(&wants).map_err(io(&wants))?;
    let link = wants.join(UNIT);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(&unit, &link).map_err(io(&link))?;
    }
    reload(systemd_dir);
    Ok(unit)
}

/// Removes fwdsl's unit and its link; `true` if there was one.
pub(crate) fn remove(systemd_dir: &Path) -> Result<bool, Error> {
    let link = systemd_dir.join(WANTS).join(UNIT);
    let unit = systemd_dir.join(UNIT);
    let mut removed = false;
    for path in [link, unit] {
        match std::fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    if removed {
        reload(systemd_dir);
    }
    Ok(removed)
}

/// Tells a running systemd about a changed unit in its own directory.
fn reload(systemd_dir: &Path) {
    if systemd_dir == Path::new("/etc/systemd/system") && Path::new("/run/systemd/system").exists()
    {
        let _ = std::process::Command::new("systemctl")
            .arg("daemon-reload")
            .status();
    }
}
