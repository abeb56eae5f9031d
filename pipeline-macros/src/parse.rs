//! The DSL's syntax tree, parsed with syn.
//!
//! ```text
//! [docs] [vis] pipeline NAME {
//!     source NAME: TYPE = CONNECTOR(OPTION: VALUE, ..);
//!     let NAME = CHAIN;
//!     CHAIN;
//! }
//! CHAIN := STREAM (-> STAGE(ARGS))* [-> sink CONNECTOR(OPTION: VALUE, ..)]
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Token, Type, Visibility, braced, parenthesized};

pub(crate) mod kw {
    syn::custom_keyword!(pipeline);
    syn::custom_keyword!(source);
    syn::custom_keyword!(sink);
    syn::custom_keyword!(mode);
}

/// The whole `pipeline! { .. }` input.
pub(crate) struct PipelineDef {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) statements: Vec<Statement>,
}

/// One statement of the body.
pub(crate) enum Statement {
    /// `source NAME: TYPE = CONNECTOR(..);`
    Source {
        name: Ident,
        ty: Type,
        connector: Connector,
    },
    /// `let NAME = CHAIN;`
    Let { name: Ident, chain: Chain },
    /// `CHAIN;`
    Chain(Chain),
    /// `mode continuous;` or `mode micro_batch(DURATION);`: how the
    /// pipeline runs unless the command line says otherwise.
    Mode { keyword: Ident, value: Expr },
}

/// `STREAM -> stage(..) -> .. [-> sink connector(..)]`
pub(crate) struct Chain {
    pub(crate) head: Ident,
    pub(crate) stages: Vec<StageCall>,
    pub(crate) sink: Option<Connector>,
}

/// `name(arg, ..)`, then any `.modifier(arg, ..)`s.
pub(crate) struct StageCall {
    pub(crate) name: Ident,
    pub(crate) args: Vec<Expr>,
    pub(crate) span: Span,
    pub(crate) modifiers: Vec<Modifier>,
}

/// `.name(arg, ..)` after a stage (`join(b).on(..).window(..)`).
pub(crate) struct Modifier {
    pub(crate) name: Ident,
    pub(crate) args: Vec<Expr>,
    pub(crate) span: Span,
}

/// `name(option: value, ..)`
pub(crate) struct Connector {
    pub(crate) name: Ident,
    pub(crate) options: Vec<ConnectorOption>,
}

/// `option: value`
pub(crate) struct ConnectorOption {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

impl Parse for PipelineDef {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input
            .parse::<kw::pipeline>()
            .map_err(|e| syn::Error::new(e.span(), "expected `pipeline NAME { .. }`"))?;
        let name: Ident = input.parse()?;
        let body;
        braced!(body in input);
        let mut statements = Vec::new();
        while !body.is_empty() {
            statements.push(body.parse()?);
        }
        if !input.is_empty() {
            return Err(input.error("expected one `pipeline NAME { .. }` per `pipeline!`"));
        }
        Ok(PipelineDef {
            attrs,
            vis,
            name,
            statements,
        })
    }
}

impl Parse for Statement {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let statement = if input.peek(kw::source) {
            input.parse::<kw::source>()?;
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `:` and the record type, as in `source lines: String = ..`",
                )
            })?;
            let ty: Type = input.parse()?;
            input.parse::<Token![=]>()?;
            let connector = input.parse()?;
            Statement::Source {
                name,
                ty,
                connector,
            }
        } else if input.peek(kw::mode) && !input.peek2(Token![->]) {
            let keyword: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            Statement::Mode {
                keyword,
                value: input.parse()?,
            }
        } else if input.peek(Token![let]) {
            input.parse::<Token![let]>()?;
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            Statement::Let {
                name,
                chain: input.parse()?,
            }
        } else {
            Statement::Chain(input.parse()?)
        };
        input.parse::<Token![;]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `;` at the end of the statement, or `->` and another stage",
            )
        })?;
        Ok(statement)
    }
}

impl Parse for Chain {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let head: Ident = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected a stream name, `source`, or `let`"))?;
        let mut stages = Vec::new();
        let mut sink = None;
        while input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            if input.peek(kw::sink) {
                input.parse::<kw::sink>()?;
                sink = Some(input.parse()?);
                break;
            }
            // A stage is a call like its modifiers: `name(args)`.
            let Modifier { name, args, span } = input.parse()?;
            let mut modifiers = Vec::new();
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                modifiers.push(input.parse()?);
            }
            stages.push(StageCall {
                name,
                args,
                span,
                modifiers,
            });
        }
        Ok(Chain { head, stages, sink })
    }
}

impl Parse for Modifier {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        let content;
        let parens = parenthesized!(content in input);
        let args = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        let span = name
            .span()
            .join(parens.span.close())
            .unwrap_or_else(|| name.span());
        Ok(Modifier {
            name,
            args: args.into_iter().collect(),
            span,
        })
    }
}

impl Parse for Connector {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        let content;
        parenthesized!(content in input);
        let options = Punctuated::<ConnectorOption, Token![,]>::parse_terminated(&content)?;
        Ok(Connector {
            name,
            options: options.into_iter().collect(),
        })
    }
}

impl Parse for ConnectorOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `:` after the option name, as in `{key}: value`"),
            )
        })?;
        let value: Expr = input.parse()?;
        Ok(ConnectorOption { key, value })
    }
}

impl Connector {
    /// The value of option `key`, if given.
    pub(crate) fn option(&self, key: &str) -> Option<&ConnectorOption> {
        self.options.iter().find(|o| o.key == key)
    }
}

impl StageCall {
    /// The argument list's span, for arity errors.
    pub(crate) fn args_span(&self) -> Span {
        match (self.args.first(), self.args.last()) {
            (Some(first), Some(last)) => first.span().join(last.span()).unwrap_or(first.span()),
            _ => self.span,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn parses_sources_lets_and_chains() {
        let def: PipelineDef = parse_quote! {
            /// Counts words.
            pub pipeline WordCount {
                source lines: String = socket(host: "127.0.0.1", port: 9999);
                let words = lines -> flat_map(|l: String| vec![l]);
                words -> key_by(|w: &String| w.clone()) -> aggregate(count()) -> sink stdout();
            }
        };
        assert_eq!(def.name, "WordCount");
        assert_eq!(def.attrs.len(), 1);
        assert_eq!(def.statements.len(), 3);
        let Statement::Chain(chain) = &def.statements[2] else {
            panic!("expected a chain");
        };
        assert_eq!(chain.head, "words");
        let names: Vec<String> = chain.stages.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["key_by", "aggregate"]);
        assert_eq!(
            chain.sink.as_ref().map(|s| s.name.to_string()).as_deref(),
            Some("stdout")
        );
    }

    #[test]
    fn a_missing_semicolon_is_explained() {
        let r = syn::parse2::<PipelineDef>(quote::quote! {
            pipeline P { source a: u32 = iter(items: 0..1) a -> sink stdout(); }
        });
        let e = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("expected `;`"), "{e}");
    }
}
