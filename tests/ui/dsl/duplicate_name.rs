//! Two streams share a name.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source words: String = iter(items: Vec::<String>::new());
        let words = words -> map(|w: String| w.to_uppercase());
        words -> sink stdout();
    }
}

fn main() {}
