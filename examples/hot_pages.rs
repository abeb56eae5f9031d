//! Hot items, as in Flink's and Nexmark's examples: the most viewed page in
//! each sliding minute of the click log in `examples/data/`, updated every
//! 20 seconds.
//!
//! ```text
//! cargo run --example hot_pages -- run
//! cargo run --example hot_pages -- run --mode micro-batch --batch-interval 100ms
//! ```
//!
//! `generated` as the first argument reads synthetic clicks from a
//! generator instead (100,000 by default; `--set clicks.count=N`, and
//! `--set clicks.rate=N` for N clicks per second):
//!
//! ```text
//! cargo run --release --example hot_pages -- generated run --mode micro-batch --batch-interval 1s
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

/// Synthetic click `i`, 50ms of event time after click `i - 1`; pages are
/// skewed (page `k` is about twice as popular as page `k + 1`) and the
/// skew rotates every minute, so the hot page changes.
fn synthetic_click(i: u64) -> Click {
    let hash = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let rank = (hash | 1 << 24).trailing_zeros() as u64;
    let minute = i / 1_200;
    Click {
        ts: (i * 50) as i64,
        user: format!("user{}", hash % 100),
        page: format!("/page/{}", (rank + minute) % 8),
        duration_ms: (hash % 30_000) as u32,
    }
}

pipeline! {
    /// The same hot pages over synthetic clicks.
    pub pipeline GeneratedHotPages {
        source clicks: Click = generator(count: 100000, record: synthetic_click, watermark: bounded(5s));

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
    use pipeline::runtime::cli;
    cli::main_with::<HotPages>(&[cli::variant::<GeneratedHotPages>("generated")])
}
