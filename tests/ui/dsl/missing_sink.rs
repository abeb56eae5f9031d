//! A chain that goes nowhere.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source xs: u32 = iter(items: 0..10_u32);
        xs -> map(|x: u32| x + 1);
    }
}

fn main() {}
