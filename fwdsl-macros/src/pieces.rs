//! Shared pieces of policy: `rules! { pub base { … } }` defines a piece, `use base;`
//! inside `firewall!` puts it where the `use` stands, and the whole policy is checked
//! as one at compile time.
//!
//! A proc macro cannot read another macro's input, so a piece is a `macro_rules!`
//! that hands its tokens back (a callback): `firewall! { A; use base; B }` expands to
//! `base! { (path::to::firewall) [A] [B] }`, and `base!` to `path::to::firewall! { A
//! <the piece's rules> B }`. The piece's tokens keep the spans of the `rules!` that
//! wrote them, so an error in a piece points into the piece. The `firewall!` path is
//! the calling crate's own (it may rename fwdsl), not the piece crate's.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, TokenStream, TokenTree};
use quote::{quote, ToTokens};

/// The first `use PATH;` statement of a policy: the tokens before it, its path, and
/// the tokens after it.
pub(crate) fn first_use(input: &TokenStream) -> Option<(TokenStream, TokenStream, TokenStream)> {
    let trees: Vec<TokenTree> = input.clone().into_iter().collect();
    let mut statement_start = true;
    for (i, tree) in trees.iter().enumerate() {
        let is_use = matches!(tree, TokenTree::Ident(id) if id == "use");
        if statement_start && is_use {
            let end = trees[i..]
                .iter()
                .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))?
                + i;
            let before: TokenStream = trees[..i].iter().cloned().collect();
            let path: TokenStream = trees[i + 1..end].iter().cloned().collect();
            let after: TokenStream = trees[end + 1..].iter().cloned().collect();
            return Some((before, path, after));
        }
        statement_start = matches!(tree, TokenTree::Punct(p) if p.as_char() == ';');
    }
    None
}

/// `firewall! { A; use base; B }` to `base! { (firewall path) [A] [B] }`.
pub(crate) fn callback(
    firewall: TokenStream,
    before: TokenStream,
    path: TokenStream,
    after: TokenStream,
) -> TokenStream {
    let group = |delimiter, stream| TokenTree::Group(Group::new(delimiter, stream));
    let mut out = path;
    out.extend([TokenTree::Punct(Punct::new('!', Spacing::Alone))]);
    let mut args = TokenStream::new();
    args.extend([
        group(Delimiter::Parenthesis, firewall),
        group(Delimiter::Bracket, before),
        group(Delimiter::Bracket, after),
    ]);
    out.extend([group(Delimiter::Brace, args)]);
    out
}

/// `rules! { [pub] NAME { … } … }`: one `macro_rules!` per piece; a `pub` piece is
/// exported from its crate (`use that_crate::NAME;`).
pub(crate) fn rules(input: TokenStream) -> syn::Result<TokenStream> {
    let mut trees = input.into_iter().peekable();
    let mut out = TokenStream::new();
    while trees.peek().is_some() {
        // Doc comments and other attributes go on the piece's macro.
        let mut attributes = TokenStream::new();
        while matches!(trees.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '#') {
            attributes.extend(trees.next());
            attributes.extend(trees.next());
        }
        let export = matches!(trees.peek(), Some(TokenTree::Ident(id)) if id == "pub");
        if export {
            trees.next();
        }
        let name = match trees.next() {
            Some(TokenTree::Ident(name)) => name,
            other => {
                return Err(syn::Error::new_spanned(
                    other.map_or_else(TokenStream::new, |t| t.into_token_stream()),
                    "expected a piece: `pub NAME { rules… }` or `NAME { rules… }`",
                ))
            }
        };
        let body = match trees.next() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g.stream(),
            other => {
                return Err(syn::Error::new_spanned(
                    other.map_or_else(|| name.to_token_stream(), |t| t.into_token_stream()),
                    format!("expected `{{ rules… }}` after `{name}`"),
                ))
            }
        };
        out.extend(attributes);
        out.extend(checked(&body));
        out.extend(piece(&name, body, export));
    }
    Ok(out)
}

/// A piece's own errors, at its spans, where it is defined (so that a piece nobody uses
/// yet is still checked): every statement's own problems; the rest waits for a policy.
fn checked(body: &TokenStream) -> TokenStream {
    let tokens = crate::tokens::Tokens::new(body.clone());
    fwdsl_core::check_piece(&tokens.tokens)
        .iter()
        .map(|d| syn::Error::new_spanned(tokens.spanned(d.tokens), crate::expand::message(d)))
        .reduce(|mut all, e| {
            all.combine(e);
            all
        })
        .map(|e| e.into_compile_error())
        .unwrap_or_default()
}

/// The name `$` takes inside a piece: a literal `$` cannot stand in a `macro_rules!`
/// body, so `$admins` travels as `__fwdsl_dollar admins` and the tokenizer turns it
/// back.
pub(crate) const DOLLAR: &str = "__fwdsl_dollar";

fn escape_dollars(body: TokenStream) -> TokenStream {
    body.into_iter()
        .map(|tree| match tree {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                TokenTree::Ident(Ident::new(DOLLAR, p.span()))
            }
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), escape_dollars(g.stream()));
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            other => other,
        })
        .collect()
}

fn piece(name: &Ident, body: TokenStream, export: bool) -> TokenStream {
    let body = escape_dollars(body);
    let export = export.then(|| quote!(#[macro_export]));
    let doc = format!("The fwdsl policy piece `{name}`: write `use {name};` inside `firewall!`.");
    quote! {
        ///
        #[doc = #doc]
        #export
        macro_rules! #name {
            (($($firewall:tt)*) [$($before:tt)*] [$($after:tt)*]) => {
                $($firewall)*! { $($before)* #body $($after)* }
            };
        }
    }
}
