//! Questions a unit test or a reviewer asks of whole regions of packets, answered
//! exactly: does a policy accept anything of a region ([`Policy::accepts`]), and what
//! does a changed policy accept that the old one did not ([`Policy::opens_beyond`]).

use crate::error::{Error, Problem, Problems};
use crate::{Policy, Severity};
use fwdsl_core::{Direction, Matches, Packet};
use std::fmt;

/// A region of packets, written as a rule's matches: `tcp 1-21, 23-79 src 0.0.0.0/0`,
/// `out tcp 25`, `udp 53 in eth0`. It stands for the first packets of new connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    direction: Direction,
    matches: Matches,
}

impl Query {
    /// Reads a region in the policy language's matches (after an optional direction).
    ///
    /// ```
    /// let other_ports = fwdsl::Query::parse("tcp 1-21, 23-79, 81-442, 444-65535 src 0.0.0.0/0").unwrap();
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow http; allow https; drop all; };
    /// assert_eq!(policy.accepts(&other_ports), None);
    /// ```
    pub fn parse(text: &str) -> Result<Query, Error> {
        let source = format!("ssh none;\nallow {text};\n");
        let tokens = fwdsl_core::lex(&source).map_err(|e| query_error(text, e.message))?;
        let compiled = fwdsl_core::compile(&tokens);
        // Only the query's own problems count (not the missing catch-all).
        let statement_line = 2;
        if let Some(d) = compiled.diagnostics.iter().find(|d| {
            d.severity == Severity::Error
                && d.tokens
                    .is_some_and(|r| tokens[r.first].line == statement_line)
                && !d.message.contains("catch-all")
        }) {
            return Err(query_error(text, d.message.clone()));
        }
        let rule = compiled
            .rules
            .into_iter()
            .next()
            .ok_or_else(|| query_error(text, "it names no packets".into()))?;
        Ok(Query {
            direction: rule.direction,
            matches: rule.matches,
        })
    }
}

fn query_error(text: &str, message: String) -> Error {
    Error::Policy(Problems(vec![Problem {
        severity: Severity::Error,
        file: None,
        line: None,
        column: None,
        source_line: None,
        message: format!("query `{text}`: {message}"),
        help: None,
    }]))
}

/// What a new policy accepts that an old one did not: one entry per rule of the new
/// policy and rule of the old one between which packets changed, each with a packet
/// to paste into a `decide` test. Empty: the change opens nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Openings {
    /// The openings: (the new rule's text and line, the old rule's text and line if
    /// one decided those packets, a witness packet).
    pub openings: Vec<Opening>,
}

/// One way a new policy opens something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The new policy's rule that accepts, as written, and its line.
    pub rule: (String, u32),
    /// The old policy's rule that dropped or rejected those packets, if one did.
    pub instead_of: Option<(String, u32)>,
    /// A packet the new policy accepts and the old one does not.
    pub witness: Packet,
}

impl Openings {
    /// Whether the change opens nothing.
    pub fn is_empty(&self) -> bool {
        self.openings.is_empty()
    }
}

/// Like a diff: `+` what the new policy lets through, against what the old one did.
impl fmt::Display for Openings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "opens nothing");
        }
        for o in &self.openings {
            let before = match &o.instead_of {
                Some((text, line)) => format!("was `{text}` (line {line})"),
                None => "no rule matched before".to_string(),
            };
            writeln!(
                f,
                "+ `{}` (line {}) accepts what {before}: e.g. {}",
                o.rule.0, o.rule.1, o.witness
            )?;
        }
        Ok(())
    }
}

impl Policy {
    /// A packet of `query` (a new connection) this policy accepts, if there is one:
    /// `None` proves that nothing of the region gets in.
    ///
    /// ```
    /// use fwdsl::Query;
    /// let policy = fwdsl::firewall! { allow established; allow ssh; allow tcp 8080 src 10.0.0.0/8; drop all; };
    /// let world_8080 = Query::parse("tcp 8080 src 0.0.0.0/0").unwrap();
    /// let witness = policy.accepts(&world_8080).expect("10/8 reaches 8080");
    /// assert!(witness.src.to_string().starts_with("10."));
    /// ```
    pub fn accepts(&self, query: &Query) -> Option<Packet> {
        fwdsl_core::accepted_witness(self.rules(), query.direction, &query.matches, true)
    }

    /// What this policy accepts that `old` does not, exactly: the question a reviewer
    /// asks of a firewall change.
    ///
    /// ```
    /// let old = fwdsl::firewall! { allow established; allow ssh; allow https; drop all; };
    /// let new = fwdsl::firewall! { allow established; allow ssh; allow https; allow tcp 8080; drop all; };
    /// let opened = new.opens_beyond(&old);
    /// assert_eq!(opened.openings.len(), 1);
    /// let diff = opened.to_string();
    /// assert!(diff.starts_with("+ `allow tcp 8080` (line "), "{diff}");
    /// assert!(diff.contains("accepts what was `drop all`"), "{diff}");
    /// fwdsl::assert_opens_nothing!(old, new); // and the other way round, nothing opens
    /// ```
    pub fn opens_beyond(&self, old: &Policy) -> Openings {
        let rule =
            |rules: &[fwdsl_core::Rule], i: usize| (rules[i].text.to_string(), rules[i].line);
        Openings {
            openings: fwdsl_core::openings(self.rules(), old.rules())
                .into_iter()
                .map(|o| Opening {
                    rule: rule(self.rules(), o.rule),
                    instead_of: o.instead_of.map(|k| rule(old.rules(), k)),
                    witness: o.witness,
                })
                .collect(),
        }
    }
}

/// Fails, with a diff-like message, when `new` accepts anything `old` did not.
///
/// ```should_panic
/// let old = fwdsl::firewall! { allow established; allow ssh; drop all; };
/// let new = fwdsl::firewall! { allow established; allow ssh; allow tcp 3306; drop all; };
/// fwdsl::assert_opens_nothing!(new, old);
/// ```
#[macro_export]
macro_rules! assert_opens_nothing {
    ($new:expr, $old:expr $(,)?) => {{
        let openings = $new.opens_beyond(&$old);
        assert!(
            openings.is_empty(),
            "the new policy opens what the old one did not:\n{}",
            openings
        );
    }};
}
