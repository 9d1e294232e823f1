//! Dynamic sets on nftables: `set fwdsl-d4-banned { type ipv4_addr; flags interval; }`
//! in fwdsl's table, changed member by member without an apply. An interval set holds
//! no two members that overlap, so an address a network already holds is not added
//! again, and a network that holds members replaces them (one batch either way): what
//! the set matches is what was asked. Removing a member removes that member only (an
//! address inside a banned network stays banned, as with ipset).

use super::{command, object, Nft, TABLE};
use crate::error::Error;
use crate::live::dynamic::{Op, SetMember};
use ipnet::IpNet;
use serde_json::{json, Value};
use std::time::Duration;

/// The members of set `name`, with what remains of their lifetimes.
pub(crate) fn entries(nft: &Nft, name: &str) -> Result<Vec<SetMember>, Error> {
    // Elements are what is wanted here: no `-t`.
    let out = nft.text(&["-j", "-n", "list", "set", "inet", TABLE, name], None)?;
    let doc: Value = serde_json::from_str(&out).map_err(|e| Error::Io {
        path: "nft -j list set".into(),
        source: std::io::Error::other(e),
    })?;
    let elements = doc
        .get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.pointer("/set/elem").and_then(Value::as_array))
        .flatten();
    let mut members: Vec<SetMember> = elements.filter_map(element).collect();
    members.sort_unstable_by_key(|m| m.net);
    Ok(members)
}

/// What set `name` holds of one address, asked with `nft get element`: `Some(vec![])`
/// when nothing holds it, `Some([it])` when the address itself is a member (with what
/// remains of it), `None` when a network holds it (nft 1.0 prints such an element without
/// its timeout: the caller reads the whole set then).
pub(crate) fn holding(
    nft: &Nft,
    name: &str,
    address: &IpNet,
) -> Result<Option<Vec<SetMember>>, Error> {
    let element = format!("{{ {} }}", address.addr());
    let out = crate::live::exec::run(
        "nft",
        &["get", "element", "inet", TABLE, name, &element],
        None,
        nft.timeout,
    )?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return match stderr.contains("No such file or directory") {
            true => Ok(Some(Vec::new())),
            false => Ok(None),
        };
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(listed) = text
        .split("elements = {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
    else {
        return Ok(None);
    };
    let mut words = listed.split_whitespace();
    let first = words.next().unwrap_or_default();
    if first.parse::<std::net::IpAddr>().ok() != Some(address.addr()) {
        return Ok(None);
    }
    let mut remaining = None;
    while let Some(word) = words.next() {
        if word == "expires" {
            remaining = words.next().and_then(nft_duration);
        }
    }
    Ok(Some(vec![SetMember {
        net: *address,
        remaining,
    }]))
}

/// nft's durations: `1d2h3m4s500ms`, to whole seconds (a part of one rounds down: the
/// caller compares ends, and a ban is never shortened by it, only re-added).
fn nft_duration(text: &str) -> Option<Duration> {
    let mut total_ms: u64 = 0;
    let mut number = String::new();
    let mut chars = text.trim_end_matches(',').chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
    }
    number.is_empty().then(|| Duration::from_millis(total_ms))
}

/// A set element as nft lists it: an address, a prefix, or an object around one with
/// its `timeout` and what `expires` (seconds).
fn element(value: &Value) -> Option<SetMember> {
    let net = |v: &Value| -> Option<IpNet> {
        match v {
            Value::String(address) => address.parse::<std::net::IpAddr>().ok().map(IpNet::from),
            Value::Object(o) => {
                let prefix = o.get("prefix")?;
                let addr: std::net::IpAddr = prefix.get("addr")?.as_str()?.parse().ok()?;
                IpNet::new(addr, prefix.get("len")?.as_u64()? as u8).ok()
            }
            _ => None,
        }
    };
    match value.get("elem") {
        Some(inner) => Some(SetMember {
            net: net(inner.get("val")?)?,
            remaining: inner
                .get("expires")
                .and_then(Value::as_u64)
                .map(Duration::from_secs),
        }),
        None => Some(SetMember {
            net: net(value)?,
            remaining: None,
        }),
    }
}

fn element_value(net: &IpNet, seconds: Option<u64>) -> Value {
    let val = match net.prefix_len() == net.max_prefix_len() {
        true => json!(net.addr().to_string()),
        false => json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}}),
    };
    match seconds {
        Some(s) => json!({"elem": {"val": val, "timeout": s}}),
        None => val,
    }
}

fn elements(verb: &str, name: &str, elems: Vec<Value>) -> Option<Value> {
    (!elems.is_empty()).then(|| {
        command(
            verb,
            "element",
            object(json!({"name": name, "elem": elems})),
        )
    })
}

/// The later of two ends (`None`: never).
fn later(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a.zip(b).map(|(a, b)| a.max(b))
}

/// Carries out `ops` on interval set `name` in one transaction. An interval set holds
/// no two members that overlap, so: a member inside a network already there makes that
/// network live as long as the member asks (closed rather than open: the network is
/// banned a little longer, never the member shorter); a network over members already
/// there replaces them and lives as long as the longest of them.
pub(crate) fn write(nft: &Nft, name: &str, ops: &[Op], current: &[SetMember]) -> Result<(), Error> {
    let secs = |m: &SetMember| m.remaining.map(|r| r.as_secs().max(1));
    let mut deletes: Vec<IpNet> = Vec::new();
    let mut adds: Vec<(IpNet, Option<u64>)> = Vec::new();
    for op in ops {
        match op {
            Op::Del(net) => deletes.push(*net),
            Op::Add(net, seconds) => {
                if let Some(outer) = current
                    .iter()
                    .find(|m| m.net != *net && m.net.contains(net))
                {
                    if crate::live::dynamic::ends_later(*seconds, outer.remaining) {
                        deletes.push(outer.net);
                        adds.push((outer.net, *seconds));
                    }
                    continue;
                }
                let inner: Vec<&SetMember> = current
                    .iter()
                    .filter(|m| m.net != *net && net.contains(&m.net))
                    .collect();
                let seconds = inner.iter().fold(*seconds, |s, m| later(s, secs(m)));
                deletes.extend(inner.iter().map(|m| m.net));
                // Re-adding a member nft holds already sets its new timeout.
                if current.iter().any(|m| m.net == *net) {
                    deletes.push(*net);
                }
                adds.push((*net, seconds));
            }
        }
    }
    deletes.sort_unstable();
    deletes.dedup();
    adds.sort_unstable_by_key(|(n, _)| *n);
    adds.dedup_by_key(|(n, _)| *n);
    let batch: Vec<Value> = [
        elements(
            "delete",
            name,
            deletes.iter().map(|n| element_value(n, None)).collect(),
        ),
        elements(
            "add",
            name,
            adds.iter().map(|(n, s)| element_value(n, *s)).collect(),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    nft.load(&batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_read_as_networks() {
        let members: Vec<SetMember> = [
            json!("192.0.2.7"),
            json!({"prefix": {"addr": "10.0.0.0", "len": 8}}),
            json!({"elem": {"val": "2001:db8::1", "timeout": 60, "expires": 42}}),
        ]
        .iter()
        .filter_map(element)
        .collect();
        assert_eq!(members[2].remaining, Some(Duration::from_secs(42)));
        assert_eq!(
            nft_duration("9m59s996ms"),
            Some(Duration::from_millis(599_996))
        );
        assert_eq!(nft_duration("1d2h"), Some(Duration::from_secs(93_600)));
        assert_eq!(nft_duration("soon"), None);
        let nets: Vec<IpNet> = members.iter().map(|m| m.net).collect();
        let expected: Vec<IpNet> = ["192.0.2.7/32", "10.0.0.0/8", "2001:db8::1/128"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(nets, expected);
    }
}
