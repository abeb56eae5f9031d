//! `#[operator]` structs cannot be generic yet.
use pipeline::prelude::*;
use pipeline::runtime::state::ValueState;

#[operator]
#[derive(Clone, Default)]
struct Last<T> {
    last: ValueState<T>,
}

fn main() {}
