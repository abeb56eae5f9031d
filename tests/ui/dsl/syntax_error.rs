//! A statement that does not parse: only the parse error is shown, not also
//! errors about the pipeline's type where `main` uses it.
use pipeline::prelude::*;

pipeline! {
    pipeline WordCount {
        source lines: String = socket(port: 9999)
        lines -> sink stdout();
    }
}

fn main() -> std::process::ExitCode {
    WordCount::main()
}
