//! Turns a checked pipeline into Rust: a unit struct implementing
//! `PipelineDef`, whose `build` calls the typed stream builders stage by
//! stage, each call spanned at the user's tokens.

use crate::analyze::{
    Analysis, WatermarkSpec, duration_millis, format_name, mode_millis, tuning_millis,
    watermark_spec,
};
use crate::connectors::{self, OptKind, Role, format_value, setting};
use crate::ops::{self, StageCx};
use crate::parse::{Chain, Connector, PipelineDef, Statement};
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::{Expr, Ident};

/// The path of the runtime crate in expanded code.
pub(crate) fn runtime() -> TokenStream {
    quote!(::pipeline::runtime)
}

/// Hands out the variable for each read of a stream: the stream itself when
/// it is read once, else one of its fan-out copies.
struct Vars {
    uses: HashMap<String, usize>,
    next: HashMap<String, usize>,
}

impl Vars {
    /// Code to run right after `name` is defined.
    fn defined(&self, name: &Ident) -> TokenStream {
        let n = self.uses.get(&name.to_string()).copied().unwrap_or(1);
        if n <= 1 {
            return TokenStream::new();
        }
        let copies = (0..n).map(|i| format_ident!("__{}_{}", name, i));
        quote_spanned! {name.span()=> let [#(#copies),*] = #name.fan_out::<#n>();}
    }

    /// The variable for the next read of `name`.
    fn read(&mut self, name: &Ident) -> Ident {
        let key = name.to_string();
        if self.uses.get(&key).copied().unwrap_or(1) <= 1 {
            return name.clone();
        }
        let i = self.next.entry(key).or_default();
        let var = format_ident!("__{}_{}", name, *i, span = name.span());
        *i += 1;
        var
    }
}

pub(crate) fn expand(def: &PipelineDef, analysis: &Analysis) -> TokenStream {
    let rt = runtime();
    let mut vars = Vars {
        uses: analysis.uses.clone(),
        next: HashMap::new(),
    };
    let mut sink_names = analysis.sink_names.iter();
    let mut body = Vec::new();
    let mut connectors_help = Vec::new();
    for statement in &def.statements {
        match statement {
            Statement::Source {
                name,
                ty,
                connector,
            } => {
                body.push(source(&rt, name, ty, connector, &vars));
                let ty_text = ty.to_token_stream().to_string().replace(' ', "");
                let text = format!("{} ({ty_text} records)", connector.name);
                let name_text = name.to_string();
                connectors_help.push(quote!(("source", #name_text, #text)));
            }
            Statement::Let { name, chain } => {
                let stages = chain_body(chain, &mut vars);
                let fan = vars.defined(name);
                body.push(quote! {
                    #stages
                    let #name = __s;
                    #fan
                });
            }
            Statement::Mode { .. } => {}
            Statement::Chain(chain) => {
                let stages = chain_body(chain, &mut vars);
                let (Some(sink), Some(sink_name)) = (&chain.sink, sink_names.next()) else {
                    continue;
                };
                let text = sink.name.to_string();
                connectors_help.push(quote!(("sink", #sink_name, #text)));
                let call = sink_call(&rt, sink, sink_name);
                // No block: streams that stages define stay visible.
                body.push(quote! { #stages #call });
            }
        }
    }
    let name = &def.name;
    let vis = &def.vis;
    let attrs = &def.attrs;
    let name_text = name.to_string();
    let about = about(def);
    let mode = def.statements.iter().find_map(|s| match s {
        Statement::Mode { value, .. } => Some(match mode_millis(value).ok().flatten() {
            Some(ms) => quote!(#rt::exec::ExecMode::MicroBatch { interval: ::core::time::Duration::from_millis(#ms) }),
            None => quote!(#rt::exec::ExecMode::Continuous),
        }),
        _ => None,
    });
    let mode = mode.map(|m| quote!(const MODE: #rt::exec::ExecMode = #m;));
    quote! {
        #(#attrs)*
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        impl #rt::exec::PipelineDef for #name {
            const NAME: &'static str = #name_text;
            const ABOUT: &'static str = #about;
            #mode
            const CONNECTORS: &'static [(&'static str, &'static str, &'static str)] = &[#(#connectors_help),*];

            #[allow(unused_variables, clippy::redundant_closure_call)]
            fn build(__b: &#rt::exec::PipelineBuilder) -> #rt::Result<()> {
                #(#body)*
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// The doc comment of the pipeline, for `--help`.
pub(crate) fn about(def: &PipelineDef) -> String {
    def.attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn chain_body(chain: &Chain, vars: &mut Vars) -> TokenStream {
    let head = vars.read(&chain.head);
    let mut out = quote!(let __s = #head;);
    for stage in &chain.stages {
        let Some(spec) = ops::lookup(&stage.name) else {
            continue;
        };
        let streams = (spec.inputs)(stage).iter().map(|i| vars.read(i)).collect();
        let cx = StageCx { streams };
        out.extend((spec.expand)(stage, &cx));
        for defined in (spec.defines)(stage) {
            out.extend(vars.defined(&defined));
        }
    }
    out
}

/// `{ let mut __cfg = Settings::default(); __cfg.key = value; .. __cfg }`
fn settings(
    settings_ty: &TokenStream,
    connector: &Connector,
    spec_options: &[(&str, OptKind)],
) -> TokenStream {
    let assignments = connector.options.iter().filter_map(|opt| {
        let kind = spec_options
            .iter()
            .find(|(k, _)| opt.key == k)
            .map(|(_, kind)| *kind)?;
        match kind {
            OptKind::Str | OptKind::Int | OptKind::OptInt | OptKind::Bool => {
                Some(setting(&opt.key, kind, &opt.value, None))
            }
            OptKind::Duration => Some(setting(
                &opt.key,
                kind,
                &opt.value,
                duration_millis(&opt.value).ok(),
            )),
            OptKind::Format
            | OptKind::Policy
            | OptKind::Code
            | OptKind::Name
            | OptKind::Watermark
            | OptKind::WatermarkTuning => None,
            OptKind::Start => {
                let key = &opt.key;
                let value = crate::analyze::start_value(&opt.value)?;
                Some(quote_spanned!(opt.value.span()=> __cfg.#key = #value;))
            }
            OptKind::Delivery => {
                let key = &opt.key;
                let value = crate::analyze::delivery_value(&opt.value)?;
                Some(quote_spanned!(opt.value.span()=> __cfg.#key = #value;))
            }
        }
    });
    quote! {{
        #[allow(unused_mut)]
        let mut __cfg = <#settings_ty as ::core::default::Default>::default();
        #(#assignments)*
        __cfg
    }}
}

/// The connector value and its settings; `record` is a source's declared
/// record type.
fn connector_parts(
    rt: &TokenStream,
    connector: &Connector,
    role: Role,
    record: Option<&syn::Type>,
) -> (TokenStream, TokenStream) {
    let Some(spec) = connectors::lookup(&connector.name.to_string(), role) else {
        return (TokenStream::new(), TokenStream::new());
    };
    let format = (!spec.formats.is_empty()).then(|| match connector.option("format") {
        Some(opt) => format_name(&opt.value)
            .map(|f| format_value(rt, f))
            .unwrap_or_default(),
        None => {
            let default = Ident::new(spec.formats[0], connector.name.span());
            format_value(rt, &default)
        }
    });
    let code = |key: &str| {
        connector.option(key).map(|o| {
            let v = &o.value;
            quote_spanned!(v.span()=> #v)
        })
    };
    // A source declared to produce `KafkaMessage<T>` gets the metadata.
    let metadata = matches!(record, Some(syn::Type::Path(p))
        if p.path.segments.last().is_some_and(|s| s.ident == "KafkaMessage"));
    let (value, settings_ty) = spec.expand(rt, format, code, metadata);
    (value, settings(&settings_ty, connector, spec.options))
}

fn source(
    rt: &TokenStream,
    name: &Ident,
    ty: &syn::Type,
    connector: &Connector,
    vars: &Vars,
) -> TokenStream {
    let (value, settings) = connector_parts(rt, connector, Role::Source, Some(ty));
    let name_text = name.to_string();
    let policy = connector.option("on_error").map(|o| &o.value);
    let fan = vars.defined(name);
    // Watermarks come right after the source, spanned at the option: a
    // record type without event time is reported there.
    let watermarks = connector.option("watermark").and_then(|opt| {
        let span = opt.value.span();
        let d = |ms: u64| quote!(::core::time::Duration::from_millis(#ms));
        let mut strategy = match watermark_spec(&opt.value).ok()? {
            WatermarkSpec::None => return None,
            WatermarkSpec::Bounded(ms) => {
                let ms = d(ms);
                quote_spanned!(span=> #rt::window::WatermarkStrategy::bounded(#ms)?)
            }
            WatermarkSpec::Monotonic => {
                quote_spanned!(span=> #rt::window::WatermarkStrategy::monotonic())
            }
        };
        let tuning = |key: &str| {
            let opt = connector.option(key)?;
            Some(tuning_millis(key, &opt.value).ok()?.map(d))
        };
        if let Some(Some(idle)) = tuning("idle_timeout") {
            strategy = quote_spanned!(span=> #strategy.with_idle_timeout(#idle)?);
        }
        if let Some(ahead) = tuning("max_ahead") {
            let ahead = match ahead {
                Some(ms) => quote!(::core::option::Option::Some(#ms)),
                None => quote!(::core::option::Option::None),
            };
            strategy = quote_spanned!(span=> #strategy.with_max_ahead(#ahead));
        }
        let method = Ident::new("with_watermarks", span);
        Some(quote_spanned!(span=> let #name = #name.#method(#strategy);))
    });
    // The call is spanned at the declared record type: a format that cannot
    // produce that type is reported there.
    let span = ty.span();
    let stmt = match policy {
        Some(Expr::Call(call)) => {
            let dead = call.args.first();
            let dead_fan = match dead {
                Some(Expr::Path(p)) => p
                    .path
                    .get_ident()
                    .map(|d| vars.defined(d))
                    .unwrap_or_default(),
                _ => TokenStream::new(),
            };
            quote_spanned! {span=>
                let (#name, #dead) = __b.source_with_dead_letters::<#ty, _>(#name_text, #value, #settings)?;
                #dead_fan
            }
        }
        other => {
            let policy = match other {
                Some(Expr::Path(p)) if p.path.is_ident("skip") => {
                    quote!(#rt::connector::BadInputPolicy::Skip)
                }
                _ => quote!(#rt::connector::BadInputPolicy::Fail),
            };
            quote_spanned! {span=>
                let #name = __b.source::<#ty, _>(#name_text, #value, #settings, #policy)?;
            }
        }
    };
    quote!(#stmt #watermarks #fan)
}

fn sink_call(rt: &TokenStream, sink: &Connector, sink_name: &str) -> TokenStream {
    let (value, settings) = connector_parts(rt, sink, Role::Sink, None);
    // Spanned at the format when one is given: a record type the format
    // cannot write is reported there.
    let span = sink
        .option("format")
        .map_or(sink.name.span(), |o| o.value.span());
    let method = Ident::new("sink", span);
    quote_spanned! {span=> __s.#method(#sink_name, #value, #settings)?;}
}
