//! The Nexmark queries in the DSL, after nexmark-flink's SQL. Each reads
//! the `nexmark` generator (`--set bids.events=N`), or the CSV files that
//! `nexmark export` writes (`--set bids.csv=DIR`; also `auctions.csv`,
//! `persons.csv`).
//!
//! Every source's records first pass `crate::hooks::ingest` and every
//! result `crate::hooks::result`: the harness measures latency there, the
//! tests collect results; each defines its own `hooks` module. Where a
//! window's result is a record, its time is the window's last instant.

use pipeline::nexmark::{Auction, Bid, Person};
use pipeline::prelude::*;
use pipeline::runtime::operator::{Aggregate, Joined};

pipeline! {
    /// q0, pass-through: every bid.
    pub pipeline Q0 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids -> inspect(crate::hooks::ingest) -> inspect(crate::hooks::result) -> sink discard();
    }
}

pipeline! {
    /// q1, currency conversion: bid prices in euros.
    pub pipeline Q1 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> map(|b: Bid| EuroBid {
                auction: b.auction,
                bidder: b.bidder,
                price: 0.908 * b.price as f64,
                date_time: b.date_time,
                extra: b.extra,
            })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q2, selection: the bids on every 123rd auction.
    pub pipeline Q2 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> filter(|b: &Bid| b.auction.is_multiple_of(123))
            -> map(|b: Bid| AuctionPrice { auction: b.auction, price: b.price, date_time: b.date_time })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q3, local item suggestion: auctions of category 10 by sellers in
    /// Oregon, Idaho or California. Auctions meet their seller in a
    /// stream-table join with all persons (the table: one row per person),
    /// then the state is checked, so no auction waits for a row that will
    /// never come.
    pub pipeline Q3 {
        source persons: Person = nexmark(events: 100000, watermark: monotonic);
        source auctions: Auction = nexmark(events: 100000, watermark: monotonic);
        let sellers = persons -> inspect(crate::hooks::ingest);
        auctions
            -> inspect(crate::hooks::ingest)
            -> filter(|a: &Auction| a.category == 10)
            -> join(sellers).on(|a: &Auction| a.seller, |p: &Person| p.id)
            -> filter(|j: &Joined<Auction, Person>| matches!(j.right.state.as_str(), "OR" | "ID" | "CA"))
            -> map(|j: Joined<Auction, Person>| LocalItem {
                name: j.right.name,
                city: j.right.city,
                state: j.right.state,
                auction: j.left.id,
                date_time: j.left.date_time.max(j.right.date_time),
            })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q4, average selling price per category: each auction's winning bid
    /// (the highest between its start and its expiry), averaged per
    /// category as auctions close. Bids meet their auction in an interval
    /// join, and an auction's bids are gathered in a session, both 10
    /// seconds wide: auctions must last less than that (the generator's
    /// last at most 333 ms at its default 10,000 events/s).
    pub pipeline Q4 {
        source auctions: Auction = nexmark(events: 100000, watermark: monotonic);
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        // Only the columns the query reads go into the join, as an SQL
        // planner would project them.
        let prices = bids
            -> inspect(crate::hooks::ingest)
            -> map(|b: Bid| BidPrice { auction: b.auction, price: b.price, date_time: b.date_time });
        auctions
            -> inspect(crate::hooks::ingest)
            -> map(|a: Auction| AuctionSpan { id: a.id, category: a.category, date_time: a.date_time, expires: a.expires })
            -> join(prices).on(|a: &AuctionSpan| a.id, |b: &BidPrice| b.auction).between(0s, 10s)
            -> filter(|j: &Joined<AuctionSpan, BidPrice>| j.right.date_time <= j.left.expires)
            -> key_by(|j: &Joined<AuctionSpan, BidPrice>| (j.left.id, j.left.category))
            -> window(session(10s))
            -> aggregate(max(|j: &Joined<AuctionSpan, BidPrice>| j.right.price))
            -> key_by(|w: &Windowed<(u64, u64), u64>| w.key.1)
            -> aggregate(avg(|w: &Windowed<(u64, u64), u64>| w.value))
            -> map(|(category, average): (u64, f64)| CategoryPrice { category, average })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// The keyed tumbling count: bids per auction in 10-second windows.
    pub pipeline Count {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> key_by(|b: &Bid| b.auction)
            -> window(tumbling(10s))
            -> aggregate(count())
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q5, hot items: the auctions with the most bids in each sliding
    /// 10-second window, every 2 seconds.
    pub pipeline Q5 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> key_by(|b: &Bid| b.auction)
            -> window(sliding(10s, 2s))
            -> aggregate(count())
            // The counts of one sliding window all end in the same
            // 2-second window.
            -> window_all(tumbling(2s))
            -> aggregate(HotItems)
            -> flat_map(|w: Windowed<(), Vec<(u64, u64)>>| {
                w.value
                    .into_iter()
                    .map(move |(auction, bids)| HotItem { window_end: w.end, auction, bids })
                    .collect::<Vec<_>>()
            })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q7, highest bid: the bids with the highest price in each 10-second
    /// window. (Taking the highest per auction first, in parallel, and then
    /// the highest of those was slower here: a per-auction window costs
    /// more than comparing a price.)
    pub pipeline Q7 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> window_all(tumbling(10s))
            -> aggregate(HighestBids)
            -> flat_map(|w: Windowed<(), Vec<Bid>>| {
                w.value.into_iter().map(move |bid| WindowBid { window_end: w.end, bid }).collect::<Vec<_>>()
            })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q8, new users: persons who opened an auction in the same 10-second
    /// window they registered in (a window join with the sellers of each
    /// window).
    pub pipeline Q8 {
        source persons: Person = nexmark(events: 100000, watermark: monotonic);
        source auctions: Auction = nexmark(events: 100000, watermark: monotonic);
        let sellers = auctions
            -> inspect(crate::hooks::ingest)
            -> key_by(|a: &Auction| a.seller)
            -> window(tumbling(10s))
            -> aggregate(count());
        persons
            -> inspect(crate::hooks::ingest)
            -> join(sellers).on(|p: &Person| p.id, |s: &Windowed<u64, u64>| s.key).window(tumbling(10s))
            -> map(|w: Windowed<u64, Joined<Person, Windowed<u64, u64>>>| NewUser {
                id: w.value.left.id,
                name: w.value.left.name,
                window_end: w.end,
            })
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q11, user sessions: bids per bidder in sessions that end after 10
    /// seconds without a bid.
    pub pipeline Q11 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> key_by(|b: &Bid| b.bidder)
            -> window(session(10s))
            -> aggregate(count())
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

pipeline! {
    /// q12, processing-time windows: bids per bidder in 10-second windows
    /// of the clock.
    pub pipeline Q12 {
        source bids: Bid = nexmark(events: 100000, watermark: monotonic);
        bids
            -> inspect(crate::hooks::ingest)
            -> key_by(|b: &Bid| b.bidder)
            -> window(tumbling(10s).processing_time())
            -> aggregate(count())
            -> inspect(crate::hooks::result)
            -> sink discard();
    }
}

/// A q1 result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EuroBid {
    pub(crate) auction: u64,
    pub(crate) bidder: u64,
    pub(crate) price: f64,
    pub(crate) date_time: Timestamp,
    pub(crate) extra: String,
}

/// A q2 result (with the bid's time, which the latency probe reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuctionPrice {
    pub(crate) auction: u64,
    pub(crate) price: u64,
    pub(crate) date_time: Timestamp,
}

/// A q3 result: an auction of category 10 by a local seller.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct LocalItem {
    pub(crate) name: String,
    pub(crate) city: String,
    pub(crate) state: String,
    pub(crate) auction: u64,
    /// The later of the auction's and the seller's times.
    pub(crate) date_time: Timestamp,
}

/// A q8 result: a person who opened an auction in the 10-second window
/// ending at `window_end`, the window they registered in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct NewUser {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) window_end: Timestamp,
}

/// An auction's id, category and open time (q4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Event)]
pub(crate) struct AuctionSpan {
    pub(crate) id: u64,
    pub(crate) category: u64,
    #[event_time]
    pub(crate) date_time: Timestamp,
    pub(crate) expires: Timestamp,
}

/// A bid's auction, price and time (q4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Event)]
pub(crate) struct BidPrice {
    pub(crate) auction: u64,
    pub(crate) price: u64,
    #[event_time]
    pub(crate) date_time: Timestamp,
}

/// A q4 result: the average winning price of a category's auctions closed
/// so far (updated as each closes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CategoryPrice {
    pub(crate) category: u64,
    pub(crate) average: f64,
}

/// A q5 result: an auction with the most bids in the window ending at
/// `window_end`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct HotItem {
    pub(crate) window_end: Timestamp,
    pub(crate) auction: u64,
    pub(crate) bids: u64,
}

/// A q7 result: a highest bid of the window ending at `window_end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WindowBid {
    pub(crate) window_end: Timestamp,
    pub(crate) bid: Bid,
}

/// Keeps the `(auction, count)` pairs with the highest count (all of them
/// on a tie, as the SQL join on `num >= maxn` does).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HotItems;

impl Aggregate<Windowed<u64, u64>> for HotItems {
    type Acc = Vec<(u64, u64)>;
    type Out = Vec<(u64, u64)>;

    fn create(&self) -> Self::Acc {
        Vec::new()
    }

    fn add(&self, acc: &mut Self::Acc, item: &Windowed<u64, u64>) {
        keep_highest(acc, (item.key, item.value), |&(_, n)| n);
    }

    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
        for item in other {
            keep_highest(acc, item, |&(_, n)| n);
        }
    }

    fn result(&self, acc: &Self::Acc) -> Self::Out {
        let mut out = acc.clone();
        out.sort_unstable();
        out
    }
}

/// Keeps the bids with the highest price (all of them on a tie).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HighestBids;

impl Aggregate<Bid> for HighestBids {
    type Acc = Vec<Bid>;
    type Out = Vec<Bid>;

    fn create(&self) -> Self::Acc {
        Vec::new()
    }

    fn add(&self, acc: &mut Self::Acc, bid: &Bid) {
        if acc.first().is_none_or(|top| bid.price >= top.price) {
            keep_highest(acc, bid.clone(), |b| b.price);
        }
    }

    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
        for bid in other {
            keep_highest(acc, bid, |b| b.price);
        }
    }

    fn result(&self, acc: &Self::Acc) -> Self::Out {
        acc.clone()
    }
}

/// Adds `item` to `acc`, which holds the items with the highest `by`.
fn keep_highest<T>(acc: &mut Vec<T>, item: T, by: impl Fn(&T) -> u64) {
    match acc.first().map(&by) {
        Some(top) if by(&item) < top => {}
        Some(top) if by(&item) == top => acc.push(item),
        _ => {
            acc.clear();
            acc.push(item);
        }
    }
}
