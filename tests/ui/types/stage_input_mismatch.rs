//! A stage whose input type is not the previous stage's output.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source lines: String = iter(items: Vec::<String>::new());
        lines
            -> map(|l: String| l.len())
            -> filter(|n: &String| n.is_empty())
            -> sink stdout();
    }
}

fn main() {}
