//! A chain reads a stream that does not exist (a typo).
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source words: String = iter(items: Vec::<String>::new());
        wrods -> sink stdout();
    }
}

fn main() {}
