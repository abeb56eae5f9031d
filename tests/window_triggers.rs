//! Windows that fire on more than the watermark: `global` count windows,
//! early firing with `trigger(every(..))`, processing-time windows, and
//! sources that go idle or read records with impossible times.

use pipeline::prelude::*;
use pipeline::runtime::exec::ExecMode;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct Ev {
    key: u8,
    #[event_time]
    ts: i64,
}

/// Record `i`: key `i % 3`, one second of event time apart.
fn ev(i: u64) -> Ev {
    Ev {
        key: (i % 3) as u8,
        ts: i as i64 * 1_000,
    }
}

pipeline! {
    pipeline CountWindows {
        source evs: Ev = generator(count: 20, record: ev);
        evs -> key_by(|e: &Ev| e.key) -> window(global) -> trigger(count(3))
            -> aggregate(count(), max(ts)) -> sink collect(name: "out");
    }
}

fn run<P: PipelineDef, T: 'static + Send>(opts: RunOptions) -> Vec<T> {
    P::run_with(opts)
        .expect("the pipeline runs")
        .collected("out")
        .expect("results were collected")
}

/// Each key's count windows: (records, last record's time), in order.
type PerKey = BTreeMap<u8, Vec<(u64, i64)>>;

fn per_key(results: Vec<Windowed<u8, (u64, i64)>>) -> PerKey {
    let mut out = PerKey::new();
    for w in results {
        assert_eq!((w.start, w.end), (Timestamp::MIN, Timestamp::MAX));
        out.entry(w.key).or_default().push(w.value);
    }
    for windows in out.values_mut() {
        windows.sort_by_key(|&(_, last)| last);
    }
    out
}

#[test]
fn count_windows_fire_every_n_records_per_key_and_the_rest_at_the_end() {
    // Key 0 gets records 0, 3, .., 18 (7 records): windows of 3, 3, then 1
    // at the end of input; keys 1 and 2 get 7 and 6.
    let mut expected = PerKey::new();
    for key in 0..3_u64 {
        let times: Vec<i64> = (0..20_i64)
            .filter(|i| i % 3 == key as i64)
            .map(|i| i * 1_000)
            .collect();
        let windows = times
            .chunks(3)
            .map(|c| (c.len() as u64, *c.last().unwrap()));
        expected.insert(key as u8, windows.collect());
    }
    for parallelism in [1, 2] {
        for mode in [
            ExecMode::Continuous,
            ExecMode::MicroBatch {
                interval: Duration::from_millis(5),
            },
        ] {
            let opts = RunOptions::default()
                .with_parallelism(parallelism)
                .with_mode(mode);
            let got = per_key(run::<CountWindows, _>(opts));
            if parallelism == 1 {
                assert_eq!(got, expected, "{mode:?}");
            } else {
                // Two source instances interleave, so which records share a
                // window varies; how many windows of what size does not.
                let sizes = |p: &PerKey| -> Vec<Vec<u64>> {
                    p.values()
                        .map(|ws| {
                            let mut s: Vec<u64> = ws.iter().map(|w| w.0).collect();
                            s.sort_unstable();
                            s
                        })
                        .collect()
                };
                assert_eq!(sizes(&got), sizes(&expected), "{mode:?}");
            }
        }
    }
}

pipeline! {
    pipeline EarlyFiring {
        // 60 records over about 1.2 s of processing time, all in one
        // event-time hour.
        source evs: Ev = generator(count: 60, rate: 50, record: |i: u64| Ev { key: 0, ts: i as i64 }, watermark: bounded(1s));
        evs -> key_by(|e: &Ev| e.key) -> window(tumbling(1h)) -> trigger(every(200ms))
            -> aggregate(count()) -> sink collect(name: "out");
    }
}

#[test]
fn every_emits_growing_partial_results_before_the_window_fires() {
    let got: Vec<Windowed<u8, u64>> = run::<EarlyFiring, _>(RunOptions::default());
    let counts: Vec<u64> = got.iter().map(|w| w.value).collect();
    assert!(
        counts.len() >= 3,
        "expected early results before the final one: {counts:?}"
    );
    // Partial results only grow, and the last is the window's final count.
    assert!(counts.windows(2).all(|p| p[0] < p[1]), "{counts:?}");
    assert_eq!(counts.last(), Some(&60));
    assert!(
        got.iter()
            .all(|w| (w.start.as_millis(), w.end.as_millis()) == (0, 3_600_000))
    );
}

pipeline! {
    pipeline GlobalRunning {
        source evs: Ev = generator(count: 40, rate: 50, record: ev);
        evs -> key_by(|_e: &Ev| 0_u8) -> window(global) -> trigger(every(150ms))
            -> aggregate(count()) -> sink collect(name: "out");
    }
}

#[test]
fn a_global_window_with_every_reports_running_totals() {
    let got: Vec<Windowed<u8, u64>> = run::<GlobalRunning, _>(RunOptions::default());
    let counts: Vec<u64> = got.iter().map(|w| w.value).collect();
    assert!(counts.len() >= 2, "{counts:?}");
    assert!(counts.windows(2).all(|p| p[0] < p[1]), "{counts:?}");
    assert_eq!(counts.last(), Some(&40));
}

/// A record without event time.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tick {
    n: u64,
}

pipeline! {
    pipeline ProcessingTimeCounts {
        // 100 records over about one second; no event time at all.
        source ticks: Tick = generator(count: 100, rate: 100, record: |n: u64| Tick { n }, watermark: none);
        ticks -> window_all(tumbling(200ms).processing_time()) -> aggregate(count(), sum(n))
            -> sink collect(name: "out");
    }
}

#[test]
fn processing_time_windows_follow_the_clock_and_lose_nothing() {
    let started = Timestamp::now().as_millis();
    let got: Vec<Windowed<(), (u64, u64)>> = run::<ProcessingTimeCounts, _>(RunOptions::default());
    let ended = Timestamp::now().as_millis();
    assert!(got.len() >= 3, "the input spans several windows: {got:?}");
    let total: u64 = got.iter().map(|w| w.value.0).sum();
    let sum: u64 = got.iter().map(|w| w.value.1).sum();
    assert_eq!((total, sum), (100, (0..100).sum()));
    for w in &got {
        let (start, end) = (w.start.as_millis(), w.end.as_millis());
        assert_eq!(start % 200, 0, "aligned to the epoch: {w:?}");
        assert_eq!(end - start, 200);
        // The last record may be processed in the millisecond the run
        // ends, at the very start of a window.
        assert!(
            end > started - 200 && start <= ended,
            "{w:?} within the run"
        );
    }
    // One result per window.
    let mut starts: Vec<i64> = got.iter().map(|w| w.start.as_millis()).collect();
    starts.dedup();
    assert_eq!(starts.len(), got.len());
}

pipeline! {
    pipeline IdleSide {
        source active: Ev = generator(count: 30, rate: 20, record: ev, watermark: monotonic);
        source quiet: Ev = socket(port: 1, format: json, watermark: monotonic, idle_timeout: 200ms);
        active -> union(quiet) -> key_by(|_e: &Ev| 0_u8) -> window(tumbling(5s))
            -> aggregate(count()) -> map(|w: Windowed<u8, u64>| (w.start.as_millis(), w.value, Timestamp::now().as_millis()))
            -> sink collect(name: "out");
    }
}

/// Runs `IdleSide` with its `quiet` source connected to a server that
/// sends nothing for 2.5 s, then closes; returns each window's
/// `(start, count, when emitted)` and when the server closed.
fn run_idle_side() -> (Vec<(i64, u64, i64)>, i64) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("a local address").port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("the source connects");
        // The active source's 30 records take 1.5 s; stay silent longer.
        std::thread::sleep(Duration::from_millis(2_500));
        conn.flush().expect("flush");
        Timestamp::now().as_millis()
    });
    let opts = RunOptions::default()
        .with_setting(&format!("quiet.port={port}"))
        .expect("a valid setting");
    let started = Instant::now();
    let got: Vec<(i64, u64, i64)> = run::<IdleSide, _>(opts);
    let closed = server.join().expect("the server thread ends");
    assert!(started.elapsed() >= Duration::from_millis(2_500));
    (got, closed)
}

#[test]
fn an_idle_source_stops_holding_back_the_watermark() {
    let (got, closed) = run_idle_side();
    // Events at 0..30 s in windows of 5 s: 6 windows of 5.
    let counts: Vec<(i64, u64)> = got.iter().map(|&(s, c, _)| (s, c)).collect();
    assert_eq!(
        counts,
        (0..6).map(|w| (w * 5_000, 5)).collect::<Vec<_>>(),
        "{got:?}"
    );
    // The windows the active source completed fired while the quiet one was
    // still connected, not when it closed.
    let early = got.iter().filter(|&&(_, _, at)| at < closed - 500).count();
    assert!(
        early >= 4,
        "windows fired before the quiet source closed: {got:?}, closed at {closed}"
    );
}
