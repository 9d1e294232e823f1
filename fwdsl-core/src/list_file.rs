//! Address lists kept in files: `drop src [file "drop.txt"];`, one address or network per
//! line, `#` comments. Whoever reads the policy (the macro at compile time, a policy file
//! at run time) finds the file relative to its own base and splices the entries into the
//! list as one token ([`TokenKind::Nets`]); these helpers are what both share.

use crate::token::{Token, TokenKind};
use ipnet::IpNet;
use std::net::IpAddr;

/// If the tokens at `i` are a `file "PATH"` element of an address list (after `[` or
/// `,`), its path.
pub fn list_file_at(tokens: &[Token], i: usize) -> Option<&str> {
    let in_list = i > 0 && matches!(tokens[i - 1].kind, TokenKind::Punct('[' | ','));
    match (&tokens.get(i)?.kind, tokens.get(i + 1).map(|t| &t.kind)) {
        (TokenKind::Ident(word), Some(TokenKind::Str(path))) if in_list && word == "file" => {
            Some(path)
        }
        _ => None,
    }
}

/// A list file's entries as one token of the list, checked: `Err((line, message))` for
/// the first bad line (an entry that is not a network). Both families may be listed:
/// the rule becomes one rule per family. `None` when the file lists nothing.
pub fn list_file_token(text: &str) -> Result<Option<Token>, (u32, String)> {
    let mut nets: Vec<IpNet> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let line = i as u32 + 1;
        // Until a line has read as an address, the file may be anything (`/etc/shadow`
        // named by mistake or on purpose): its text is not repeated.
        let net = net_from_text(entry).map_err(|(message, _)| match nets.is_empty() {
            true => (
                line,
                "the file does not read as an address list (one address or network a line, `#` comments)"
                    .to_string(),
            ),
            false => (line, message),
        })?;
        nets.push(net);
    }
    Ok((!nets.is_empty()).then(|| Token::at(TokenKind::Nets(nets.into()), 1)))
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
        let token = list_file_token(text).unwrap().unwrap();
        let TokenKind::Nets(nets) = token.kind else {
            panic!("one token of networks")
        };
        let expected: Vec<IpNet> = vec![
            "198.51.100.7/32".parse().unwrap(),
            "203.0.113.0/24".parse().unwrap(),
        ];
        assert_eq!(nets[..], expected[..]);
        let (line, message) = list_file_token("root:x:0:0:root:/root:/bin/bash\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(!message.contains("root"), "{message}");
        let (line, message) = list_file_token("10.0.0.1\n10.0.0.1/8\nx\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("host bits"), "{message}");
        // Both families: the rule becomes one rule per family.
        let both = list_file_token("10.0.0.1\n# v6\n2001:db8::1\n")
            .unwrap()
            .unwrap();
        let TokenKind::Nets(both) = both.kind else {
            panic!("not a list")
        };
        assert_eq!(both.len(), 2);
        assert!(list_file_token("# nothing\n\n").unwrap().is_none());
    }
}
