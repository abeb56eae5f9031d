//! Every window, offsets, lateness, watermark strategies and a default mode.
use pipeline::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Click {
    page: String,
    ms: u32,
    #[event_time]
    at: Timestamp,
}

pipeline! {
    pipeline Windows {
        mode micro_batch(500ms);
        source clicks: Click = file(path: "clicks.jsonl", format: json, watermark: bounded(2s));
        source ordered: Click = iter(items: Vec::<Click>::new(), watermark: monotonic);
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(tumbling(1min).offset(15s)) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(sliding(10s, 2s)) -> allowed_lateness(5s) -> aggregate(avg(ms)) -> sink file(path: "avg.jsonl", format: json);
        ordered -> key_by(|c: &Click| c.page.clone()) -> window(session(30s)) -> aggregate(max(ms)) -> sink collect(name: "sessions");
    }
}

fn main() {
    let _ = Windows::describe(RunOptions::default());
}
