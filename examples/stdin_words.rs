//! Counts words read from standard input, printing the final count per word
//! as CSV when the input ends: a pipeline used as a shell filter.
//!
//! ```text
//! cat README.md | cargo run -q --example stdin_words -- run --quiet
//! ```

use pipeline::prelude::*;

pipeline! {
    /// Counts the words of standard input; prints `word,count` updates.
    pub pipeline StdinWords {
        source lines: String = stdin(format: text);

        lines
            -> flat_map(|line: String| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            -> key_by(|word: &String| word.clone())
            -> aggregate(count())
            -> sink stdout(format: csv);
    }
}

fn main() -> std::process::ExitCode {
    StdinWords::main()
}
