//! `union(a, b, ..)`: the input stream and the named streams, merged.

use super::{StageCx, StageSpec, no_inputs};
use crate::analyze::Ctxt;
use crate::parse::StageCall;
use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, Ident};

pub(crate) const SPEC: StageSpec = StageSpec {
    name: "union",
    check,
    expand,
    inputs,
    defines: no_inputs,
    takes_modifiers: false,
};

fn stream_name(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

fn check(stage: &StageCall, cx: &mut Ctxt) {
    if stage.args.is_empty() {
        cx.error(
            stage.span,
            "`union` needs at least one stream to merge with, as in `union(other)`",
        );
    }
    for arg in &stage.args {
        if stream_name(arg).is_none() {
            cx.error(
                arg.span(),
                "`union` takes stream names, as in `union(clicks, views)`",
            );
        }
    }
}

fn inputs(stage: &StageCall) -> Vec<Ident> {
    stage.args.iter().filter_map(stream_name).cloned().collect()
}

fn expand(stage: &StageCall, cx: &StageCx) -> TokenStream {
    let method = &stage.name;
    let others = &cx.streams;
    quote_spanned! {method.span()=> #(let __s = __s.#method(#others);)*}
}
