//! `join(other).on(left_key, right_key)`, optionally followed by
//! `.window(WINDOW)` (window join) or `.between(LOWER, UPPER)` (interval
//! join); without either it is the stream-table join, `other` being the
//! table, whose state may be given a time to live with `.ttl(DURATION)`.

use super::{StageCx, StageSpec, stream_arg, window};
use crate::analyze::{Ctxt, duration_millis};
use crate::parse::{Modifier, StageCall};
use crate::suggest;
use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, Ident, UnOp};

pub(crate) const SPEC: StageSpec = StageSpec {
    name: "join",
    check,
    expand,
    inputs: |stage| stream_arg(stage).cloned().into_iter().collect(),
    defines: super::no_inputs,
    takes_modifiers: true,
};

const MODIFIERS: [&str; 4] = ["on", "window", "between", "ttl"];

/// A signed duration in milliseconds: `2s`, `-500ms`.
fn signed_millis(expr: &Expr) -> syn::Result<i64> {
    let (negative, magnitude) = match expr {
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => (true, &*u.expr),
        other => (false, other),
    };
    let ms = duration_millis(magnitude)?;
    let ms =
        i64::try_from(ms).map_err(|_| syn::Error::new(expr.span(), "this duration is too long"))?;
    Ok(if negative { -ms } else { ms })
}

fn modifier<'a>(stage: &'a StageCall, name: &str) -> Option<&'a Modifier> {
    stage.modifiers.iter().find(|m| m.name == name)
}

fn check(stage: &StageCall, cx: &mut Ctxt) {
    if stream_arg(stage).is_none() {
        cx.error(
            stage.args_span(),
            "`join` takes the stream to join with, as in `join(auctions).on(|b| b.auction, |a| a.id)`",
        );
    }
    for (i, m) in stage.modifiers.iter().enumerate() {
        let name = m.name.to_string();
        if !MODIFIERS.contains(&name.as_str()) {
            let hint = suggest::did_you_mean(&name, MODIFIERS);
            cx.error(
                m.name.span(),
                format!("unknown join modifier `{name}`{hint} (the modifiers are `.on(..)`, `.window(..)`, `.between(..)` and `.ttl(..)`)"),
            );
        } else if stage.modifiers[..i].iter().any(|e| e.name == m.name) {
            cx.error(m.name.span(), format!("`.{name}(..)` is given twice"));
        }
    }
    match modifier(stage, "on") {
        None => cx.error(
            stage.span,
            "`join` needs the keys to match on: add `.on(|left| key, |right| key)`",
        ),
        Some(on) if on.args.len() != 2 => cx.error(
            on.span,
            "`.on` takes two key functions, one per stream, as in `.on(|b: &Bid| b.auction, |a: &Auction| a.id)`",
        ),
        Some(_) => {}
    }
    let (win, between) = (modifier(stage, "window"), modifier(stage, "between"));
    if let (Some(_), Some(b)) = (win, between) {
        cx.error(
            b.name.span(),
            "a join has either `.window(..)` (window join) or `.between(..)` (interval join), not both",
        );
    }
    if let Some(t) = modifier(stage, "ttl") {
        if win.is_some() || between.is_some() {
            cx.error(
                t.name.span(),
                "`.ttl(..)` applies to the stream-table join; window and interval joins drop their state as the watermark passes",
            );
        }
        match t.args.as_slice() {
            [d] => match duration_millis(d) {
                Ok(0) => cx.error(d.span(), "a time to live must be longer than zero"),
                Ok(_) => {}
                Err(e) => cx.push(e),
            },
            _ => cx.error(
                t.span,
                "`.ttl` takes one duration, how long a key's row and waiting records live without records, as in `.ttl(1h)`",
            ),
        }
    }
    if let Some(w) = win {
        match w.args.as_slice() {
            [arg] => {
                if let Some(spec) = window::parse(arg, cx)
                    && spec.kind == "global"
                {
                    cx.error(arg.span(), "a window join needs a window of time such as `tumbling(10s)`; `global` windows never fire on their own");
                }
            }
            _ => cx.error(
                w.span,
                "`.window` takes one window, as in `.window(tumbling(10s))`",
            ),
        }
    }
    if let Some(b) = between {
        match b.args.as_slice() {
            [lower, upper] => {
                let bounds = (signed_millis(lower), signed_millis(upper));
                match bounds {
                    (Ok(lo), Ok(hi)) if lo > hi => cx.error(
                        b.span,
                        "the lower bound is above the upper one; write `.between(LOWER, UPPER)`, as in `.between(-2s, 5s)`",
                    ),
                    (lo, hi) => {
                        for e in [lo.err(), hi.err()].into_iter().flatten() {
                            cx.push(e);
                        }
                    }
                }
            }
            _ => cx.error(
                b.span,
                "`.between` takes two durations, the right record's earliest and latest time relative to the left one's, as in `.between(-2s, 5s)`",
            ),
        }
    }
}

fn expand(stage: &StageCall, cx: &StageCx) -> TokenStream {
    let span = stage.name.span();
    let (Some(other), Some(on)) = (cx.streams.first(), modifier(stage, "on")) else {
        return TokenStream::new();
    };
    let [left_key, right_key] = on.args.as_slice() else {
        return TokenStream::new();
    };
    if let Some(w) = modifier(stage, "window") {
        let mut ignored = Ctxt::default();
        let Some(spec) = w.args.first().and_then(|a| window::parse(a, &mut ignored)) else {
            return TokenStream::new();
        };
        let assigner = window::assigner(&spec);
        let method = Ident::new("join_window", span);
        return quote_spanned! {span=>
            let __window = #assigner;
            let __s = __s.#method(#other, #left_key, #right_key, __window);
        };
    }
    if let Some(b) = modifier(stage, "between") {
        let (Some(Ok(lower)), Some(Ok(upper))) = (
            b.args.first().map(signed_millis),
            b.args.get(1).map(signed_millis),
        ) else {
            return TokenStream::new();
        };
        let method = Ident::new("join_interval", span);
        return quote_spanned! {span=>
            let __s = __s.#method(#other, #left_key, #right_key, #lower, #upper)?;
        };
    }
    let ttl = match modifier(stage, "ttl").and_then(|t| t.args.first()) {
        Some(d) => match duration_millis(d)
            .ok()
            .and_then(|ms| i64::try_from(ms).ok())
        {
            Some(ms) => quote::quote!(::core::option::Option::Some(#ms)),
            None => return TokenStream::new(),
        },
        None => quote::quote!(::core::option::Option::None),
    };
    let method = Ident::new("join_table", span);
    quote_spanned! {span=> let __s = __s.#method(#other, #left_key, #right_key, #ttl);}
}
