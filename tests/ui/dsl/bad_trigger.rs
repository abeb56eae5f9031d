//! Triggers and watermark options that cannot work: a `global` window
//! without a trigger, a count trigger on a time window, a trigger without a
//! window, a zero count, a modifier typo, and watermark tuning on a source
//! without watermarks.
use pipeline::prelude::*;

#[derive(Debug, Clone, Event)]
struct Click {
    page: String,
    #[event_time]
    at: i64,
}

pipeline! {
    pipeline P {
        source clicks: Click = iter(items: Vec::<Click>::new(), watermark: bounded(1s));
        source raw: Click = iter(items: Vec::<Click>::new(), idle_timeout: 10s);
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(global) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(tumbling(10s)) -> trigger(count(5)) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> trigger(every(1s)) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(global) -> trigger(count(0)) -> aggregate(count()) -> sink stdout();
        raw -> key_by(|c: &Click| c.page.clone()) -> window(tumbling(10s).processing_tme()) -> aggregate(count()) -> sink stdout();
    }
}

fn main() {}
