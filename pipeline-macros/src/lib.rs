//! The `pipeline!` DSL, `#[derive(Event)]` and `#[operator]`.
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
mod operator;
mod ops;
mod parse;
mod suggest;

use proc_macro::TokenStream;
use syn::parse_macro_input;

/// Defines a pipeline. See the `pipeline` crate for the DSL.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    let def = parse_macro_input!(input as parse::PipelineDef);
    match analyze::run(&def) {
        Ok(analysis) => codegen::expand(&def, &analysis),
        Err(errors) => fallback::expand(&def, errors),
    }
    .into()
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

/// Makes a struct's `ValueState`, `MapState` and `ListState` fields keyed
/// state for `process_keyed`: the stage keeps their values per key, swaps
/// the current key's into the fields around each `on_record` and
/// `on_timer` call, and saves them in checkpoints. `#[ttl(30min)]` on a
/// state field clears it for a key idle that long. See the `pipeline`
/// crate.
#[proc_macro_attribute]
pub fn operator(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::ItemStruct);
    // On an error the struct is still emitted (without the `#[ttl]`
    // attributes this macro owns), so only the error shows.
    let mut plain = item.clone();
    for field in plain.fields.iter_mut() {
        field.attrs.retain(|a| !a.path().is_ident("ttl"));
    }
    let unchanged = quote::ToTokens::to_token_stream(&plain);
    operator::expand(attr.into(), item)
        .unwrap_or_else(|e| {
            let mut out = e.into_compile_error();
            out.extend(unchanged);
            out
        })
        .into()
}
