//! The `pipeline!` DSL and `#[derive(Event)]`.
//!
//! `pipeline!` parses a pipeline, checks it (unknown names, unused streams,
//! connector options, stage arguments), and expands it into calls on the
//! runtime's typed stream builders, each spanned at the user's tokens so
//! that type errors point at the stage that caused them. Use it through the
//! `pipeline` crate, which documents the DSL.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
// Library code reports errors; tests may unwrap.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod analyze;
mod codegen;
mod connectors;
mod event;
mod fallback;
mod ops;
mod parse;
mod suggest;

use proc_macro::TokenStream;
use syn::parse_macro_input;

/// Defines a pipeline. See the `pipeline` crate for the DSL.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    let def = parse_macro_input!(input as parse::PipelineDef);
    let expanded = match analyze::run(&def) {
        Ok(analysis) => codegen::expand(&def, &analysis),
        Err(errors) => fallback::expand(&def, errors),
    };
    internal_names_at_call_site(expanded).into()
}

/// The expansion's own variables (`__s`, `__cfg`, ..) are spanned at the
/// user's stage so that errors point there, which also gives them that
/// token's hygiene. When a `macro_rules!` macro writes part of a pipeline,
/// stages then come from different expansions and could not see each
/// other's variables; this makes every `__` name resolve at the
/// `pipeline!` call, keeping its position for error messages.
fn internal_names_at_call_site(tokens: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    use proc_macro2::{Group, Ident, Span, TokenTree};
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident.to_string().starts_with("__") => {
                let span = ident.span().resolved_at(Span::call_site());
                TokenTree::Ident(Ident::new(&ident.to_string(), span))
            }
            TokenTree::Group(group) => {
                let mut inner = Group::new(
                    group.delimiter(),
                    internal_names_at_call_site(group.stream()),
                );
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

/// Implements `Event` for a struct from its field marked `#[event_time]`
/// (a `Timestamp`, or epoch milliseconds as `i64` or `u64`).
#[proc_macro_derive(Event, attributes(event_time))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
