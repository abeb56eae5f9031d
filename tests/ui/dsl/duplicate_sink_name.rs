//! Two sinks with the same name, and a sink named like a source.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source xs: u32 = iter(items: 0..10_u32);
        xs -> sink collect(name: "out");
        xs -> sink file(name: "out", path: "out.jsonl");
        xs -> sink stdout(name: "xs");
    }
}

fn main() {}
