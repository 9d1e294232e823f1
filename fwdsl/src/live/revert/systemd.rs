//! The revert agent where systemd runs: a transient timer and oneshot service made
//! with `systemd-run`, in the system manager, so neither the end of the SSH session
//! (logind's `KillUserProcesses=yes` ends everything in its cgroup) nor the applying
//! process's death takes it along. The service enters the applying thread's network
//! namespace (`NetworkNamespacePath=`, for a namespace `ip netns` named), takes the
//! namespace's lock with `flock(1)` and runs the same claim-and-revert as the watchdog
//! process.
//!
//! Used where `/run/systemd/system` exists (systemd is PID 1), `systemd-run` runs, and
//! the namespace has a path systemd can enter; anywhere else the watchdog process is.

use super::{Agent, CLAIM};
use crate::error::Error;
use crate::live::exec;
use crate::live::lock::NsLock;
use crate::live::state::{NsKey, StateDir};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SYSTEMD_RUN: &str = "systemd-run";
const SYSTEMCTL: &str = "systemctl";

/// How long a systemctl call may take.
const CALL: Duration = Duration::from_secs(30);

/// Whether `unit` is a name fwdsl gives (read back from a token).
pub(super) fn valid_unit(unit: &str) -> bool {
    unit.strip_prefix("fwdsl-revert-").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '-')
    })
}

/// The agent's script: opens the lock and the revert, takes the lock (the apply that
/// armed it may still hold it for a moment, another operation briefly), then claims
/// and reverts.
fn agent_script() -> String {
    format!(
        "lock=$3\nexec 3<>\"$lock\" 4<\"$2/revert.sh\" || exit 1\nflock -w 60 3 || exit 1\n{CLAIM}"
    )
}

/// The transient units of one window: what `systemd-run` is told, property by
/// property, so that the same properties can be checked as unit files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Transient {
    /// The unit name (without `.timer` or `.service`).
    pub unit: String,
    /// When the timer fires, after it is started.
    pub window: Duration,
    /// The network namespace the service enters (`None`: the machine's own).
    pub netns: Option<PathBuf>,
    /// The service's command line.
    pub exec: Vec<String>,
}

impl Transient {
    const DESCRIPTION: &'static str =
        "fwdsl: revert an unconfirmed apply unless it is confirmed in time";

    /// The timer's properties.
    pub(super) fn timer_properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OnActiveSec", format!("{}ms", self.window.as_millis())),
            ("AccuracySec", "100ms".into()),
            ("RemainAfterElapse", "no".into()),
        ]
    }

    /// The service's properties (its command line aside).
    pub(super) fn service_properties(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("Type", "oneshot".to_string())];
        if let Some(netns) = &self.netns {
            out.push(("NetworkNamespacePath", netns.display().to_string()));
        }
        out
    }

    /// `systemd-run` and its arguments.
    pub(super) fn command_line(&self) -> Vec<String> {
        let mut args = vec![
            SYSTEMD_RUN.to_string(),
            format!("--unit={}", self.unit),
            format!("--description={}", Self::DESCRIPTION),
        ];
        for (key, value) in self.timer_properties() {
            args.push(format!("--timer-property={key}={value}"));
        }
        for (key, value) in self.service_properties() {
            args.push(format!("--property={key}={value}"));
        }
        args.push("--".into());
        args.extend(self.exec.iter().cloned());
        args
    }

    /// The same units as files, for `systemd-analyze verify`.
    #[cfg(test)]
    pub(super) fn unit_files(&self) -> (String, String) {
        let section = |name: &str, props: Vec<(&str, String)>| {
            let mut text = format!("[Unit]\nDescription={}\n\n[{name}]\n", Self::DESCRIPTION);
            for (key, value) in props {
                text.push_str(&format!("{key}={value}\n"));
            }
            text
        };
        let mut service = section("Service", self.service_properties());
        service.push_str(&format!("ExecStart={}\n", self.exec.join(" ")));
        (section("Timer", self.timer_properties()), service)
    }
}

/// Where systemd can enter the calling thread's network namespace: `Some(None)` for
/// the machine's own, `Some(path)` for one `ip netns` named; `None` where systemd does
/// not run or cannot enter it (the watchdog process serves then).
pub(super) fn netns_path() -> Option<Option<PathBuf>> {
    if !Path::new("/run/systemd/system").is_dir() {
        return None;
    }
    let here = crate::live::guard::namespace_id()?;
    let init = std::fs::metadata("/proc/1/ns/net").ok()?;
    use std::os::unix::fs::MetadataExt;
    if init.ino() == here {
        return Some(None);
    }
    std::fs::read_dir("/run/netns")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.ino() == here))
        .map(Some)
}

/// Starts the transient units of window `id` of namespace `ns`.
pub(super) fn start(
    state: &StateDir,
    ns: NsKey,
    id: &str,
    work: &Path,
    token: &Path,
    window: Duration,
    netns: Option<PathBuf>,
) -> Result<Agent, Error> {
    let script = work.join("agent.sh");
    state.create(&script, agent_script().as_bytes())?;
    let transient = Transient {
        unit: format!("fwdsl-revert-{ns}-{id}"),
        window,
        netns,
        exec: vec![
            "/bin/sh".into(),
            script.display().to_string(),
            token.display().to_string(),
            work.display().to_string(),
            NsLock::path(state, ns).display().to_string(),
        ],
    };
    let line = transient.command_line();
    let args: Vec<&str> = line[1..].iter().map(String::as_str).collect();
    exec::run_ok(SYSTEMD_RUN, &args, None, CALL)?;
    Ok(Agent::Systemd {
        unit: transient.unit,
    })
}

fn active(unit: &str) -> bool {
    exec::run(
        SYSTEMCTL,
        &[
            "is-active",
            "--quiet",
            &format!("{unit}.timer"),
            &format!("{unit}.service"),
        ],
        None,
        CALL,
    )
    .is_ok_and(|out| out.status.success())
}

/// Whether the timer is still waiting or the service running.
pub(super) fn alive(unit: &str) -> bool {
    active(unit)
}

/// Stops both units; whether they are gone.
pub(super) fn end(unit: &str) -> bool {
    let _ = exec::run(
        SYSTEMCTL,
        &["stop", &format!("{unit}.timer"), &format!("{unit}.service")],
        None,
        CALL,
    );
    !active(unit)
}

/// Waits (at most a minute) until an agent that claimed its token has reverted.
pub(super) fn wait_done(agent: &Agent) {
    if let Agent::Systemd { unit } = agent {
        let since = Instant::now();
        while active(unit) && since.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> Transient {
        Transient {
            unit: "fwdsl-revert-4026532000-4242-1700000000000".into(),
            window: Duration::from_millis(30_500),
            netns: Some("/run/netns/web".into()),
            exec: vec![
                "/bin/sh".into(),
                "/run/fwdsl/ns-4026532000.4242-1700000000000/agent.sh".into(),
                "/run/fwdsl/ns-4026532000.pending".into(),
                "/run/fwdsl/ns-4026532000.4242-1700000000000".into(),
                "/run/fwdsl/ns-4026532000.lock".into(),
            ],
        }
    }

    #[test]
    fn the_command_line_of_the_transient_units() {
        let line = transient().command_line();
        assert_eq!(
            line,
            [
                "systemd-run",
                "--unit=fwdsl-revert-4026532000-4242-1700000000000",
                "--description=fwdsl: revert an unconfirmed apply unless it is confirmed in time",
                "--timer-property=OnActiveSec=30500ms",
                "--timer-property=AccuracySec=100ms",
                "--timer-property=RemainAfterElapse=no",
                "--property=Type=oneshot",
                "--property=NetworkNamespacePath=/run/netns/web",
                "--",
                "/bin/sh",
                "/run/fwdsl/ns-4026532000.4242-1700000000000/agent.sh",
                "/run/fwdsl/ns-4026532000.pending",
                "/run/fwdsl/ns-4026532000.4242-1700000000000",
                "/run/fwdsl/ns-4026532000.lock",
            ]
        );
        // The machine's own namespace needs no path.
        let own = Transient {
            netns: None,
            ..transient()
        };
        assert!(!own
            .command_line()
            .iter()
            .any(|a| a.contains("NetworkNamespacePath")));
        assert!(valid_unit(&transient().unit));
        assert!(!valid_unit("fwdsl-revert-../x") && !valid_unit("sshd"));
    }

    /// `systemd-analyze verify` on the same properties written as unit files: every key
    /// known, the command absolute. (Needs systemd's tools, not systemd as PID 1.)
    #[test]
    fn the_transient_units_verify() {
        if std::process::Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var("CI").is_err(),
                "CI is set: systemd-analyze (package systemd) must be installed"
            );
            eprintln!("skipping: systemd-analyze is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (timer, service) = transient().unit_files();
        let unit = &transient().unit;
        let timer_path = dir.path().join(format!("{unit}.timer"));
        let service_path = dir.path().join(format!("{unit}.service"));
        std::fs::write(&timer_path, timer).unwrap();
        std::fs::write(&service_path, service).unwrap();
        let out = std::process::Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&timer_path)
            .arg(&service_path)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        // It warns (without failing) about what it does not know, and about the
        // paths that do not exist here.
        let problems: Vec<&str> = said
            .lines()
            .filter(|l| !l.contains("not found") && !l.contains("No such file"))
            .collect();
        assert!(out.status.success() && problems.is_empty(), "{said}");
    }

    #[test]
    fn the_agent_script_takes_the_lock_and_claims() {
        let script = agent_script();
        assert!(script.starts_with("lock=$3\nexec 3<>\"$lock\" 4<\"$2/revert.sh\" || exit 1\nflock -w 60 3 || exit 1\ntoken=$1 work=$2\n"), "{script}");
    }
}
