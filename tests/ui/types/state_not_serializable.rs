//! A window's records are kept in checkpointed state, so their type must
//! be serializable.
use pipeline::prelude::*;

#[derive(Debug, Clone, Event)]
struct Click {
    page: String,
    #[event_time]
    at: i64,
}

pipeline! {
    pipeline P {
        source clicks: Click = iter(items: Vec::<Click>::new(), watermark: monotonic);
        clicks
            -> key_by(|c: &Click| c.page.clone())
            -> window(tumbling(10s))
            -> process(|_page: &String, _w: &Window, clicks: &[Click]| clicks.len())
            -> sink stdout();
    }
}

fn main() {}
