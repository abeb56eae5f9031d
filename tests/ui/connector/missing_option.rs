//! The file source needs a path.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = file(format: text);
        lines -> sink stdout();
    }
}

fn main() {}
