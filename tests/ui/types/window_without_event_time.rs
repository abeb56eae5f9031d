//! Windows need records with an event time.
use pipeline::prelude::*;

#[derive(Debug, Clone)]
struct Click {
    page: String,
}

pipeline! {
    pipeline P {
        source clicks: Click = iter(items: Vec::<Click>::new());
        clicks -> key_by(|c: &Click| c.page.clone()) -> window(tumbling(10s)) -> aggregate(count()) -> sink stdout();
    }
}

fn main() {}
