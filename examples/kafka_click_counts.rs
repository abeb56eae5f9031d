//! Clicks per user and minute, from Kafka to Kafka.
//!
//! With a broker on 127.0.0.1:9092 (`scripts/kafka-start.sh 9092` starts
//! one; point elsewhere with `PIPELINE_KAFKA_BROKERS` or `--set
//! clicks.brokers=..`):
//!
//! ```text
//! # Load examples/data/clicks.csv into the topic `clicks`, keyed by user.
//! cargo run --example kafka_click_counts -- load run
//! # Count clicks per user and minute into `click-counts`; `bounded` stops
//! # at the end of the topic instead of waiting for more.
//! cargo run --example kafka_click_counts -- run --set clicks.bounded=true
//! # Print what is in `click-counts`.
//! cargo run --example kafka_click_counts -- show run
//! ```
//!
//! Without `bounded` the pipeline runs until stopped. Start a second copy
//! with the same group and the two share the topic's partitions.

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
    /// Loads the click log into the topic `clicks`, keyed by user, as JSON.
    pub pipeline LoadClicks {
        source rows: Click = file(path: "examples/data/clicks.csv", format: csv, header: true, on_error: skip);
        rows -> sink kafka(name: "clicks", topic: "clicks", format: json, key: |c: &Click| c.user.clone());
    }
}

pipeline! {
    /// Clicks and time spent per user and minute of event time, from the
    /// topic `clicks` to the topic `click-counts` (JSON, keyed by user).
    pub pipeline ClickCounts {
        source clicks: Click = kafka(topic: "clicks", group: "click-counts", format: json, watermark: bounded(5s));

        clicks
            -> key_by(|c: &Click| c.user.clone())
            -> window(tumbling(1min))
            -> aggregate(count(), sum(duration_ms))
            -> sink kafka(name: "counts", topic: "click-counts", format: json,
                          key: |w: &Windowed<String, (u64, u64)>| w.key.clone());
    }
}

pipeline! {
    /// Prints the topic `click-counts` to its end, one JSON line per message.
    pub pipeline ShowCounts {
        source counts: String = kafka(topic: "click-counts", format: string, start: earliest, bounded: true);
        counts -> sink stdout(format: text);
    }
}

fn main() -> std::process::ExitCode {
    use pipeline::runtime::cli;
    cli::main_with::<ClickCounts>(&[
        cli::variant::<LoadClicks>("load"),
        cli::variant::<ShowCounts>("show"),
    ])
}
