//! Nexmark on this project: the standard queries in the DSL
//! (`queries.rs`), a throughput and latency harness, and a CSV export so
//! that other engines read identical data.
//!
//! ```text
//! cargo run --release --example nexmark -- --query q5 --events 10000000 --mode continuous --parallelism 2
//! cargo run --release --example nexmark -- export --dir nexmark-data --events 10000000
//! cargo run --release --example nexmark -- --query q1 --csv nexmark-data --parallelism 2
//! ```
//!
//! The last lines printed are the figures: events per second, elapsed
//! time, peak memory, and in continuous mode the end-to-end latency (from
//! the moment an event is due at the source to the emission of the first
//! result it can contribute to) at `--latency-rate` events per second.

// Records are made on one thread and dropped on another; mimalloc frees
// across threads without the contention glibc's allocator has.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod baseline;
mod queries;

use clap::{Parser, Subcommand, ValueEnum};
use pipeline::nexmark::{self, Bid};
use pipeline::prelude::*;
use pipeline::runtime::exec::{ExecMode, NodeKind};
use queries::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Where the queries hand their records to the harness: latency probes.
mod hooks {
    pub(crate) use crate::latency::{ingest, probe as result};
}

/// The Nexmark harness.
#[derive(Debug, Parser)]
#[command(about = "Runs a Nexmark query and prints its throughput and latency")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The query: q0, q1, q2, q3, q4, count, q5, q7, q8, q11 or q12.
    #[arg(long, default_value = "q0")]
    query: String,
    /// Events to generate (or rows to read from the CSV files, all of them).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// How records flow.
    #[arg(long, value_enum, default_value_t = Mode::Continuous)]
    mode: Mode,
    /// Micro-batch length.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    batch_interval: Duration,
    /// Parallel instances of every task.
    #[arg(long, default_value_t = 2)]
    parallelism: usize,
    /// Read the CSV files in this directory instead of generating events.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Events per second for the latency run (continuous mode; 0 skips it).
    #[arg(long, default_value_t = 100_000)]
    latency_rate: u64,
    /// Seconds of input for the latency run.
    #[arg(long, default_value_t = 5)]
    latency_seconds: u64,
    /// Also run the hand-written loop of the query (q1, q5, q7) over the
    /// same generated events, on one thread, and print the ratio.
    #[arg(long)]
    baseline: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes events as header-less CSV files person.csv, auction.csv and
    /// bid.csv (times in epoch milliseconds).
    Export {
        /// Directory to write to (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// How many events.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Continuous,
    MicroBatch,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::Export { dir, events }) = &args.command {
        let started = Instant::now();
        let counts = nexmark::write_csv(&nexmark::Generator::default(), *events, dir)?;
        println!(
            "wrote {} persons, {} auctions and {} bids to {} in {:.2} s",
            counts.persons,
            counts.auctions,
            counts.bids,
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let mode = match args.mode {
        Mode::Continuous => ExecMode::Continuous,
        Mode::MicroBatch => ExecMode::MicroBatch {
            interval: args.batch_interval,
        },
    };
    let options = |events: u64, rate: Option<u64>| -> pipeline::Result<RunOptions> {
        let mut opts = RunOptions::default()
            .with_parallelism(args.parallelism)
            .with_mode(mode);
        for (source, _, _) in sources(&args.query) {
            match &args.csv {
                Some(dir) => {
                    let dir = dir.display().to_string();
                    opts = opts.with_setting(&format!("{source}.csv={dir:?}"))?;
                }
                None => {
                    opts = opts.with_setting(&format!("{source}.events={events}"))?;
                    if let Some(rate) = rate {
                        opts = opts.with_setting(&format!("{source}.rate={rate}"))?;
                    }
                }
            }
        }
        Ok(opts)
    };

    let outcome = run_query(&args.query, options(args.events, None)?)?;
    let source_records: u64 = outcome
        .stats
        .iter()
        .filter(|s| s.kind == NodeKind::Source)
        .map(|s| s.records_out)
        .sum();
    // Sources make or read one kind each: report the events they stand
    // for (bids are 46 of every 50 events), as Nexmark counts events.
    let share: u64 = sources(&args.query).iter().map(|s| s.2).sum();
    let events = source_records * 50 / share;
    let secs = outcome.elapsed.as_secs_f64();
    let out = outcome.stats.last().map_or(0, |s| s.records_in);
    println!(
        "query {}, {} mode, parallelism {}, {}",
        args.query,
        match args.mode {
            Mode::Continuous => "continuous",
            Mode::MicroBatch => "micro-batch",
        },
        args.parallelism,
        match &args.csv {
            Some(dir) => format!(
                "{source_records} rows read from {} in {}",
                sources(&args.query)
                    .iter()
                    .map(|(_, file, _)| *file)
                    .collect::<Vec<_>>()
                    .join(" and "),
                dir.display()
            ),
            None => format!("{events} generated events"),
        }
    );
    println!("results: {out}");
    println!("events/s: {:.0}", events as f64 / secs);
    println!("records/s: {:.0}", source_records as f64 / secs);
    println!("elapsed: {secs:.3} s");
    println!("peak memory: {} MiB", peak_rss_kib() / 1024);

    if args.baseline && args.csv.is_none() {
        let started = Instant::now();
        match baseline::run(&args.query, args.events) {
            Some(results) => {
                let base = started.elapsed().as_secs_f64();
                println!(
                    "hand-written loop: {:.0} events/s, {base:.3} s, {results} results; pipeline / loop time: {:.2}",
                    args.events as f64 / base,
                    secs / base
                );
            }
            None => println!("hand-written loop: none for {}", args.query),
        }
    }
    if args.mode == Mode::Continuous && args.csv.is_none() && args.latency_rate > 0 {
        let events = args.latency_rate * args.latency_seconds;
        latency::start(events);
        run_query(&args.query, options(events, Some(args.latency_rate))?)?;
        match latency::percentiles() {
            Some((p50, p99, n, untraced)) => println!(
                "latency at {} events/s: p50 {:.3} ms, p99 {:.3} ms ({n} results{})",
                args.latency_rate,
                p50,
                p99,
                if untraced > 0 {
                    format!(", {untraced} not traced")
                } else {
                    String::new()
                }
            ),
            None => println!(
                "latency at {} events/s: not measured ({})",
                args.latency_rate,
                if latency::untimed() {
                    "its results have no event time to trace"
                } else {
                    "no result could be traced to its input"
                }
            ),
        }
    }
    Ok(())
}

fn run_query(name: &str, opts: RunOptions) -> pipeline::Result<RunOutcome> {
    match name {
        "q0" => Q0::run_with(opts),
        "q1" => Q1::run_with(opts),
        "q2" => Q2::run_with(opts),
        "q3" => Q3::run_with(opts),
        "q4" => Q4::run_with(opts),
        "count" => Count::run_with(opts),
        "q5" => Q5::run_with(opts),
        "q7" => Q7::run_with(opts),
        "q8" => Q8::run_with(opts),
        "q11" => Q11::run_with(opts),
        "q12" => Q12::run_with(opts),
        _ => Err(pipeline::runtime::ConfigError::Invalid {
            name: "--query".into(),
            message: format!("no query `{name}`; try {QUERIES}"),
        }
        .into()),
    }
}

const QUERIES: &str = "q0, q1, q2, q3, q4, count, q5, q7, q8, q11 or q12";

/// The sources of a query, the CSV files they can read, and how many of
/// every 50 events each holds.
fn sources(query: &str) -> &'static [(&'static str, &'static str, u64)] {
    const PERSONS: (&str, &str, u64) = ("persons", "person.csv", 1);
    const AUCTIONS: (&str, &str, u64) = ("auctions", "auction.csv", 3);
    const BIDS: (&str, &str, u64) = ("bids", "bid.csv", 46);
    match query {
        "q3" | "q8" => &[PERSONS, AUCTIONS],
        "q4" => &[AUCTIONS, BIDS],
        _ => &[BIDS],
    }
}

/// Peak resident memory of this process, in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// End-to-end latency, from ingestion to emission: the source's records
/// pass `ingest`, which notes when the first and the last event of each
/// millisecond of event time entered the pipeline; `probe`, before the
/// sink, traces each result back to the events it came from by event time
/// and records how long ago they entered.
mod latency {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Which events a result is measured from.
    pub(crate) enum Input {
        /// The result is one of the events at this time (a filtered or
        /// converted record): from when the first of them entered.
        Own(Timestamp),
        /// The result needed every event up to this time (a window's last
        /// instant): from when the last of them entered.
        Until(Timestamp),
    }

    /// What a result's latency is measured from, if anything.
    pub(crate) trait LatestInput {
        fn latest_input(&self) -> Option<Input>;
    }

    struct Probe {
        started: Instant,
        base: i64,
        /// Per millisecond of event time: nanoseconds after `started` (plus
        /// one) at which its first and last event entered; 0 or MAX unseen.
        first: Vec<AtomicU64>,
        last: Vec<AtomicU64>,
        micros: Mutex<hdrhistogram::Histogram<u64>>,
        untraced: AtomicU64,
        /// The latest millisecond of event time that entered, plus one.
        seen_until: AtomicU64,
        /// Results with no event time to trace (running aggregates,
        /// processing-time windows).
        untimed: AtomicU64,
    }

    static PROBE: OnceLock<Probe> = OnceLock::new();

    /// Turns the probes on for a run of `events` generated events.
    pub(crate) fn start(events: u64) {
        let generator = nexmark::Generator::default();
        let millis = (generator.timestamp(events).as_millis() - generator.base_time.as_millis())
            as usize
            + 2;
        let probe = Probe {
            started: Instant::now(),
            base: generator.base_time.as_millis(),
            first: (0..millis).map(|_| AtomicU64::new(u64::MAX)).collect(),
            last: (0..millis).map(|_| AtomicU64::new(0)).collect(),
            micros: Mutex::new(
                hdrhistogram::Histogram::new(3).expect("3 significant digits are valid"),
            ),
            untraced: AtomicU64::new(0),
            seen_until: AtomicU64::new(0),
            untimed: AtomicU64::new(0),
        };
        let _ = PROBE.set(probe);
    }

    /// Notes that a generated record entered the pipeline.
    pub(crate) fn ingest<T: Event>(event: &T) {
        let Some(probe) = PROBE.get() else { return };
        let ms = (event.event_time().as_millis() - probe.base) as usize;
        let now = probe.started.elapsed().as_nanos() as u64 + 1;
        if let (Some(first), Some(last)) = (probe.first.get(ms), probe.last.get(ms)) {
            first.fetch_min(now, Ordering::Relaxed);
            last.fetch_max(now, Ordering::Relaxed);
            probe.seen_until.fetch_max(ms as u64 + 1, Ordering::Relaxed);
        }
    }

    /// Records one result's latency, when a latency run is on.
    pub(crate) fn probe<R: LatestInput>(result: &R) {
        let Some(probe) = PROBE.get() else { return };
        let Some(input) = result.latest_input() else {
            probe.untimed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let entered = match input {
            Input::Own(t) => usize::try_from(t.as_millis() - probe.base)
                .ok()
                .and_then(|ms| probe.first.get(ms))
                .map(|a| a.load(Ordering::Relaxed)),
            // The last millisecond up to `t` that had events of the kinds
            // the query reads (a query of persons sees few milliseconds).
            // Only a later event can have moved the watermark past `t`:
            // windows that close because the input ended are not traced.
            Input::Until(t) => usize::try_from(t.as_millis() - probe.base)
                .ok()
                .filter(|&ms| ms + 1 < probe.seen_until.load(Ordering::Relaxed) as usize)
                .and_then(|ms| {
                    probe.last[..=ms]
                        .iter()
                        .rev()
                        .take(1000)
                        .map(|a| a.load(Ordering::Relaxed))
                        .find(|&n| n != 0)
                }),
        }
        .filter(|&n| n != 0 && n != u64::MAX);
        let Some(entered) = entered else {
            probe.untraced.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let now = probe.started.elapsed().as_nanos() as u64 + 1;
        if let Ok(mut h) = probe.micros.lock() {
            let _ = h.record((now.saturating_sub(entered) / 1000).max(1));
        }
    }

    /// Whether results came that have no event time to trace.
    pub(crate) fn untimed() -> bool {
        PROBE
            .get()
            .is_some_and(|p| p.untimed.load(Ordering::Relaxed) > 0)
    }

    /// p50 and p99 in milliseconds, the results measured, and those that
    /// could not be traced to an ingested event.
    pub(crate) fn percentiles() -> Option<(f64, f64, u64, u64)> {
        let probe = PROBE.get()?;
        let h = probe.micros.lock().ok()?;
        (!h.is_empty()).then(|| {
            (
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0,
                h.len(),
                probe.untraced.load(Ordering::Relaxed),
            )
        })
    }

    macro_rules! traced {
        ($($t:ty => |$r:ident| $e:expr;)*) => {$(
            impl LatestInput for $t {
                fn latest_input(&self) -> Option<Input> {
                    let $r = self;
                    $e
                }
            }
        )*};
    }

    traced! {
        Bid => |r| Some(Input::Own(r.date_time));
        EuroBid => |r| Some(Input::Own(r.date_time));
        AuctionPrice => |r| Some(Input::Own(r.date_time));
        LocalItem => |r| Some(Input::Own(r.date_time));
        NewUser => |r| Some(Input::Until(r.window_end.plus_millis(-1)));
        HotItem => |r| Some(Input::Until(r.window_end.plus_millis(-1)));
        WindowBid => |r| Some(Input::Until(r.window_end.plus_millis(-1)));
        // A running average has no one input it was made for.
        CategoryPrice => |_r| None;
    }

    /// Event-time windows end at their last instant; processing-time
    /// windows (q12) have no event time to trace back.
    impl<K> LatestInput for Windowed<K, u64> {
        fn latest_input(&self) -> Option<Input> {
            (self.start.as_millis() < super::PROCESSING_TIME_SINCE)
                .then(|| Input::Until(self.end.plus_millis(-1)))
        }
    }
}

/// Window starts at or after this are of the clock (2020), not of the
/// generator's 2015 event time.
const PROCESSING_TIME_SINCE: i64 = 1_577_836_800_000;
