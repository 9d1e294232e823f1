//! The revert of an unconfirmed apply, done by an agent of its own: it outlives the
//! process that applied (killed, crashed, or a provisioning run that returned and an
//! SSH session that ended) and puts the previous rules back unless a confirmation
//! cancels it in time, as `iptables-apply` does across the network.
//!
//! The agent is, where systemd runs, a transient timer and service (`systemd-run`,
//! [`systemd`]): outside the SSH session's cgroup, so logind's `KillUserProcesses=yes`
//! does not end it with the session. Elsewhere it is fwdsl's watchdog process
//! ([`process`]), in a session of its own. Before the new rules go live the applying
//! process writes, in the state directory:
//!
//! ```text
//! ns-<inode>.pending           the token: the window's id, its end, and the agent
//! ns-<inode>.<id>/revert.sh    the revert, self-contained (the restore texts inline)
//! ```
//!
//! At the end of the window the agent takes the namespace's lock and claims the token
//! by renaming it into its directory, then reverts and leaves `ns-<inode>.reverted`
//! (so that a confirmation that comes too late says so once), or, should the revert
//! fail, `ns-<inode>.revert-failed` with what it said: its rules are then still live,
//! which status, confirm and every operation treat as a lost revert. A confirmation renames
//! the token first and ends the agent. `rename(2)` is atomic: exactly one of the two
//! wins. An agent that finds the token neither claimed by it nor confirmed (deleted)
//! reverts all the same: a lost confirmation costs a re-apply, a lost revert can cost
//! the host. The watchdog process reads its revert from a descriptor it holds since it
//! started, so even a deleted `revert.sh` is carried out.
//!
//! An agent that is gone while its token is pending (killed, its timer stopped) is a
//! lost revert: [`Firewall::confirm`](crate::Firewall::confirm) says so, status says so,
//! and every other operation refuses ([`Error::RevertLost`]) until a confirmation
//! settles it.

mod process;
mod systemd;

use super::lock::NsLock;
use super::state::{NsKey, StateDir};
use super::views::PendingRevert;
use crate::error::Error;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the agent runs at the end of the window, with the namespace's lock held, the
/// token at `$1`, the window's directory at `$2` and the revert script on descriptor 4.
/// A revert that fails leaves its output as `ns-<inode>.revert-failed`: the unconfirmed
/// rules are then still live, which is a lost revert as much as a killed agent is.
const CLAIM: &str = r#"token=$1 work=$2
if mv -- "$token" "$work/claimed" 2>/dev/null; then :
elif [ -e "$work/confirmed" ] || [ -e "$work/caller" ]; then exit 0
fi
: >"${token%.pending}.reverted"
log=/dev/null
[ -d "$work" ] && log="$work/revert.log"
if ! sh <&4 >"$log" 2>&1; then
  if [ "$log" != /dev/null ]; then mv -- "$log" "${token%.pending}.revert-failed"
  else echo "the revert failed" >"${token%.pending}.revert-failed"; fi
  rm -f -- "${token%.pending}.reverted"
fi
rm -rf -- "$work"
"#;

/// What reverts an unconfirmed apply when its window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Agent {
    /// fwdsl's watchdog process, by its id and start time (so that a reused id is not
    /// mistaken for it).
    Process {
        /// Its process id.
        pid: u32,
        /// Its start time, in clock ticks since boot (`/proc/PID/stat`, field 22).
        start: u64,
    },
    /// A transient systemd timer and service of this name (without `.timer`).
    Systemd {
        /// The unit name.
        unit: String,
    },
}

impl Agent {
    fn alive(&self) -> bool {
        match self {
            Agent::Process { pid, start } => process::alive(*pid, *start),
            Agent::Systemd { unit } => systemd::alive(unit),
        }
    }

    /// Ends the agent; whether it is gone afterwards.
    fn end(&self) -> bool {
        match self {
            Agent::Process { pid, start } => process::end(*pid, *start),
            Agent::Systemd { unit } => systemd::end(unit),
        }
    }

    fn describe(&self) -> String {
        match self {
            Agent::Process { pid, .. } => format!("revert watchdog process {pid}"),
            Agent::Systemd { unit } => format!("systemd timer {unit}.timer"),
        }
    }

    fn to_line(&self) -> String {
        match self {
            Agent::Process { pid, start } => format!("process {pid} {start}"),
            Agent::Systemd { unit } => format!("systemd {unit}"),
        }
    }

    fn parse(line: &str) -> Option<Agent> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["process", pid, start] => Some(Agent::Process {
                pid: pid.parse().ok()?,
                start: start.parse().ok()?,
            }),
            ["systemd", unit] if systemd::valid_unit(unit) => Some(Agent::Systemd {
                unit: unit.to_string(),
            }),
            _ => None,
        }
    }
}

/// A pending revert's token: which window, when it ends, what reverts it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// The window's id: the name of its directory after `ns-<inode>.`.
    id: String,
    /// When the window ends, in milliseconds since the epoch.
    deadline: u128,
    agent: Agent,
}

/// An id fwdsl makes (`<pid>-<nanos>`): anything else in a token is not followed.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 48 && id.chars().all(|c| c.is_ascii_digit() || c == '-')
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

impl Token {
    fn text(&self) -> String {
        format!(
            "id {}\ndeadline {}\nagent {}\n",
            self.id,
            self.deadline,
            self.agent.to_line()
        )
    }

    fn parse(text: &str) -> Option<Token> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        };
        let id = field("id")?.trim();
        Some(Token {
            id: valid_id(id).then(|| id.to_string())?,
            deadline: field("deadline")?.trim().parse().ok()?,
            agent: Agent::parse(field("agent")?)?,
        })
    }

    /// The window's end as a phrase: `window ends in 25 s`, `window ended 42 s ago`.
    fn deadline_phrase(&self) -> String {
        let now = now_ms();
        match self.deadline.checked_sub(now) {
            Some(left) => format!("its window ends in {} s", left.div_ceil(1000)),
            None => format!("its window ended {} s ago", (now - self.deadline) / 1000),
        }
    }
}

/// The token path, and the window directory of `id`, of namespace `ns`.
fn token_path(state: &StateDir, ns: NsKey) -> PathBuf {
    state.of(ns, "pending")
}

fn work_dir(state: &StateDir, ns: NsKey, id: &str) -> PathBuf {
    state.of(ns, id)
}

fn read_token(state: &StateDir, ns: NsKey) -> Option<Result<Token, ()>> {
    let text = state.read(&token_path(state, ns))?;
    Some(Token::parse(&text).ok_or(()))
}

/// One transaction's undoing: a command that reads its input (`iptables-restore
/// --noflush --wait`, `nft -j -f -`), and that input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revert {
    /// The command, as shell words.
    pub command: String,
    /// What it reads.
    pub input: String,
}

/// The self-contained revert: each transaction's inverse fed to its command from a
/// here-document, then the ipsets the apply created are destroyed.
fn revert_script(reverts: &[Revert], sets: &[String]) -> String {
    const END: &str = "FWDSL-END-OF-RESTORE";
    let mut script = String::from("status=0\n");
    for Revert { command, input } in reverts {
        // A restore text's lines start with `*`, `:`, `-`, `#` or are `COMMIT`; nft's
        // JSON lines with `{`, `,` or `]`: never the terminator.
        debug_assert!(input.lines().all(|l| l != END));
        script.push_str(&format!("{command} <<'{END}' || status=1\n{input}{END}\n"));
    }
    for set in sets {
        // A set just released by a rule stays busy for a moment under iptables-nft.
        script.push_str(&format!(
            "for try in 1 2 3 4 5 6 7 8 9 10; do ipset destroy {set} 2>/dev/null && break; sleep 0.2; done\n"
        ));
    }
    script.push_str("exit $status\n");
    script
}

/// An armed revert of this process.
#[derive(Debug)]
pub(crate) struct Pending {
    token: PathBuf,
    work: PathBuf,
    agent: Agent,
    /// For the watchdog process: says when it has exited.
    exited: Option<Receiver<()>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the revert and starts its agent for namespace `ns`, handing it `lock` (the
/// watchdog process keeps it for the window; a systemd agent takes it at the end).
pub(crate) fn arm(
    state: &StateDir,
    ns: NsKey,
    lock: &NsLock,
    window: Duration,
    reverts: &[Revert],
    sets: &[String],
) -> Result<Pending, Error> {
    let id = format!("{}-{}", std::process::id(), now_ms());
    let work = work_dir(state, ns, &id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .map_err(io(&work))?;
    let script = work.join("revert.sh");
    state.create(&script, revert_script(reverts, sets).as_bytes())?;
    let token = token_path(state, ns);
    let deadline = now_ms() + window.as_millis();
    let (agent, exited) = match systemd::netns_path() {
        Some(netns) => {
            let agent = systemd::start(state, ns, &id, &work, &token, window, netns)?;
            (agent, None)
        }
        None => {
            let (agent, exited) = process::start(lock, &work, &token, &script, window)?;
            lock.note_holder(&format!(
                "{}, until the apply is confirmed or reverted",
                agent.describe()
            ));
            (agent, Some(exited))
        }
    };
    // The token last, whole or not at all: an agent that finds none reverts anyway.
    let staged = state.of(ns, &format!("{id}.token"));
    let written = Token {
        id,
        deadline,
        agent: agent.clone(),
    };
    state.create(&staged, written.text().as_bytes())?;
    std::fs::rename(&staged, &token).map_err(io(&token))?;
    Ok(Pending {
        token,
        work,
        agent,
        exited,
    })
}

impl Pending {
    /// Takes the token as `outcome` (a file of the window's directory): `true` if the
    /// agent had not claimed it yet (it is then ended and the window's files removed),
    /// `false` if it is reverting or has reverted (this waits until it is done).
    fn take(self, outcome: &str) -> bool {
        let won = std::fs::rename(&self.token, self.work.join(outcome)).is_ok();
        let gone = won && self.agent.end();
        match &self.exited {
            Some(exited) => {
                let _ = exited.recv_timeout(Duration::from_secs(60));
            }
            None if !won => systemd::wait_done(&self.agent),
            None => {}
        }
        if gone {
            let _ = std::fs::remove_dir_all(&self.work);
        }
        won
    }

    /// The apply was confirmed: the agent ends without reverting. `false` if it had
    /// already started to revert.
    pub(crate) fn confirm(self) -> bool {
        self.take("confirmed")
    }

    /// The apply was not confirmed: `true` if the caller is to revert it, `false` if
    /// the agent already did.
    pub(crate) fn revert_here(self) -> bool {
        self.take("caller")
    }
}

/// What [`Firewall::confirm`](crate::Firewall::confirm) found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmed {
    /// A revert was pending and is cancelled: the new rules stay.
    Cancelled,
    /// No revert was pending (nothing to confirm).
    NothingPending,
    /// A revert was pending, but what was to carry it out was gone (`agent`): the new
    /// rules stay, as confirmed, but without this confirmation they would have stayed
    /// too. Worth finding out who ended it.
    RevertWasLost {
        /// What was to revert (`revert watchdog process 4242`).
        agent: String,
        /// When its window ends or ended, as a phrase.
        deadline: String,
    },
}

impl Confirmed {
    /// Whether a pending revert was cancelled (lost or not): the confirmation changed
    /// something.
    pub fn changed(&self) -> bool {
        !matches!(self, Confirmed::NothingPending)
    }
}

impl std::fmt::Display for Confirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Confirmed::Cancelled => write!(f, "confirmed: the new rules stay"),
            Confirmed::NothingPending => write!(f, "no revert was pending"),
            Confirmed::RevertWasLost { agent, deadline } => write!(
                f,
                "confirmed: the new rules stay. WARNING: the revert was lost: its {agent} was gone ({deadline}), so without this confirmation nothing would have reverted them"
            ),
        }
    }
}

/// Confirms the pending apply of namespace `ns` from any process.
/// [`Error::Reverted`] when its revert already ran.
pub(crate) fn confirm_pending(state: &StateDir, ns: NsKey) -> Result<Confirmed, Error> {
    let token = match read_token(state, ns) {
        Some(Ok(token)) => token,
        // Unreadable (planted, or left by another version): nothing fwdsl can follow
        // reverts it; the confirmation settles it.
        Some(Err(())) => {
            let _ = std::fs::remove_file(token_path(state, ns));
            return Ok(Confirmed::RevertWasLost {
                agent: "agent (its token could not be read)".into(),
                deadline: "its window is unknown".into(),
            });
        }
        None => {
            let failed_at = state.of(ns, "revert-failed");
            if let Some(output) = state.read(&failed_at) {
                let _ = std::fs::remove_file(&failed_at);
                let revert = failed(&output);
                return Ok(Confirmed::RevertWasLost {
                    agent: revert.agent,
                    deadline: revert.deadline,
                });
            }
            return match std::fs::remove_file(state.of(ns, "reverted")) {
                Ok(()) => Err(Error::Reverted),
                Err(_) => Ok(Confirmed::NothingPending),
            };
        }
    };
    let work = work_dir(state, ns, &token.id);
    let _ = std::fs::create_dir(&work);
    if std::fs::rename(token_path(state, ns), work.join("confirmed")).is_err() {
        return Err(Error::Reverted);
    }
    let alive = token.agent.alive();
    if token.agent.end() {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(match alive {
        true => Confirmed::Cancelled,
        false => Confirmed::RevertWasLost {
            agent: token.agent.describe(),
            deadline: token.deadline_phrase(),
        },
    })
}

/// The unconfirmed apply of namespace `ns`, if one is pending (its agent there, or
/// lost).
pub(crate) fn pending(state: &StateDir, ns: NsKey) -> Option<PendingRevert> {
    if let Some(output) = state.read(&state.of(ns, "revert-failed")) {
        return Some(failed(&output));
    }
    Some(match read_token(state, ns)? {
        Err(()) => PendingRevert {
            agent: format!(
                "agent (its token {} cannot be read)",
                token_path(state, ns).display()
            ),
            deadline: "its window is unknown".into(),
            lost: true,
        },
        Ok(token) => PendingRevert {
            agent: token.agent.describe(),
            deadline: token.deadline_phrase(),
            lost: !token.agent.alive(),
        },
    })
}

/// A revert that ran and failed (`output` is what it said): its rules stay live.
fn failed(output: &str) -> PendingRevert {
    let said = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    PendingRevert {
        agent: format!("revert, which ran and FAILED (`{}`),", said.trim()),
        deadline: "its window has ended".into(),
        lost: true,
    }
}

/// With the namespace's lock held and nothing pending: removes what finished windows
/// left (the `reverted` note, the directories of windows whose agent is gone). Every
/// name is made here; none is read from a file.
pub(crate) fn clear_stale(state: &StateDir, ns: NsKey) {
    let _ = std::fs::remove_file(state.of(ns, "reverted"));
    let prefix = format!("ns-{ns}.");
    let Ok(entries) = std::fs::read_dir(state.path()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let id = id.strip_suffix(".token").unwrap_or(id);
        if valid_id(id) {
            let path = state.path().join(&name);
            let _ = match entry.file_type().is_ok_and(|t| t.is_dir()) {
                true => std::fs::remove_dir_all(path),
                false => std::fs::remove_file(path),
            };
        }
    }
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_read_back_and_bad_ones_are_not_followed() {
        let token = Token {
            id: "4242-1700000000000".into(),
            deadline: 1_700_000_030_000,
            agent: Agent::Process {
                pid: 4243,
                start: 99,
            },
        };
        assert_eq!(Token::parse(&token.text()), Some(token.clone()));
        let systemd = Token {
            agent: Agent::Systemd {
                unit: "fwdsl-revert-4026531840-4242-1700000000000".into(),
            },
            ..token.clone()
        };
        assert_eq!(Token::parse(&systemd.text()), Some(systemd));
        // A planted token naming a path elsewhere is not a token.
        for bad in [
            "id /etc\ndeadline 1\nagent process 1 1\n",
            "id ../x\ndeadline 1\nagent process 1 1\n",
            "id 1-2\ndeadline 1\nagent systemd ../../x\n",
            "/tmp/victim",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_revert_script_is_self_contained() {
        let script = revert_script(
            &[Revert {
                command: "iptables-restore --noflush --wait".into(),
                input: "*filter\n-D X\nCOMMIT\n".into(),
            }],
            &["fwdsl-1".into()],
        );
        assert!(
            script.starts_with("status=0\niptables-restore --noflush --wait <<'FWDSL-END-OF-RESTORE' || status=1\n*filter\n-D X\nCOMMIT\nFWDSL-END-OF-RESTORE\n"),
            "{script}"
        );
        assert!(script.contains("ipset destroy fwdsl-1"));
        // It runs as sh reads it: a here-document feeds the program.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(
                script
                    .replace("iptables-restore --noflush --wait", "cat")
                    .replace("ipset destroy", "true"),
            )
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "*filter\n-D X\nCOMMIT\n"
        );
        assert!(out.status.success());
    }
}
