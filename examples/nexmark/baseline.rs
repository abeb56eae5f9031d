//! Hand-written baselines: q1, q5 and q7 as plain loops over the generated
//! events, with the same hash maps the runtime uses, and no framework. The
//! harness runs one after its pipeline (`--baseline`), at parallelism 1,
//! and prints the ratio: what the DSL costs over code written by hand.

use crate::queries::{EuroBid, HotItem, WindowBid};
use pipeline::nexmark::{Bid, Generator, NexmarkRecord};
use pipeline::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::hint::black_box;

/// Runs the baseline of `query` over events `0..events`, returning how many
/// results it made, or `None` if the query has no baseline.
pub(crate) fn run(query: &str, events: u64) -> Option<u64> {
    // The bids of the first `events` events, made as the pipelines' source
    // makes them: only the bids.
    let generator = Generator::default();
    let bids = (0..Bid::count_in(events)).map(move |i| generator.bid(i));
    match query {
        "q1" => Some(q1(bids)),
        "q5" => Some(q5(bids)),
        "q7" => Some(q7(bids)),
        _ => None,
    }
}

fn q1(bids: impl Iterator<Item = Bid>) -> u64 {
    let mut out = 0;
    for b in bids {
        black_box(EuroBid {
            auction: b.auction,
            bidder: b.bidder,
            price: 0.908 * b.price as f64,
            date_time: b.date_time,
            extra: b.extra,
        });
        out += 1;
    }
    out
}

/// Bids per auction in sliding 10-second windows every 2 seconds; when the
/// input's time passes a window's end, its auctions with the most bids.
fn q5(bids: impl Iterator<Item = Bid>) -> u64 {
    const SIZE: i64 = 10_000;
    const SLIDE: i64 = 2_000;
    let mut windows: BTreeMap<i64, FxHashMap<u64, u64>> = BTreeMap::new();
    let mut out = 0;
    let mut fire = |start: i64, counts: FxHashMap<u64, u64>| {
        let max = counts.values().copied().max().unwrap_or(0);
        for (&auction, &bids) in counts.iter().filter(|(_, n)| **n == max) {
            black_box(HotItem {
                window_end: Timestamp::from_millis(start + SIZE),
                auction,
                bids,
            });
            out += 1;
        }
    };
    for b in bids {
        let t = b.date_time.as_millis();
        // The generator's times only grow: windows that ended are complete.
        while let Some(entry) = windows.first_entry() {
            if *entry.key() + SIZE > t {
                break;
            }
            let (start, counts) = entry.remove_entry();
            fire(start, counts);
        }
        let last = t - t.rem_euclid(SLIDE);
        let mut start = last;
        while start > t - SIZE {
            *windows
                .entry(start)
                .or_default()
                .entry(b.auction)
                .or_default() += 1;
            start -= SLIDE;
        }
    }
    for (start, counts) in windows {
        fire(start, counts);
    }
    out
}

/// The bids with the highest price of each tumbling 10-second window.
fn q7(bids: impl Iterator<Item = Bid>) -> u64 {
    const SIZE: i64 = 10_000;
    let mut out = 0;
    let mut current: Option<(i64, Vec<Bid>)> = None;
    let mut fire = |start: i64, highest: Vec<Bid>| {
        for bid in highest {
            black_box(WindowBid {
                window_end: Timestamp::from_millis(start + SIZE),
                bid,
            });
            out += 1;
        }
    };
    for b in bids {
        let t = b.date_time.as_millis();
        let start = t - t.rem_euclid(SIZE);
        match &mut current {
            Some((s, highest)) if *s == start => {
                let top = highest.first().map_or(0, |h| h.price);
                if b.price > top {
                    highest.clear();
                    highest.push(b);
                } else if b.price == top {
                    highest.push(b);
                }
            }
            _ => {
                if let Some((s, highest)) = current.take() {
                    fire(s, highest);
                }
                current = Some((start, vec![b]));
            }
        }
    }
    if let Some((s, highest)) = current {
        fire(s, highest);
    }
    out
}
