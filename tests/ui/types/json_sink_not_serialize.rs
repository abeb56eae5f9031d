//! A record that is not `Serialize` goes to a JSON sink.
use pipeline::prelude::*;

#[derive(Debug, Clone)]
struct Point {
    x: i32,
}

pipeline! {
    pipeline P {
        source xs: i32 = iter(items: 0..3);
        xs -> map(|x: i32| Point { x }) -> sink file(path: "points.jsonl", format: json);
    }
}

fn main() {}
