//! Time spent per page, from a CSV file of clicks shipped in
//! `examples/data/`. Rows that do not parse go to a dead-letter file.
//!
//! ```text
//! cargo run --example clicks -- run
//! cargo run --example clicks -- run --parallelism 4 --set clicks.path=other.csv
//! cargo run --example clicks -- describe --format mermaid
//! ```

use pipeline::prelude::*;

/// One click: when, who, which page, and how long the user stayed.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Click {
    #[event_time]
    ts: i64,
    user: String,
    page: String,
    duration_ms: u32,
}

pipeline! {
    /// Total time spent per page (a running sum per page), from a CSV file of
    /// clicks; unparsable rows are written to `target/bad_clicks.jsonl`.
    pub pipeline PageTime {
        source clicks: Click = file(
            path: "examples/data/clicks.csv",
            format: csv,
            header: true,
            on_error: dead_letter(bad_rows),
        );

        clicks
            -> filter(|c: &Click| c.duration_ms > 0)
            -> key_by(|c: &Click| c.page.clone())
            -> aggregate(sum(duration_ms))
            -> sink stdout(format: json);

        bad_rows -> sink file(name: "bad_rows", path: "target/bad_clicks.jsonl", format: json);
    }
}

fn main() -> std::process::ExitCode {
    PageTime::main()
}
