//! `#[derive(Event)]`: implements `Event` from the field marked
//! `#[event_time]`.

use crate::codegen::runtime;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Index};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let rt = runtime();
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`#[derive(Event)]` works on structs, with one field marked `#[event_time]`",
        ));
    };
    let marked: Vec<(usize, &syn::Field)> = data
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.attrs.iter().any(|a| a.path().is_ident("event_time")))
        .collect();
    let (index, field) = match marked.as_slice() {
        [one] => *one,
        [] => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "`#[derive(Event)]` needs one field marked `#[event_time]`, such as `#[event_time] at: Timestamp`",
            ));
        }
        [_, second, ..] => {
            return Err(syn::Error::new_spanned(
                second.1,
                "only one field can be marked `#[event_time]`",
            ));
        }
    };
    for attr in field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("event_time"))
    {
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            return Err(syn::Error::new_spanned(
                attr,
                "`#[event_time]` takes no arguments",
            ));
        }
    }
    let access = match (&data.fields, &field.ident) {
        (Fields::Named(_), Some(ident)) => quote!(#ident),
        _ => {
            let i = Index::from(index);
            quote!(#i)
        }
    };
    let ty = &field.ty;
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    // Spanned at the field's type: a type that is no timestamp is reported
    // there.
    let time = quote_spanned! {ty.span()=>
        <#ty as #rt::ToTimestamp>::to_timestamp(&self.#access)
    };
    Ok(quote! {
        impl #impl_generics #rt::Event for #name #ty_generics #where_clause {
            #[inline]
            fn event_time(&self) -> #rt::Timestamp {
                #time
            }
        }
    })
}
