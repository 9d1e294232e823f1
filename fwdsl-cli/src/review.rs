//! The questions a policy repository's CI asks: `fwdsl diff OLD NEW` (what a change
//! opens and closes, exactly, with a packet for each) and `fwdsl assertions FILE` (the
//! invariants a policy proves).

use crate::Out;
use fwdsl::{Opening, Policy};
use serde_json::json;
use std::process::ExitCode;

fn opening_json(o: &Opening) -> serde_json::Value {
    json!({
        "rule": { "text": o.rule.0, "line": o.rule.1 },
        "instead_of": o.instead_of.as_ref().map(|(text, line)| json!({ "text": text, "line": line })),
        "witness": o.witness.to_string(),
    })
}

/// `+` for what NEW accepts that OLD did not, `-` for what OLD accepted that NEW does not.
fn line(sign: char, o: &Opening, other: &str) -> String {
    let before = match &o.instead_of {
        Some((text, line)) => format!("`{text}` (line {line} of {other})"),
        None => format!("no rule of {other}"),
    };
    let verb = if sign == '+' {
        "now accepts"
    } else {
        "accepted"
    };
    format!(
        "{sign} `{}` (line {}) {verb} what {before} does not: e.g. {}",
        o.rule.0, o.rule.1, o.witness
    )
}

pub fn diff(old: &Policy, new: &Policy, allow_openings: bool, json: bool, out: &Out) -> ExitCode {
    let opened = new.opens_beyond(old);
    let closed = old.opens_beyond(new);
    if json {
        println!(
            "{}",
            json!({
                "opens": opened.openings.iter().map(opening_json).collect::<Vec<_>>(),
                "closes": closed.openings.iter().map(opening_json).collect::<Vec<_>>(),
            })
        );
    } else {
        for o in &opened.openings {
            println!("{}", line('+', o, "OLD"));
        }
        for o in &closed.openings {
            println!("{}", line('-', o, "NEW"));
        }
        if opened.is_empty() && closed.is_empty() {
            out.say(format_args!(
                "the two policies accept exactly the same new connections"
            ));
        } else if opened.is_empty() {
            out.say(format_args!("NEW opens nothing"));
        }
    }
    match !opened.is_empty() && !allow_openings {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    }
}

pub fn assertions(policy: &Policy, json: bool, out: &Out) -> ExitCode {
    let proved = policy.assertions();
    if json {
        let list: Vec<_> = proved
            .iter()
            .map(|a| json!({ "line": a.line, "assertion": a.text, "holds": true }))
            .collect();
        println!("{}", serde_json::Value::from(list));
    } else if proved.is_empty() {
        out.say(format_args!(
            "the policy asserts nothing (`assert closed tcp 3306;` proves a port stays closed)"
        ));
    } else {
        for a in proved {
            println!("line {:>4}: {};  holds", a.line, a.text);
        }
    }
    ExitCode::SUCCESS
}
