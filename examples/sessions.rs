//! Sessionization of the click log in `examples/data/`: each user's clicks
//! grouped into sessions that end after 30 seconds without a click, with the
//! number of clicks and the time spent per session.
//!
//! ```text
//! cargo run --example sessions -- run
//! cargo run --example sessions -- run --mode micro-batch --batch-interval 100ms
//! ```
//!
//! `generated` as the first argument reads synthetic clicks from a
//! generator instead (100,000 by default; `--set clicks.count=N`, and
//! `--set clicks.rate=N` for N clicks per second):
//!
//! ```text
//! cargo run --release --example sessions -- generated run --mode micro-batch --batch-interval 1s
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
    /// User sessions (30 seconds of inactivity end one): clicks and time spent
    /// per session, as JSON lines.
    pub pipeline Sessions {
        source clicks: Click = file(
            path: "examples/data/clicks.csv",
            format: csv,
            header: true,
            on_error: skip,
            watermark: bounded(5s),
        );

        clicks
            -> key_by(|c: &Click| c.user.clone())
            -> window(session(30s))
            -> aggregate(count(), sum(duration_ms))
            -> sink stdout(format: json);
    }
}

/// Synthetic click `i`, 100ms of event time after click `i - 1`: users
/// come in bursts of 25 s, so each burst makes a session per user.
fn synthetic_click(i: u64) -> Click {
    let burst = i / 250;
    Click {
        ts: (i * 100) as i64,
        user: format!("user{}", (burst * 7 + i % 4) % 40),
        page: format!("/page/{}", (i * 31 + burst) % 12),
        duration_ms: (i * 7919 % 30_000) as u32,
    }
}

pipeline! {
    /// The same sessions over synthetic clicks.
    pub pipeline GeneratedSessions {
        source clicks: Click = generator(count: 100000, record: synthetic_click, watermark: bounded(5s));

        clicks
            -> key_by(|c: &Click| c.user.clone())
            -> window(session(30s))
            -> aggregate(count(), sum(duration_ms))
            -> sink stdout(format: json);
    }
}

fn main() -> std::process::ExitCode {
    use pipeline::runtime::cli;
    cli::main_with::<Sessions>(&[cli::variant::<GeneratedSessions>("generated")])
}
