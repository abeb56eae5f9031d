//! A stream of late records that nothing reads: late records would be lost
//! without a trace, so it is an error.
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
        clicks
            -> key_by(|c: &Click| c.page.clone())
            -> window(tumbling(10s))
            -> late_records(late_clicks)
            -> aggregate(count())
            -> sink stdout();
    }
}

fn main() {}
