//! Sessionization of the click log in `examples/data/`: each user's clicks
//! grouped into sessions that end after 30 seconds without a click, with the
//! number of clicks and the time spent per session.
//!
//! ```text
//! cargo run --example sessions -- run
//! cargo run --example sessions -- run --mode micro-batch --batch-interval 100ms
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

fn main() -> std::process::ExitCode {
    Sessions::main()
}
