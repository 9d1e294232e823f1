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
            Some(r) => (self.spans[r.first], self.spans[r.last]),
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
        self.spans[range.first]
    }
}
