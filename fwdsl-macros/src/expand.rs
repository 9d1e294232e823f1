//! From a compiled policy to tokens: the rules as a `static` array of plain data that the
//! runtime wraps without parsing; errors at the user's spans; warnings as uses of
//! `#[deprecated]` items, the one way to warn from a proc macro on stable Rust.

use crate::tokens::Tokens;
use fwdsl_core::{
    Access, Action, Compiled, ConnState, Diagnostic, Direction, Matches, NatKind, NatRule,
    PortRange, Rate, Rule, Severity,
};
use ipnet::IpNet;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

pub(crate) fn firewall(input: TokenStream) -> TokenStream {
    // A `use PIECE;` first asks the piece for its rules (see `pieces`).
    if let Some((before, path, after)) = crate::pieces::first_use(&input) {
        let fwdsl = runtime();
        return crate::pieces::callback(quote!(#fwdsl::firewall), before, path, after);
    }
    let mut tokens = Tokens::new(input);
    let files = match tokens.splice_files() {
        Ok(files) => files,
        Err(e) => return with_placeholder(e),
    };
    let compiled = fwdsl_core::compile(&tokens.tokens);
    if compiled.has_errors() {
        return errors(&tokens, &compiled);
    }
    let warnings = compiled.diagnostics.iter().map(|d| warning(&tokens, d));
    let rules = compiled.rules.iter().map(QuoteRule);
    let count = compiled.rules.len();
    let nat = compiled.nat.iter().map(QuoteNat);
    let nat_count = compiled.nat.len();
    let access = QuoteAccess(&compiled.access);
    // Each assertion's parts in a static of their own, which the assertion refers to.
    let part_statics = compiled.assertions.iter().enumerate().map(|(i, a)| {
        let name = format_ident!("__FWDSL_ASSERTION_{i}");
        let parts = a.parts.iter().map(QuoteRule);
        let n = a.parts.len();
        quote!(static #name: [__fwdsl::Rule; #n] = [#(#parts),*];)
    });
    let assertions = compiled.assertions.iter().enumerate().map(|(i, a)| {
        let name = format_ident!("__FWDSL_ASSERTION_{i}");
        let open = a.expect == fwdsl_core::Expect::Open;
        let (text, line) = (a.text.as_ref(), a.line);
        quote!(__fwdsl::assertion(#open, &#name, #text, #line))
    });
    let asserted = compiled.assertions.len();
    let sets = compiled.dynamic_sets.iter().map(|set| {
        let name = set.name.as_ref();
        let opt = |v: Option<u64>| match v {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        };
        let (timeout, max) = (opt(set.timeout), opt(set.max));
        quote!(__fwdsl::dynamic_set(#name, #timeout, #max))
    });
    let set_count = compiled.dynamic_sets.len();
    let fwdsl = runtime();
    quote! {
        {
            #(#warnings)*
            // The list files read, so that cargo rebuilds when one changes.
            #(const _: &[u8] = include_bytes!(#files);)*
            use #fwdsl::__private as __fwdsl;
            static __FWDSL_RULES: [__fwdsl::Rule; #count] = [#(#rules),*];
            static __FWDSL_NAT: [__fwdsl::NatRule; #nat_count] = [#(#nat),*];
            #(#part_statics)*
            static __FWDSL_ASSERTIONS: [__fwdsl::Assertion; #asserted] = [#(#assertions),*];
            static __FWDSL_SETS: [__fwdsl::DynamicSet; #set_count] = [#(#sets),*];
            __fwdsl::policy(&__FWDSL_RULES, &__FWDSL_NAT, #access, &__FWDSL_ASSERTIONS, &__FWDSL_SETS)
        }
    }
}

pub(crate) fn message(d: &Diagnostic) -> String {
    match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    }
}

/// Every error at once.
fn errors(tokens: &Tokens, compiled: &Compiled) -> TokenStream {
    let combined = compiled
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| syn::Error::new_spanned(tokens.spanned(d.tokens), message(d)))
        .reduce(|mut all, e| {
            all.combine(e);
            all
        })
        .expect("has_errors() found an error");
    with_placeholder(combined)
}

/// The errors, then a placeholder policy so that the code around the macro sees a
/// `Policy` and reports no follow-on type errors.
fn with_placeholder(errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let fwdsl = runtime();
    quote! {
        {
            #errors
            #fwdsl::__private::placeholder()
        }
    }
}

/// The runtime crate as the user's crate names it: `::fwdsl`, or `::fw` under
/// `fw = { package = "fwdsl" }`.
fn runtime() -> TokenStream {
    use proc_macro_crate::{crate_name, FoundCrate};
    match crate_name("fwdsl") {
        Ok(FoundCrate::Name(name)) => {
            let name = format_ident!("{name}");
            quote!(::#name)
        }
        // fwdsl's own tests name themselves `fwdsl` (`extern crate self as fwdsl`).
        Ok(FoundCrate::Itself) | Err(_) => quote!(::fwdsl),
    }
}

/// A warning shows where a `#[deprecated]` function is called: the use is given the span of
/// the rule, the note carries the message. `#[allow(deprecated)]` silences it.
fn warning(tokens: &Tokens, d: &Diagnostic) -> TokenStream {
    let span = d.tokens.map_or(Span::call_site(), |r| tokens.first_span(r));
    let name = format_ident!("fwdsl_{}", d.lint.unwrap_or("warning"), span = span);
    let note = message(d);
    quote_spanned! {span=>
        {
            #[deprecated(note = #note)]
            fn #name() {}
            #name();
        }
    }
}

struct QuoteRule<'a>(&'a Rule);

impl ToTokens for QuoteRule<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let rule = self.0;
        let action = match rule.action {
            Action::Allow => quote!(__fwdsl::ALLOW),
            Action::Drop => quote!(__fwdsl::DROP),
            Action::Reject => quote!(__fwdsl::REJECT),
            Action::Log => quote!(__fwdsl::LOG),
        };
        let direction = match rule.direction {
            Direction::In => quote!(__fwdsl::IN),
            Direction::Out => quote!(__fwdsl::OUT),
            Direction::Forward => quote!(__fwdsl::FORWARD),
        };
        let matches = QuoteMatches(&rule.matches);
        let rate = |r: &Rate| {
            let (count, seconds, burst) = (r.count, r.seconds, r.burst);
            quote!(__fwdsl::rate(#count, #seconds, #burst))
        };
        let limit = match &rule.limit {
            None => quote!(::core::option::Option::None),
            Some(r) => {
                let r = rate(r);
                quote!(::core::option::Option::Some(#r))
            }
        };
        let log = match &rule.log {
            None => quote!(::core::option::Option::None),
            Some(l) => {
                let prefix = quote_str(l.prefix.as_deref());
                let r = rate(&l.rate);
                quote!(::core::option::Option::Some((#prefix, #r)))
            }
        };
        let text = rule.text.as_ref();
        let comment = quote_str(rule.comment.as_deref());
        let line = rule.line;
        out.extend(quote! {
            __fwdsl::rule(#action, #direction, #matches, #limit, #log, #text, #comment, #line)
        });
    }
}

/// A rule's matches as a struct, field by field (the compiler checks each by name), of
/// the fields that differ from [`Matches::ANY`] only: most rules name two or three, and
/// every token written is one rustc reads.
struct QuoteMatches<'a>(&'a Matches);

impl ToTokens for QuoteMatches<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let m = self.0;
        let mut fields = TokenStream::new();
        if m.protocols != Matches::ANY.protocols {
            let protocols = m.protocols.bits();
            fields.extend(quote!(protocols: __fwdsl::ProtoSet::from_bits(#protocols),));
        }
        // A list field, where the list is not empty (empty is `ANY`'s).
        let mut list = |field: &str, items: Vec<TokenStream>| {
            if !items.is_empty() {
                let field = format_ident!("{field}");
                fields.extend(quote!(#field: __fwdsl::Cow::Borrowed(&[#(#items),*]),));
            }
        };
        list("dports", m.dports.iter().map(quote_ports).collect());
        list("sports", m.sports.iter().map(quote_ports).collect());
        list("src", m.src.iter().map(quote_net).collect());
        list("dst", m.dst.iter().map(quote_net).collect());
        let cow = |text: &str| quote!(::core::option::Option::Some(__fwdsl::Cow::Borrowed(#text)));
        for (name, value) in [
            ("src_set", &m.src_set),
            ("dst_set", &m.dst_set),
            ("iface", &m.iface),
            ("oface", &m.oface),
        ] {
            if let Some(text) = value {
                let (name, value) = (format_ident!("{name}"), cow(text));
                fields.extend(quote!(#name: #value,));
            }
        }
        let byte = |b: Option<u8>| match b {
            None => quote!(::core::option::Option::None),
            Some(b) => quote!(::core::option::Option::Some(#b)),
        };
        if let Some(t) = m.icmp_type {
            let (v4, v6) = (byte(t.v4), byte(t.v6));
            fields.extend(quote!(icmp_type: ::core::option::Option::Some(__fwdsl::IcmpType { v4: #v4, v6: #v6 }),));
        }
        if let Some(n) = m.protocol {
            fields.extend(quote!(protocol: ::core::option::Option::Some(#n),));
        }
        if let Some(state) = m.state {
            let state = match state {
                ConnState::New => quote!(New),
                ConnState::Established => quote!(Established),
                ConnState::Invalid => quote!(Invalid),
            };
            fields.extend(quote!(state: ::core::option::Option::Some(__fwdsl::ConnState::#state),));
        }
        out.extend(quote!(__fwdsl::Matches { #fields ..__fwdsl::Matches::ANY }));
    }
}

struct QuoteNat<'a>(&'a NatRule);

impl ToTokens for QuoteNat<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let rule = self.0;
        let addr = |a: &std::net::IpAddr| match a {
            std::net::IpAddr::V4(a) => {
                let octets = a.octets();
                quote!(__fwdsl::ip4([#(#octets),*]))
            }
            std::net::IpAddr::V6(a) => {
                let bits = u128::from(*a);
                quote!(__fwdsl::ip6(#bits))
            }
        };
        let kind = match &rule.kind {
            NatKind::Dnat { addr: a, port } => {
                let (a, port) = (addr(a), port.unwrap_or(0));
                quote!(__fwdsl::dnat(#a, #port))
            }
            NatKind::Redirect { port } => quote!(__fwdsl::NatKind::Redirect { port: #port }),
            NatKind::Masquerade => quote!(__fwdsl::NatKind::Masquerade),
            NatKind::Snat { addr: a } => {
                let a = addr(a);
                quote!(__fwdsl::NatKind::Snat { addr: #a })
            }
            NatKind::Exempt { destination } => {
                quote!(__fwdsl::NatKind::Exempt { destination: #destination })
            }
        };
        let matches = QuoteMatches(&rule.matches);
        let text = rule.text.as_ref();
        let comment = quote_str(rule.comment.as_deref());
        let (line, local) = (rule.line, rule.local);
        out.extend(quote!(__fwdsl::nat(#kind, #matches, #text, #comment, #line, #local)));
    }
}

fn quote_ports(r: &PortRange) -> TokenStream {
    let (first, last) = (r.first, r.last);
    quote!(__fwdsl::ports(#first, #last))
}

fn quote_net(net: &IpNet) -> TokenStream {
    match net {
        IpNet::V4(n) => {
            let octets = n.addr().octets();
            let prefix = n.prefix_len();
            quote!(__fwdsl::v4([#(#octets),*], #prefix))
        }
        IpNet::V6(n) => {
            let bits = u128::from(n.addr());
            let prefix = n.prefix_len();
            quote!(__fwdsl::v6(#bits, #prefix))
        }
    }
}

fn quote_option_net(net: Option<&IpNet>) -> TokenStream {
    match net {
        None => quote!(::core::option::Option::None),
        Some(net) => {
            let net = quote_net(net);
            quote!(::core::option::Option::Some(#net))
        }
    }
}

fn quote_str(text: Option<&str>) -> TokenStream {
    match text {
        None => quote!(::core::option::Option::None),
        Some(t) => quote!(::core::option::Option::Some(#t)),
    }
}

struct QuoteAccess<'a>(&'a Access);

impl ToTokens for QuoteAccess<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        out.extend(match self.0 {
            Access::Console => quote!(__fwdsl::CONSOLE),
            Access::Ssh { port, from, iface } => {
                let from = quote_option_net(from.as_ref());
                let iface = quote_str(iface.as_deref());
                quote!(__fwdsl::ssh(#port, #from, #iface))
            }
        });
    }
}
