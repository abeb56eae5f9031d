//! The connectors the DSL knows: their options, which are required, which
//! formats they take, and what each expands to in the runtime.
//!
//! Options are checked here so that a misspelled option is a compile error
//! in plain words at the user's token; the values are type-checked by rustc
//! against the runtime's settings structs.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// Whether a connector reads or writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Source,
    Sink,
}

/// What an option's value is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptKind {
    /// A string (host, path).
    Str,
    /// A whole number.
    Int,
    /// A whole number that may be left out.
    OptInt,
    /// `true` or `false`.
    Bool,
    /// A duration literal such as `500ms`.
    Duration,
    /// `format: json | csv | text | debug`.
    Format,
    /// `on_error: fail | skip | dead_letter(NAME)`.
    Policy,
    /// Rust code: a closure or an expression.
    Code,
    /// `name: "..."`, the sink's name.
    Name,
    /// `watermark: bounded(2s) | monotonic | none`.
    Watermark,
    /// A duration (or `none`) that tunes watermarks: `idle_timeout`,
    /// `max_ahead`; only with `watermark`.
    WatermarkTuning,
    /// `start: committed | earliest | latest | timestamp(MS)` (Kafka).
    Start,
    /// `delivery: at_least_once | exactly_once` (the Kafka sink).
    Delivery,
}

/// A connector as the DSL sees it.
pub(crate) struct ConnectorSpec {
    pub(crate) name: &'static str,
    pub(crate) role: Role,
    pub(crate) options: &'static [(&'static str, OptKind)],
    pub(crate) required: &'static [&'static str],
    /// Formats it takes; the first is the default. Empty: no `format`.
    pub(crate) formats: &'static [&'static str],
}

const TEXT_IN: &[&str] = &["text", "json", "csv"];
const KAFKA_FORMATS: &[&str] = &["json", "csv", "string", "raw"];

pub(crate) const CONNECTORS: &[ConnectorSpec] = &[
    ConnectorSpec {
        name: "socket",
        role: Role::Source,
        options: &[
            ("host", OptKind::Str),
            ("port", OptKind::Int),
            ("retries", OptKind::Int),
            ("retry_delay", OptKind::Duration),
            ("reconnect", OptKind::Bool),
            ("format", OptKind::Format),
            ("on_error", OptKind::Policy),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &[],
        formats: TEXT_IN,
    },
    ConnectorSpec {
        name: "file",
        role: Role::Source,
        options: &[
            ("path", OptKind::Str),
            ("header", OptKind::Bool),
            ("format", OptKind::Format),
            ("on_error", OptKind::Policy),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &["path"],
        formats: TEXT_IN,
    },
    ConnectorSpec {
        name: "stdin",
        role: Role::Source,
        options: &[
            ("format", OptKind::Format),
            ("on_error", OptKind::Policy),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &[],
        formats: TEXT_IN,
    },
    ConnectorSpec {
        name: "generator",
        role: Role::Source,
        options: &[
            ("count", OptKind::OptInt),
            ("rate", OptKind::OptInt),
            ("record", OptKind::Code),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &["record"],
        formats: &[],
    },
    ConnectorSpec {
        name: "nexmark",
        role: Role::Source,
        options: &[
            ("events", OptKind::OptInt),
            ("rate", OptKind::OptInt),
            ("event_rate", OptKind::Int),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &[],
        formats: &[],
    },
    ConnectorSpec {
        name: "iter",
        role: Role::Source,
        options: &[
            ("items", OptKind::Code),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &["items"],
        formats: &[],
    },
    ConnectorSpec {
        name: "kafka",
        role: Role::Source,
        options: &[
            ("topic", OptKind::Str),
            ("group", OptKind::Str),
            ("brokers", OptKind::Str),
            ("start", OptKind::Start),
            ("bounded", OptKind::Bool),
            ("commit_interval", OptKind::Duration),
            ("unavailable_timeout", OptKind::Duration),
            ("format", OptKind::Format),
            ("on_error", OptKind::Policy),
            ("watermark", OptKind::Watermark),
            ("idle_timeout", OptKind::WatermarkTuning),
            ("max_ahead", OptKind::WatermarkTuning),
        ],
        required: &["topic"],
        formats: KAFKA_FORMATS,
    },
    ConnectorSpec {
        name: "stdout",
        role: Role::Sink,
        options: &[("name", OptKind::Name), ("format", OptKind::Format)],
        required: &[],
        formats: &["debug", "text", "json", "csv"],
    },
    ConnectorSpec {
        name: "file",
        role: Role::Sink,
        options: &[
            ("name", OptKind::Name),
            ("path", OptKind::Str),
            ("append", OptKind::Bool),
            ("format", OptKind::Format),
        ],
        required: &["path"],
        formats: &["json", "csv", "text", "debug"],
    },
    ConnectorSpec {
        name: "kafka",
        role: Role::Sink,
        options: &[
            ("name", OptKind::Name),
            ("topic", OptKind::Str),
            ("brokers", OptKind::Str),
            ("sync_timeout", OptKind::Duration),
            ("delivery", OptKind::Delivery),
            ("transactional_id", OptKind::Str),
            ("format", OptKind::Format),
            ("key", OptKind::Code),
            ("headers", OptKind::Code),
        ],
        required: &["topic"],
        formats: KAFKA_FORMATS,
    },
    ConnectorSpec {
        name: "discard",
        role: Role::Sink,
        options: &[("name", OptKind::Name)],
        required: &[],
        formats: &[],
    },
    ConnectorSpec {
        name: "collect",
        role: Role::Sink,
        options: &[("name", OptKind::Name)],
        required: &[],
        formats: &[],
    },
];

/// The connector `name` in `role`.
pub(crate) fn lookup(name: &str, role: Role) -> Option<&'static ConnectorSpec> {
    CONNECTORS.iter().find(|c| c.name == name && c.role == role)
}

/// Names of the connectors in `role`.
pub(crate) fn names(role: Role) -> Vec<&'static str> {
    CONNECTORS
        .iter()
        .filter(|c| c.role == role)
        .map(|c| c.name)
        .collect()
}

impl ConnectorSpec {
    pub(crate) fn option(&self, key: &str) -> Option<OptKind> {
        self.options
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| *kind)
    }

    pub(crate) fn option_names(&self) -> Vec<&'static str> {
        self.options.iter().map(|(k, _)| *k).collect()
    }

    /// The runtime paths of the connector value and its settings type.
    /// `format` is the expanded format; `code` gives a code option's value;
    /// `metadata` says a source's records are `KafkaMessage`s.
    pub(crate) fn expand(
        &self,
        rt: &TokenStream,
        format: Option<TokenStream>,
        code: impl Fn(&str) -> Option<TokenStream>,
        metadata: bool,
    ) -> (TokenStream, TokenStream) {
        let fmt = format.unwrap_or_default();
        let no_settings = quote!(#rt::connector::NoSettings);
        let kafka = quote!(::pipeline::kafka);
        match (self.role, self.name) {
            (Role::Source, "kafka") => {
                let reader = if metadata {
                    quote!(#kafka::WithMetadata(#fmt))
                } else {
                    quote!(#kafka::Value(#fmt))
                };
                (
                    quote!(#kafka::KafkaSource::new(#reader)),
                    quote!(#kafka::KafkaSourceSettings),
                )
            }
            (Role::Sink, "kafka") => {
                let mut sink = quote!(#kafka::KafkaSink::new(#fmt));
                if let Some(key) = code("key") {
                    sink = quote!(#sink.with_key(#key));
                }
                if let Some(headers) = code("headers") {
                    sink = quote!(#sink.with_headers(#headers));
                }
                (sink, quote!(#kafka::KafkaSinkSettings))
            }
            (Role::Source, "socket") => (
                quote!(#rt::connector::socket::SocketSource::new(#fmt)),
                quote!(#rt::connector::socket::SocketSettings),
            ),
            (Role::Source, "file") => (
                quote!(#rt::connector::file::FileSource::new(#fmt)),
                quote!(#rt::connector::file::FileSourceSettings),
            ),
            (Role::Source, "stdin") => (
                quote!(#rt::connector::stdio::StdinSource::new(#fmt)),
                no_settings,
            ),
            (Role::Source, "generator") => {
                let record = code("record").unwrap_or_default();
                (
                    quote!(#rt::connector::generator::Generator::new(#record)),
                    quote!(#rt::connector::generator::GeneratorSettings),
                )
            }
            (Role::Source, "nexmark") => (
                quote!(<#rt::connector::nexmark::Nexmark as ::core::default::Default>::default()),
                quote!(#rt::connector::nexmark::NexmarkSettings),
            ),
            (Role::Source, _) => {
                let items = code("items").unwrap_or_default();
                (
                    quote!(#rt::connector::generator::Iter::new(#items)),
                    no_settings,
                )
            }
            (Role::Sink, "stdout") => (
                quote!(#rt::connector::stdio::StdoutSink::new(#fmt)),
                no_settings,
            ),
            (Role::Sink, "file") => (
                quote!(#rt::connector::file::FileSink::new(#fmt)),
                quote!(#rt::connector::file::FileSinkSettings),
            ),
            (Role::Sink, "discard") => (quote!(#rt::connector::discard::Discard), no_settings),
            (Role::Sink, _) => (quote!(#rt::connector::collect::Collect), no_settings),
        }
    }
}

/// The runtime value of format `name`, at the user's token.
pub(crate) fn format_value(rt: &TokenStream, name: &syn::Ident) -> TokenStream {
    let span = name.span();
    match name.to_string().as_str() {
        "json" => quote_spanned!(span=> #rt::format::Json),
        "csv" => quote_spanned!(span=> <#rt::format::Csv as ::core::default::Default>::default()),
        "debug" => quote_spanned!(span=> #rt::format::DebugFormat),
        "raw" => quote_spanned!(span=> #rt::format::Raw),
        _ => quote_spanned!(span=> #rt::format::Text),
    }
}

/// The assignment of one setting, spanned at the user's value so a wrong
/// type is reported there.
pub(crate) fn setting(
    key: &syn::Ident,
    kind: OptKind,
    value: &syn::Expr,
    millis: Option<u64>,
) -> TokenStream {
    let span = value.span();
    match kind {
        OptKind::Str => quote_spanned!(span=> __cfg.#key = ::core::convert::Into::into(#value);),
        OptKind::OptInt => {
            quote_spanned!(span=> __cfg.#key = ::core::option::Option::Some(#value);)
        }
        OptKind::Duration => {
            let ms = millis.unwrap_or_default();
            quote_spanned!(span=> __cfg.#key = ::core::time::Duration::from_millis(#ms);)
        }
        _ => quote_spanned!(span=> __cfg.#key = #value;),
    }
}
