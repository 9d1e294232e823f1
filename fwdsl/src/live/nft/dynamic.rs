//! Dynamic sets on nftables: `set fwdsl-d4-banned { type ipv4_addr; flags interval; }`
//! in fwdsl's table, changed member by member without an apply. An interval set holds
//! no two members that overlap, so an address a network already holds is not added
//! again, and a network that holds members replaces them (one batch either way): what
//! the set matches is what was asked. Removing a member removes that member only (an
//! address inside a banned network stays banned, as with ipset).

use super::{command, object, Nft, TABLE};
use crate::error::Error;
use ipnet::IpNet;
use serde_json::{json, Value};

/// The members of set `name`.
pub(crate) fn members(nft: &Nft, name: &str) -> Result<Vec<IpNet>, Error> {
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
    let mut nets: Vec<IpNet> = elements.filter_map(element).collect();
    nets.sort_unstable();
    Ok(nets)
}

/// A set element as nft lists it: an address, a prefix, or (from a timeout set) an
/// object around one.
fn element(value: &Value) -> Option<IpNet> {
    match value {
        Value::String(address) => address.parse::<std::net::IpAddr>().ok().map(IpNet::from),
        Value::Object(o) => match (o.get("prefix"), o.get("elem")) {
            (Some(prefix), _) => {
                let addr: std::net::IpAddr = prefix.get("addr")?.as_str()?.parse().ok()?;
                IpNet::new(addr, prefix.get("len")?.as_u64()? as u8).ok()
            }
            (None, Some(inner)) => element(inner.get("val").unwrap_or(inner)),
            _ => None,
        },
        _ => None,
    }
}

fn element_value(net: &IpNet) -> Value {
    match net.prefix_len() == net.max_prefix_len() {
        true => json!(net.addr().to_string()),
        false => json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}}),
    }
}

fn elements(verb: &str, name: &str, nets: &[IpNet]) -> Option<Value> {
    (!nets.is_empty()).then(|| {
        command(
            verb,
            "element",
            object(
                json!({"name": name, "elem": nets.iter().map(element_value).collect::<Vec<_>>()}),
            ),
        )
    })
}

/// Adds `new` to set `name`: what a member holds already is left out, members a new
/// network holds are replaced by it.
pub(crate) fn add(nft: &Nft, name: &str, new: &[IpNet]) -> Result<(), Error> {
    let live = members(nft, name)?;
    let mut adding: Vec<IpNet> = IpNet::aggregate(&new.to_vec())
        .into_iter()
        .filter(|n| !live.iter().any(|m| m.contains(n)))
        .collect();
    adding.sort_unstable();
    let replaced: Vec<IpNet> = live
        .iter()
        .filter(|m| adding.iter().any(|n| n.contains(*m)))
        .copied()
        .collect();
    let batch: Vec<Value> = [
        elements("delete", name, &replaced),
        elements("add", name, &adding),
    ]
    .into_iter()
    .flatten()
    .collect();
    nft.load(&batch)
}

/// Removes those of `gone` that are members of set `name` (others are fine).
pub(crate) fn remove(nft: &Nft, name: &str, gone: &[IpNet]) -> Result<(), Error> {
    let live = members(nft, name)?;
    let present: Vec<IpNet> = gone.iter().filter(|n| live.contains(n)).copied().collect();
    nft.load(
        &elements("delete", name, &present)
            .into_iter()
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_read_as_networks() {
        let nets: Vec<IpNet> = [
            json!("192.0.2.7"),
            json!({"prefix": {"addr": "10.0.0.0", "len": 8}}),
            json!({"elem": {"val": "2001:db8::1", "timeout": 60}}),
        ]
        .iter()
        .filter_map(element)
        .collect();
        let expected: Vec<IpNet> = ["192.0.2.7/32", "10.0.0.0/8", "2001:db8::1/128"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(nets, expected);
    }
}
