//! Stages that take one closure: `map`, `filter`, `filter_map`, `flat_map`,
//! `inspect`, `key_by` and `reduce`.

use super::{StageCx, StageSpec, expect_args, no_inputs};
use crate::analyze::Ctxt;
use crate::parse::StageCall;
use proc_macro2::TokenStream;
use quote::quote_spanned;

pub(crate) const fn spec(name: &'static str) -> StageSpec {
    StageSpec {
        name,
        check,
        expand,
        inputs: no_inputs,
        defines: no_inputs,
        takes_modifiers: false,
    }
}

fn check(stage: &StageCall, cx: &mut Ctxt) {
    let what = if stage.name == "process_keyed" {
        "an `#[operator]` value, such as `MyOperator::default()`"
    } else {
        "a closure"
    };
    expect_args(stage, 1, what, cx);
}

fn expand(stage: &StageCall, _cx: &StageCx) -> TokenStream {
    let method = &stage.name;
    // Analysis checked there is exactly one argument.
    let f = stage.args.first();
    quote_spanned! {method.span()=> let __s = __s.#method(#f);}
}
