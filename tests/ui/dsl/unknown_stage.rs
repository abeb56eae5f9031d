//! A stage name with a typo.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source xs: u32 = iter(items: 0..10_u32);
        xs -> fliter(|x: &u32| *x > 3) -> sink stdout();
    }
}

fn main() {}
