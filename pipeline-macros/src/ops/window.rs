//! `window(tumbling(SIZE) | sliding(SIZE, SLIDE) | session(GAP) | global)`,
//! each optionally followed by `.offset(OFFSET)` (tumbling and sliding) and
//! `.processing_time()`; `allowed_lateness(DURATION)`, `late_records(NAME)`
//! and `trigger(count(N) | every(INTERVAL))`.

use super::{StageCx, StageSpec, expect_args, no_inputs};
use crate::analyze::{Ctxt, duration_millis};
use crate::codegen::runtime;
use crate::parse::{Chain, StageCall};
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
    takes_modifiers: false,
};

/// `window_all(..)`: one window over all records (no key), so every
/// record meets in one instance, as Flink's `windowAll`.
pub(crate) const WINDOW_ALL: StageSpec = StageSpec {
    name: "window_all",
    check,
    expand: expand_all,
    inputs: no_inputs,
    defines: no_inputs,
    takes_modifiers: false,
};

/// `late_records(NAME)`: a stream `NAME` of the records too late for every
/// window they belong to.
pub(crate) const LATE_RECORDS: StageSpec = StageSpec {
    name: "late_records",
    check: check_late,
    expand: expand_late,
    inputs: no_inputs,
    defines: |stage| super::stream_arg(stage).cloned().into_iter().collect(),
    takes_modifiers: false,
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
    takes_modifiers: false,
};

pub(crate) const TRIGGER: StageSpec = StageSpec {
    name: "trigger",
    check: check_trigger,
    expand: expand_trigger,
    inputs: no_inputs,
    defines: no_inputs,
    takes_modifiers: false,
};

const ASSIGNERS: &[&str] = &["tumbling", "sliding", "session", "global"];

/// A window as written: its kind, durations in milliseconds, offset, and
/// whether it is of processing time.
pub(crate) struct Spec<'a> {
    pub(crate) kind: &'a Ident,
    millis: Vec<u64>,
    offset: Option<u64>,
    processing: bool,
}

pub(crate) fn parse<'a>(expr: &'a Expr, cx: &mut Ctxt) -> Option<Spec<'a>> {
    // Modifiers, outermost first: `.offset(2s)`, `.processing_time()`.
    let (mut call, mut offset, mut processing) = (expr, None, false);
    while let Expr::MethodCall(m) = call {
        match m.method.to_string().as_str() {
            "offset" => {
                let [arg] = m.args.iter().collect::<Vec<_>>()[..] else {
                    cx.error(
                        m.method.span(),
                        "`offset` takes one duration, as in `.offset(2s)`",
                    );
                    return None;
                };
                offset = Some(duration_millis(arg).map_err(|e| cx.push(e)).ok()?);
            }
            "processing_time" if m.args.is_empty() => processing = true,
            other => {
                let hint = suggest::did_you_mean(other, ["offset", "processing_time"]);
                cx.error(
                    m.method.span(),
                    format!("unknown window modifier `{other}`{hint} (the modifiers are `.offset(2s)` and `.processing_time()`)"),
                );
                return None;
            }
        }
        call = &m.receiver;
    }
    if let Expr::Path(p) = call
        && let Some(kind) = p.path.get_ident()
        && kind == "global"
    {
        if offset.is_some() || processing {
            cx.error(
                expr.span(),
                "the `global` window spans all time, so it takes no `offset` and no `processing_time`",
            );
            return None;
        }
        return Some(Spec {
            kind,
            millis: Vec::new(),
            offset,
            processing,
        });
    }
    let Expr::Call(call) = call else {
        cx.error(
            expr.span(),
            "expected a window such as `tumbling(10s)`, `sliding(10s, 2s)`, `session(30s)` or `global`",
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
            cx.error(kind.span(), format!("unknown window `{name}`{hint} (windows are `tumbling(SIZE)`, `sliding(SIZE, SLIDE)`, `session(GAP)` and `global`)"));
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
        processing,
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
    let mut ignored = Ctxt::default();
    let Some(spec) = stage.args.first().and_then(|a| parse(a, &mut ignored)) else {
        return TokenStream::new();
    };
    let assigner = assigner(&spec);
    // Bound first, so that a record type the window cannot take is
    // reported at `window`, not at the runtime's paths.
    let w = Ident::new("__window", method.span());
    quote_spanned! {method.span()=> let #w = #assigner; let __s = __s.#method(#w);}
}

/// The runtime value of a checked window.
pub(crate) fn assigner(spec: &Spec<'_>) -> TokenStream {
    let rt = runtime();
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
        "global" => quote_spanned!(span=> #rt::window::Global),
        _ => {
            let gap = d(spec.millis[0]);
            quote_spanned!(span=> #rt::window::Session::new(#gap)?)
        }
    };
    if let Some(o) = spec.offset {
        let o = d(o);
        assigner = quote_spanned!(span=> #assigner.with_offset(#o)?);
    }
    if spec.processing {
        assigner = quote_spanned!(span=> #rt::window::ProcessingTime(#assigner));
    }
    assigner
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

/// A trigger as written: `count(N)` or `every(DURATION)` (in ms).
enum TriggerSpec {
    Count(u32),
    Every(u64),
}

fn parse_trigger(stage: &StageCall, cx: &mut Ctxt) -> Option<TriggerSpec> {
    let usage = "`trigger` takes `count(100)` (fire a `global` window every 100 records) or `every(1s)` (emit results so far every second)";
    let [Expr::Call(call)] = stage.args.as_slice() else {
        cx.error(stage.args_span(), usage);
        return None;
    };
    let name = match &*call.func {
        Expr::Path(p) => p.path.get_ident().map(Ident::to_string),
        _ => None,
    };
    let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
        cx.error(call.span(), usage);
        return None;
    };
    match name.as_deref() {
        Some("count") => {
            let n = match arg {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => n.base10_parse::<u32>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n > 0 => Some(TriggerSpec::Count(n)),
                _ => {
                    cx.error(
                        arg.span(),
                        "`count` takes a whole number of records, from 1 to 4294967295",
                    );
                    None
                }
            }
        }
        Some("every") => match duration_millis(arg) {
            Ok(0) => {
                cx.error(arg.span(), "`every` needs an interval of at least 1ms");
                None
            }
            Ok(ms) => Some(TriggerSpec::Every(ms)),
            Err(e) => {
                cx.push(e);
                None
            }
        },
        _ => {
            cx.error(call.func.span(), usage);
            None
        }
    }
}

fn check_trigger(stage: &StageCall, cx: &mut Ctxt) {
    parse_trigger(stage, cx);
}

fn expand_trigger(stage: &StageCall, _cx: &StageCx) -> TokenStream {
    let rt = runtime();
    let method = &stage.name;
    let trigger = match parse_trigger(stage, &mut Ctxt::default()) {
        Some(TriggerSpec::Count(n)) => quote!(#rt::window::Trigger::count(#n)?),
        Some(TriggerSpec::Every(ms)) => {
            quote!(#rt::window::Trigger::every(::core::time::Duration::from_millis(#ms))?)
        }
        None => return TokenStream::new(),
    };
    quote_spanned! {method.span()=> let __s = __s.#method(#trigger)?;}
}

/// Checks how window stages follow each other in a chain: a `trigger`
/// belongs to a window, `count` to a `global` one, and a `global` window
/// needs a trigger, or it would never emit before the input ends.
pub(crate) fn check_chain(chain: &Chain, cx: &mut Ctxt) {
    // The open window: its stage, whether it is global, and whether it
    // has a trigger.
    let mut open: Option<(&StageCall, bool, bool)> = None;
    for stage in &chain.stages {
        match stage.name.to_string().as_str() {
            "window" | "window_all" => {
                let global = stage
                    .args
                    .first()
                    .and_then(|a| parse(a, &mut Ctxt::default()))
                    .is_some_and(|s| s.kind == "global");
                open = Some((stage, global, false));
            }
            "trigger" => match &mut open {
                None => cx.error(
                    stage.name.span(),
                    "`trigger` fires windows, so it goes right after `window(..)`",
                ),
                Some((_, global, triggered)) => {
                    *triggered = true;
                    if !*global
                        && let Some(TriggerSpec::Count(_)) =
                            parse_trigger(stage, &mut Ctxt::default())
                    {
                        cx.error(
                            stage.args_span(),
                            "`count(n)` triggers fire `global` windows; for early results from a time window use `trigger(every(1s))`",
                        );
                    }
                }
            },
            "allowed_lateness" | "late_records" => {}
            _ => {
                if let Some((window, true, false)) = open {
                    cx.error(
                        window.args_span(),
                        "a `global` window never ends, so it would emit nothing until the input does; add `-> trigger(count(100))` or `-> trigger(every(5s))` after it",
                    );
                }
                open = None;
            }
        }
    }
}
