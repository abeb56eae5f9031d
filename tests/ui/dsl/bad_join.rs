//! Joins written wrong: no keys, one key function, a misspelt modifier, both
//! a window and an interval, bounds the wrong way round, a `global` window,
//! a modifier on another stage, and a closure where the stream goes.
use pipeline::prelude::*;

#[derive(Debug, Clone, Event)]
struct Bid {
    auction: u64,
    #[event_time]
    at: i64,
}

#[derive(Debug, Clone, Event)]
struct Auction {
    id: u64,
    #[event_time]
    at: i64,
}

pipeline! {
    pipeline P {
        source bids: Bid = iter(items: Vec::<Bid>::new(), watermark: monotonic);
        source auctions: Auction = iter(items: Vec::<Auction>::new(), watermark: monotonic);
        bids -> join(auctions) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id).windw(tumbling(10s)) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id).window(tumbling(10s)).between(0s, 1s) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id).between(5s, -5s) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id).window(global) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id).window(tumbling(10s)).ttl(1h) -> sink stdout();
        bids -> join(auctions).on(|b: &Bid| b.auction, |a: &Auction| a.id).ttl(0s) -> sink stdout();
        bids -> filter(|b: &Bid| b.auction > 0).on(|b: &Bid| b.auction, |a: &Auction| a.id) -> sink stdout();
        bids -> join(|b: &Bid| b.auction).on(|b: &Bid| b.auction, |a: &Auction| a.id) -> sink stdout();
    }
}

fn main() {}
