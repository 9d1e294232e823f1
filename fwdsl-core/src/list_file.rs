//! Address lists kept in files: `drop src [file "drop.txt"];`, one address or network per
//! line, `#` comments. Whoever reads the policy (the macro at compile time, a policy file
//! at run time) finds the file relative to its own base and splices the entries into the
//! list as string tokens; these helpers are what both share.

use crate::token::{Token, TokenKind};
use ipnet::IpNet;
use std::net::IpAddr;

/// If the tokens at `i` are a `file "PATH"` element of an address list (after `[` or
/// `,`), its path.
pub fn list_file_at(tokens: &[Token], i: usize) -> Option<&str> {
    let in_list = i > 0 && matches!(tokens[i - 1].kind, TokenKind::Punct('[' | ','));
    match (&tokens[i].kind, tokens.get(i + 1).map(|t| &t.kind)) {
        (TokenKind::Ident(word), Some(TokenKind::Str(path))) if in_list && word == "file" => {
            Some(path)
        }
        _ => None,
    }
}

/// A list file's entries as the tokens of a list (`"a" , "b" , …`), each at its line of
/// the file, checked: `Err((line, message))` for the first bad one. Empty when the file
/// lists nothing.
pub fn list_file_tokens(text: &str) -> Result<Vec<Token>, (u32, String)> {
    let mut tokens = Vec::new();
    for (line, entry) in list_entries(text)? {
        if !tokens.is_empty() {
            tokens.push(Token::at(TokenKind::Punct(','), line));
        }
        tokens.push(Token::at(TokenKind::Str(entry.to_string()), line));
    }
    Ok(tokens)
}

/// The entries of a list file with their 1-based line numbers (blank lines and
/// comments left out), each checked: `Err((line, message))` for the first bad one.
fn list_entries(text: &str) -> Result<Vec<(u32, &str)>, (u32, String)> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let line = i as u32 + 1;
        net_from_text(entry).map_err(|(message, _)| (line, message))?;
        entries.push((line, entry));
    }
    Ok(entries)
}

/// An address or network as written, or what is wrong with it and a help text.
pub(crate) fn net_from_text(text: &str) -> Result<IpNet, (String, String)> {
    let net = if text.contains('/') {
        text.parse::<IpNet>().ok()
    } else {
        text.parse::<IpAddr>().ok().map(IpNet::from)
    };
    let Some(net) = net else {
        return Err((
            format!("`{text}` is not an IP address or network"),
            "write `10.0.0.1`, `10.0.0.0/8`, `::1` or a string such as `\"2001:db8::/32\"`".into(),
        ));
    };
    if net.trunc() != net {
        return Err((
            format!("`{text}` has host bits set"),
            format!(
                "write the network `{}`, or `{}` for the single host",
                net.trunc(),
                net.addr()
            ),
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_comments_and_the_first_bad_line() {
        let text = "# drop list\n198.51.100.7\n\n203.0.113.0/24  # a net\n";
        assert_eq!(
            list_entries(text).unwrap(),
            vec![(2, "198.51.100.7"), (4, "203.0.113.0/24")]
        );
        let (line, message) = list_entries("10.0.0.1\n10.0.0.1/8\nx\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("host bits"), "{message}");
        let tokens = list_file_tokens(text).unwrap();
        assert_eq!(
            tokens
                .iter()
                .map(|t| (t.text(), t.line))
                .collect::<Vec<_>>(),
            [
                ("\"198.51.100.7\"".to_string(), 2),
                (",".to_string(), 4),
                ("\"203.0.113.0/24\"".to_string(), 4)
            ]
        );
    }
}
