//! Global windows with count and time triggers, early firing,
//! processing-time windows, and watermark tuning.
use pipeline::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Click {
    page: String,
    #[event_time]
    at: i64,
}

/// A record without event time.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    text: String,
}

pipeline! {
    pipeline Triggers {
        source clicks: Click = file(path: "clicks.jsonl", format: json, watermark: bounded(2s), idle_timeout: 1min, max_ahead: 1h);
        source replay: Click = iter(items: Vec::<Click>::new(), watermark: monotonic, max_ahead: none);
        source lines: Line = stdin(format: json, watermark: none);
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(global) -> trigger(count(100)) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(tumbling(1h)) -> trigger(every(1s)) -> aggregate(count()) -> sink stdout();
        replay -> window_all(global) -> trigger(every(5s)) -> aggregate(count()) -> sink stdout();
        lines -> key_by(|l: &Line| l.text.clone()) -> window(sliding(1min, 10s).processing_time()) -> aggregate(count()) -> sink stdout();
        lines -> key_by(|l: &Line| l.text.len()) -> window(global) -> trigger(count(2)) -> aggregate(count()) -> sink stdout();
    }
}

fn main() {
    let _ = Triggers::describe(RunOptions::default());
}
