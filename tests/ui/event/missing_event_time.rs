//! `#[derive(Event)]` without a field marked `#[event_time]`.
use pipeline::prelude::*;

#[derive(Event)]
struct Click {
    at: i64,
}

fn main() {}
