//! `fwdsl explain FILE PACKET`: which rule decides a packet and why: the rule and its
//! line, the `log` rules it passed, what decides above a rate limit, the translation a
//! NAT statement makes on the way.

use crate::outcome::Failure;
use fwdsl::{Decision, Packet, Policy, Rule};
use serde_json::json;
use std::process::ExitCode;

fn rule_json(number: usize, rule: &Rule) -> serde_json::Value {
    json!({ "number": number, "line": rule.line, "text": rule.text, "action": rule.action.keyword() })
}

fn rule_text(number: usize, rule: &Rule) -> String {
    format!("rule {number} (line {}) `{}`", rule.line, rule.text)
}

/// The decision as sentences, one a line.
fn text(policy: &Policy, packet: &Packet, d: &Decision) -> String {
    let rules = policy.rules();
    let mut lines = vec![packet.to_string()];
    if let Some(t) = &d.nat {
        lines.push(format!(
            "translated by `{}` (line {}) to {}; the filter decides it as {} traffic",
            t.rule.text,
            t.rule.line,
            t.packet,
            t.packet.direction.name()
        ));
    }
    for &i in &d.logged_by {
        lines.push(format!("logged by {}", rule_text(i + 1, &rules[i])));
    }
    let verdict = d.action().keyword();
    match (d.number(), d.builtin) {
        (Some(n), _) => lines.push(format!("{verdict}: decided by {}", rule_text(n, d.rule))),
        (None, _) => lines.push(format!(
            "{verdict}: by a rule fwdsl adds ahead of the policy's own ({})",
            d.rule.text
        )),
    }
    if d.rule.limit.is_some() {
        lines.push(match d.above_limit {
            Some(j) => format!(
                "above its rate limit, {} decides instead ({})",
                rule_text(j + 1, &rules[j]),
                rules[j].action.keyword()
            ),
            None => "above its rate limit, no later rule matches: the built-in chain decides"
                .to_string(),
        });
    }
    if let Some(k) = d.source_nat {
        let nat = &policy.nat()[k];
        lines.push(format!("leaves under `{}` (line {})", nat.text, nat.line));
    }
    lines.join("\n")
}

fn as_json(policy: &Policy, packet: &Packet, d: &Decision) -> serde_json::Value {
    let rules = policy.rules();
    json!({
        "packet": packet.to_string(),
        "action": d.action().keyword(),
        "rule": d.number().map(|n| rule_json(n, d.rule)),
        "builtin": d.builtin.map(|_| d.rule.text.to_string()),
        "logged_by": d.logged_by.iter().map(|&i| rule_json(i + 1, &rules[i])).collect::<Vec<_>>(),
        "above_limit": d.rule.limit.map(|_| d.above_limit.map(|j| rule_json(j + 1, &rules[j]))),
        "nat": d.nat.as_ref().map(|t| json!({ "line": t.rule.line, "text": t.rule.text, "to": t.packet.to_string() })),
        "source_nat": d.source_nat.map(|k| json!({ "line": policy.nat()[k].line, "text": policy.nat()[k].text })),
    })
}

pub fn run(policy: &Policy, words: &[String], json: bool) -> Result<ExitCode, Failure> {
    let packet: Packet = words
        .join(" ")
        .parse()
        .map_err(|e: fwdsl::PacketSyntaxError| Failure::Usage(e.to_string()))?;
    let Some(d) = policy.try_decide(&packet) else {
        return Err(Failure::Other(format!(
            "the policy has no {} rules: the host's built-in chain decides `{packet}`, not fwdsl",
            packet.direction.name()
        )));
    };
    match json {
        true => println!("{}", as_json(policy, &packet, &d)),
        false => println!("{}", text(policy, &packet, &d)),
    }
    Ok(ExitCode::SUCCESS)
}
