//! A `process` function whose records argument has the wrong type.
use pipeline::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
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
            -> process(|page: &String, _w: &Window, clicks: Vec<Click>| clicks.len())
            -> sink stdout();
    }
}

fn main() {}
