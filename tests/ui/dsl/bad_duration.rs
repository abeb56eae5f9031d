//! A duration with a unit the DSL does not know.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = socket(port: 9999, retry_delay: 10sec);
        lines -> sink stdout();
    }
}

fn main() {}
