//! A stream read above its definition.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source xs: u32 = iter(items: 0..10_u32);
        doubled -> sink stdout();
        let doubled = xs -> map(|x: u32| x * 2);
    }
}

fn main() {}
