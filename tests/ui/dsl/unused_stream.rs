//! A stream is defined but no chain reads it.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source words: String = iter(items: Vec::<String>::new());
        let upper = words -> map(|w: String| w.to_uppercase());
    }
}

fn main() {}
