//! The Nexmark queries in the DSL. Each is defined twice by `query!`: `QN`
//! reads the `nexmark` generator, `QNCsv` the CSV files that `nexmark
//! export` writes (`--set bids.path=DIR/bid.csv`). Both end in the tail the
//! includer gives `nexmark_queries!`: the harness discards output, the tests
//! collect it; the harness also sees generated events as they enter.
//!
//! Queries follow nexmark-flink's SQL; where a window result is a record,
//! its time is the window's last instant.

// The query bodies expand where `nexmark_queries!` is called, so the
// includer imports these names too (`use queries::{Auction, ..}`).
pub(crate) use pipeline::nexmark::{Auction, Bid, Person};
use pipeline::prelude::*;
use pipeline::runtime::operator::Aggregate;
pub(crate) use pipeline::runtime::operator::Joined;

/// Declares a query over the generator and over the CSV files. The stream
/// names come from the caller (`[bids: bids]`) so that the body can use
/// them.
macro_rules! query {
    ($ingest:path; $(#[$doc:meta])* $gen:ident, $csv:ident, [bids: $b:ident] { $($body:tt)* }) => {
        pipeline! {
            $(#[$doc])*
            pub pipeline $gen {
                source events: ::pipeline::nexmark::Event = nexmark(events: 100000, watermark: monotonic);
                let $b = events -> inspect($ingest) -> filter_map(|e: ::pipeline::nexmark::Event| e.into_bid());
                $($body)*
            }
        }
        pipeline! {
            $(#[$doc])*
            pub pipeline $csv {
                source $b: ::pipeline::nexmark::Bid = file(path: "nexmark-data/bid.csv", format: csv, watermark: monotonic);
                $($body)*
            }
        }
    };
}

macro_rules! query_auctions_bids {
    ($ingest:path; $(#[$doc:meta])* $gen:ident, $csv:ident, [auctions: $a:ident, bids: $b:ident] { $($body:tt)* }) => {
        pipeline! {
            $(#[$doc])*
            pub pipeline $gen {
                source events: ::pipeline::nexmark::Event = nexmark(events: 100000, watermark: monotonic);
                let ingested = events -> inspect($ingest);
                let $a = ingested -> filter_map(|e: ::pipeline::nexmark::Event| e.into_auction());
                let $b = ingested -> filter_map(|e: ::pipeline::nexmark::Event| e.into_bid());
                $($body)*
            }
        }
        pipeline! {
            $(#[$doc])*
            pub pipeline $csv {
                source $a: ::pipeline::nexmark::Auction = file(path: "nexmark-data/auction.csv", format: csv, watermark: monotonic);
                source $b: ::pipeline::nexmark::Bid = file(path: "nexmark-data/bid.csv", format: csv, watermark: monotonic);
                $($body)*
            }
        }
    };
}

macro_rules! query_persons_auctions {
    ($ingest:path; $(#[$doc:meta])* $gen:ident, $csv:ident, [persons: $p:ident, auctions: $a:ident] { $($body:tt)* }) => {
        pipeline! {
            $(#[$doc])*
            pub pipeline $gen {
                source events: ::pipeline::nexmark::Event = nexmark(events: 100000, watermark: monotonic);
                let ingested = events -> inspect($ingest);
                let $p = ingested -> filter_map(|e: ::pipeline::nexmark::Event| e.into_person());
                let $a = ingested -> filter_map(|e: ::pipeline::nexmark::Event| e.into_auction());
                $($body)*
            }
        }
        pipeline! {
            $(#[$doc])*
            pub pipeline $csv {
                source $p: ::pipeline::nexmark::Person = file(path: "nexmark-data/person.csv", format: csv, watermark: monotonic);
                source $a: ::pipeline::nexmark::Auction = file(path: "nexmark-data/auction.csv", format: csv, watermark: monotonic);
                $($body)*
            }
        }
    };
}

/// Defines every query: the generated events pass through `ingest` (a
/// function of `&nexmark::Event`) first, and each query ends in `tail`.
macro_rules! nexmark_queries {
    (ingest: $ingest:path; tail: $($tail:tt)*) => {
        $crate::queries::query! {
            $ingest;
            /// q0, pass-through: every bid.
            Q0, Q0Csv, [bids: bids] {
                bids $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// q1, currency conversion: bid prices in euros.
            Q1, Q1Csv, [bids: bids] {
                bids -> map(|b: Bid| $crate::queries::EuroBid {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: 0.908 * b.price as f64,
                    date_time: b.date_time,
                    extra: b.extra,
                }) $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// q2, selection: the bids on every 123rd auction.
            Q2, Q2Csv, [bids: bids] {
                bids
                    -> filter(|b: &Bid| b.auction % 123 == 0)
                    -> map(|b: Bid| $crate::queries::AuctionPrice { auction: b.auction, price: b.price, date_time: b.date_time })
                    $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// The keyed tumbling count: bids per auction in 10-second windows.
            Count, CountCsv, [bids: bids] {
                bids
                    -> key_by(|b: &Bid| b.auction)
                    -> window(tumbling(10s))
                    -> aggregate(count())
                    $($tail)*;
            }
        }
        $crate::queries::query_persons_auctions! {
            $ingest;
            /// q3, local item suggestion: auctions of category 10 by sellers
            /// in Oregon, Idaho or California (a stream-table join of
            /// auctions with persons).
            Q3, Q3Csv, [persons: persons, auctions: auctions] {
                let local_sellers = persons
                    -> filter(|p: &Person| matches!(p.state.as_str(), "OR" | "ID" | "CA"));
                auctions
                    -> filter(|a: &Auction| a.category == 10)
                    -> join(local_sellers).on(|a: &Auction| a.seller, |p: &Person| p.id)
                    -> map(|j: Joined<Auction, Person>| $crate::queries::LocalItem {
                        name: j.right.name,
                        city: j.right.city,
                        state: j.right.state,
                        auction: j.left.id,
                        date_time: j.left.date_time.max(j.right.date_time),
                    })
                    $($tail)*;
            }
        }
        $crate::queries::query_persons_auctions! {
            $ingest;
            /// q8, new users: persons who opened an auction in the same
            /// 10-second window they registered in (a window join).
            Q8, Q8Csv, [persons: persons, auctions: auctions] {
                let sellers = auctions
                    -> key_by(|a: &Auction| a.seller)
                    -> window(tumbling(10s))
                    -> aggregate(count());
                persons
                    -> join(sellers).on(|p: &Person| p.id, |s: &Windowed<u64, u64>| s.key).window(tumbling(10s))
                    -> map(|w: Windowed<u64, Joined<Person, Windowed<u64, u64>>>| $crate::queries::NewUser {
                        id: w.value.left.id,
                        name: w.value.left.name,
                        window_end: w.end,
                    })
                    $($tail)*;
            }
        }
        $crate::queries::query_auctions_bids! {
            $ingest;
            /// q4, average selling price per category: each auction's
            /// winning bid (the highest between its start and its
            /// expiry), averaged per category as auctions close. Bids meet
            /// their auction in an interval join, and an auction's bids are
            /// gathered in a session, both 10 seconds wide: auctions must
            /// last less than that (the generator's last at most 333 ms).
            Q4, Q4Csv, [auctions: auctions, bids: bids] {
                auctions
                    -> join(bids).on(|a: &Auction| a.id, |b: &Bid| b.auction).between(0s, 10s)
                    -> filter(|j: &Joined<Auction, Bid>| j.right.date_time <= j.left.expires)
                    -> key_by(|j: &Joined<Auction, Bid>| (j.left.id, j.left.category))
                    -> window(session(10s))
                    -> aggregate(max(|j: &Joined<Auction, Bid>| j.right.price))
                    -> key_by(|w: &Windowed<(u64, u64), u64>| w.key.1)
                    -> aggregate(avg(|w: &Windowed<(u64, u64), u64>| w.value))
                    -> map(|(category, average): (u64, f64)| $crate::queries::CategoryPrice { category, average })
                    $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// q5, hot items: the auctions with the most bids in each
            /// sliding 10-second window, every 2 seconds.
            Q5, Q5Csv, [bids: bids] {
                bids
                    -> key_by(|b: &Bid| b.auction)
                    -> window(sliding(10s, 2s))
                    -> aggregate(count())
                    // The counts of one sliding window all end in the same
                    // 2-second window.
                    -> window_all(tumbling(2s))
                    -> aggregate($crate::queries::HotItems)
                    -> flat_map(|w: Windowed<(), Vec<(u64, u64)>>| {
                        w.value.into_iter().map(move |(auction, bids)| $crate::queries::HotItem {
                            window_end: w.end,
                            auction,
                            bids,
                        }).collect::<Vec<_>>()
                    })
                    $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// q7, highest bid: the bids with the highest price in each
            /// 10-second window; the highest per auction first, in
            /// parallel, then the highest of those.
            Q7, Q7Csv, [bids: bids] {
                bids
                    -> key_by(|b: &Bid| b.auction)
                    -> window(tumbling(10s))
                    -> aggregate($crate::queries::HighestBids)
                    -> window_all(tumbling(10s))
                    -> aggregate($crate::queries::HighestBids)
                    -> flat_map(|w: Windowed<(), Vec<Bid>>| {
                        w.value.into_iter().map(move |bid| $crate::queries::WindowBid { window_end: w.end, bid }).collect::<Vec<_>>()
                    })
                    $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// q11, user sessions: bids per bidder in sessions that end
            /// after 10 seconds without a bid.
            Q11, Q11Csv, [bids: bids] {
                bids
                    -> key_by(|b: &Bid| b.bidder)
                    -> window(session(10s))
                    -> aggregate(count())
                    $($tail)*;
            }
        }
        $crate::queries::query! {
            $ingest;
            /// q12, processing-time windows: bids per bidder in 10-second
            /// windows of the clock.
            Q12, Q12Csv, [bids: bids] {
                bids
                    -> key_by(|b: &Bid| b.bidder)
                    -> window(tumbling(10s).processing_time())
                    -> aggregate(count())
                    $($tail)*;
            }
        }
    };
}

pub(crate) use {nexmark_queries, query, query_auctions_bids, query_persons_auctions};

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

/// The second phase of q7: the highest of the per-auction highest bids.
impl<K> Aggregate<Windowed<K, Vec<Bid>>> for HighestBids {
    type Acc = Vec<Bid>;
    type Out = Vec<Bid>;

    fn create(&self) -> Self::Acc {
        Vec::new()
    }

    fn add(&self, acc: &mut Self::Acc, item: &Windowed<K, Vec<Bid>>) {
        for bid in &item.value {
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
