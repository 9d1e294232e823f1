//! Rate limits and logging: `limit 6/30s`, `limit 100/s burst 200`, `log`, `prefix
//! "fw-drop: "`. On an `allow` rule `limit` counts each source's new connections; on
//! a `log` rule (or with `log`) it bounds the log lines.

use super::statement::{Clauses, Statement};
use crate::diag::Diagnostic;
use crate::model::{Action, ConnState, Log, Rate};
use crate::token::TokenKind;
use std::borrow::Cow;

/// The longest prefix the kernel's LOG target takes.
const MAX_PREFIX: usize = 29;

/// Seconds in a rate's unit.
fn unit(word: &str) -> Option<u32> {
    match word {
        "s" | "sec" | "second" => Some(1),
        "m" | "min" | "minute" => Some(60),
        "h" | "hour" => Some(3600),
        "d" | "day" => Some(86_400),
        _ => None,
    }
}

impl Statement<'_, '_> {
    /// `limit [RATE [burst N]]`, `log`, `prefix "…"`.
    pub(super) fn limit_clause(&mut self, c: &mut Clauses, word: &str, start: usize) -> Option<()> {
        match word {
            "log" => {
                if c.log.is_some() {
                    self.error_at(start, "`log` is given twice in one rule".into());
                    return None;
                }
                c.log = Some(self.range(start));
                c.text.push(word.to_string());
                Some(())
            }
            "prefix" => {
                let prefix = self.prefix()?;
                c.text.push(format!("prefix {}", prefix.trim()));
                let range = self.range(start);
                self.set(&mut c.prefix, prefix, range, "log prefix")
            }
            _ => {
                let rate = if self.peek_number() {
                    self.rate()?
                } else {
                    Rate::UFW_LIMIT
                };
                let text = if rate.burst == rate.count {
                    format!("limit {rate}")
                } else {
                    format!("limit {rate} burst {}", rate.burst)
                };
                c.text.push(text);
                let range = self.range(start);
                self.set(&mut c.limit, rate, range, "limit")
            }
        }
    }

    /// `COUNT/UNIT` or `COUNT/Ns` (`6/30s`, `100/s`, `5/min`), then `burst N`.
    fn rate(&mut self) -> Option<Rate> {
        let start = self.pos;
        let count = self.whole_number()?;
        if !self.peek_punct('/') {
            self.error_at(self.pos, "expected `/` in a rate such as `6/30s`".into());
            return None;
        }
        self.pos += 1;
        let seconds = match self.peek().map(|t| t.kind.clone()) {
            // `30s` (or `30` and `s`): a number of seconds, minutes, …
            Some(TokenKind::Number(n)) => {
                self.pos += 1;
                let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
                let mut suffix = n[digits.len()..].to_string();
                if suffix.is_empty() {
                    if let Some(TokenKind::Ident(w)) = self.peek().map(|t| t.kind.clone()) {
                        suffix = w;
                        self.pos += 1;
                    }
                }
                let per = unit(&suffix);
                match (digits.parse::<u32>().ok().filter(|&n| n > 0), per) {
                    (Some(n), Some(per)) => n.checked_mul(per)?,
                    _ => {
                        self.error_at(
                            start,
                            format!("`{n}` is not a period: write `30s`, `5min`, `1h`"),
                        );
                        return None;
                    }
                }
            }
            Some(TokenKind::Ident(w)) if unit(&w).is_some() => {
                self.pos += 1;
                unit(&w)?
            }
            _ => {
                self.error_at(
                    self.pos,
                    "expected a period after `/`: `s`, `min`, `hour`, `day` or `30s`".into(),
                );
                return None;
            }
        };
        let burst = if self.peek().is_some_and(|t| t.is_ident("burst")) {
            self.pos += 1;
            self.whole_number()?
        } else {
            count
        };
        let rate = Rate {
            count,
            seconds,
            burst,
        };
        if rate.iptables().is_none() {
            self.push(Diagnostic::error(
                self.range(start),
                format!("the rate {rate} is not a whole number per second, minute, hour or day, which is all iptables can count"),
            ))
            .help("round it: `6/30s` is `12/min`, `1/7s` could be `9/min`");
            return None;
        }
        Some(rate)
    }

    fn whole_number(&mut self) -> Option<u32> {
        let found = self.peek().map(|t| t.kind.clone());
        match found {
            Some(TokenKind::Number(n)) if n.parse::<u32>().is_ok_and(|n| n > 0) => {
                self.pos += 1;
                n.parse().ok()
            }
            _ => {
                let shown = self
                    .peek()
                    .map_or("nothing".into(), |t| format!("`{}`", t.text()));
                self.error_at(
                    self.pos,
                    format!("expected a whole number above 0, found {shown}"),
                );
                None
            }
        }
    }

    /// `prefix "…"`: the start of each log line.
    fn prefix(&mut self) -> Option<String> {
        let Some(TokenKind::Str(text)) = self.peek().map(|t| t.kind.clone()) else {
            self.error_at(self.pos, "expected a string after `prefix`".into())
                .help("write `prefix \"fw-drop: \"`");
            return None;
        };
        let problem = if text.contains(['"', '\'', '\\'])
            || text
                .chars()
                .any(|c| c.is_control() || super::comments::is_invisible(c))
        {
            Some("quotes, backslashes, control and invisible characters cannot be passed to iptables intact")
        } else if text.len() > MAX_PREFIX {
            Some("the kernel takes at most 29 bytes")
        } else if text.trim().is_empty() {
            Some("it is empty")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.error_at(self.pos, format!("log prefix is not allowed: {problem}"));
            return None;
        }
        self.pos += 1;
        Some(text)
    }

    /// What `limit`, `log` and `prefix` make of a rule with `action`: its connection
    /// limit and its logging.
    pub(super) fn limits_and_logging(
        &mut self,
        action: Action,
        c: &Clauses,
    ) -> Option<(Option<Rate>, Option<Log>)> {
        let prefix = c.prefix.as_ref().map(|(p, _)| Cow::Owned(p.clone()));
        let log_rate = c.limit.as_ref().map_or(Rate::LOG_DEFAULT, |(r, _)| *r);
        let result = match action {
            Action::Log => {
                if let Some(range) = c.log {
                    self.push(Diagnostic::error(range, "a `log` rule logs already"))
                        .help("remove `log`");
                    return None;
                }
                (
                    None,
                    Some(Log {
                        prefix,
                        rate: log_rate,
                    }),
                )
            }
            Action::Allow => {
                if let (Some((_, range)), Some((state, _))) = (&c.limit, &c.state) {
                    if *state != ConnState::New {
                        self.push(Diagnostic::error(*range, format!("`limit` counts new connections, but the rule is about `{}` packets", state.keyword())))
                            .help("remove the state, or the limit");
                        return None;
                    }
                }
                let log = c.log.map(|_| Log {
                    prefix,
                    rate: Rate::LOG_DEFAULT,
                });
                (c.limit.as_ref().map(|(r, _)| *r), log)
            }
            Action::Drop | Action::Reject => {
                if let (Some((_, range)), None) = (&c.limit, c.log) {
                    self.push(Diagnostic::error(*range, "`limit` limits `allow` rules (new connections per source) and logging"))
                        .help("to accept a few connections per source, write `allow … limit 6/30s;` before the drop");
                    return None;
                }
                (
                    None,
                    c.log.map(|_| Log {
                        prefix,
                        rate: log_rate,
                    }),
                )
            }
        };
        if let (Some((_, range)), None) = (&c.prefix, &result.1) {
            self.push(Diagnostic::error(*range, "`prefix` is for logging"))
                .help("add `log` to the rule, or write a `log` rule");
            return None;
        }
        Some(result)
    }
}
