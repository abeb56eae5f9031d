//! A connector option with a typo.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = socket(host: "127.0.0.1", prot: 9999);
        lines -> sink stdout();
    }
}

fn main() {}
