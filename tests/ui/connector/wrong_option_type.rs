//! An option value of the wrong type.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = socket(port: "9999");
        lines -> sink stdout();
    }
}

fn main() {}
