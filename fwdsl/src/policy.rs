//! The policy value users hold: checked rules, the operator's access path, and the
//! questions one can ask of them without root (which rule decides a packet).

use crate::error::{Error, Problem, Problems};
use crate::policy_file::Sources;
use fwdsl_core::{
    Access, Assertion, Decider, Decision, DynamicSet, NatRule, Packet, Rule, Severity,
};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A checked firewall policy: built by [`firewall!`](crate::firewall) at compile time
/// or by [`Policy::parse`] at run time, with the same checks either way.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Cow<'static, [Rule]>,
    nat: Cow<'static, [NatRule]>,
    access: Access,
    assertions: Cow<'static, [Assertion]>,
    dynamic_sets: Cow<'static, [DynamicSet]>,
    warnings: Vec<Problem>,
    /// Built on the first `decide` of a large policy.
    decider: OnceLock<Decider>,
    /// The ipsets of long lists, by rule ([`Policy::list_sets`]).
    pub(crate) list_sets: OnceLock<Vec<[Option<crate::IpSet>; 2]>>,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.rules,
            &self.nat,
            &self.access,
            &self.assertions,
            &self.dynamic_sets,
            &self.warnings,
        ) == (
            &other.rules,
            &other.nat,
            &other.access,
            &other.assertions,
            &other.dynamic_sets,
            &other.warnings,
        )
    }
}

impl Eq for Policy {}

/// Below this many rules a plain scan decides as fast as the index.
const INDEX_ABOVE: usize = 64;

impl Policy {
    pub(crate) fn from_checked(
        rules: Cow<'static, [Rule]>,
        access: Access,
        assertions: Cow<'static, [Assertion]>,
        warnings: Vec<Problem>,
    ) -> Policy {
        Policy {
            rules,
            nat: Cow::Borrowed(&[]),
            dynamic_sets: Cow::Borrowed(&[]),
            access,
            assertions,
            warnings,
            decider: OnceLock::new(),
            list_sets: OnceLock::new(),
        }
    }

    /// The same policy with the dynamic sets' declarations `sets`.
    pub(crate) fn with_dynamic_sets(mut self, sets: Cow<'static, [DynamicSet]>) -> Policy {
        self.dynamic_sets = sets;
        self
    }

    /// A dynamic set's declaration (`set banned dynamic timeout 1h max 30d;`): its
    /// default and longest lifetimes.
    ///
    /// ```
    /// let policy = fwdsl::firewall! { set banned dynamic timeout 1h max 30d; allow established; drop src $banned; allow ssh; drop all; };
    /// let banned = policy.dynamic_set("banned").unwrap();
    /// assert_eq!((banned.timeout, banned.max), (Some(3600), Some(30 * 86_400)));
    /// ```
    pub fn dynamic_set(&self, name: &str) -> Option<&DynamicSet> {
        self.dynamic_sets.iter().find(|s| s.name == name)
    }

    /// The same policy with NAT statements `nat`.
    pub(crate) fn with_nat(mut self, nat: Cow<'static, [NatRule]>) -> Policy {
        self.nat = nat;
        self
    }

    /// Parses and checks a policy written as text (a file, a string): the language of
    /// `firewall!`, with `#` or `//` comments. Every error is returned at once, each
    /// with its line and column.
    ///
    /// ```
    /// let policy = fwdsl::Policy::parse("allow ssh;\nallow tcp 80;\ndrop all;").unwrap();
    /// assert_eq!(policy.rules().len(), 3);
    ///
    /// let err = fwdsl::Policy::parse("allow tcp 70000;\ndrop all;").unwrap_err();
    /// assert!(err.to_string().contains("line 1, column 11: error: port `70000` is out of range"));
    /// ```
    pub fn parse(source: &str) -> Result<Policy, Error> {
        Policy::from_sources(&Sources::of_text(source)?)
    }

    /// Reads and checks a policy file, in which `include "base.policy";` (relative to
    /// the including file) pulls in the rules of another: the run-time side of shared
    /// pieces. Every problem names its file, line and column, and shows the line.
    ///
    /// ```no_run
    /// let policy = fwdsl::Policy::from_file("/etc/fwdsl/web.policy")?;
    /// # let _ = policy;
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Policy, Error> {
        Policy::from_sources(&Sources::of_file(path.as_ref())?)
    }

    /// Every problem of a policy file, errors and warnings, in file and line order (what
    /// `fwdsl check` prints): empty for a clean policy. `Err` only where the file and
    /// what it includes cannot be read as a policy at all.
    ///
    /// ```no_run
    /// for problem in fwdsl::Policy::problems_of_file("web.policy")? {
    ///     eprintln!("{problem}");
    /// }
    /// # Ok::<(), fwdsl::Error>(())
    /// ```
    pub fn problems_of_file(path: impl AsRef<std::path::Path>) -> Result<Vec<Problem>, Error> {
        let (_, mut errors, warnings) = Policy::diagnose(&Sources::of_file(path.as_ref())?);
        errors.extend(warnings);
        errors.sort_by_key(|p| (p.file.clone(), p.line, p.column));
        Ok(errors)
    }

    /// The policy compiled, its errors and its warnings, each in order.
    fn diagnose(sources: &Sources) -> (fwdsl_core::Compiled, Vec<Problem>, Vec<Problem>) {
        let compiled = fwdsl_core::compile(&sources.tokens);
        let (mut errors, mut warnings): (Vec<Problem>, Vec<Problem>) = compiled
            .diagnostics
            .iter()
            .map(|d| {
                sources.problem(
                    d.tokens.map(|r| r.first),
                    d.severity,
                    d.message.clone(),
                    d.help.clone(),
                )
            })
            .partition(|p| p.severity == Severity::Error);
        // Found in two passes (each rule, then the whole policy): reported in order.
        for problems in [&mut errors, &mut warnings] {
            problems.sort_by_key(|p| (p.file.clone(), p.line, p.column));
        }
        (compiled, errors, warnings)
    }

    fn from_sources(sources: &Sources) -> Result<Policy, Error> {
        let (compiled, errors, warnings) = Policy::diagnose(sources);
        if !errors.is_empty() {
            return Err(Error::Policy(Problems(errors)));
        }
        Ok(Policy::from_checked(
            Cow::Owned(compiled.rules),
            compiled.access,
            Cow::Owned(compiled.assertions),
            warnings,
        )
        .with_nat(Cow::Owned(compiled.nat))
        .with_dynamic_sets(Cow::Owned(compiled.dynamic_sets)))
    }

    /// The rules, in the order the kernel evaluates them.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The NAT statements (`dnat`, `redirect`, `masquerade`, `snat`), in order: their
    /// own list, wherever they stand in the policy.
    ///
    /// ```
    /// let policy = fwdsl::firewall! { allow established; allow ssh; drop all; dnat tcp 8080 to 10.0.0.5:80; };
    /// assert_eq!(policy.nat()[0].text, "dnat tcp 8080 to 10.0.0.5:80");
    /// ```
    pub fn nat(&self) -> &[NatRule] {
        &self.nat
    }

    /// The invariants written in the policy and its pieces (`assert closed tcp 3306;`),
    /// each proved to hold when the policy was checked: what a fleet tool can show as
    /// what each role keeps.
    ///
    /// ```
    /// let policy = fwdsl::firewall! { allow established; assert closed tcp 3306; allow ssh; allow https; drop all; };
    /// assert_eq!(policy.assertions()[0].text, "assert closed tcp 3306");
    /// ```
    pub fn assertions(&self) -> &[Assertion] {
        &self.assertions
    }

    /// The operator's access path the lockout check protected (`ssh 22` unless declared).
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Warnings found by [`Policy::parse`] (redundant rules, `sport` rules). A policy
    /// from `firewall!` reported its warnings at compile time and has none here.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// Which rule decides `packet`, exactly as the kernel would: the first that matches.
    ///
    /// ```
    /// use fwdsl::{Action, Packet};
    /// let policy = fwdsl::firewall! { allow established; allow tcp 22; allow tcp 80; allow in lo; drop all; };
    /// let web = policy.decide(&Packet::tcp([203, 0, 113, 9], 80));
    /// assert_eq!((web.action(), web.index, web.rule.text.as_ref()), (Action::Allow, 2, "allow tcp 80"));
    /// assert_eq!(policy.decide(&Packet::udp([203, 0, 113, 9], 53)).action(), Action::Drop);
    /// ```
    ///
    /// Outgoing and forwarded packets are asked about the same way:
    ///
    /// ```
    /// use fwdsl::{Action, Packet};
    /// let policy = fwdsl::firewall! { allow established; allow ssh; drop all; allow out established; allow out dns; allow out tcp 443; drop out all; };
    /// let https = Packet::tcp([192, 0, 2, 1], 443).dst([203, 0, 113, 9]).outgoing();
    /// assert_eq!(policy.decide(&https).action(), Action::Allow);
    /// assert_eq!(policy.decide(&Packet::tcp([192, 0, 2, 1], 25).outgoing()).action(), Action::Drop);
    /// ```
    ///
    /// # Panics
    /// When the policy has no rules for the packet's direction (it leaves those packets
    /// to the host's built-in chain): [`Policy::try_decide`] says `None` instead. Never
    /// for a direction the policy has rules for: each direction must end with its own
    /// catch-all, so some rule always decides.
    pub fn decide(&self, packet: &Packet) -> Decision<'_> {
        self.try_decide(packet).unwrap_or_else(|| {
            panic!(
                "the policy has no {} rules: packets of that direction are not fwdsl's to decide",
                packet.direction.name()
            )
        })
    }

    /// Which rule decides `packet`, or `None` when the policy has no rules for its
    /// direction (the host's built-in chain then decides, untouched by fwdsl).
    ///
    /// A packet a `dnat` or `redirect` rewrites is decided as the filter sees it after
    /// the translation ([`Decision::nat`](fwdsl_core::Decision) says which statement and
    /// where the packet really goes):
    ///
    /// ```
    /// use fwdsl::{Action, Packet};
    /// let policy = fwdsl::firewall! {
    ///     allow established; allow ssh; drop all;
    ///     allow forward established; allow forward tcp 8080 dst 10.0.0.5; drop forward all;
    ///     dnat tcp 8080 to 10.0.0.5:80;
    /// };
    /// let d = policy.decide(&Packet::tcp([203, 0, 113, 9], 8080).dst([198, 51, 100, 1]));
    /// assert_eq!((d.action(), d.rule.text.as_ref()), (Action::Allow, "allow forward tcp 8080 dst 10.0.0.5"));
    /// let to = d.nat.unwrap().packet;
    /// assert_eq!((to.dst, to.dport), ([10, 0, 0, 5].into(), 80));
    /// ```
    pub fn try_decide(&self, packet: &Packet) -> Option<Decision<'_>> {
        self.through_nat(packet, |seen| {
            if self.rules.len() <= INDEX_ABOVE {
                return fwdsl_core::decide(&self.rules, seen);
            }
            self.decider
                .get_or_init(|| Decider::new(&self.rules))
                .decide(&self.rules, seen)
        })
    }

    /// `decide` of the packet as the filter sees it after the NAT statements, with
    /// what they did.
    fn through_nat<'p>(
        &'p self,
        packet: &Packet,
        decide: impl FnOnce(&Packet) -> Option<Decision<'p>>,
    ) -> Option<Decision<'p>> {
        let (translation, seen) = match fwdsl_core::translate(&self.nat, packet) {
            Some((t, seen)) => (Some(t), seen),
            None => (None, packet.clone()),
        };
        let mut decision = decide(&seen)?;
        decision.nat = translation;
        if decision.action() == fwdsl_core::Action::Allow {
            decision.source_nat = fwdsl_core::source_nat(&self.nat, &seen);
        }
        Some(decision)
    }

    /// [`Policy::decide`] with the members of the policy's dynamic sets: `members(set,
    /// address)` says whether `address` is in dynamic set `set` ([`Policy::decide`]
    /// takes every set as empty, as a first apply creates them).
    ///
    /// ```
    /// use fwdsl::{Action, Packet};
    /// let policy = fwdsl::firewall! { allow established; set banned dynamic; drop src $banned; allow tcp 22; drop all; };
    /// let probe = Packet::tcp([203, 0, 113, 9], 22);
    /// assert_eq!(policy.decide(&probe).action(), Action::Allow);
    /// let banned = |set: &str, address| set == "banned" && address == probe.src;
    /// assert_eq!(policy.decide_with(&probe, &banned).unwrap().action(), Action::Drop);
    /// ```
    pub fn decide_with(
        &self,
        packet: &Packet,
        members: fwdsl_core::Members<'_>,
    ) -> Option<Decision<'_>> {
        self.through_nat(packet, |seen| {
            fwdsl_core::decide_with(&self.rules, seen, members)
        })
    }

    /// The names of the dynamic sets the policy's rules use (`set banned dynamic;`
    /// … `src $banned`), each once, in order of first use.
    pub fn dynamic_sets(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for m in self.rules.iter().map(|r| &r.matches) {
            for name in [&m.src_set, &m.dst_set].into_iter().flatten() {
                if !names.contains(&name.as_ref()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The fail-closed remainder of this policy: its operator's access path and a
    /// catch-all (`allow established; allow in lo; allow tcp PORT src FROM in IFACE;
    /// drop all;`), what [`Firewall::flush_to_access`](crate::Firewall::flush_to_access)
    /// applies.
    ///
    /// ```
    /// use fwdsl::{Action, Packet};
    /// let policy = fwdsl::firewall! { allow established; ssh 22 from 10.0.0.0/8; allow tcp 22 src 10.0.0.0/8; allow https; drop all; };
    /// let lockdown = policy.access_only();
    /// assert_eq!(lockdown.decide(&Packet::tcp([10, 1, 2, 3], 22)).action(), Action::Allow);
    /// assert_eq!(lockdown.decide(&Packet::tcp([10, 1, 2, 3], 443)).action(), Action::Drop);
    /// ```
    pub fn access_only(&self) -> Policy {
        let mut text = format!("{};\nallow established;\nallow in lo;\n", self.access);
        if let Access::Ssh { port, from, iface } = &self.access {
            text.push_str(&format!("allow tcp {port}"));
            if let Some(from) = from {
                text.push_str(&format!(" src {from}"));
            }
            if let Some(iface) = iface {
                text.push_str(&format!(" in {iface}"));
            }
            text.push_str(";\n");
        }
        text.push_str("drop all;\n");
        Policy::parse(&text).expect("the access path of a checked policy is a valid policy")
    }

    #[cfg(feature = "live")]
    #[cfg_attr(docsrs, doc(cfg(feature = "live")))]
    /// Makes this policy the live firewall of the host (the network namespace of the
    /// calling thread) with [`Firewall::new`](crate::Firewall::new)'s defaults: see
    /// [`Firewall::apply`](crate::Firewall::apply).
    pub fn apply(&self) -> Result<crate::ApplyReport, Error> {
        crate::Firewall::new().apply(self)
    }
}
