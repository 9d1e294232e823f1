//! How long members of dynamic sets live (`set banned dynamic timeout 1h max 30d;`).
//!
//! The kernel holds each member's own lifetime (every dynamic set is created able to:
//! ipset's `timeout 0`, nft's `flags timeout`), so that no set has to be remade when a
//! policy changes its default. The declarations, the default and the bound, are
//! fwdsl's: an apply writes them into the state directory (`ns-<key>.sets`), and
//! [`Firewall::set_add`](crate::Firewall::set_add) and its kin read them there.
//!
//! A lifetime the backend cannot hold is refused, never cut: ipset's longest is
//! 2,147,483 s (about 24.8 days); nftables holds any fwdsl accepts (ten years).

use super::state::{NsKey, StateDir};
use super::Backend;
use crate::error::Error;
use crate::Policy;
use fwdsl_core::{duration_text, DynamicSet};
use serde_json::{json, Value};
use std::time::Duration;

/// ipset's longest timeout, in seconds.
pub const IPSET_TIMEOUT_MAX: u64 = 2_147_483;

/// The longest lifetime `backend` holds, in seconds (`None`: any fwdsl accepts).
pub(crate) fn backend_limit(backend: Backend) -> Option<u64> {
    match backend {
        Backend::Iptables => Some(IPSET_TIMEOUT_MAX),
        Backend::Nftables => None,
    }
}

fn too_long(set: &str, seconds: u64, backend: Backend, limit: u64) -> Error {
    Error::SetChange {
        set: set.into(),
        problem: format!(
            "a lifetime of {} ({seconds} s) is longer than the {backend} backend holds ({limit} s, about {} days): it would be cut or refused by the kernel; ask for at most {limit} s, or use the nftables backend",
            duration_text(seconds),
            limit / 86_400
        ),
    }
}

/// Refuses, before anything changes, a policy whose dynamic sets declare lifetimes
/// `backend` cannot hold.
pub(crate) fn check(policy: &Policy, backend: Backend) -> Result<(), Error> {
    let Some(limit) = backend_limit(backend) else {
        return Ok(());
    };
    for name in policy.dynamic_sets() {
        if let Some(set) = policy.dynamic_set(name) {
            if let Some(longest) = set.timeout.max(set.max).filter(|&s| s > limit) {
                return Err(too_long(name, longest, backend, limit));
            }
        }
    }
    Ok(())
}

fn file(state: &StateDir, ns: NsKey) -> std::path::PathBuf {
    state.of(ns, "sets")
}

/// Keeps the declarations of the policy just applied, for the calls that change the
/// sets' members later.
pub(crate) fn remember(state: &StateDir, ns: NsKey, policy: &Policy) -> Result<(), Error> {
    let sets: serde_json::Map<String, Value> = policy
        .dynamic_sets()
        .into_iter()
        .filter_map(|name| policy.dynamic_set(name))
        .map(|s| {
            (
                s.name.to_string(),
                json!({"timeout": s.timeout, "max": s.max}),
            )
        })
        .collect();
    let path = file(state, ns);
    let _ = std::fs::remove_file(&path);
    match sets.is_empty() {
        true => Ok(()),
        false => state.create(&path, Value::Object(sets).to_string().as_bytes()),
    }
}

/// Forgets the declarations (uninstall: the sets are gone).
pub(crate) fn forget(state: &StateDir, ns: NsKey) {
    let _ = std::fs::remove_file(file(state, ns));
}

/// The declaration of `set` as the last apply here left it (none: no lifetimes).
pub(crate) fn declared(state: &StateDir, ns: NsKey, set: &str) -> DynamicSet {
    let found = state
        .read(&file(state, ns))
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|doc| doc.get(set).cloned());
    let seconds = |key: &str| found.as_ref().and_then(|v| v.get(key)?.as_u64());
    DynamicSet {
        name: set.to_string().into(),
        timeout: seconds("timeout"),
        max: seconds("max"),
    }
}

/// The lifetime a change gives its members: the one asked for, else the set's default
/// (`None`: until removed); refused above the set's `max` or what the backend holds.
pub(crate) fn resolve(
    declared: &DynamicSet,
    asked: Option<Duration>,
    backend: Backend,
) -> Result<Option<u64>, Error> {
    let set = declared.name.as_ref();
    let seconds = match asked {
        // A part of a second is a whole one: a ban never ends early.
        Some(d) => Some(d.as_secs() + u64::from(d.subsec_nanos() > 0)),
        None => declared.timeout,
    };
    if seconds == Some(0) {
        return Err(Error::SetChange {
            set: set.into(),
            problem: "a lifetime of 0 would end at once".into(),
        });
    }
    match (seconds, declared.max) {
        (Some(s), Some(max)) if s > max => {
            return Err(Error::SetChange {
                set: set.into(),
                problem: format!(
                    "a lifetime of {} is above the set's `max {}`: refused, not cut",
                    duration_text(s),
                    duration_text(max)
                ),
            })
        }
        (None, Some(max)) => {
            return Err(Error::SetChange {
                set: set.into(),
                problem: format!(
                    "the set takes members for at most {} (`max`), and this one has no lifetime: give one",
                    duration_text(max)
                ),
            })
        }
        _ => {}
    }
    if let (Some(s), Some(limit)) = (seconds, backend_limit(backend)) {
        if s > limit {
            return Err(too_long(set, s, backend, limit));
        }
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(timeout: Option<u64>, max: Option<u64>) -> DynamicSet {
        DynamicSet {
            name: "banned".into(),
            timeout,
            max,
        }
    }

    #[test]
    fn asked_default_max_and_the_backends_limit() {
        let secs = Duration::from_secs;
        let nft = Backend::Nftables;
        assert_eq!(resolve(&set(None, None), None, nft).unwrap(), None);
        assert_eq!(
            resolve(&set(Some(3600), None), None, nft).unwrap(),
            Some(3600)
        );
        assert_eq!(
            resolve(&set(Some(3600), None), Some(secs(60)), nft).unwrap(),
            Some(60)
        );
        assert_eq!(
            resolve(&set(None, None), Some(Duration::from_millis(1500)), nft).unwrap(),
            Some(2)
        );
        let max = set(Some(3600), Some(86_400));
        assert!(resolve(&max, Some(secs(86_401)), nft)
            .unwrap_err()
            .to_string()
            .contains("above the set's `max 1d`"));
        assert!(resolve(&set(None, Some(60)), None, nft).is_err());
        let year = Some(secs(365 * 86_400));
        assert_eq!(
            resolve(&set(None, None), year, nft).unwrap(),
            Some(365 * 86_400)
        );
        let e = resolve(&set(None, None), year, Backend::Iptables).unwrap_err();
        assert!(e.to_string().contains("2147483 s"), "{e}");
    }
}
