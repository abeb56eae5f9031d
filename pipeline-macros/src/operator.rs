//! `#[operator]`: turns the state fields of a struct (`ValueState<T>`,
//! `MapState<K, V>`, `ListState<T>`) into keyed state that
//! `process_keyed` keeps per key and saves in checkpoints.
//!
//! The struct is left as written; the attribute adds an `OperatorState`
//! impl that swaps the fields with one key's values (a tuple of the field
//! types, in declaration order: the order is the state's layout in
//! checkpoints). Other fields are configuration, cloned into each parallel
//! instance.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// The state field types the attribute recognises, by their last path
/// segment.
const STATE_TYPES: &[&str] = &["ValueState", "MapState", "ListState"];

fn is_state_type(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| STATE_TYPES.iter().any(|t| s.ident == t)),
        _ => false,
    }
}

pub(crate) fn expand(attr: TokenStream, item: syn::ItemStruct) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new(
            attr.span(),
            "`#[operator]` takes no arguments",
        ));
    }
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "an `#[operator]` struct cannot have generic parameters yet; give its state fields concrete types",
        ));
    }
    let syn::Fields::Named(fields) = &item.fields else {
        return Err(syn::Error::new(
            item.ident.span(),
            "an `#[operator]` struct needs named fields: its state is its `ValueState`, `MapState` and `ListState` fields",
        ));
    };
    let state: Vec<&syn::Field> = fields
        .named
        .iter()
        .filter(|f| is_state_type(&f.ty))
        .collect();
    if state.is_empty() {
        return Err(syn::Error::new(
            item.ident.span(),
            "`#[operator]` found no state field in this struct: declare the state it keeps per key as fields of type `ValueState<T>`, `MapState<K, V>` or `ListState<T>`",
        ));
    }
    let name = &item.ident;
    let tys = state.iter().map(|f| &f.ty);
    let swaps = state.iter().enumerate().map(|(i, f)| {
        let field = &f.ident;
        let i = syn::Index::from(i);
        quote_spanned!(f.span()=> ::core::mem::swap(&mut self.#field, &mut values.#i);)
    });
    let empties = (0..state.len()).map(|i| {
        let i = syn::Index::from(i);
        quote!(&& ::pipeline::runtime::state::StateField::is_empty(&values.#i))
    });
    let names: Vec<String> = state
        .iter()
        .filter_map(|f| f.ident.as_ref().map(ToString::to_string))
        .collect();
    let doc = format!("Keyed state fields: {}.", names.join(", "));
    Ok(quote! {
        #item

        #[doc = #doc]
        impl ::pipeline::runtime::state::OperatorState for #name {
            type Values = (#(#tys,)*);
            fn swap_values(&mut self, values: &mut Self::Values) {
                #(#swaps)*
            }
            fn values_empty(values: &Self::Values) -> bool {
                true #(#empties)*
            }
        }
    })
}
