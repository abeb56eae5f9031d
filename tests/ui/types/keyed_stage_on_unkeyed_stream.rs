//! `aggregate` works per key, but the stream has no key.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source words: String = iter(items: Vec::<String>::new());
        words -> aggregate(count()) -> sink stdout();
    }
}

fn main() {}
