//! The Nexmark queries of `examples/nexmark`, run on 100,000 generated
//! events and on the same events read back from CSV files, in both modes,
//! against a naive computation of each query over the generator's events.

#[path = "../examples/nexmark/queries.rs"]
#[allow(dead_code)]
mod queries;

use pipeline::nexmark::{Auction, Bid, Event, Generator, Person};
use pipeline::prelude::*;
use pipeline::runtime::exec::ExecMode;
use queries::*;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Where the queries hand their records over: results are collected here.
mod hooks {
    use super::*;

    pub(crate) static RESULTS: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());

    pub(crate) fn ingest<T>(_: &T) {}

    pub(crate) fn result<R: Clone + Send + 'static>(r: &R) {
        RESULTS.lock().unwrap().push(Box::new(r.clone()));
    }
}

/// One query runs at a time, as results meet in one place.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a query and takes its results.
fn results<T: 'static>(run: impl FnOnce() -> pipeline::Result<RunOutcome>) -> Vec<T> {
    hooks::RESULTS.lock().unwrap().clear();
    run().unwrap();
    let taken = std::mem::take(&mut *hooks::RESULTS.lock().unwrap());
    taken
        .into_iter()
        .map(|r| {
            *r.downcast::<T>()
                .expect("every result of a query has its type")
        })
        .collect()
}

/// The events every query here reads (the queries' default count).
const EVENTS: u64 = 100_000;

fn bids() -> Vec<Bid> {
    let generator = Generator::default();
    (0..EVENTS)
        .filter_map(|n| generator.event(n).into_bid())
        .collect()
}

/// Parallelism 2, continuous or micro-batch, reading the generator or the
/// CSV files in `csv` (for each of `sources`).
fn runs(csv: &Path, sources: &[&str]) -> Vec<(String, RunOptions)> {
    let micro = ExecMode::MicroBatch {
        interval: Duration::from_millis(20),
    };
    let base = || RunOptions::default().with_parallelism(2);
    let from_csv = |mut opts: RunOptions| {
        for source in sources {
            let dir = csv.display().to_string();
            opts = opts.with_setting(&format!("{source}.csv={dir:?}")).unwrap();
        }
        opts
    };
    vec![
        ("generator, continuous".into(), base()),
        ("generator, micro-batch".into(), base().with_mode(micro)),
        ("csv, continuous".into(), from_csv(base())),
        ("csv, micro-batch".into(), from_csv(base().with_mode(micro))),
    ]
}

const BIDS: &[&str] = &["bids"];
const PERSONS_AUCTIONS: &[&str] = &["persons", "auctions"];
const AUCTIONS_BIDS: &[&str] = &["auctions", "bids"];

fn export() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pipeline::nexmark::write_csv(&Generator::default(), EVENTS, dir.path()).unwrap();
    dir
}

/// Runs a query over bids in every setting and checks its sorted output.
fn check<T, Q>(run: Q, want: Vec<T>, key: impl Fn(&T) -> String)
where
    T: Send + std::fmt::Debug + PartialEq + 'static,
    Q: Fn(RunOptions) -> pipeline::Result<RunOutcome>,
{
    check_sources(BIDS, run, want, key);
}

/// Runs a query reading `sources` in every setting and checks its sorted
/// output.
fn check_sources<T, Q>(sources: &[&str], run: Q, want: Vec<T>, key: impl Fn(&T) -> String)
where
    T: Send + std::fmt::Debug + PartialEq + 'static,
    Q: Fn(RunOptions) -> pipeline::Result<RunOutcome>,
{
    let _one = one_at_a_time();
    let dir = export();
    let mut want = want;
    want.sort_by_cached_key(&key);
    assert!(!want.is_empty());
    for (what, opts) in runs(dir.path(), sources) {
        let mut got: Vec<T> = results(|| run(opts));
        got.sort_by_cached_key(&key);
        assert_eq!(got.len(), want.len(), "{what}: number of results");
        if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
            panic!("{what}: result {i} is {:?}, want {:?}", got[i], want[i]);
        }
    }
}

fn bid_key(b: &Bid) -> String {
    format!(
        "{:?}",
        (b.date_time, b.auction, b.bidder, b.price, &b.extra)
    )
}

#[test]
fn q0_passes_every_bid_through() {
    check(Q0::run_with, bids(), bid_key);
}

#[test]
fn q1_converts_prices() {
    let want = bids()
        .into_iter()
        .map(|b| EuroBid {
            auction: b.auction,
            bidder: b.bidder,
            price: 0.908 * b.price as f64,
            date_time: b.date_time,
            extra: b.extra,
        })
        .collect();
    check(Q1::run_with, want, |b: &EuroBid| {
        format!("{:?}", (b.date_time, b.auction, b.bidder, &b.extra))
    });
}

#[test]
fn q2_selects_every_123rd_auction() {
    let want: Vec<AuctionPrice> = bids()
        .into_iter()
        .filter(|b| b.auction.is_multiple_of(123))
        .map(|b| AuctionPrice {
            auction: b.auction,
            price: b.price,
            date_time: b.date_time,
        })
        .collect();
    check(Q2::run_with, want, |r| format!("{r:?}"));
}

fn persons_and_auctions() -> (Vec<Person>, Vec<Auction>) {
    let generator = Generator::default();
    let (mut persons, mut auctions) = (Vec::new(), Vec::new());
    for n in 0..EVENTS {
        match generator.event(n) {
            Event::Person(p) => persons.push(p),
            Event::Auction(a) => auctions.push(a),
            Event::Bid(_) => {}
        }
    }
    (persons, auctions)
}

#[test]
fn q3_finds_local_sellers_auctions() {
    let (persons, auctions) = persons_and_auctions();
    let mut want = Vec::new();
    for a in auctions.iter().filter(|a| a.category == 10) {
        for p in persons.iter().filter(|p| p.id == a.seller) {
            if ["OR", "ID", "CA"].contains(&p.state.as_str()) {
                want.push(LocalItem {
                    name: p.name.clone(),
                    city: p.city.clone(),
                    state: p.state.clone(),
                    auction: a.id,
                    date_time: a.date_time.max(p.date_time),
                });
            }
        }
    }
    check_sources(PERSONS_AUCTIONS, Q3::run_with, want, |r| format!("{r:?}"));
}

#[test]
fn q4_averages_winning_prices_per_category() {
    let (_, auctions) = persons_and_auctions();
    let mut by_auction: HashMap<u64, Vec<Bid>> = HashMap::new();
    for b in bids() {
        by_auction.entry(b.auction).or_default().push(b);
    }
    let mut finals: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for a in &auctions {
        let winning = by_auction
            .get(&a.id)
            .into_iter()
            .flatten()
            .filter(|b| a.date_time <= b.date_time && b.date_time <= a.expires)
            .map(|b| b.price)
            .max();
        if let Some(price) = winning {
            finals.entry(a.category).or_default().push(price);
        }
    }
    assert!(
        finals.len() == 5,
        "every category has closed auctions: {finals:?}"
    );
    let _one = one_at_a_time();
    let dir = export();
    for (what, opts) in runs(dir.path(), AUCTIONS_BIDS) {
        let got: Vec<CategoryPrice> = results(|| Q4::run_with(opts));
        // One running average per closed auction; the last per category is
        // the average over all of them.
        assert_eq!(
            got.len(),
            finals.values().map(Vec::len).sum::<usize>(),
            "{what}"
        );
        let mut last = BTreeMap::new();
        for r in got {
            last.insert(r.category, r.average);
        }
        for (category, prices) in &finals {
            let want = prices.iter().sum::<u64>() as f64 / prices.len() as f64;
            let got = last[category];
            assert!(
                (got - want).abs() <= want * 1e-12,
                "{what}: category {category}: {got} != {want}"
            );
        }
    }
}

#[test]
fn q8_finds_new_users_who_sell_in_their_first_window() {
    let (persons, auctions) = persons_and_auctions();
    let window = |t: Timestamp| t.as_millis() - t.as_millis().rem_euclid(10_000);
    let mut want = Vec::new();
    for p in &persons {
        let start = window(p.date_time);
        if auctions
            .iter()
            .any(|a| a.seller == p.id && window(a.date_time) == start)
        {
            want.push(NewUser {
                id: p.id,
                name: p.name.clone(),
                window_end: Timestamp::from_millis(start + 10_000),
            });
        }
    }
    check_sources(PERSONS_AUCTIONS, Q8::run_with, want, |r| format!("{r:?}"));
}

/// Tumbling or sliding windows of `size`, every `slide`, that hold `t`.
fn window_starts(t: i64, size: i64, slide: i64) -> impl Iterator<Item = i64> {
    let last = t - t.rem_euclid(slide);
    (0..size / slide)
        .map(move |i| last - i * slide)
        .filter(move |s| *s <= t && t < s + size)
}

fn counts(size: i64, slide: i64) -> BTreeMap<(i64, u64), u64> {
    let mut counts = BTreeMap::new();
    for b in bids() {
        for start in window_starts(b.date_time.as_millis(), size, slide) {
            *counts.entry((start, b.auction)).or_default() += 1;
        }
    }
    counts
}

fn windowed_key(w: &Windowed<u64, u64>) -> String {
    format!("{:?}", (w.start, w.key, w.end, w.value))
}

#[test]
fn tumbling_count_counts_bids_per_auction() {
    let want = counts(10_000, 10_000)
        .into_iter()
        .map(|((start, auction), n)| Windowed {
            key: auction,
            start: Timestamp::from_millis(start),
            end: Timestamp::from_millis(start + 10_000),
            value: n,
        })
        .collect();
    check(Count::run_with, want, windowed_key);
}

#[test]
fn q5_finds_the_hottest_auctions_per_sliding_window() {
    let mut by_window: BTreeMap<i64, Vec<(u64, u64)>> = BTreeMap::new();
    for ((start, auction), n) in counts(10_000, 2_000) {
        by_window.entry(start).or_default().push((auction, n));
    }
    let mut want = Vec::new();
    for (start, items) in by_window {
        let max = items.iter().map(|(_, n)| *n).max().unwrap();
        for (auction, n) in items.into_iter().filter(|(_, n)| *n == max) {
            want.push(HotItem {
                window_end: Timestamp::from_millis(start + 10_000),
                auction,
                bids: n,
            });
        }
    }
    check(Q5::run_with, want, |h| format!("{h:?}"));
}

#[test]
fn q7_finds_the_highest_bids_per_window() {
    let mut by_window: BTreeMap<i64, Vec<Bid>> = BTreeMap::new();
    for b in bids() {
        let start = b.date_time.as_millis() - b.date_time.as_millis().rem_euclid(10_000);
        by_window.entry(start).or_default().push(b);
    }
    let mut want = Vec::new();
    for (start, bids) in by_window {
        let max = bids.iter().map(|b| b.price).max().unwrap();
        for bid in bids.into_iter().filter(|b| b.price == max) {
            want.push(WindowBid {
                window_end: Timestamp::from_millis(start + 10_000),
                bid,
            });
        }
    }
    check(Q7::run_with, want, |w| {
        format!("{:?}{}", w.window_end, bid_key(&w.bid))
    });
}

#[test]
fn q11_counts_bids_per_user_session() {
    let mut times: HashMap<u64, Vec<i64>> = HashMap::new();
    for b in bids() {
        times
            .entry(b.bidder)
            .or_default()
            .push(b.date_time.as_millis());
    }
    let gap = 10_000;
    let mut want = Vec::new();
    for (bidder, mut ts) in times {
        ts.sort_unstable();
        let (mut first, mut last, mut n) = (ts[0], ts[0], 0);
        for t in ts {
            if t >= last + gap {
                want.push(session(bidder, first, last + gap, n));
                (first, n) = (t, 0);
            }
            last = t;
            n += 1;
        }
        want.push(session(bidder, first, last + gap, n));
    }
    check(Q11::run_with, want, windowed_key);
}

fn session(key: u64, start: i64, end: i64, value: u64) -> Windowed<u64, u64> {
    Windowed {
        key,
        start: Timestamp::from_millis(start),
        end: Timestamp::from_millis(end),
        value,
    }
}

#[test]
fn q12_counts_every_bid_in_processing_time_windows() {
    let mut want: HashMap<u64, u64> = HashMap::new();
    for b in bids() {
        *want.entry(b.bidder).or_default() += 1;
    }
    let _one = one_at_a_time();
    let dir = export();
    for (what, opts) in runs(dir.path(), BIDS) {
        let got: Vec<Windowed<u64, u64>> = results(|| Q12::run_with(opts));
        let mut per_bidder: HashMap<u64, u64> = HashMap::new();
        for w in &got {
            assert_eq!(w.end.as_millis() - w.start.as_millis(), 10_000, "{what}");
            assert_eq!(w.start.as_millis() % 10_000, 0, "{what}");
            *per_bidder.entry(w.key).or_default() += w.value;
        }
        assert_eq!(per_bidder, want, "{what}");
    }
}

#[test]
fn the_generator_source_makes_the_same_events_at_any_parallelism() {
    pipeline! {
        pipeline All {
            source events: Event = nexmark(events: 5000);
            events -> sink collect(name: "out");
        }
    }
    let generator = Generator::default();
    let want: Vec<Event> = (0..5000).map(|n| generator.event(n)).collect();
    for p in [1, 3] {
        let mut got: Vec<Event> = All::run_with(RunOptions::default().with_parallelism(p))
            .unwrap()
            .collected("out")
            .unwrap();
        // Every field, so that no two events tie.
        got.sort_by_cached_key(|e| format!("{e:?}"));
        let mut want = want.clone();
        want.sort_by_cached_key(|e| format!("{e:?}"));
        assert_eq!(got, want, "parallelism {p}");
    }
}
