//! Event-time windows give exactly the results of a brute-force reference,
//! for random keyed streams whose disorder stays within the watermark bound,
//! at several parallelisms.

use pipeline::prelude::*;
use pipeline::runtime::exec::ExecMode;
use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct Ev {
    key: u8,
    #[event_time]
    ts: i64,
    value: u32,
}

thread_local! {
    /// The events the next pipeline built on this thread reads.
    static EVENTS: RefCell<Vec<Ev>> = const { RefCell::new(Vec::new()) };
}

fn events() -> Vec<Ev> {
    EVENTS.with(|e| e.borrow().clone())
}

/// A generator over `events()`, so the source runs in parallel too.
fn record() -> impl FnMut(u64) -> Ev + Clone + Send + 'static {
    let events = events();
    move |i: u64| events[usize::try_from(i).unwrap_or(usize::MAX)].clone()
}

pipeline! {
    pipeline TumblingCounts {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> key_by(|e: &Ev| e.key) -> window(tumbling(10s)) -> aggregate(count()) -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline SlidingSums {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> key_by(|e: &Ev| e.key) -> window(sliding(10s, 4s)) -> aggregate(sum(value)) -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline SessionCounts {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> key_by(|e: &Ev| e.key) -> window(session(3s)) -> aggregate(count()) -> sink collect(name: "out");
    }
}

type Results = BTreeMap<(u8, i64, i64), u64>;

fn run<P: PipelineDef>(evs: &[Ev], parallelism: usize) -> Results {
    run_in::<P>(evs, parallelism, ExecMode::Continuous)
}

/// Runs `P` over `evs`. In micro-batch mode the source is slowed down
/// (4,000 records/s) so the input spans several batches.
fn run_in<P: PipelineDef>(evs: &[Ev], parallelism: usize, mode: ExecMode) -> Results {
    let rate = (mode != ExecMode::Continuous).then_some(4_000);
    run_at::<P>(evs, parallelism, mode, rate)
}

/// Runs `P` over `evs` with the source limited to `rate` records/s, and
/// collects one result per key and window (failing if one fires twice).
fn run_at<P: PipelineDef>(
    evs: &[Ev],
    parallelism: usize,
    mode: ExecMode,
    rate: Option<u64>,
) -> Results {
    EVENTS.with(|e| *e.borrow_mut() = evs.to_vec());
    let mut opts = RunOptions::default()
        .with_parallelism(parallelism)
        .with_mode(mode)
        .with_setting(&format!("evs.count={}", evs.len()))
        .unwrap();
    if let Some(rate) = rate {
        opts = opts.with_setting(&format!("evs.rate={rate}")).unwrap();
    }
    let out = P::run_with(opts).unwrap();
    let got: Vec<Windowed<u8, u64>> = out.collected("out").unwrap();
    let mut results = Results::new();
    for w in got {
        let previous = results.insert((w.key, w.start.as_millis(), w.end.as_millis()), w.value);
        assert!(previous.is_none(), "window fired twice: {w:?}");
    }
    results
}

/// Brute force: every window every event falls in.
fn reference_fixed(evs: &[Ev], size: i64, slide: i64, value: impl Fn(&Ev) -> u64) -> Results {
    let mut out = Results::new();
    for e in evs {
        let last_start = e.ts - e.ts.rem_euclid(slide);
        let mut start = last_start;
        while start > e.ts - size {
            *out.entry((e.key, start, start + size)).or_default() += value(e);
            start -= slide;
        }
    }
    out
}

/// Brute force sessions: per key, sorted by time, merged while gaps are
/// shorter than `gap`.
fn reference_sessions(evs: &[Ev], gap: i64) -> Results {
    let mut by_key: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
    for e in evs {
        by_key.entry(e.key).or_default().push(e.ts);
    }
    let mut out = Results::new();
    for (key, mut times) in by_key {
        times.sort_unstable();
        let mut current: Option<(i64, i64, u64)> = None;
        for t in times {
            current = match current {
                Some((start, end, n)) if t < end => Some((start, end.max(t + gap), n + 1)),
                Some((start, end, n)) => {
                    out.insert((key, start, end), n);
                    Some((t, t + gap, 1))
                }
                None => Some((t, t + gap, 1)),
            };
        }
        if let Some((start, end, n)) = current {
            out.insert((key, start, end), n);
        }
    }
    out
}

/// Random events: true times increase, each event arrives up to the bound
/// (2s) earlier than its true time, so disorder stays within the bound
/// whichever source instance reads it.
fn arb_events() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0u8..4, 0i64..1_500, 0i64..=2_000, 0u32..100), 0..400).prop_map(|raw| {
        let mut t = 1_000_000;
        raw.into_iter()
            .map(|(key, step, early, value)| {
                t += step;
                Ev {
                    key,
                    ts: t - early,
                    value,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tumbling_windows_match_the_reference(evs in arb_events(), p in 1usize..5) {
        let expected = reference_fixed(&evs, 10_000, 10_000, |_| 1);
        prop_assert_eq!(run::<TumblingCounts>(&evs, 1), expected.clone());
        prop_assert_eq!(run::<TumblingCounts>(&evs, p), expected);
    }

    #[test]
    fn sliding_windows_match_the_reference(evs in arb_events(), p in 1usize..5) {
        let expected = reference_fixed(&evs, 10_000, 4_000, |e| u64::from(e.value));
        prop_assert_eq!(run::<SlidingSums>(&evs, p), expected);
    }

    #[test]
    fn session_windows_match_the_reference(evs in arb_events(), p in 1usize..5) {
        let expected = reference_sessions(&evs, 3_000);
        prop_assert_eq!(run::<SessionCounts>(&evs, p), expected);
    }
}

static EMITTED: std::sync::Mutex<Vec<std::time::Instant>> = std::sync::Mutex::new(Vec::new());

pipeline! {
    pipeline LiveCounts {
        source evs: Ev = socket(port: 9, format: json, watermark: bounded(1s));
        evs -> key_by(|e: &Ev| e.key)
            -> window(tumbling(10s))
            -> aggregate(count())
            -> inspect(|_w: &Windowed<u8, u64>| EMITTED.lock().unwrap().push(std::time::Instant::now()))
            -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline AllKeys {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> window_all(tumbling(10s)) -> aggregate(count(), sum(value), max(value)) -> sink collect(name: "out");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// `window_all` windows every record together, whatever the key, and
    /// several aggregates come out as one tuple.
    #[test]
    fn window_all_with_several_aggregates(evs in arb_events(), p in 1usize..4) {
        EVENTS.with(|e| *e.borrow_mut() = evs.clone());
        let opts = RunOptions::default()
            .with_parallelism(p)
            .with_setting(&format!("evs.count={}", evs.len()))
            .unwrap();
        let out = AllKeys::run_with(opts).unwrap();
        let mut got: Vec<Windowed<(), (u64, u64, u32)>> = out.collected("out").unwrap();
        got.sort();
        let mut expected: BTreeMap<i64, (u64, u64, u32)> = BTreeMap::new();
        for e in &evs {
            let w = expected.entry(e.ts - e.ts.rem_euclid(10_000)).or_insert((0, 0, u32::MIN));
            w.0 += 1;
            w.1 += u64::from(e.value);
            w.2 = w.2.max(e.value);
        }
        let got: Vec<(i64, (u64, u64, u32))> = got.into_iter().map(|w| (w.start.as_millis(), w.value)).collect();
        prop_assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
    }
}

pipeline! {
    pipeline Processed {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> key_by(|e: &Ev| e.key)
            -> window(tumbling(10s))
            -> process(|key: &u8, window: &Window, evs: &[Ev]| {
                assert!(evs.iter().all(|e| e.key == *key && e.ts >= window.start.as_millis() && e.ts < window.end.as_millis()));
                evs.len() as u64
            })
            -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline Highest {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> window_all(tumbling(10s)) -> aggregate(top(2, value)) -> sink collect(name: "out");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// `process` sees exactly the records of its key and window.
    #[test]
    fn process_sees_every_record_of_its_window(evs in arb_events(), p in 1usize..4) {
        prop_assert_eq!(run::<Processed>(&evs, p), reference_fixed(&evs, 10_000, 10_000, |_| 1));
    }

    /// `top(2, value)` keeps the two largest values of each window.
    #[test]
    fn top_keeps_the_largest_per_window(evs in arb_events(), p in 1usize..4) {
        EVENTS.with(|e| *e.borrow_mut() = evs.clone());
        let opts = RunOptions::default()
            .with_parallelism(p)
            .with_setting(&format!("evs.count={}", evs.len()))
            .unwrap();
        let out = Highest::run_with(opts).unwrap();
        let mut got: Vec<(i64, Vec<u32>)> = out
            .collected::<Windowed<(), Vec<Ev>>>("out")
            .unwrap()
            .into_iter()
            .map(|w| (w.start.as_millis(), w.value.iter().map(|e| e.value).collect()))
            .collect();
        got.sort();
        let mut expected: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for e in &evs {
            expected.entry(e.ts - e.ts.rem_euclid(10_000)).or_default().push(e.value);
        }
        let expected: Vec<(i64, Vec<u32>)> = expected
            .into_iter()
            .map(|(start, mut values)| {
                values.sort_unstable_by(|a, b| b.cmp(a));
                values.truncate(2);
                (start, values)
            })
            .collect();
        prop_assert_eq!(got, expected);
    }
}

pipeline! {
    pipeline LateToAStream {
        source evs: Ev = generator(count: 5, rate: 10, watermark: bounded(1s),
            record: |i: u64| Ev { key: 0, ts: [1_000, 12_000, 5_000, 20_000, 3_000][i as usize], value: i as u32 });
        evs -> key_by(|e: &Ev| e.key)
            -> window(tumbling(10s))
            -> allowed_lateness(5s)
            -> late_records(too_late)
            -> aggregate(count())
            -> sink collect(name: "out");
        too_late -> sink collect(name: "late");
    }
}

#[test]
fn records_too_late_for_their_windows_can_go_to_a_stream() {
    // The same input as above: the record at 3s comes after the watermark
    // passed 14.999s, the last instant [0, 10s) accepts late records.
    let out = LateToAStream::run_default().unwrap();
    let late: Vec<Ev> = out.collected("late").unwrap();
    assert_eq!(
        late,
        vec![Ev {
            key: 0,
            ts: 3_000,
            value: 4
        }]
    );
    let fired: Vec<Windowed<u8, u64>> = out.collected("out").unwrap();
    assert_eq!(fired.len(), 4);
    let summary = out.summary();
    assert!(
        summary.contains("late records 1") && !summary.contains("late dropped"),
        "{summary}"
    );
}

pipeline! {
    pipeline TenSecondsLateness {
        source evs: Ev = generator(rate: 10, watermark: bounded(1s), record: record());
        evs -> key_by(|e: &Ev| e.key)
            -> window(tumbling(10s))
            -> allowed_lateness(10s)
            -> aggregate(count())
            -> sink collect(name: "out");
    }
}

/// `(window start, count)` in firing order, for key-0 records at `times`
/// arriving one per batch (so a watermark follows each).
fn firings_with_ten_seconds_lateness(times: &[i64]) -> Vec<(i64, u64)> {
    let evs: Vec<Ev> = times
        .iter()
        .map(|&ts| Ev {
            key: 0,
            ts,
            value: 0,
        })
        .collect();
    EVENTS.with(|e| *e.borrow_mut() = evs);
    let opts = RunOptions::default()
        .with_setting(&format!("evs.count={}", times.len()))
        .unwrap();
    let got: Vec<Windowed<u8, u64>> = TenSecondsLateness::run_with(opts)
        .unwrap()
        .collected("out")
        .unwrap();
    got.iter().map(|w| (w.start.as_millis(), w.value)).collect()
}

#[test]
fn a_window_kept_for_lateness_fires_once_however_many_timers_its_key_has() {
    // [0, 10s) is purged at 19.999s, the instant [10s, 20s) fires: the key
    // has two timers there (and one more from the window's creation).
    assert_eq!(
        firings_with_ten_seconds_lateness(&[1_000, 15_000, 22_000]),
        vec![(0, 1), (10_000, 1), (20_000, 1)]
    );
}

#[test]
fn a_window_first_made_by_a_late_record_fires_once() {
    // 5s arrives after the watermark passed [0, 10s) (13.999s) but within
    // its lateness: the new window fires at once, and not again when the
    // watermark moves on (20.999s).
    assert_eq!(
        firings_with_ten_seconds_lateness(&[15_000, 5_000, 22_000]),
        vec![(0, 1), (10_000, 1), (20_000, 1)]
    );
}

pipeline! {
    pipeline LateSessionMerge {
        source evs: Ev = generator(count: 3, rate: 10, watermark: bounded(1s),
            record: |i: u64| [Ev { key: 0, ts: 12_000, value: 0 }, Ev { key: 1, ts: 16_001, value: 0 }, Ev { key: 0, ts: 5_000, value: 0 }][i as usize].clone());
        evs -> key_by(|e: &Ev| e.key) -> window(session(10s)) -> aggregate(count()) -> sink collect(name: "out");
    }
}

#[test]
fn a_record_whose_own_session_is_late_still_joins_an_open_session() {
    // After 16.001s the watermark is 15s. The record at 5s alone would make
    // [5s, 15s), already past; but it merges with the open [12s, 22s).
    let out = LateSessionMerge::run_default().unwrap();
    let mut got: Vec<Windowed<u8, u64>> = out.collected("out").unwrap();
    got.sort();
    let sessions: Vec<(u8, i64, i64, u64)> = got
        .iter()
        .map(|w| (w.key, w.start.as_millis(), w.end.as_millis(), w.value))
        .collect();
    assert_eq!(
        sessions,
        vec![(0, 5_000, 22_000, 2), (1, 16_001, 26_001, 1)]
    );
    assert!(!out.summary().contains("late dropped"), "{}", out.summary());
}

pipeline! {
    pipeline TumblingWithLateness {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> key_by(|e: &Ev| e.key) -> window(tumbling(10s)) -> allowed_lateness(10s) -> aggregate(count()) -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline SessionsWithLateness {
        source evs: Ev = generator(record: record(), watermark: bounded(2s));
        evs -> key_by(|e: &Ev| e.key) -> window(session(3s)) -> allowed_lateness(4s) -> aggregate(count()) -> sink collect(name: "out");
    }
}

/// Runs `P` with the source slowed to about 50 records per batch, so
/// watermarks advance and windows fire while input is still arriving.
fn run_paced<P: PipelineDef>(evs: &[Ev], parallelism: usize) -> Results {
    run_at::<P>(evs, parallelism, ExecMode::Continuous, Some(5_000))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// With the input paced, windows fire mid-stream; with allowed lateness
    /// they stay open for a while, and each still fires exactly once (no
    /// record is late, so none re-fires).
    #[test]
    fn windows_fire_once_mid_stream_with_lateness(evs in arb_events(), p in 1usize..4) {
        prop_assert_eq!(run_paced::<TumblingWithLateness>(&evs, p), reference_fixed(&evs, 10_000, 10_000, |_| 1));
        prop_assert_eq!(run_paced::<SessionsWithLateness>(&evs, p), reference_sessions(&evs, 3_000));
    }
}

fn micro_batch(ms: u64) -> ExecMode {
    ExecMode::MicroBatch {
        interval: Duration::from_millis(ms),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Micro-batch mode, with several batch sizes, gives exactly the final
    /// window results of the reference (and so of continuous mode).
    #[test]
    fn micro_batches_give_the_same_windows(evs in arb_events(), p in 1usize..4, ms in prop::sample::select(vec![7u64, 20, 60])) {
        prop_assert_eq!(run_in::<TumblingCounts>(&evs, p, micro_batch(ms)), reference_fixed(&evs, 10_000, 10_000, |_| 1));
        prop_assert_eq!(run_in::<SlidingSums>(&evs, p, micro_batch(ms)), reference_fixed(&evs, 10_000, 4_000, |e| u64::from(e.value)));
        prop_assert_eq!(run_in::<SessionCounts>(&evs, p, micro_batch(ms)), reference_sessions(&evs, 3_000));
    }
}

pipeline! {
    /// Runs in micro-batches unless told otherwise.
    pipeline BatchedByDefault {
        mode micro_batch(25ms);
        source evs: Ev = generator(count: 200, rate: 2000, watermark: bounded(2s),
            record: |i: u64| Ev { key: (i % 2) as u8, ts: i as i64 * 100, value: 1 });
        evs -> key_by(|e: &Ev| e.key) -> window(tumbling(5s)) -> aggregate(count()) -> sink collect(name: "out");
    }
}

#[test]
fn a_pipeline_can_default_to_micro_batches_and_the_mode_can_be_overridden() {
    let batched = BatchedByDefault::run_default().unwrap();
    assert!(batched.batches.len() >= 3, "{}", batched.summary());
    assert!(
        batched.summary().contains("micro-batches, processing p50"),
        "{}",
        batched.summary()
    );
    let continuous =
        BatchedByDefault::run_with(RunOptions::default().with_mode(ExecMode::Continuous)).unwrap();
    assert!(continuous.batches.is_empty());
    let sorted = |o: &RunOutcome| {
        let mut v: Vec<Windowed<u8, u64>> = o.collected("out").unwrap();
        v.sort();
        v
    };
    let (a, b) = (sorted(&batched), sorted(&continuous));
    assert_eq!(a.len(), 8);
    assert_eq!(a, b);
}

#[test]
fn windows_fire_when_the_watermark_passes_while_the_input_goes_on() {
    // In micro-batch mode too: a batch closes on time even when no more
    // input arrives after it.
    for mode in [ExecMode::Continuous, micro_batch(50)] {
        EMITTED.lock().unwrap().clear();
        live_counts(mode);
    }
}

fn live_counts(mode: ExecMode) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(
            b"{\"key\":1,\"ts\":1000,\"value\":0}\n{\"key\":1,\"ts\":2000,\"value\":0}\n",
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        // Event time 12s: the watermark (12s - 1s - 1ms) passes the end of
        // the window [0s, 10s), which must fire now, not at the end.
        conn.write_all(b"{\"key\":1,\"ts\":12000,\"value\":0}\n")
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(800));
        let closing = std::time::Instant::now();
        drop(conn);
        closing
    });
    let opts = RunOptions::default()
        .with_mode(mode)
        .with_setting(&format!("evs.port={port}"))
        .unwrap();
    let out = LiveCounts::run_with(opts).unwrap();
    let closing = server.join().unwrap();
    let got: Vec<Windowed<u8, u64>> = out.collected("out").unwrap();
    let counts: Vec<(i64, u64)> = got.iter().map(|w| (w.start.as_millis(), w.value)).collect();
    assert_eq!(counts, vec![(0, 2), (10_000, 1)], "{mode:?}");
    let emitted = EMITTED.lock().unwrap().clone();
    assert!(
        emitted[0] < closing,
        "{mode:?}: the first window fired only at the end of the input"
    );
    assert!(
        emitted[1] >= closing,
        "{mode:?}: the last window fired before its watermark"
    );
}

pipeline! {
    pipeline Late {
        source evs: Ev = generator(count: 5, rate: 10, watermark: bounded(1s),
            record: |i: u64| Ev { key: 0, ts: [1_000, 12_000, 5_000, 20_000, 3_000][i as usize], value: 0 });
        evs -> key_by(|e: &Ev| e.key)
            -> window(tumbling(10s))
            -> allowed_lateness(5s)
            -> aggregate(count())
            -> sink collect(name: "out");
    }
}

#[test]
fn allowed_lateness_refires_then_drops_and_counts() {
    // One record per batch (rate 10/s), so a watermark follows each record:
    // 1s; 12s -> watermark 10.999s fires [0, 10s) with 1; 5s is late but
    // within 5s of lateness: [0, 10s) fires again with 2; 20s -> watermark
    // 18.999s drops [0, 10s) (9.999s + 5s passed) but does not yet reach
    // [10s, 20s)'s last instant 19.999s; 3s is then too late: counted and
    // dropped; the end of input fires [10s, 20s) and [20s, 30s).
    let out = Late::run_default().unwrap();
    let got: Vec<Windowed<u8, u64>> = out.collected("out").unwrap();
    let fired: Vec<(i64, u64)> = got.iter().map(|w| (w.start.as_millis(), w.value)).collect();
    assert_eq!(fired, vec![(0, 1), (0, 2), (10_000, 1), (20_000, 1)]);
    assert!(
        out.summary()
            .contains("window aggregate 5→4 (1 late dropped)"),
        "{}",
        out.summary()
    );
}
