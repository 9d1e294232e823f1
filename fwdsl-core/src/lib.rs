//! Grammar, rule model and analysis of the fwdsl firewall language, shared by the
//! `firewall!` macro (compile time) and `fwdsl::Policy::parse` (run time) so that
//! both always accept, reject and explain a policy the same way.
//!
//! Implementation detail of `fwdsl`; not semver-stable. Use the `fwdsl` crate.
//!
//! The pipeline is: a front end turns its input into [`Token`]s (the macro from a
//! `TokenStream`, [`lex`] from a string), [`compile`] parses and checks them and
//! returns the rules together with every [`Diagnostic`], each pointing at a
//! [`TokenRange`] that the front end maps back to its own spans.
#![warn(missing_docs, rust_2018_idioms, unused_qualifications)]

mod assertions;
mod builtin;
mod check;
mod check_nat;
mod decider;
pub use assertions::{rust as packet_as_rust, violation, Violation};
pub use check::{analyze, Analysis, Lockout, Reach};
mod diag;
mod format;
mod list_file;
mod meet;
mod model;
mod nat;
mod packet;
mod packet_text;
mod parse;
mod queries;
mod services;
mod source_file;
mod space;
mod token;

pub use builtin::{neighbour_discovery_in, Builtin, ND_HOP_LIMIT, NEIGHBOUR_DISCOVERY};
pub use decider::Decider;
pub use diag::{Diagnostic, Severity, TokenRange};
pub use format::format;
pub use list_file::{list_file_at, list_file_token};
pub use model::protocol_name;
pub use model::{
    Access, Action, Assertion, ConnState, Direction, DynamicSet, Expect, Family, IcmpType, Log,
    Matches, PortRange, ProtoSet, Rate, Rule, ICMP_TYPES, PROTOCOLS,
};
pub use nat::{source_nat, translate, NatKind, NatRule, Translation};
pub use packet::{decide, decide_with, Decision, Members, Packet, Proto};
pub use packet_text::PacketSyntaxError;
pub use parse::{duration_text, DYNAMIC_SET_NAME_MAX, IPTABLES_COMMENT_MAX, STATEMENT_WORDS};
pub use queries::{
    accepted_from_outside, accepted_witness, differences, differences_by, openings, Difference,
    Opening,
};
pub use services::{Service, SERVICES};
pub use source_file::{read_regular, LIST_FILE_MAX, POLICY_FILE_MAX};
pub use token::{lex, LexError, Token, TokenKind};

/// The result of compiling a policy: its rules (as far as they could be understood)
/// and every problem found, errors and warnings alike.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The rules, in order. Rules with errors are left out.
    pub rules: Vec<Rule>,
    /// For each rule in `rules`, the tokens it was written with.
    pub rule_tokens: Vec<TokenRange>,
    /// The NAT statements, in order (their own list: they are not filter rules).
    pub nat: Vec<NatRule>,
    /// For each NAT statement, the tokens it was written with.
    pub nat_tokens: Vec<TokenRange>,
    /// The operator's declared access path (`ssh …;`), checked for lockout.
    pub access: Access,
    /// The assertions (`assert open …;`, `assert closed …;`), proved against the rules.
    pub assertions: Vec<Assertion>,
    /// The dynamic sets declared (`set banned dynamic timeout 1h;`), in order.
    pub dynamic_sets: Vec<DynamicSet>,
    /// Every error and warning, in source order of discovery.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// Whether any diagnostic is an error (warnings alone still give a usable policy).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// The problems a piece of policy (`rules! { base { … } }`) has on its own, where it is
/// defined: every statement's own errors (a bad port, an unknown service). What needs
/// the whole policy (ordering, lockout, a catch-all, names defined by the policy that
/// uses the piece) waits for each `firewall!` that uses it.
pub fn check_piece(tokens: &[Token]) -> Vec<Diagnostic> {
    parse::parse(tokens)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .filter(|d| {
            !d.message.starts_with("unknown set `$") && !d.message.starts_with("unknown ports `$")
        })
        .collect()
}

/// Parses and checks a policy given as tokens: the one entry point both the macro and
/// the runtime use.
pub fn compile(tokens: &[Token]) -> Compiled {
    let mut parsed = parse::parse(tokens);
    let mut diagnostics = std::mem::take(&mut parsed.diagnostics);
    // A rule left out for a syntax error can only make later rules *more* reachable,
    // so ordering and shadowing stay exact without it; the lockout check and the
    // missing catch-all could report errors that are not there, so they wait for a
    // policy whose every statement parsed.
    let complete = diagnostics.iter().all(|d| d.severity != Severity::Error);
    diagnostics.extend(check::check(&parsed, complete));
    Compiled {
        rules: parsed.rules,
        rule_tokens: parsed.rule_tokens,
        nat: parsed.nat,
        nat_tokens: parsed.nat_tokens,
        access: parsed.access,
        assertions: parsed.assertions,
        dynamic_sets: parsed.dynamic_sets,
        diagnostics,
    }
}
