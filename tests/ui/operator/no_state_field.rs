//! An `#[operator]` struct without any state field.
use pipeline::prelude::*;

#[operator]
#[derive(Clone, Default)]
struct Counter {
    count: u64,
}

fn main() {}
