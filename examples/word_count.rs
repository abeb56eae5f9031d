//! The network word count of Spark Streaming's guide: counts the words of
//! lines read from a TCP server.
//!
//! ```text
//! nc -lk 9999                                   # in one terminal; type lines
//! cargo run --example word_count -- run --parallelism 4
//! ```

use pipeline::prelude::*;

pipeline! {
    /// Counts words of lines read from a TCP socket (start a server with
    /// `nc -lk 9999`), printing each word's running count.
    pub pipeline WordCount {
        source lines: String = socket(host: "127.0.0.1", port: 9999, retries: 30, retry_delay: 1s);

        lines
            -> flat_map(|line: String| {
                line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>()
            })
            -> key_by(|word: &String| word.clone())
            -> aggregate(count())
            -> sink stdout();
    }
}

fn main() -> std::process::ExitCode {
    WordCount::main()
}
