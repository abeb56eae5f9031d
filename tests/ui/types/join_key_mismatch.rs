//! The two sides of a join must be keyed by the same type.
use pipeline::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Bid {
    auction: u64,
    #[event_time]
    at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Auction {
    id: String,
    #[event_time]
    at: i64,
}

pipeline! {
    pipeline P {
        source bids: Bid = iter(items: Vec::<Bid>::new(), watermark: monotonic);
        source auctions: Auction = iter(items: Vec::<Auction>::new(), watermark: monotonic);
        bids
            -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id.clone()).window(tumbling(10s))
            -> sink stdout();
    }
}

fn main() {}
