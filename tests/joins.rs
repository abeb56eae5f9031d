//! Joins against naive nested loops: the window join, the interval join and
//! the stream-table join, at parallelism 1 and 2, in both modes.

use pipeline::prelude::*;
use pipeline::runtime::exec::ExecMode;
use pipeline::runtime::operator::Joined;
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct L {
    id: u64,
    key: u64,
    #[event_time]
    t: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct R {
    id: u64,
    key: u64,
    #[event_time]
    t: i64,
}

const LEFTS: u64 = 2_000;
const RIGHTS: u64 = 1_500;

fn left(i: u64) -> L {
    L {
        id: i,
        key: i % 7,
        t: i as i64 * 20,
    }
}

fn right(j: u64) -> R {
    R {
        id: j,
        key: j % 5 + 2,
        t: j as i64 * 27,
    }
}

fn lefts() -> Vec<L> {
    (0..LEFTS).map(left).collect()
}

fn rights() -> Vec<R> {
    (0..RIGHTS).map(right).collect()
}

fn settings() -> Vec<(String, RunOptions)> {
    let micro = ExecMode::MicroBatch {
        interval: Duration::from_millis(10),
    };
    [1, 2]
        .into_iter()
        .flat_map(|p| {
            let base = RunOptions::default().with_parallelism(p);
            [
                (format!("continuous, p={p}"), base.clone()),
                (format!("micro-batch, p={p}"), base.with_mode(micro)),
            ]
        })
        .collect()
}

/// Runs a join in every setting: every pair in `want` comes out once.
fn check_pairs<T: Ord + std::fmt::Debug + Send + 'static>(
    run: impl Fn(RunOptions) -> pipeline::Result<RunOutcome>,
    want: &BTreeSet<T>,
) {
    for (what, opts) in settings() {
        let got: Vec<T> = run(opts).unwrap().collected("out").unwrap();
        let n = got.len();
        let got: BTreeSet<T> = got.into_iter().collect();
        assert_eq!(n, got.len(), "{what}: a pair came out twice");
        assert_eq!(&got, want, "{what}");
    }
}

pipeline! {
    pipeline WindowJoin {
        source ls: L = generator(count: 2000, record: left, watermark: monotonic);
        source rs: R = generator(count: 1500, record: right, watermark: monotonic);
        ls
            -> join(rs).on(|l: &L| l.key, |r: &R| r.key).window(tumbling(1s))
            -> map(|w: Windowed<u64, Joined<L, R>>| (w.start.as_millis(), w.value.left.id, w.value.right.id))
            -> sink collect(name: "out");
    }
}

#[test]
fn window_join_pairs_records_of_the_same_key_and_window() {
    let mut want = BTreeSet::new();
    for l in lefts() {
        for r in rights() {
            if l.key == r.key && l.t / 1000 == r.t / 1000 {
                want.insert((l.t / 1000 * 1000, l.id, r.id));
            }
        }
    }
    assert!(
        want.len() > 1000,
        "the data should join often: {}",
        want.len()
    );
    check_pairs(WindowJoin::run_with, &want);
}

pipeline! {
    pipeline IntervalJoin {
        source ls: L = generator(count: 2000, record: left, watermark: monotonic);
        source rs: R = generator(count: 1500, record: right, watermark: monotonic);
        ls
            -> join(rs).on(|l: &L| l.key, |r: &R| r.key).between(-300ms, 500ms)
            -> map(|j: Joined<L, R>| (j.left.id, j.right.id))
            -> sink collect(name: "out");
    }
}

#[test]
fn interval_join_pairs_records_whose_times_are_close() {
    let mut want = BTreeSet::new();
    for l in lefts() {
        for r in rights() {
            if l.key == r.key && l.t - 300 <= r.t && r.t <= l.t + 500 {
                want.insert((l.id, r.id));
            }
        }
    }
    assert!(
        want.len() > 1000,
        "the data should join often: {}",
        want.len()
    );
    check_pairs(IntervalJoin::run_with, &want);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

pipeline! {
    pipeline TableJoin {
        source orders: u64 = generator(count: 3000, record: |i: u64| i);
        // Users come slowly, so most orders arrive before their user.
        source users: User = generator(count: 100, rate: 2000, record: |j: u64| User { id: j, name: format!("user {j}") });
        orders
            -> join(users).on(|o: &u64| o % 100, |u: &User| u.id)
            -> map(|j: Joined<u64, User>| (j.left, j.right.name))
            -> sink collect(name: "out");
    }
}

#[test]
fn table_join_pairs_every_record_with_its_key_s_row_even_when_the_row_comes_later() {
    let want: BTreeSet<(u64, String)> = (0..3000)
        .map(|i| (i, format!("user {}", i % 100)))
        .collect();
    for (what, opts) in settings() {
        let outcome = TableJoin::run_with(opts).unwrap();
        // The join takes 3000 orders and 100 rows and emits 3000 pairs.
        assert!(
            outcome.summary().contains("join 3100→3000"),
            "{what}: {}",
            outcome.summary()
        );
        let got: Vec<(u64, String)> = outcome.collected("out").unwrap();
        assert_eq!(got.len(), want.len(), "{what}");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want, "{what}");
    }
}

pipeline! {
    /// Orders meet the latest user row of their key; a key's row lives
    /// 300 ms without records.
    pipeline ForgettingTable {
        // Ten orders a second: key 0 for 0.3 s, key 1 for 0.8 s, then key
        // 0 again, 0.9 s after its last record.
        source orders: (u64, u64) = generator(count: 12, rate: 10, record: |i: u64| (u64::from((3..11).contains(&i)), i));
        source users: (u64, String) = iter(items: vec![(0_u64, "ada".to_string())]);
        orders
            -> join(users).on(|o: &(u64, u64)| o.0, |u: &(u64, String)| u.0).ttl(300ms)
            -> map(|j: Joined<(u64, u64), (u64, String)>| j.left.1)
            -> sink collect(name: "out");
    }
}

#[test]
fn a_table_join_with_a_time_to_live_forgets_an_idle_key_and_counts_what_waited() {
    let out = ForgettingTable::run_default().unwrap();
    let mut got: Vec<u64> = out.collected("out").unwrap();
    got.sort();
    // Orders 0-2 met the row; order 11 came after key 0 expired, so it
    // waited for a row that never came, like key 1's orders.
    assert_eq!(got, vec![0, 1, 2]);
    let summary = out.summary();
    assert!(summary.contains("(9 unmatched dropped)"), "{summary}");
}
