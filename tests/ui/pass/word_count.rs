//! The README's word count compiles.
use pipeline::prelude::*;

pipeline! {
    /// Counts words.
    pub pipeline WordCount {
        source lines: String = socket(host: "127.0.0.1", port: 9999, retries: 3, retry_delay: 500ms, reconnect: true);
        lines
            -> flat_map(|line: String| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            -> key_by(|word: &String| word.clone())
            -> aggregate(count())
            -> sink stdout();
    }
}

fn main() {
    let _ = WordCount::main;
}
