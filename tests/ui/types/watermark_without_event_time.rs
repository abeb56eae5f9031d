//! Watermarks need records with an event time.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = socket(port: 9999, watermark: bounded(2s));
        lines -> sink stdout();
    }
}

fn main() {}
