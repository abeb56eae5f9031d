//! `#[ttl(..)]` takes a duration, and only on state fields.
use pipeline::prelude::*;
use pipeline::runtime::state::ValueState;

#[operator]
#[derive(Clone, Default)]
struct Seen {
    #[ttl(10)]
    last: ValueState<u64>,
    #[ttl(1min)]
    limit: u64,
    #[ttl(1s)]
    #[ttl(2s)]
    seen: ValueState<u64>,
}

fn main() {}
