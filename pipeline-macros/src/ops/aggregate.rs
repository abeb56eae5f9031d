//! `aggregate(count() | sum(f) | min(f) | max(f) | avg(f) | EXPR)`.
//!
//! `f` is a field name (`sum(price)`) or a closure (`sum(|r| r.price)`);
//! any other expression is a user type implementing `Aggregate`.

use super::{StageCx, StageSpec, expect_args, no_inputs};
use crate::analyze::Ctxt;
use crate::parse::StageCall;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, Ident};

pub(crate) const SPEC: StageSpec = StageSpec {
    name: "aggregate",
    check,
    expand,
    inputs: no_inputs,
    defines: no_inputs,
    takes_modifiers: false,
};

const BUILTIN: &[&str] = &["count", "sum", "min", "max", "avg", "top"];

/// A call of a built-in aggregate: its name and arguments.
fn builtin(expr: &Expr) -> Option<(&Ident, &ExprCall)> {
    let Expr::Call(call) = expr else { return None };
    let Expr::Path(path) = &*call.func else {
        return None;
    };
    let ident = path.path.get_ident()?;
    BUILTIN.iter().any(|b| ident == b).then_some((ident, call))
}

fn check(stage: &StageCall, cx: &mut Ctxt) {
    if stage.args.is_empty() {
        expect_args(
            stage,
            1,
            "`count()`, `sum(..)`, `min(..)`, `max(..)`, `avg(..)` or an `Aggregate`",
            cx,
        );
        return;
    }
    if stage.args.len() > 5 {
        cx.error(
            stage.args_span(),
            "`aggregate` takes at most 5 aggregates at once",
        );
    }
    for arg in &stage.args {
        check_one(arg, cx);
    }
}

fn check_one(arg: &Expr, cx: &mut Ctxt) {
    if let Some((name, call)) = builtin(arg) {
        match (name.to_string().as_str(), call.args.len()) {
            ("count", 0) | ("top", 2) => {}
            ("count", _) => cx.error(call.args.span(), "`count()` takes no argument"),
            ("top", _) => cx.error(
                call.span(),
                "`top` takes how many records to keep and what to rank them by, as in `top(3, price)` or `top(3, |r| r.price)`",
            ),
            (_, 1) => {}
            (other, _) => cx.error(
                call.span(),
                format!(
                    "`{other}` takes one argument: a field name or a closure, as in `{other}(price)` or `{other}(|r| r.price)`"
                ),
            ),
        }
    }
}

fn expand(stage: &StageCall, _cx: &StageCx) -> TokenStream {
    let method = &stage.name;
    let parts: Vec<TokenStream> = stage.args.iter().map(aggregate_expr).collect();
    // One builder `__agg` for all; several aggregates give a tuple.
    let build = match parts.as_slice() {
        [one] => quote!(|__agg| #one),
        several => quote!(|__agg| (#(#several,)*)),
    };
    quote_spanned! {method.span()=> let __s = __s.#method(#build);}
}

/// The expression making one aggregate, using the builder `__agg`.
fn aggregate_expr(arg: &Expr) -> TokenStream {
    match builtin(arg) {
        Some((name, call)) => {
            // `top(n, f)` ranks by its last argument; the others take one.
            let count = (name == "top").then(|| call.args.first()).flatten();
            let field = call
                .args
                .last()
                .filter(|_| name != "count")
                .map(|f| match f {
                    Expr::Path(p) if p.path.get_ident().is_some() && p.qself.is_none() => {
                        let ident = p.path.get_ident().map(|i| quote!(#i));
                        quote_spanned! {f.span()=> |__r| __r.#ident}
                    }
                    other => quote!(#other),
                });
            let args = match count {
                Some(n) => quote!(#n, #field),
                None => quote!(#field),
            };
            quote_spanned! {name.span()=> __agg.#name(#args)}
        }
        None => quote_spanned! {arg.span()=> { let _ = __agg; #arg }},
    }
}
