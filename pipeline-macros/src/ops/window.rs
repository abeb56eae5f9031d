//! `window(tumbling(SIZE) | sliding(SIZE, SLIDE) | session(GAP))`, each
//! optionally followed by `.offset(OFFSET)` (tumbling and sliding), and
//! `allowed_lateness(DURATION)`.

use super::{StageCx, StageSpec, expect_args, no_inputs};
use crate::analyze::{Ctxt, duration_millis};
use crate::codegen::runtime;
use crate::parse::StageCall;
use crate::suggest;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident};

pub(crate) const WINDOW: StageSpec = StageSpec {
    name: "window",
    check,
    expand,
    inputs: no_inputs,
    defines: no_inputs,
};

/// `window_all(..)`: one window over all records (no key), so every
/// record meets in one instance, as Flink's `windowAll`.
pub(crate) const WINDOW_ALL: StageSpec = StageSpec {
    name: "window_all",
    check,
    expand: expand_all,
    inputs: no_inputs,
    defines: no_inputs,
};

/// `late_records(NAME)`: a stream `NAME` of the records too late for every
/// window they belong to.
pub(crate) const LATE_RECORDS: StageSpec = StageSpec {
    name: "late_records",
    check: check_late,
    expand: expand_late,
    inputs: no_inputs,
    defines: |stage| super::stream_arg(stage).cloned().into_iter().collect(),
};

fn check_late(stage: &StageCall, cx: &mut Ctxt) {
    if super::stream_arg(stage).is_none() {
        cx.error(stage.span, "`late_records` takes the name of a new stream for the late records, as in `late_records(late_clicks)`");
    }
}

fn expand_late(stage: &StageCall, _cx: &StageCx) -> TokenStream {
    let method = &stage.name;
    let name = super::stream_arg(stage);
    quote_spanned! {method.span()=> let (__s, #name) = __s.#method();}
}

pub(crate) const ALLOWED_LATENESS: StageSpec = StageSpec {
    name: "allowed_lateness",
    check: check_lateness,
    expand: expand_lateness,
    inputs: no_inputs,
    defines: no_inputs,
};

const ASSIGNERS: &[&str] = &["tumbling", "sliding", "session"];

/// A window as written: its kind, durations in milliseconds, and offset.
struct Spec<'a> {
    kind: &'a Ident,
    millis: Vec<u64>,
    offset: Option<u64>,
}

fn parse<'a>(expr: &'a Expr, cx: &mut Ctxt) -> Option<Spec<'a>> {
    let (call, offset) = match expr {
        Expr::MethodCall(m) if m.method == "offset" => {
            let [arg] = m.args.iter().collect::<Vec<_>>()[..] else {
                cx.error(
                    m.method.span(),
                    "`offset` takes one duration, as in `.offset(2s)`",
                );
                return None;
            };
            let ms = duration_millis(arg).map_err(|e| cx.push(e)).ok()?;
            (&*m.receiver, Some(ms))
        }
        other => (other, None),
    };
    let Expr::Call(call) = call else {
        cx.error(
            expr.span(),
            "expected a window such as `tumbling(10s)`, `sliding(10s, 2s)` or `session(30s)`",
        );
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        cx.error(
            call.func.span(),
            "expected `tumbling`, `sliding` or `session`",
        );
        return None;
    };
    let Some(kind) = func.path.get_ident() else {
        cx.error(
            call.func.span(),
            "expected `tumbling`, `sliding` or `session`",
        );
        return None;
    };
    let name = kind.to_string();
    let expected = match name.as_str() {
        "tumbling" | "session" => 1,
        "sliding" => 2,
        _ => {
            let hint = suggest::did_you_mean(&name, ASSIGNERS.iter().copied());
            cx.error(kind.span(), format!("unknown window `{name}`{hint} (windows are `tumbling(SIZE)`, `sliding(SIZE, SLIDE)` and `session(GAP)`)"));
            return None;
        }
    };
    if call.args.len() != expected {
        let usage = match name.as_str() {
            "tumbling" => "`tumbling(10s)`",
            "sliding" => "`sliding(10s, 2s)` (size, then slide)",
            _ => "`session(30s)` (the gap)",
        };
        cx.error(
            call.span(),
            format!(
                "`{name}` takes {expected} duration{}, as in {usage}",
                if expected == 1 { "" } else { "s" }
            ),
        );
        return None;
    }
    let mut millis = Vec::new();
    for arg in &call.args {
        match duration_millis(arg) {
            Ok(0) => {
                cx.error(
                    arg.span(),
                    format!("a `{name}` window needs a duration of at least 1ms"),
                );
                return None;
            }
            Ok(ms) => millis.push(ms),
            Err(e) => {
                cx.push(e);
                return None;
            }
        }
    }
    if name == "sliding" && millis[1] > millis[0] {
        cx.error(call.args[1].span(), "the slide is longer than the window, so records between windows would be lost; make the slide at most the size");
        return None;
    }
    if name == "session" && offset.is_some() {
        cx.error(
            expr.span(),
            "sessions have no `offset`; they start at their first record",
        );
        return None;
    }
    if let Some(o) = offset {
        let limit = if name == "sliding" {
            millis[1]
        } else {
            millis[0]
        };
        if o >= limit {
            cx.error(
                expr.span(),
                format!(
                    "the offset must be shorter than the window's {}",
                    if name == "sliding" { "slide" } else { "size" }
                ),
            );
            return None;
        }
    }
    Some(Spec {
        kind,
        millis,
        offset,
    })
}

fn check(stage: &StageCall, cx: &mut Ctxt) {
    if expect_args(stage, 1, "a window such as `tumbling(10s)`", cx)
        && let Some(arg) = stage.args.first()
    {
        parse(arg, cx);
    }
}

fn expand_all(stage: &StageCall, cx: &StageCx) -> TokenStream {
    let span = stage.name.span();
    let window = Ident::new("window", span);
    let key_by = Ident::new("key_by", span);
    let body = expand_with(stage, &window, cx);
    quote_spanned! {span=> let __s = __s.#key_by(|_| ()); #body}
}

fn expand(stage: &StageCall, cx: &StageCx) -> TokenStream {
    expand_with(stage, &stage.name, cx)
}

fn expand_with(stage: &StageCall, method: &Ident, _cx: &StageCx) -> TokenStream {
    let rt = runtime();
    let mut ignored = Ctxt::default();
    let Some(spec) = stage.args.first().and_then(|a| parse(a, &mut ignored)) else {
        return TokenStream::new();
    };
    let span = spec.kind.span();
    let d = |ms: u64| quote!(::core::time::Duration::from_millis(#ms));
    let mut assigner = match spec.kind.to_string().as_str() {
        "tumbling" => {
            let size = d(spec.millis[0]);
            quote_spanned!(span=> #rt::window::Tumbling::new(#size)?)
        }
        "sliding" => {
            let (size, slide) = (d(spec.millis[0]), d(spec.millis[1]));
            quote_spanned!(span=> #rt::window::Sliding::new(#size, #slide)?)
        }
        _ => {
            let gap = d(spec.millis[0]);
            quote_spanned!(span=> #rt::window::Session::new(#gap)?)
        }
    };
    if let Some(o) = spec.offset {
        let o = d(o);
        assigner = quote_spanned!(span=> #assigner.with_offset(#o)?);
    }
    quote_spanned! {method.span()=> let __s = __s.#method(#assigner);}
}

fn check_lateness(stage: &StageCall, cx: &mut Ctxt) {
    if expect_args(stage, 1, "a duration such as `5s`", cx)
        && let Some(arg) = stage.args.first()
        && let Err(e) = duration_millis(arg)
    {
        cx.push(e);
    }
}

fn expand_lateness(stage: &StageCall, _cx: &StageCx) -> TokenStream {
    let method = &stage.name;
    let ms = stage
        .args
        .first()
        .and_then(|a| duration_millis(a).ok())
        .unwrap_or_default();
    quote_spanned! {method.span()=> let __s = __s.#method(::core::time::Duration::from_millis(#ms));}
}
