//! An `#[event_time]` field that is not a timestamp.
use pipeline::prelude::*;

#[derive(Event)]
struct Click {
    #[event_time]
    at: String,
    page: String,
}

fn main() {}
