//! `#[operator]`: turns the state fields of a struct (`ValueState<T>`,
//! `MapState<K, V>`, `ListState<T>`) into keyed state that
//! `process_keyed` keeps per key and saves in checkpoints.
//!
//! The struct is left as written (but for `#[ttl(..)]` attributes on state
//! fields, which it reads and removes); the attribute adds an
//! `OperatorState` impl that swaps the fields with one key's values (a
//! tuple of the field types, in declaration order: the order is the
//! state's layout in checkpoints) and clears fields whose time to live has
//! passed. Other fields are configuration, cloned into each parallel
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

/// Takes the `#[ttl(DURATION)]` attribute off `field`, returning the
/// duration in milliseconds.
fn take_ttl(field: &mut syn::Field) -> syn::Result<Option<u64>> {
    let mut ttl = None;
    let mut error = None;
    let state = is_state_type(&field.ty);
    field.attrs.retain(|a| {
        if !a.path().is_ident("ttl") {
            return true;
        }
        if !state {
            error = Some(syn::Error::new(
                a.meta.span(),
                "`#[ttl(..)]` applies to state fields (`ValueState`, `MapState`, `ListState`)",
            ));
            return false;
        }
        if ttl.is_some() {
            error = Some(syn::Error::new(
                a.meta.span(),
                "this field has two `#[ttl(..)]`s; keep one",
            ));
            return false;
        }
        match a.parse_args::<syn::Expr>() {
            Ok(e) => match crate::analyze::duration_millis(&e) {
                Ok(0) => {
                    error = Some(syn::Error::new(
                        e.span(),
                        "a time to live must be longer than zero",
                    ));
                }
                Ok(ms) if i64::try_from(ms).is_err() => {
                    error = Some(syn::Error::new(e.span(), "this time to live is too long"));
                }
                Ok(ms) => ttl = Some(ms),
                Err(err) => error = Some(err),
            },
            Err(_) => {
                error = Some(syn::Error::new(
                    a.span(),
                    "write the time to live as `#[ttl(30min)]`",
                ));
            }
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok(ttl),
    }
}

pub(crate) fn expand(attr: TokenStream, mut item: syn::ItemStruct) -> syn::Result<TokenStream> {
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
    let ident = item.ident.clone();
    let syn::Fields::Named(fields) = &mut item.fields else {
        return Err(syn::Error::new(
            ident.span(),
            "an `#[operator]` struct needs named fields: its state is its `ValueState`, `MapState` and `ListState` fields",
        ));
    };
    let mut ttls = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut report = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for field in fields.named.iter_mut() {
        let ttl = take_ttl(field).unwrap_or_else(|e| {
            report(e);
            None
        });
        if is_state_type(&field.ty) {
            ttls.push(ttl);
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    let state: Vec<syn::Field> = fields
        .named
        .iter()
        .filter(|f| is_state_type(&f.ty))
        .cloned()
        .collect();
    if state.is_empty() {
        return Err(syn::Error::new(
            ident.span(),
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
    let expiries = ttls.iter().enumerate().filter_map(|(i, ttl)| {
        let ttl = i64::try_from((*ttl)?).ok()?;
        let i = syn::Index::from(i);
        Some(quote! {
            if idle_ms >= #ttl {
                values.#i = ::core::default::Default::default();
            }
        })
    });
    let bound = |ms: Option<&u64>| match ms {
        Some(ms) => {
            let ms = i64::try_from(*ms).unwrap_or(i64::MAX);
            quote!(::core::option::Option::Some(#ms))
        }
        None => quote!(::core::option::Option::None),
    };
    let min_ttl = bound(ttls.iter().flatten().min());
    let max_ttl = bound(ttls.iter().flatten().max());
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
            const MIN_TTL_MS: ::core::option::Option<i64> = #min_ttl;
            const MAX_TTL_MS: ::core::option::Option<i64> = #max_ttl;
            fn expire(values: &mut Self::Values, idle_ms: i64) {
                let _ = (&values, idle_ms);
                #(#expiries)*
            }
        }
    })
}
