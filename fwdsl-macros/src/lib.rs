//! The `firewall!` macro of fwdsl. Implementation detail of `fwdsl`; not semver-stable:
//! depend on `fwdsl`, which re-exports the macro.
//!
//! A thin front end: `tokens` turns the input into the shared language's tokens,
//! `fwdsl_core::compile` parses and checks them, and `expand` turns the result into
//! plain data for the runtime, or into errors at the user's spans.
#![warn(missing_docs, rust_2018_idioms, unused_qualifications)]

mod expand;
mod pieces;
mod tokens;

use proc_macro::TokenStream;

/// Checks a firewall policy at compile time and builds it as a `fwdsl::Policy`.
///
/// See the `fwdsl` crate for the language and examples.
#[proc_macro]
pub fn firewall(input: TokenStream) -> TokenStream {
    expand::firewall(input.into()).into()
}

/// Defines pieces of policy shared between policies and crates, checked as part of
/// every policy that uses them: `rules! { pub base { allow ssh; } }`, then `use base;`
/// inside `firewall!`.
///
/// The `fwdsl` crate's front page has an example under "Shared pieces"
/// (<https://docs.rs/fwdsl/latest/fwdsl/#shared-pieces>), and the README's "Policies
/// as Rust code" and "Invariants the compiler proves" more.
#[proc_macro]
pub fn rules(input: TokenStream) -> TokenStream {
    pieces::rules(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
