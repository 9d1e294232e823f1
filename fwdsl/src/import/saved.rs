//! `iptables-save` text as a chain program: the filter table's chains, each with its
//! policy (built-in chains) and its rules in order, every rule with its line and its
//! words (quoting as `iptables-save` writes it). Other tables are listed so that their
//! rules can be refused by name.

/// One `-A CHAIN …` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedRule {
    /// 1-based line in the file (an nftables rule's handle); 0 for a chain's policy
    /// written as a rule.
    pub line: usize,
    /// The rule as written (without counters).
    pub text: String,
    /// Its words after `-A CHAIN`, unquoted.
    pub words: Vec<String>,
    /// Why it cannot be imported, where its reader knew before the words (nftables
    /// expressions with no iptables words).
    pub refused: Option<String>,
}

/// A chain of the filter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    pub name: String,
    /// `ACCEPT`/`DROP` for a built-in chain, `None` for a user chain (`-`).
    pub policy: Option<String>,
    pub rules: Vec<SavedRule>,
}

/// What a file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Saved {
    pub chains: Vec<Chain>,
    /// The nat table's chains.
    pub nat: Vec<Chain>,
    /// Rules of other tables (`*nat`, `*mangle`, …): (table, rule).
    pub elsewhere: Vec<(String, SavedRule)>,
}

impl Saved {
    pub(crate) fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// The nat table as a table of its own (for the same walk).
    pub(crate) fn nat_table(&self) -> Saved {
        Saved {
            chains: self.nat.clone(),
            ..Saved::default()
        }
    }
}

/// Splits a rule's words as a shell would the quoting `iptables-save` writes (`"…"`
/// with `\"` inside).
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            match c {
                c if c.is_whitespace() => break,
                '"' => {
                    chars.next();
                    loop {
                        match chars.next() {
                            Some('\\') => word.extend(chars.next()),
                            Some('"') => break,
                            Some(c) => word.push(c),
                            None => return Err("a quote is not closed".into()),
                        }
                    }
                }
                c => {
                    word.push(c);
                    chars.next();
                }
            }
        }
        out.push(word);
    }
    Ok(out)
}

/// Reads `iptables-save` (or `ip6tables-save`) output. Errors name the line.
pub(crate) fn parse(text: &str) -> Result<Saved, (usize, String)> {
    let mut saved = Saved::default();
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        // `-c` saves put counters first: `[12:345] -A INPUT …`.
        let trimmed = raw.trim();
        let body = match trimmed.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(trimmed, |(_, r)| r.trim()),
            None => trimmed,
        };
        if body.is_empty() || body.starts_with('#') || body == "COMMIT" {
            continue;
        }
        if let Some(name) = body.strip_prefix('*') {
            table = name.trim().to_string();
            continue;
        }
        if let Some(decl) = body.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let name = parts
                .next()
                .ok_or((line, "a chain without a name".into()))?;
            let policy = parts.next().filter(|p| *p != "-").map(String::from);
            let chain = Chain {
                name: name.to_string(),
                policy,
                rules: Vec::new(),
            };
            match table.as_str() {
                "filter" => saved.chains.push(chain),
                "nat" => saved.nat.push(chain),
                _ => {}
            }
            continue;
        }
        let Some(rest) = body.strip_prefix("-A ") else {
            return Err((
                line,
                format!("`{body}` is not a line of iptables-save output"),
            ));
        };
        let all = words(rest).map_err(|e| (line, e))?;
        let (chain, args) = all
            .split_first()
            .ok_or((line, "`-A` without a chain".into()))?;
        let rule = SavedRule {
            line,
            text: body.to_string(),
            words: args.to_vec(),
            refused: None,
        };
        let chains = match table.as_str() {
            "filter" => &mut saved.chains,
            "nat" => &mut saved.nat,
            _ => {
                saved.elsewhere.push((table.clone(), rule));
                continue;
            }
        };
        match chains.iter_mut().find(|c| &c.name == chain) {
            Some(c) => c.rules.push(rule),
            None => return Err((line, format!("chain `{chain}` is not declared"))),
        }
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chains_rules_quoting_and_counters() {
        let text = "# Generated by iptables-save\n*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:ufw-user-input - [0:0]\n[3:120] -A INPUT -i lo -j ACCEPT\n-A INPUT -m comment --comment \"say \\\"hi\\\"\" -j ufw-user-input\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.5\nCOMMIT\n";
        let saved = parse(text).unwrap();
        let input = saved.chain("INPUT").unwrap();
        assert_eq!(input.policy.as_deref(), Some("DROP"));
        assert_eq!(input.rules[0].words, ["-i", "lo", "-j", "ACCEPT"]);
        assert_eq!(input.rules[0].line, 6);
        assert_eq!(input.rules[1].words[3], "say \"hi\"");
        assert_eq!(saved.chain("ufw-user-input").unwrap().policy, None);
        assert_eq!(saved.nat[0].rules[0].words[5], "DNAT");
        assert!(parse("*filter\n-A NOPE -j ACCEPT\n").is_err());
    }
}
