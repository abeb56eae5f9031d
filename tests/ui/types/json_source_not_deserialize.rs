//! A JSON source whose record type is not `Deserialize`.
use pipeline::prelude::*;

#[derive(Debug, Clone)]
struct Point {
    x: i32,
}

pipeline! {
    pipeline P {
        source points: Point = file(path: "points.jsonl", format: json);
        points -> sink stdout();
    }
}

fn main() {}
