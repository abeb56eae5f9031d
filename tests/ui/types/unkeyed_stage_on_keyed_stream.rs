//! `map` directly after `key_by`.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source words: String = iter(items: Vec::<String>::new());
        words -> key_by(|w: &String| w.len()) -> map(|w: String| w) -> sink stdout();
    }
}

fn main() {}
