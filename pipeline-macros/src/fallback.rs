//! What `pipeline!` emits when the pipeline has errors: the errors, plus the
//! pipeline's struct with an empty `build`, so that code using the pipeline
//! (`WordCount::main()`) still type-checks and the user sees only the
//! errors that matter.

use crate::codegen::{about, runtime};
use crate::parse::PipelineDef;
use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(def: &PipelineDef, errors: syn::Error) -> TokenStream {
    let rt = runtime();
    let errors = errors.to_compile_error();
    let name = &def.name;
    let vis = &def.vis;
    let name_text = name.to_string();
    let about = about(def);
    quote! {
        #errors

        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        impl #rt::exec::PipelineDef for #name {
            const NAME: &'static str = #name_text;
            const ABOUT: &'static str = #about;

            fn build(_: &#rt::exec::PipelineBuilder) -> #rt::Result<()> {
                ::core::result::Result::Ok(())
            }
        }
    }
}
