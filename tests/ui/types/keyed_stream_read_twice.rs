//! A keyed stream named with `let` and read by two chains.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source words: String = iter(items: Vec::<String>::new());
        let keyed = words -> key_by(|w: &String| w.len());
        keyed -> aggregate(count()) -> sink stdout();
        keyed -> reduce(|a: String, _b: String| a) -> sink stdout();
    }
}

fn main() {}
