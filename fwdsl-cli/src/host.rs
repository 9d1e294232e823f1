//! The commands that read or change this host's firewall: thin calls of
//! [`fwdsl::Firewall`], whose reports are printed as their `Display` gives them.

use crate::args::{BackendArg, Change, Global};
use crate::outcome::Failure;
use crate::Out;
use fwdsl::{Backend, Firewall, Policy, SaveTarget};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// The handle every live command uses: the backend asked for, and the namespace guard
/// where a namespace was named (so that a mistyped `--netns` can never reach the host).
pub fn firewall(global: &Global) -> Firewall {
    let fw = match global.backend {
        BackendArg::Auto => Firewall::new(),
        BackendArg::Iptables => Firewall::new().backend(Backend::Iptables),
        BackendArg::Nftables => Firewall::new().backend(Backend::Nftables),
    };
    let fw = fw.lock("/run/xtables.lock", global.wait);
    match global.netns {
        Some(_) => fw.namespaces_only(),
        None => fw,
    }
}

fn target(dir: Option<&Path>) -> SaveTarget {
    dir.map_or_else(SaveTarget::detect, SaveTarget::in_dir)
}

pub fn plan(fw: &Firewall, policy: &Policy) -> Result<(), Failure> {
    print!("{}", fw.plan(policy)?);
    Ok(())
}

pub fn apply(
    fw: Firewall,
    policy: &Policy,
    file: &Path,
    confirm: Option<Duration>,
    change: &Change,
    out: &Out,
) -> Result<(), Failure> {
    if change.dry_run {
        out.say(format_args!(
            "dry run: nothing is changed; an apply would do this:"
        ));
        return plan(&fw, policy);
    }
    let fw = fw.force(change.force);
    out.progress(format_args!(
        "applying {} ({} rules, {} NAT statements)",
        file.display(),
        policy.rules().len(),
        policy.nat().len()
    ));
    match confirm {
        Some(window) => {
            let report = fw.apply_unconfirmed(policy, window)?;
            out.say(format_args!("{report}"));
            // Said even with -q: without a confirmation the rules go away.
            eprintln!(
                "the new rules are live for {} s: run `fwdsl confirm{}` within that time, from any session, to keep them; otherwise the previous rules come back",
                window.as_secs(),
                out.netns_flag()
            );
        }
        None => out.say(format_args!("{}", fw.apply(policy)?)),
    }
    Ok(())
}

pub fn confirm(fw: &Firewall, out: &Out) -> Result<(), Failure> {
    out.say(format_args!("{}", fw.confirm()?));
    Ok(())
}

pub fn status(fw: &Firewall) -> Result<(), Failure> {
    print!("{}", fw.status()?);
    Ok(())
}

pub fn exposure(fw: &Firewall, policy: &Policy) -> Result<(), Failure> {
    print!("{}", fw.exposure(policy)?);
    Ok(())
}

/// `exposure --live`: the report on the imported running ruleset, and the host's own
/// rules behind each rule it names by line.
pub fn exposure_live(
    fw: &Firewall,
    policy: &Policy,
    import: &fwdsl::import::Import,
) -> Result<(), Failure> {
    let report = fw.exposure(policy)?;
    print!("{report}");
    let dropping = report.dropped.iter().filter_map(|e| e.dropped_by.as_ref());
    let mut lines: Vec<u32> = dropping
        .chain(report.unused.iter().map(|u| &u.rule))
        .map(|r| r.line)
        .collect();
    lines.sort_unstable();
    lines.dedup();
    if !lines.is_empty() {
        println!("the rules named above, in the host's own ruleset:");
    }
    for line in lines {
        println!(
            "  line {line}: {}",
            import.origin(line).unwrap_or("(no note)")
        );
    }
    Ok(())
}

/// `save`, `restore` and `persist`, which differ only in the call.
pub enum Saving {
    Save,
    Restore,
    Persist,
}

pub fn saving(
    fw: Firewall,
    what: Saving,
    dir: Option<&Path>,
    change: &Change,
    out: &Out,
) -> Result<(), Failure> {
    let target = target(dir);
    if change.dry_run {
        let verb = match what {
            Saving::Save => "save the running rules to",
            Saving::Restore => "load the rules saved in",
            Saving::Persist => "save the running rules, loaded at boot, to",
        };
        let files = match fw.resolved_backend() {
            Backend::Iptables => format!(
                "{}, {} and {}",
                target.v4.display(),
                target.v6.display(),
                target.ipsets.display()
            ),
            Backend::Nftables => target.nft.display().to_string(),
        };
        out.say(format_args!(
            "dry run: would {verb} {files}; nothing is changed"
        ));
        return Ok(());
    }
    let fw = fw.force(change.force);
    match what {
        Saving::Save => out.say(format_args!("{}", fw.save(&target)?)),
        Saving::Restore => {
            fw.restore(&target)?;
            out.say(format_args!(
                "restored the rules saved for the {} backend",
                fw.resolved_backend()
            ));
        }
        Saving::Persist => out.say(format_args!("{}", fw.persist_at_boot(&target)?)),
    }
    Ok(())
}

pub fn uninstall(fw: Firewall, change: &Change, out: &Out) -> Result<(), Failure> {
    if change.dry_run {
        out.say(format_args!(
            "dry run: would remove everything below; nothing is changed"
        ));
        return status(&fw);
    }
    fw.force(change.force).uninstall()?;
    out.say(format_args!(
        "fwdsl's chains, hooks, sets and table are removed; the rest of the firewall is as it was"
    ));
    Ok(())
}

pub fn flush(fw: Firewall, change: &Change, out: &Out) -> Result<(), Failure> {
    if change.dry_run {
        out.say(format_args!(
            "dry run: would remove these rules and keep fwdsl's chains; nothing is changed"
        ));
        return status(&fw);
    }
    let flushed = fw.force(change.force).flush()?;
    out.say(format_args!("{flushed}"));
    if flushed.host_is_open() {
        // Said even with -q: the host is open now.
        eprintln!(
            "warning: the host is now OPEN where shown above; `fwdsl apply` a policy to close it"
        );
    }
    Ok(())
}

/// `198.51.100.7` (one address) or `198.51.100.0/24`.
fn members(words: &[String]) -> Result<Vec<IpNet>, Failure> {
    words
        .iter()
        .map(|w| {
            w.parse::<IpNet>()
                .or_else(|_| w.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| Failure::Usage(format!("`{w}` is not an address or a network")))
        })
        .collect()
}

/// `ban` (`Some(lifetime)`: add, for that long or the set's default) or `unban`
/// (`None`: remove).
pub fn ban(
    fw: Firewall,
    set: &str,
    words: &[String],
    add: Option<Option<Duration>>,
    change: &Change,
    out: &Out,
) -> Result<(), Failure> {
    let members = members(words)?;
    let list: Vec<String> = members.iter().map(IpNet::to_string).collect();
    let verb = if add.is_some() {
        "add to"
    } else {
        "remove from"
    };
    if change.dry_run {
        out.say(format_args!(
            "dry run: would {verb} `{set}`: {}; nothing is changed",
            list.join(" ")
        ));
        return Ok(());
    }
    let fw = fw.force(change.force);
    match add {
        Some(lifetime) => fw.set_add_for(set, &members, lifetime)?,
        None => fw.set_remove(set, &members)?,
    }
    let done = match add {
        Some(Some(d)) => format!("banned for {}s in", d.as_secs()),
        Some(None) => "banned in".to_string(),
        None => "unbanned from".to_string(),
    };
    out.say(format_args!("{done} `{set}`: {}", list.join(" ")));
    Ok(())
}

/// `1h2m3s` for what remains of a lifetime.
fn left(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let mut text = String::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
        if n > 0 || (unit == "s" && text.is_empty()) {
            text.push_str(&format!("{n}{unit}"));
        }
    }
    text
}

pub fn bans(fw: &Firewall, set: &str, json: bool) -> Result<(), Failure> {
    let members = fw.set_entries(set)?;
    match json {
        true => println!(
            "{}",
            serde_json::Value::from(
                members
                    .iter()
                    .map(|m| serde_json::json!({
                        "member": m.net.to_string(),
                        "remaining": m.remaining.map(|d| d.as_secs()),
                    }))
                    .collect::<Vec<_>>()
            )
        ),
        false => {
            for m in &members {
                match m.remaining {
                    Some(d) => println!("{:<43} {}", m.net, left(d)),
                    None => println!("{:<43} until unbanned", m.net),
                }
            }
        }
    }
    Ok(())
}

/// `fwdsl sync SET FILE`: the file's members (`ADDR [DURATION]` a line, `#` comments).
pub fn sync(
    fw: Firewall,
    set: &str,
    file: &Path,
    change: &Change,
    out: &Out,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Other(format!("cannot read {}: {e}", file.display())))?;
    let mut wanted = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: String| Failure::Other(format!("{}:{}: {why}", file.display(), i + 1));
        let mut words = line.split_whitespace();
        let net = members(&[words.next().unwrap_or_default().to_string()])
            .map_err(|e| bad(e.to_string().trim_start_matches("error: ").to_string()))?[0];
        let lifetime = words
            .next()
            .map(crate::args::duration)
            .transpose()
            .map_err(bad)?;
        if let Some(extra) = words.next() {
            return Err(bad(format!(
                "`{extra}`: a line is an address and an optional lifetime"
            )));
        }
        wanted.push((net, lifetime));
    }
    if change.dry_run {
        out.say(format_args!(
            "dry run: would make `{set}` hold the {} members of {}; nothing is changed",
            wanted.len(),
            file.display()
        ));
        return Ok(());
    }
    out.progress(format_args!(
        "syncing `{set}` with {} members",
        wanted.len()
    ));
    let report = fw.force(change.force).set_sync(set, &wanted)?;
    out.say(format_args!("`{set}`: {report}"));
    Ok(())
}
