//! The provision binary as an Ansible binary module: Ansible copies it to the host and
//! runs it with one argument, the path of a JSON file of the task's arguments (plus
//! Ansible's own `_ansible_*` keys), and reads one JSON object from its output.
//!
//! Arguments: `role` or `policy_file`, `state` (`present`, `absent`), `confirm_timeout`
//! (seconds), `confirm`, `save`, `force`, `backend` (`auto`, `iptables`, `nftables`).
//! Reply: `changed`, `failed`, `msg`, `warnings`; for `state: present` the structured
//! `rules` (per chain: family, direction, the rules as fwdsl loads them) and `exposure`
//! (what listens on the host and who reaches it under the policy); and `diff`
//! (`before`, `after`) when Ansible asks for one. In check mode nothing is changed and
//! `changed` says whether something would be. `fwdsl.yml` beside this file documents it
//! for `ansible-doc`.

use crate::roles;
use fwdsl::{Backend, Direction, Family, FamilyStatus, Firewall, Policy, SaveTarget};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The arguments this module takes (Ansible's `_ansible_*` keys aside).
const PARAMETERS: &[&str] = &[
    "role",
    "policy_file",
    "state",
    "confirm_timeout",
    "confirm",
    "save",
    "force",
    "backend",
];

/// The longest revert window accepted: a typo of minutes for seconds should not leave
/// a host waiting a day to come back.
const MAX_CONFIRM_TIMEOUT: u64 = 3600;

/// Where the policy comes from.
#[derive(Debug)]
enum Source {
    Role(String),
    File(String),
}

#[derive(Debug)]
enum Task {
    /// Apply (`state: present`), with a revert window if `confirm_timeout` is set.
    Present {
        source: Source,
        confirm_timeout: Option<u64>,
    },
    /// Uninstall (`state: absent`).
    Absent,
    /// Cancel the pending revert (`confirm: true`).
    Confirm,
}

#[derive(Debug)]
struct Args {
    task: Task,
    save: bool,
    force: bool,
    /// `None`: the one fwdsl detects on the host.
    backend: Option<Backend>,
    check_mode: bool,
    diff: bool,
}

/// The module's one JSON reply.
#[derive(Debug, Default)]
struct Reply {
    changed: bool,
    msg: String,
    warnings: Vec<String>,
    diff: Option<(String, String)>,
    /// Structured results beside `msg` (`rules`, `exposure`).
    data: Map<String, Value>,
}

/// Runs the module on the arguments file at `path`, prints its reply; a failure is a
/// reply with `failed: true` (and exit status 1), never a panic or a bare message.
pub fn main(path: &Path) -> ExitCode {
    // A bug must still end in a reply Ansible can read, never in a bare panic message.
    let result = std::panic::catch_unwind(|| {
        read_arguments(path)
            .map_err(|e| format!("cannot read the arguments file {}: {e}", path.display()))
            .and_then(|text| parse(&text))
            .and_then(|args| run(&args))
    })
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!(
            "internal error in the module (a bug; please report it): {what}"
        ))
    });
    let (reply, failed) = match result {
        Ok(reply) => {
            let mut object = json!({
                "changed": reply.changed,
                "failed": false,
                "msg": reply.msg,
            });
            if !reply.warnings.is_empty() {
                object["warnings"] = json!(reply.warnings);
            }
            if let Some((before, after)) = reply.diff {
                object["diff"] = json!({ "before": before, "after": after });
            }
            for (key, value) in reply.data {
                object[key] = value;
            }
            (object, false)
        }
        Err(msg) => (
            json!({ "changed": false, "failed": true, "msg": msg }),
            true,
        ),
    };
    println!("{reply}");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The largest arguments file read: Ansible's are a few hundred bytes.
const ARGUMENTS_MAX: u64 = 1 << 20;

/// The most of a caller's value a message repeats.
const SHOWN_MAX: usize = 64;

/// The arguments file's text: a regular file (a FIFO would hang the module, a device
/// fill its memory), opened without blocking and read up to its bound.
fn read_arguments(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > ARGUMENTS_MAX {
        return Err(std::io::Error::other(format!(
            "not a regular file of at most {} KiB",
            ARGUMENTS_MAX >> 10
        )));
    }
    let mut text = String::new();
    file.take(ARGUMENTS_MAX).read_to_string(&mut text)?;
    Ok(text)
}

/// A caller's value as a message repeats it: its start only.
fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_MAX) {
        Some((cut, _)) => format!("{}… ({} bytes)", &value[..cut], value.len()),
        None => value.to_string(),
    }
}

/// Reads the arguments, all problems at once, as Ansible's own modules report them.
fn parse(text: &str) -> Result<Args, String> {
    let map: Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| format!("the arguments are not a JSON object: {e}"))?;
    let unsupported: Vec<String> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with("_ansible_") && !PARAMETERS.contains(k))
        .map(shown)
        .collect();
    if !unsupported.is_empty() {
        return Err(format!(
            "Unsupported parameters for (provision) module: {}. Supported parameters include: {}.",
            unsupported.join(", "),
            PARAMETERS.join(", ")
        ));
    }
    let mut problems = Vec::new();
    let role = noted(&mut problems, string(&map, "role"));
    let policy_file = noted(&mut problems, string(&map, "policy_file"));
    let state = noted(&mut problems, string(&map, "state"));
    let confirm_timeout = noted(&mut problems, number(&map, "confirm_timeout"));
    let confirm = noted(&mut problems, boolean(&map, "confirm")).unwrap_or(false);
    let save = noted(&mut problems, boolean(&map, "save")).unwrap_or(false);
    let force = noted(&mut problems, boolean(&map, "force")).unwrap_or(false);
    let backend = noted(&mut problems, string(&map, "backend"))
        .and_then(|name| crate::backend(&name).map_err(|e| problems.push(e)).ok())
        .flatten();
    let check_mode = noted(&mut problems, boolean(&map, "_ansible_check_mode")).unwrap_or(false);
    let diff = noted(&mut problems, boolean(&map, "_ansible_diff")).unwrap_or(false);

    if let Some(role) = &role {
        if roles::policy(role).is_none() {
            problems.push(format!(
                "role `{}` is not compiled into this binary; it has: {}",
                shown(role),
                roles::NAMES.join(", ")
            ));
        }
    }
    if save && confirm_timeout.is_some() {
        // Saved rules come back at boot: only rules that were confirmed may be saved.
        problems.push(
            "save with confirm_timeout would persist rules not yet confirmed; save with confirm: true instead".into(),
        );
    }
    if let Some(secs) = confirm_timeout {
        if secs == 0 || secs > MAX_CONFIRM_TIMEOUT {
            problems.push(format!(
                "confirm_timeout must be 1 to {MAX_CONFIRM_TIMEOUT} seconds, not {secs}"
            ));
        }
    }
    let task = if confirm {
        let others: Vec<&str> = PARAMETERS
            .iter()
            .copied()
            .filter(|&k| k != "confirm" && k != "save" && map.contains_key(k))
            .collect();
        if !others.is_empty() {
            problems.push(format!(
                "confirm: true only cancels a pending revert (and may save); it takes no {}",
                others.join(", ")
            ));
        }
        Some(Task::Confirm)
    } else {
        match state.as_deref().unwrap_or("present") {
            "present" => match (role, policy_file) {
                (Some(role), None) => Some(Source::Role(role)),
                (None, Some(file)) if file.len() > 4096 => {
                    problems.push(format!(
                        "policy_file `{}` is longer than a path can be",
                        shown(&file)
                    ));
                    None
                }
                (None, Some(file)) => Some(Source::File(file)),
                (Some(_), Some(_)) => {
                    problems.push("role and policy_file are mutually exclusive".into());
                    None
                }
                (None, None) => {
                    problems.push("state=present needs a role or a policy_file".into());
                    None
                }
            }
            .map(|source| Task::Present {
                source,
                confirm_timeout,
            }),
            "absent" => {
                if confirm_timeout.is_some() {
                    problems.push("confirm_timeout applies to state=present only".into());
                }
                Some(Task::Absent)
            }
            other => {
                problems.push(format!(
                    "state must be one of: present, absent; got `{other}`"
                ));
                None
            }
        }
    };
    match task {
        Some(task) if problems.is_empty() => Ok(Args {
            task,
            save,
            force,
            backend,
            check_mode,
            diff,
        }),
        _ => Err(problems.join("; ")),
    }
}

/// The value of an argument, its problem (if any) kept with the others.
fn noted<T>(problems: &mut Vec<String>, value: Result<Option<T>, String>) -> Option<T> {
    value.unwrap_or_else(|e| {
        problems.push(e);
        None
    })
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "{key} must be a string, not {}",
            shown(&other.to_string())
        )),
    }
}

/// Ansible's booleans: JSON's, and the words `key=value` arguments arrive as.
fn boolean(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    let value = match map.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" | "t" => true,
            "no" | "false" | "off" | "0" | "n" | "f" => false,
            _ => return Err(format!("{key} must be a boolean, not `{}`", shown(s))),
        },
        Some(Value::Number(n)) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
            n.as_u64() == Some(1)
        }
        Some(other) => {
            return Err(format!(
                "{key} must be a boolean, not {}",
                shown(&other.to_string())
            ))
        }
    };
    Ok(Some(value))
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
        Some(other) => Err(format!(
            "{key} must be a whole number of seconds, not {}",
            shown(&other.to_string())
        )),
    }
}

fn run(args: &Args) -> Result<Reply, String> {
    let firewall = crate::firewall(args.backend).force(args.force);
    let mut reply = match &args.task {
        Task::Confirm => confirm(&firewall, args)?,
        Task::Absent => absent(&firewall, args)?,
        Task::Present {
            source,
            confirm_timeout,
        } => present(&firewall, args, source, *confirm_timeout)?,
    };
    if args.save && !args.check_mode {
        save(&firewall, &mut reply)?;
    }
    Ok(reply)
}

fn confirm(firewall: &Firewall, args: &Args) -> Result<Reply, String> {
    if args.check_mode {
        return Ok(Reply {
            msg: "check mode: a pending revert would be cancelled, if there is one".into(),
            ..Reply::default()
        });
    }
    let confirmed = firewall.confirm().map_err(|e| e.to_string())?;
    // A lost revert is said as a warning: the rules stay, as asked, but someone ended
    // what was to revert them.
    let warnings = match &confirmed {
        fwdsl::Confirmed::RevertWasLost { .. } => vec![confirmed.to_string()],
        _ => Vec::new(),
    };
    Ok(Reply {
        changed: confirmed.changed(),
        msg: confirmed.to_string(),
        warnings,
        ..Reply::default()
    })
}

fn present(
    firewall: &Firewall,
    args: &Args,
    source: &Source,
    confirm_timeout: Option<u64>,
) -> Result<Reply, String> {
    let mut warnings = Vec::new();
    let policy = match source {
        Source::Role(role) => roles::policy(role).expect("parse checked the role"),
        Source::File(path) => {
            let policy = Policy::from_file(path).map_err(|e| e.to_string())?;
            warnings.extend(policy.warnings().iter().map(ToString::to_string));
            policy
        }
    };
    let plans = firewall.plan(&policy).map_err(|e| e.to_string())?;
    let would_change = !plans.nat.is_empty()
        || plans
            .iter()
            .any(|p| p.hook || !p.add.is_empty() || !p.remove.is_empty());
    let diff = if args.diff {
        let statuses = firewall.status().map_err(|e| e.to_string())?;
        Some((live_text(&statuses), policy_text(&policy, &plans)))
    } else {
        None
    };
    let (changed, msg) = if args.check_mode {
        let msg = if would_change {
            "check mode: the policy would be applied"
        } else {
            "check mode: the policy is already live"
        };
        (would_change, msg.to_string())
    } else {
        let report = match confirm_timeout {
            Some(secs) => firewall.apply_unconfirmed(&policy, Duration::from_secs(secs)),
            None => firewall.apply(&policy),
        }
        .map_err(|e| e.to_string())?;
        let mut msg = report.to_string().trim_end().to_string();
        if let (Some(secs), true) = (confirm_timeout, report.changed) {
            msg.push_str(&format!(
                "; the previous rules come back in {secs} s unless confirmed (confirm: true)"
            ));
        }
        (report.changed, msg)
    };
    let mut data = Map::new();
    data.insert("rules".into(), rules_json(&policy, &plans));
    // What is listening, judged against the policy: best effort (a host may hide other
    // users' processes); its absence is a warning, never a failure of the task.
    match firewall.exposure(&policy) {
        Ok(exposure) => {
            data.insert("exposure".into(), exposure_json(&exposure));
        }
        Err(e) => warnings.push(format!("exposure not read: {e}")),
    }
    Ok(Reply {
        changed,
        msg,
        warnings,
        diff,
        data,
    })
}

/// The policy's rules per chain, as fwdsl loads them on this host's backend.
fn rules_json(policy: &Policy, plans: &[fwdsl::FamilyPlan]) -> Value {
    let chains: Vec<Value> = plans
        .iter()
        .filter(|p| policy.uses(p.direction))
        .map(|plan| {
            let rules = chain_lines(policy, plan);
            json!({
                "family": match plan.family {
                    Some(Family::V4) => "ipv4",
                    Some(Family::V6) => "ipv6",
                    None => "inet",
                },
                "direction": plan.direction.name(),
                "rules": rules,
            })
        })
        .collect();
    Value::from(chains)
}

/// Each listening socket in its class (`world`, `operator_only`, `dropped`,
/// `loopback_only`), and the allowed ports nothing listens on (`unused`).
fn exposure_json(exposure: &fwdsl::Exposure) -> Value {
    let sockets = |list: &[fwdsl::Exposed]| -> Value {
        list.iter()
            .map(|e| {
                json!({
                    "transport": e.socket.transport.keyword(),
                    "address": e.socket.address.to_string(),
                    "port": e.socket.port,
                    "process": e.socket.process,
                    "reached_by": e.world.as_ref().map(ToString::to_string),
                    "dropped_by": e.dropped_by.as_ref().map(|r| r.text.clone()),
                })
            })
            .collect()
    };
    json!({
        "world": sockets(&exposure.world),
        "operator_only": sockets(&exposure.operator_only),
        "dropped": sockets(&exposure.dropped),
        "loopback_only": sockets(&exposure.loopback_only),
        "unused": exposure.unused.iter().map(|u| json!({
            "rule": u.rule.text,
            "transport": u.transport.keyword(),
            "ports": u.ports.iter().map(|p| match p.first == p.last {
                true => p.first.to_string(),
                false => format!("{}-{}", p.first, p.last),
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn absent(firewall: &Firewall, args: &Args) -> Result<Reply, String> {
    let statuses = firewall.status().map_err(|e| e.to_string())?;
    let installed = statuses.iter().any(|s| s.hooked || s.chain.is_some());
    let diff = args.diff.then(|| (live_text(&statuses), String::new()));
    if installed && !args.check_mode {
        firewall.uninstall().map_err(|e| e.to_string())?;
    }
    let msg = match (installed, args.check_mode) {
        (false, _) => "fwdsl is not installed",
        (true, true) => "check mode: fwdsl's chains would be removed",
        (true, false) => "fwdsl's chains are removed; other rules are as they were",
    };
    Ok(Reply {
        changed: installed,
        msg: msg.into(),
        diff,
        ..Reply::default()
    })
}

/// Saves the running rules for boot; a change only when the saved rules differ.
fn save(firewall: &Firewall, reply: &mut Reply) -> Result<(), String> {
    let target = SaveTarget::detect();
    let before = saved_rules(&target);
    let report = firewall.save(&target).map_err(|e| e.to_string())?;
    if saved_rules(&target) != before {
        reply.changed = true;
    }
    reply
        .msg
        .push_str(&format!("; {}", report.to_string().trim_end()));
    Ok(())
}

/// The saved rules without what changes on every save (comments with the time,
/// packet counters).
fn saved_rules(target: &SaveTarget) -> Vec<String> {
    [&target.v4, &target.v6, &target.nft]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| fwdsl::sandbox::without_counters(&text))
        .collect()
}

fn header(family: Option<Family>, direction: Direction) -> String {
    match family {
        Some(Family::V4) => format!("# iptables {}\n", fwdsl::chain_of(direction)),
        Some(Family::V6) => format!("# ip6tables {}\n", fwdsl::chain_of(direction)),
        None => format!("# nft inet fwdsl {}\n", direction.name()),
    }
}

/// What is live, in the same form as [`policy_text`], so that the diff shows rules.
fn live_text(statuses: &[FamilyStatus]) -> String {
    let mut text = String::new();
    for status in statuses.iter().filter(|s| s.hooked || s.chain.is_some()) {
        text.push_str(&header(status.family, status.direction));
        for rule in &status.rules {
            // iptables: `-A <chain> <rule>`, and the generation chain's name changes on
            // every apply; nftables: the rule as the policy's side writes it.
            let spec = match status.family {
                Some(_) => rule.spec.splitn(3, ' ').nth(2).unwrap_or_default(),
                None => &rule.spec,
            };
            text.push_str(spec);
            text.push('\n');
        }
    }
    text
}

/// The policy's rules of one planned chain, as the host's backend loads them.
fn chain_lines(policy: &Policy, plan: &fwdsl::FamilyPlan) -> Vec<String> {
    match plan.family {
        Some(family) => policy
            .chain_rules(plan.direction, family)
            .iter()
            .map(fwdsl::RenderedRule::to_command_line)
            .collect(),
        None => policy
            .nft_rules(plan.direction)
            .iter()
            .map(fwdsl::NftRule::to_text)
            .collect(),
    }
}

fn policy_text(policy: &Policy, plans: &[fwdsl::FamilyPlan]) -> String {
    let mut text = String::new();
    for plan in plans.iter().filter(|p| policy.uses(p.direction)) {
        text.push_str(&header(plan.family, plan.direction));
        for rule in chain_lines(policy, plan) {
            text.push_str(&rule);
            text.push('\n');
        }
    }
    text
}
