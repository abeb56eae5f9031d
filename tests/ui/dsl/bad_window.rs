//! Windows and watermarks that cannot work: a typo, a slide longer than the
//! window, a zero-sized session, a zero watermark bound, a bad mode.
use pipeline::prelude::*;

#[derive(Debug, Clone, Event)]
struct Click {
    page: String,
    #[event_time]
    at: i64,
}

pipeline! {
    pipeline P {
        mode micro_batch(0ms);
        source clicks: Click = iter(items: Vec::<Click>::new(), watermark: bounded(0s));
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(tumblng(10s)) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(sliding(5s, 10s)) -> aggregate(count()) -> sink stdout();
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(session(0s)) -> aggregate(count()) -> sink stdout();
    }
}

fn main() {}
