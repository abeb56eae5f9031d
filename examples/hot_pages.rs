//! Hot items, as in Flink's and Nexmark's examples: the most viewed page in
//! each sliding minute of the click log in `examples/data/`, updated every
//! 20 seconds.
//!
//! ```text
//! cargo run --example hot_pages -- run
//! cargo run --example hot_pages -- run --mode micro-batch --batch-interval 100ms
//! ```
//!
//! Views are counted per page in sliding windows; the window results, whose
//! event time is their window's last instant, are then windowed again, all
//! pages together, in windows as long as the slide, and the top page kept.

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
    /// The most viewed page per sliding minute, every 20 seconds:
    /// `[window_end_ms, page, views]` as JSON lines.
    pub pipeline HotPages {
        source clicks: Click = file(
            path: "examples/data/clicks.csv",
            format: csv,
            header: true,
            on_error: skip,
            watermark: bounded(5s),
        );

        clicks
            -> key_by(|c: &Click| c.page.clone())
            -> window(sliding(60s, 20s))
            -> aggregate(count())
            -> window_all(tumbling(20s))
            // Ties go to the later page name, so the result does not depend
            // on the order results arrive in.
            -> aggregate(top(1, |w| (w.value, w.key.clone())))
            -> flat_map(|hot: Windowed<(), Vec<Windowed<String, u64>>>| {
                hot.value.into_iter().map(|w| (w.end.as_millis(), w.key, w.value)).collect::<Vec<_>>()
            })
            -> sink stdout(format: json);
    }
}

fn main() -> std::process::ExitCode {
    HotPages::main()
}
