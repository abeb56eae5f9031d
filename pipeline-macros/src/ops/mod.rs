//! The stages the DSL knows: their arguments, checks and expansion.
//!
//! Stages that take one closure or value (`map`, `filter`, `filter_map`,
//! `flat_map`, `inspect`, `key_by`, `reduce`, `process`, `process_keyed`)
//! share one spec in `closure.rs`: they differ
//! only in the builder method they call, and rustc checks each closure's
//! signature against that method. `aggregate`, `union`, `join` and the
//! window stages have their own.

mod aggregate;
mod closure;
mod join;
mod union;
pub(crate) mod window;

use crate::analyze::Ctxt;
use crate::parse::StageCall;
use proc_macro2::TokenStream;
use syn::Ident;

/// What the expansion of a stage may refer to.
pub(crate) struct StageCx {
    /// Variables of the streams a stage names (for `union`), in order.
    pub(crate) streams: Vec<Ident>,
}

/// One stage of the DSL.
pub(crate) struct StageSpec {
    pub(crate) name: &'static str,
    /// Checks the arguments, reporting into `cx`.
    pub(crate) check: fn(&StageCall, &mut Ctxt),
    /// Expands into `let __s = __s.<method>(..);`.
    pub(crate) expand: fn(&StageCall, &StageCx) -> TokenStream,
    /// Names of streams this stage reads besides its input.
    pub(crate) inputs: fn(&StageCall) -> Vec<Ident>,
    /// Names of streams this stage defines (a side output).
    pub(crate) defines: fn(&StageCall) -> Vec<Ident>,
    /// Whether `.modifier(..)`s may follow the call (only `join`).
    pub(crate) takes_modifiers: bool,
}

pub(crate) const STAGES: &[StageSpec] = &[
    closure::spec("map"),
    closure::spec("filter"),
    closure::spec("filter_map"),
    closure::spec("flat_map"),
    closure::spec("inspect"),
    closure::spec("key_by"),
    closure::spec("reduce"),
    closure::spec("process"),
    closure::spec("process_keyed"),
    aggregate::SPEC,
    union::SPEC,
    join::SPEC,
    window::WINDOW,
    window::WINDOW_ALL,
    window::ALLOWED_LATENESS,
    window::LATE_RECORDS,
    window::TRIGGER,
];

/// The stage called `name`.
pub(crate) fn lookup(name: &Ident) -> Option<&'static StageSpec> {
    STAGES.iter().find(|s| name == s.name)
}

/// Names of all stages.
pub(crate) fn names() -> Vec<&'static str> {
    STAGES.iter().map(|s| s.name).collect()
}

fn no_inputs(_: &StageCall) -> Vec<Ident> {
    Vec::new()
}

/// The stream name a stage's single argument is, if it is one.
pub(crate) fn stream_arg(stage: &StageCall) -> Option<&Ident> {
    match stage.args.as_slice() {
        [syn::Expr::Path(p)] if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

/// Reports unless the stage has exactly `n` arguments.
pub(crate) fn expect_args(stage: &StageCall, n: usize, what: &str, cx: &mut Ctxt) -> bool {
    if stage.args.len() == n {
        return true;
    }
    let found = stage.args.len();
    cx.error(
        stage.args_span(),
        format!(
            "expected {n} argument{} for `{}` ({what}), found {found}",
            if n == 1 { "" } else { "s" },
            stage.name
        ),
    );
    false
}
