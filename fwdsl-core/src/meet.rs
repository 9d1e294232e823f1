//! Where two matches meet: the packets both describe, as one match of the language
//! (each field a union, the match their product, so the meet of two is the meet of each
//! field). Used to narrow a NAT statement by an assertion, and by the importer to put a
//! jump's match in front of every rule of the chain it jumps to.

use crate::model::{IcmpType, Matches, PortRange, ProtoSet};
use ipnet::IpNet;

/// Where two lists meet (empty: any), item by item through `pair`; `None` when no pair
/// does.
fn lists_meet<T: Clone>(a: &[T], b: &[T], pair: impl Fn(&T, &T) -> Option<T>) -> Option<Vec<T>> {
    if a.is_empty() || b.is_empty() {
        return Some(if a.is_empty() { b } else { a }.to_vec());
    }
    let met: Vec<T> = a
        .iter()
        .flat_map(|x| b.iter().filter_map(|y| pair(x, y)))
        .collect();
    (!met.is_empty()).then_some(met)
}

/// Where two port lists meet (empty: any port); `None` when they do not.
pub(crate) fn ranges_meet(a: &[PortRange], b: &[PortRange]) -> Option<Vec<PortRange>> {
    lists_meet(a, b, |x, y| {
        let (first, last) = (x.first.max(y.first), x.last.min(y.last));
        (first <= last).then(|| PortRange::new(first, last))
    })
}

/// Where two network lists meet (empty: any address); `None` when they do not.
pub(crate) fn nets_meet(a: &[IpNet], b: &[IpNet]) -> Option<Vec<IpNet>> {
    // Two prefixes meet only where one holds the other: the smaller is the meet.
    lists_meet(a, b, |x, y| match () {
        _ if x.contains(y) => Some(*y),
        _ if y.contains(x) => Some(*x),
        _ => None,
    })
}

/// Two optional values that must agree where both are given.
fn same<T: Clone + PartialEq>(a: &Option<T>, b: &Option<T>) -> Option<Option<T>> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => None,
        (x, y) => Some(x.clone().or_else(|| y.clone())),
    }
}

/// Two interfaces, `+` a wildcard (`veth+`): the more specific where one holds the other.
fn iface_meet(
    a: &Option<std::borrow::Cow<'static, str>>,
    b: &Option<std::borrow::Cow<'static, str>>,
) -> Option<Option<std::borrow::Cow<'static, str>>> {
    let holds = |wide: &str, narrow: &str| match wide.strip_suffix('+') {
        Some(prefix) => narrow.starts_with(prefix),
        None => wide == narrow,
    };
    match (a, b) {
        (Some(x), Some(y)) if holds(x, y) => Some(Some(y.clone())),
        (Some(x), Some(y)) if holds(y, x) => Some(Some(x.clone())),
        (Some(_), Some(_)) => None,
        (x, y) => Some(x.clone().or_else(|| y.clone())),
    }
}

impl Matches {
    /// The packets both `self` and `other` match, or `None` when there are none.
    /// Dynamic sets meet only themselves (their members are the kernel's).
    ///
    /// ```
    /// use fwdsl_core::{Matches, PortRange, ProtoSet};
    /// let web = Matches { protocols: ProtoSet::TCP, dports: vec![PortRange::new(80, 443)].into(), ..Matches::ANY };
    /// let https = Matches { dports: vec![PortRange::new(443, 8443)].into(), ..Matches::ANY };
    /// let met = web.meet(&https).unwrap();
    /// assert_eq!((met.protocols, met.dports.to_vec()), (ProtoSet::TCP, vec![PortRange::new(443, 443)]));
    /// ```
    pub fn meet(&self, other: &Matches) -> Option<Matches> {
        let protocols = ProtoSet::from_bits(self.protocols.bits() & other.protocols.bits());
        if protocols.bits() == 0 {
            return None;
        }
        let icmp_type: Option<IcmpType> = same(&self.icmp_type, &other.icmp_type)?;
        Some(Matches {
            protocols,
            dports: ranges_meet(&self.dports, &other.dports)?.into(),
            sports: ranges_meet(&self.sports, &other.sports)?.into(),
            src: nets_meet(&self.src, &other.src)?.into(),
            dst: nets_meet(&self.dst, &other.dst)?.into(),
            src_set: same(&self.src_set, &other.src_set)?,
            dst_set: same(&self.dst_set, &other.dst_set)?,
            iface: iface_meet(&self.iface, &other.iface)?,
            oface: iface_meet(&self.oface, &other.oface)?,
            icmp_type,
            protocol: same(&self.protocol, &other.protocol)?,
            state: same(&self.state, &other.state)?,
        })
    }
}
