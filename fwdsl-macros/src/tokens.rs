//! Turns rustc's token trees into the policy language's tokens, keeping each token's
//! span so diagnostics can point back at what the user wrote.

use fwdsl_core::{Token, TokenKind, TokenRange};
use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};

/// The flattened input: the language's tokens, and the rustc span of each.
pub(crate) struct Tokens {
    pub tokens: Vec<Token>,
    pub spans: Vec<Span>,
}

impl Tokens {
    pub(crate) fn new(input: TokenStream) -> Tokens {
        let mut out = Tokens {
            tokens: Vec::new(),
            spans: Vec::new(),
        };
        out.flatten(input);
        out
    }

    /// Replaces each `file "PATH"` in an address list by the file's entries, read
    /// relative to the crate's `Cargo.toml`, each spanned at the path. Returns the files
    /// read, for the expansion to `include_bytes!` so that cargo rebuilds on a change.
    pub(crate) fn splice_files(&mut self) -> syn::Result<Vec<String>> {
        let base = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
        let mut files = Vec::new();
        let mut i = 0;
        while i < self.tokens.len() {
            let Some(list) = fwdsl_core::list_file_at(&self.tokens, i) else {
                i += 1;
                continue;
            };
            let span = self.spans[i + 1];
            let path = std::path::Path::new(&base).join(list);
            let error = |message: String| syn::Error::new(span, message);
            let text = fwdsl_core::read_regular(&path, fwdsl_core::LIST_FILE_MAX).map_err(|e| {
                error(format!(
                    "cannot read `{list}` (relative to Cargo.toml): {e}"
                ))
            })?;
            let mut token = fwdsl_core::list_file_token(&text)
                .map_err(|(line, message)| error(format!("{list}:{line}: {message}")))?
                .ok_or_else(|| error(format!("`{list}` lists no address")))?;
            // Errors about the list point at the path that brought it in.
            token.line = self.tokens[i + 1].line;
            token.column = self.tokens[i + 1].column;
            self.tokens.splice(i..i + 2, [token]);
            self.spans.splice(i..i + 2, [span]);
            files.push(path.display().to_string());
            i += 1;
        }
        Ok(files)
    }

    fn push(&mut self, kind: TokenKind, span: Span) {
        let start = span.start();
        self.tokens.push(Token {
            kind,
            line: start.line as u32,
            column: start.column as u32 + 1,
        });
        self.spans.push(span);
    }

    fn flatten(&mut self, input: TokenStream) {
        for tree in input {
            match tree {
                TokenTree::Ident(ident) if ident == crate::pieces::DOLLAR => {
                    self.push(TokenKind::Punct('$'), ident.span());
                }
                TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    let name = name.strip_prefix("r#").unwrap_or(&name).to_string();
                    self.push(TokenKind::Ident(name), ident.span());
                }
                TokenTree::Punct(punct) => {
                    let c = punct.as_char();
                    let kind = if ";,-:./=$".contains(c) {
                        TokenKind::Punct(c)
                    } else {
                        TokenKind::Other(c.to_string())
                    };
                    self.push(kind, punct.span());
                }
                TokenTree::Literal(literal) => {
                    let kind = match syn::Lit::new(literal.clone()) {
                        syn::Lit::Str(s) => TokenKind::Str(s.value()),
                        syn::Lit::Int(_) | syn::Lit::Float(_) => {
                            TokenKind::Number(literal.to_string())
                        }
                        _ => TokenKind::Other(literal.to_string()),
                    };
                    self.push(kind, literal.span());
                }
                TokenTree::Group(group) => match group.delimiter() {
                    // Invisible groups come from `macro_rules!` fragments: see through them.
                    Delimiter::None => self.flatten(group.stream()),
                    Delimiter::Bracket => {
                        self.push(TokenKind::Punct('['), group.span_open());
                        self.flatten(group.stream());
                        self.push(TokenKind::Punct(']'), group.span_close());
                    }
                    Delimiter::Parenthesis | Delimiter::Brace => {
                        self.push(TokenKind::Other(group.to_string()), group.span());
                    }
                },
            }
        }
    }

    /// Tokens spanning a diagnostic's range, for `syn::Error::new_spanned`, which
    /// points from the first token's span to the last one's.
    pub(crate) fn spanned(&self, range: Option<TokenRange>) -> TokenStream {
        let (first, last) = match range {
            Some(r) => (self.span(r.first), self.span(r.last)),
            None => match (self.spans.first(), self.spans.last()) {
                (Some(&f), Some(&l)) => (f, l),
                _ => (Span::call_site(), Span::call_site()),
            },
        };
        [Ident::new("first", first), Ident::new("last", last)]
            .into_iter()
            .map(TokenTree::Ident)
            .collect()
    }

    /// The span of a diagnostic's first token.
    pub(crate) fn first_span(&self, range: TokenRange) -> Span {
        self.span(range.first)
    }

    /// The span of token `i`, or of the last token where a diagnostic points past it.
    fn span(&self, i: usize) -> Span {
        self.spans
            .get(i)
            .or(self.spans.last())
            .copied()
            .unwrap_or_else(Span::call_site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn list_files_are_spliced_and_bad_lines_named() {
        let mut tokens = Tokens::new(quote! { drop src [file "tests/lists/two.txt", 10.0.0.1]; });
        let files = tokens.splice_files().unwrap();
        assert!(files[0].ends_with("tests/lists/two.txt"), "{files:?}");
        let text: Vec<String> = tokens.tokens.iter().map(Token::text).collect();
        assert_eq!(
            text,
            [
                "drop",
                "src",
                "[",
                "<2 networks of a list file>",
                ",",
                "10.0",
                ".",
                "0.1",
                "]",
                ";"
            ]
        );
        let mut bad = Tokens::new(quote! { drop src [file "tests/lists/bad.txt"]; });
        let e = bad.splice_files().unwrap_err().to_string();
        assert_eq!(e, "tests/lists/bad.txt:3: `10.0.0.1/8` has host bits set");
    }
}
