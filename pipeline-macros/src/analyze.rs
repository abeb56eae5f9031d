//! Checks the syntax tree and works out what code generation needs: how
//! often each stream is read (for fan-out), the sinks' names, and the
//! dead-letter streams. Every error found is reported, not just the first.

use crate::connectors::{self, ConnectorSpec, OptKind, Role};
use crate::ops;
use crate::parse::{Chain, Connector, PipelineDef, Statement};
use crate::suggest;
use proc_macro2::Span;
use quote::ToTokens;
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit};

/// Collects errors, each at the user's token.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    pub(crate) fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub(crate) fn error_spanned_by(
        &mut self,
        tokens: impl ToTokens,
        message: impl std::fmt::Display,
    ) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// All errors combined into one, if any.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            first.combine(e);
        }
        Err(first)
    }
}

/// What code generation needs beyond the syntax tree.
pub(crate) struct Analysis {
    /// How many chains read each stream.
    pub(crate) uses: HashMap<String, usize>,
    /// Names of the sinks, in the order they appear.
    pub(crate) sink_names: Vec<String>,
}

struct Defined {
    name: Ident,
    uses: usize,
}

/// Checks `def`.
pub(crate) fn run(def: &PipelineDef) -> syn::Result<Analysis> {
    let mut cx = Ctxt::default();
    let mut streams: Vec<Defined> = Vec::new();
    // Every name defined anywhere, to tell "defined later" from "unknown".
    let all_names: Vec<&Ident> = def
        .statements
        .iter()
        .flat_map(|s| match s {
            Statement::Source {
                name, connector, ..
            } => {
                let mut v = vec![name];
                v.extend(dead_letter_name(connector));
                v
            }
            Statement::Let { name, chain } => {
                let mut v = vec![name];
                v.extend(chain_defines(chain));
                v
            }
            Statement::Chain(chain) => chain_defines(chain),
            Statement::Mode { .. } => vec![],
        })
        .collect();
    let mut early: Vec<String> = Vec::new();
    let mut mode: Option<&Ident> = None;
    let mut sink_names = Vec::new();
    let mut sink_kinds: HashMap<String, usize> = HashMap::new();
    let mut sink_spans: Vec<(String, Span)> = Vec::new();

    for statement in &def.statements {
        match statement {
            Statement::Source {
                name, connector, ..
            } => {
                check_connector(connector, Role::Source, &mut cx);
                define(&mut streams, name, &mut cx);
                if let Some(dead) = dead_letter_name(connector) {
                    define(&mut streams, dead, &mut cx);
                }
            }
            Statement::Let { name, chain } => {
                check_chain(chain, &mut streams, &all_names, &mut early, &mut cx);
                if let Some(sink) = &chain.sink {
                    cx.error_spanned_by(
                        &sink.name,
                        format!("`let {name} = ..` names a stream, so it cannot end in a sink; write the chain with the sink as a statement of its own"),
                    );
                }
                define(&mut streams, name, &mut cx);
            }
            Statement::Mode { keyword, value } => {
                if let Some(first) = mode.replace(keyword) {
                    cx.error_spanned_by(keyword, "the mode is given twice");
                    cx.error_spanned_by(first, "first given here");
                }
                if let Err(e) = mode_millis(value) {
                    cx.push(e);
                }
            }
            Statement::Chain(chain) => {
                check_chain(chain, &mut streams, &all_names, &mut early, &mut cx);
                match &chain.sink {
                    Some(sink) => {
                        let explicit = sink.option("name").and_then(|o| match &o.value {
                            Expr::Lit(l) => match &l.lit {
                                Lit::Str(s) => Some((s.value(), s.span())),
                                _ => None,
                            },
                            _ => None,
                        });
                        let (name, span) = explicit.unwrap_or_else(|| {
                            let kind = sink.name.to_string();
                            let n = sink_kinds.entry(kind.clone()).or_default();
                            *n += 1;
                            let name = if *n == 1 { kind } else { format!("{kind}_{n}") };
                            (name, sink.name.span())
                        });
                        sink_names.push(name.clone());
                        sink_spans.push((name, span));
                    }
                    None => {
                        let last = chain.stages.last().map_or(chain.head.span(), |s| s.span);
                        cx.error(
                            last,
                            "this chain does not end in a sink; add `-> sink stdout()` (or another sink), or name the stream with `let NAME = ..`",
                        );
                    }
                }
            }
        }
    }
    // Sources and sinks share one namespace: `--set NAME.KEY=..` picks one.
    let sources: Vec<String> = def
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Source { name, .. } => Some(name.to_string()),
            _ => None,
        })
        .collect();
    for (i, (name, span)) in sink_spans.iter().enumerate() {
        if sources.contains(name) {
            cx.error(*span, format!("the sink name `{name}` is also a source's name; name the sink with `name: \"..\"`"));
        } else if sink_spans[..i].iter().any(|(other, _)| other == name) {
            cx.error(
                *span,
                format!("two sinks are named `{name}`; give one another `name: \"..\"`"),
            );
        }
    }
    for s in &streams {
        if s.uses == 0 && !early.contains(&s.name.to_string()) {
            cx.error_spanned_by(
                &s.name,
                format!("stream `{}` is defined but never used; send it to a sink (`{} -> sink stdout();`) or remove it", s.name, s.name),
            );
        }
    }
    cx.check()?;
    Ok(Analysis {
        uses: streams
            .into_iter()
            .map(|s| (s.name.to_string(), s.uses))
            .collect(),
        sink_names,
    })
}

fn define(streams: &mut Vec<Defined>, name: &Ident, cx: &mut Ctxt) {
    if let Some(first) = streams.iter().find(|s| s.name == *name) {
        cx.error_spanned_by(name, format!("the stream name `{name}` is defined twice"));
        cx.error_spanned_by(&first.name, format!("`{name}` is first defined here"));
        return;
    }
    streams.push(Defined {
        name: name.clone(),
        uses: 0,
    });
}

/// Records a read of `name`. A read that is an error (a typo, a stream
/// defined further down) still counts for the stream it most likely means,
/// so that stream is not also reported as unused.
fn use_stream(
    streams: &mut [Defined],
    all: &[&Ident],
    early: &mut Vec<String>,
    name: &Ident,
    cx: &mut Ctxt,
) {
    if let Some(s) = streams.iter_mut().find(|s| s.name == *name) {
        s.uses += 1;
        return;
    }
    if all.contains(&name) {
        cx.error_spanned_by(
            name,
            format!(
                "stream `{name}` is used before it is defined; move its definition above this line"
            ),
        );
        early.push(name.to_string());
        return;
    }
    let known: Vec<String> = streams.iter().map(|s| s.name.to_string()).collect();
    let word = name.to_string();
    let meant = suggest::closest(&word, known.iter().map(String::as_str)).map(str::to_owned);
    let hint = meant
        .as_deref()
        .map(|m| format!("; did you mean `{m}`?"))
        .unwrap_or_default();
    cx.error_spanned_by(name, format!("unknown stream `{name}`{hint}"));
    if let Some(s) = meant.and_then(|m| streams.iter_mut().find(|s| s.name == m)) {
        s.uses += 1;
    }
}

/// Streams that stages of `chain` define (side outputs).
fn chain_defines(chain: &Chain) -> Vec<&Ident> {
    chain
        .stages
        .iter()
        .filter_map(|stage| ops::lookup(&stage.name).map(|spec| (spec, stage)))
        .flat_map(|(spec, stage)| {
            (spec.defines)(stage)
                .into_iter()
                .filter_map(|d| {
                    stage.args.iter().find_map(|a| match a {
                        Expr::Path(p) if p.path.is_ident(&d) => p.path.get_ident(),
                        _ => None,
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn check_chain(
    chain: &Chain,
    streams: &mut Vec<Defined>,
    all: &[&Ident],
    early: &mut Vec<String>,
    cx: &mut Ctxt,
) {
    use_stream(streams, all, early, &chain.head, cx);
    for stage in &chain.stages {
        match ops::lookup(&stage.name) {
            Some(spec) => {
                if let (Some(first), false) = (stage.modifiers.first(), spec.takes_modifiers) {
                    cx.error(
                        first.name.span(),
                        format!(
                            "`{}` takes no `.{}(..)`; only `join` has modifiers (`.on`, `.window`, `.between`, `.ttl`)",
                            stage.name, first.name
                        ),
                    );
                }
                (spec.check)(stage, cx);
                for input in (spec.inputs)(stage) {
                    use_stream(streams, all, early, &input, cx);
                }
                for defined in (spec.defines)(stage) {
                    define(streams, &defined, cx);
                }
            }
            None => {
                let name = stage.name.to_string();
                let hint = suggest::did_you_mean(&name, ops::names());
                let hint = if hint.is_empty() {
                    format!("; the stages are {}", suggest::list(&ops::names()))
                } else {
                    hint
                };
                cx.error_spanned_by(&stage.name, format!("unknown stage `{name}`{hint}"));
            }
        }
    }
    ops::window::check_chain(chain, cx);
    if let Some(sink) = &chain.sink {
        check_connector(sink, Role::Sink, cx);
    }
}

fn dead_letter_name(connector: &Connector) -> Option<&Ident> {
    let opt = connector.option("on_error")?;
    let Expr::Call(call) = &opt.value else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    if !func.path.is_ident("dead_letter") {
        return None;
    }
    match call.args.first() {
        Some(Expr::Path(p)) => p.path.get_ident(),
        _ => None,
    }
}

fn check_connector(connector: &Connector, role: Role, cx: &mut Ctxt) {
    let name = connector.name.to_string();
    let Some(spec) = connectors::lookup(&name, role) else {
        let (what, other) = match role {
            Role::Source => ("source", Role::Sink),
            Role::Sink => ("sink", Role::Source),
        };
        let names = connectors::names(role);
        let message = if connectors::lookup(&name, other).is_some() {
            format!(
                "`{name}` is not a {what} connector; the {what}s are {}",
                suggest::list(&names)
            )
        } else {
            let hint = suggest::did_you_mean(&name, names.iter().copied());
            format!(
                "unknown {what} connector `{name}`{hint} (the {what}s are {})",
                suggest::list(&names)
            )
        };
        cx.error_spanned_by(&connector.name, message);
        return;
    };
    for (i, opt) in connector.options.iter().enumerate() {
        let key = opt.key.to_string();
        if connector.options[..i].iter().any(|o| o.key == opt.key) {
            cx.error_spanned_by(&opt.key, format!("option `{key}` is given twice"));
            continue;
        }
        let Some(kind) = spec.option(&key) else {
            let options = spec.option_names();
            let hint = suggest::did_you_mean(&key, options.iter().copied());
            cx.error_spanned_by(
                &opt.key,
                format!(
                    "unknown option `{key}` for `{name}`{hint} (its options are {})",
                    suggest::list(&options)
                ),
            );
            continue;
        };
        check_value(spec, &key, kind, &opt.value, cx);
        let watermarked = connector
            .option("watermark")
            .and_then(|w| watermark_spec(&w.value).ok())
            .is_some_and(|w| w != WatermarkSpec::None);
        if kind == OptKind::WatermarkTuning && !watermarked {
            cx.error_spanned_by(
                &opt.key,
                format!("`{key}` tunes event-time watermarks, but this source has none; add `watermark: bounded(..)` or `watermark: monotonic`"),
            );
        }
    }
    for required in spec.required {
        if connector.option(required).is_none() {
            cx.error_spanned_by(
                &connector.name,
                format!("`{name}` needs the option `{required}`, as in `{name}({required}: ..)`"),
            );
        }
    }
}

fn check_value(spec: &ConnectorSpec, key: &str, kind: OptKind, value: &Expr, cx: &mut Ctxt) {
    match kind {
        OptKind::Duration => {
            if let Err(e) = duration_millis(value) {
                cx.errors.push(e);
            }
        }
        OptKind::Format => match format_name(value) {
            Some(f) if spec.formats.contains(&f.to_string().as_str()) => {}
            _ => cx.error(
                value.span(),
                format!(
                    "unknown format `{}` for `{}`; expected {}",
                    value.to_token_stream(),
                    spec.name,
                    suggest::list(spec.formats)
                ),
            ),
        },
        OptKind::Policy => {
            let ok = match value {
                Expr::Path(p) => p.path.is_ident("fail") || p.path.is_ident("skip"),
                Expr::Call(_) => policy_dead_letter_ok(value),
                _ => false,
            };
            if !ok {
                cx.error(
                    value.span(),
                    "`on_error` takes `fail`, `skip` or `dead_letter(NAME)`, where NAME is a new stream of the bad records",
                );
            }
        }
        OptKind::Watermark => {
            if let Err(e) = watermark_spec(value) {
                cx.push(e);
            }
        }
        OptKind::WatermarkTuning => {
            if let Err(e) = tuning_millis(key, value) {
                cx.push(e);
            }
        }
        OptKind::Delivery => {
            if delivery_value(value).is_none() {
                cx.error(
                    value.span(),
                    "`delivery` takes `at_least_once` or `exactly_once` (transactions committed with checkpoints)",
                );
            }
        }
        OptKind::Start => {
            if start_value(value).is_none() {
                cx.error(
                    value.span(),
                    "`start` takes `committed` (the group's offsets), `earliest`, `latest` or `timestamp(MS)` (epoch milliseconds)",
                );
            }
        }
        OptKind::Name => {
            if !matches!(value, Expr::Lit(l) if matches!(l.lit, Lit::Str(_))) {
                cx.error(
                    value.span(),
                    format!("`{key}` takes a string literal, as in `{key}: \"out\"`"),
                );
            }
        }
        OptKind::Str | OptKind::Int | OptKind::OptInt | OptKind::Bool | OptKind::Code => {}
    }
}

fn policy_dead_letter_ok(value: &Expr) -> bool {
    let Expr::Call(call) = value else {
        return false;
    };
    let Expr::Path(func) = &*call.func else {
        return false;
    };
    func.path.is_ident("dead_letter")
        && call.args.len() == 1
        && matches!(call.args.first(), Some(Expr::Path(p)) if p.path.get_ident().is_some())
}

/// A mode: `continuous` (`None`) or `micro_batch(INTERVAL)` (`Some(ms)`).
pub(crate) fn mode_millis(value: &Expr) -> syn::Result<Option<u64>> {
    let usage = "the mode is `continuous` or `micro_batch(1s)` (with the batch interval)";
    match value {
        Expr::Path(p) if p.path.is_ident("continuous") => Ok(None),
        Expr::Call(call) if matches!(&*call.func, Expr::Path(p) if p.path.is_ident("micro_batch")) =>
        {
            let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
                return Err(syn::Error::new(call.span(), usage));
            };
            match duration_millis(arg)? {
                0 => Err(syn::Error::new(
                    arg.span(),
                    "a batch interval must be at least 1ms",
                )),
                ms => Ok(Some(ms)),
            }
        }
        _ => Err(syn::Error::new(value.span(), usage)),
    }
}

/// A source's watermarks as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatermarkSpec {
    /// `none`: the source has no event time (processing time only).
    None,
    /// `monotonic`: records in time order.
    Monotonic,
    /// `bounded(DURATION)`: records out of order by at most this many ms.
    Bounded(u64),
}

/// Reads a `watermark` option.
pub(crate) fn watermark_spec(value: &Expr) -> syn::Result<WatermarkSpec> {
    let usage = "`watermark` takes `bounded(2s)` (records at most that much out of order), `monotonic` (records in order) or `none` (no event time)";
    match value {
        Expr::Path(p) if p.path.is_ident("monotonic") => Ok(WatermarkSpec::Monotonic),
        Expr::Path(p) if p.path.is_ident("none") => Ok(WatermarkSpec::None),
        Expr::Call(call) if matches!(&*call.func, Expr::Path(p) if p.path.is_ident("bounded")) => {
            let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
                return Err(syn::Error::new(call.span(), usage));
            };
            match duration_millis(arg)? {
                0 => Err(syn::Error::new(
                    arg.span(),
                    "a watermark bound of zero means records are in order; write `watermark: monotonic` for that",
                )),
                ms => Ok(WatermarkSpec::Bounded(ms)),
            }
        }
        _ => Err(syn::Error::new(value.span(), usage)),
    }
}

/// Reads `idle_timeout: DURATION` or `max_ahead: DURATION | none`
/// (`None` for `none`).
pub(crate) fn tuning_millis(key: &str, value: &Expr) -> syn::Result<Option<u64>> {
    match value {
        Expr::Path(p) if key == "max_ahead" && p.path.is_ident("none") => Ok(None),
        _ => match duration_millis(value)? {
            0 => Err(syn::Error::new(
                value.span(),
                format!("`{key}` must be at least 1ms"),
            )),
            ms => Ok(Some(ms)),
        },
    }
}

/// The runtime value of a Kafka `start` option, if it is one.
pub(crate) fn start_value(value: &Expr) -> Option<proc_macro2::TokenStream> {
    let start = quote::quote!(::pipeline::kafka::Start);
    match value {
        Expr::Path(p) => {
            let variant = match p.path.get_ident()?.to_string().as_str() {
                "committed" => quote::quote!(Committed),
                "earliest" => quote::quote!(Earliest),
                "latest" => quote::quote!(Latest),
                _ => return None,
            };
            Some(quote::quote!(#start::#variant))
        }
        Expr::Call(call) if matches!(&*call.func, Expr::Path(p) if p.path.is_ident("timestamp")) => {
            let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
                return None;
            };
            Some(quote::quote!(#start::Timestamp(#arg)))
        }
        _ => None,
    }
}

/// The Kafka sink's `delivery` value as Rust, if `value` is one.
pub(crate) fn delivery_value(value: &Expr) -> Option<proc_macro2::TokenStream> {
    let delivery = quote::quote!(::pipeline::kafka::Delivery);
    let Expr::Path(p) = value else {
        return None;
    };
    let variant = match p.path.get_ident()?.to_string().as_str() {
        "at_least_once" => quote::quote!(AtLeastOnce),
        "exactly_once" => quote::quote!(ExactlyOnce),
        _ => return None,
    };
    Some(quote::quote!(#delivery::#variant))
}

/// The format named by `value`, if it is a plain name.
pub(crate) fn format_name(value: &Expr) -> Option<&Ident> {
    match value {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

/// Milliseconds of a duration literal: `500ms`, `10s`, `1.5s`, `2min`, `1h`.
pub(crate) fn duration_millis(value: &Expr) -> syn::Result<u64> {
    let bad = || {
        syn::Error::new(
            value.span(),
            format!(
                "invalid duration `{}`: write a number followed by `ms`, `s`, `min` or `h`, such as `500ms` or `2min`",
                value.to_token_stream()
            ),
        )
    };
    let Expr::Lit(lit) = value else {
        return Err(bad());
    };
    let (number, suffix): (f64, &str) = match &lit.lit {
        Lit::Int(i) => (i.base10_digits().parse().map_err(|_| bad())?, i.suffix()),
        Lit::Float(f) => (f.base10_digits().parse().map_err(|_| bad())?, f.suffix()),
        _ => return Err(bad()),
    };
    let factor = match suffix {
        "ms" => 1.0,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return Err(bad()),
    };
    let millis = number * factor;
    if millis.fract() != 0.0 || !(0.0..=u64::MAX as f64).contains(&millis) {
        return Err(syn::Error::new(
            value.span(),
            format!(
                "invalid duration `{}`: it must be a whole number of milliseconds",
                value.to_token_stream()
            ),
        ));
    }
    Ok(millis as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn errors(def: PipelineDef) -> String {
        match run(&def) {
            Ok(_) => String::new(),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn durations_are_read_in_milliseconds() {
        assert_eq!(duration_millis(&parse_quote!(500ms)).ok(), Some(500));
        assert_eq!(duration_millis(&parse_quote!(10s)).ok(), Some(10_000));
        assert_eq!(duration_millis(&parse_quote!(1.5s)).ok(), Some(1_500));
        assert_eq!(duration_millis(&parse_quote!(2min)).ok(), Some(120_000));
        assert!(duration_millis(&parse_quote!(10x)).is_err());
        assert!(duration_millis(&parse_quote!(10)).is_err());
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let e = errors(parse_quote! {
            pipeline P {
                source a: u32 = iter(items: 0..3);
                source b: u32 = iter(items: 0..3);
                a -> mapp(|x: u32| x) -> sink stdout();
                c -> sink stdout();
            }
        });
        assert!(
            e.contains("unknown stage `mapp`; did you mean `map`?"),
            "{e}"
        );
        assert!(e.contains("unknown stream `c`"), "{e}");
        assert!(e.contains("stream `b` is defined but never used"), "{e}");
    }

    #[test]
    fn fan_out_is_counted_and_sinks_are_named() {
        let a = run(&parse_quote! {
            pipeline P {
                source a: u32 = iter(items: 0..3);
                a -> sink stdout();
                a -> sink stdout();
                a -> sink collect(name: "out");
            }
        })
        .ok()
        .map(|a| (a.uses["a"], a.sink_names));
        assert_eq!(
            a,
            Some((3, vec!["stdout".into(), "stdout_2".into(), "out".into()]))
        );
    }

    #[test]
    fn connector_options_are_checked() {
        let e = errors(parse_quote! {
            pipeline P {
                source a: String = socket(prot: 1, retry_delay: 3x);
                a -> sink file(format: xml);
            }
        });
        assert!(
            e.contains("unknown option `prot` for `socket`; did you mean `port`?"),
            "{e}"
        );
        assert!(e.contains("invalid duration `3x`"), "{e}");
        assert!(e.contains("unknown format `xml` for `file`"), "{e}");
        assert!(e.contains("`file` needs the option `path`"), "{e}");
    }
}
