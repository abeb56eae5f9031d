//! A source connector that does not exist, and a sink used as a source.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = sockt(port: 9999);
        source more: String = stdout();
        lines -> union(more) -> sink stdout();
    }
}

fn main() {}
