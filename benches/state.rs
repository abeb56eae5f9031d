//! Keyed state and checkpoints: a running count per key over 10M events
//! with 1M distinct keys, against a hand-written loop over an `FxHashMap`;
//! the same pipeline with checkpoints every 50 ms (their duration and
//! size); and a restart that restores the 1M keys.
//!
//! ```text
//! cargo bench --bench state [-- EVENTS KEYS]
//! ```
//!
//! Prints one line per figure. Only the in-memory backend exists so far.

mod common;

use common::BlackHole;
use pipeline::runtime::checkpoint::CheckpointOptions;
use pipeline::runtime::connector::generator::{Generator, GeneratorSettings};
use pipeline::runtime::connector::{BadInputPolicy, NoSettings};
use pipeline::runtime::exec::{PipelineBuilder, RunOptions, RunOutcome};
use rustc_hash::FxHashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The key of event `i`: spread over `keys` keys.
#[inline]
fn key(i: u64, keys: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % keys
}

fn run(events: u64, keys: u64, options: RunOptions) -> RunOutcome {
    let b = PipelineBuilder::new("RunningCount", options);
    b.source(
        "events",
        Generator::new(move |i: u64| key(i, keys)),
        GeneratorSettings {
            count: Some(events),
            rate: None,
        },
        BadInputPolicy::Fail,
    )
    .expect("the source is valid")
    .key_by(|k: &u64| *k)
    .aggregate(|a| a.count())
    .sink("out", BlackHole, NoSettings {})
    .expect("the sink is valid");
    b.run().expect("the run succeeds")
}

fn rate(events: u64, took: Duration) -> String {
    format!("{:.1} M events/s", events as f64 / took.as_secs_f64() / 1e6)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(10_000_000);
    let keys = args.get(1).copied().unwrap_or(1_000_000);
    println!("running count over {events} events, {keys} keys, in-memory state");

    let started = Instant::now();
    let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
    for i in 0..events {
        let c = counts.entry(key(i, keys)).or_insert(0);
        *c += 1;
        black_box((key(i, keys), *c));
    }
    let took = started.elapsed();
    println!("hand loop:                      {}", rate(events, took));
    drop(counts);

    for p in [1, 2] {
        let out = run(events, keys, RunOptions::default().with_parallelism(p));
        println!(
            "pipeline p={p}:                   {}",
            rate(events, out.elapsed)
        );
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let checkpointed = |restore: bool| {
        let options =
            RunOptions::default()
                .with_parallelism(2)
                .with_checkpoints(CheckpointOptions {
                    interval: Duration::from_millis(50),
                    ..CheckpointOptions::new(dir.path())
                });
        if !restore {
            let _ = std::fs::remove_dir_all(dir.path());
        }
        run(events, keys, options)
    };
    let out = checkpointed(false);
    println!(
        "pipeline p=2, checkpoint every 50ms: {} ({} checkpoints)",
        rate(events, out.elapsed),
        out.checkpoints.len()
    );
    for c in &out.checkpoints {
        println!(
            "  checkpoint {}: {:?}, {:.1} MB of state",
            c.epoch,
            c.duration,
            c.bytes as f64 / 1e6
        );
    }
    // A restart from the last checkpoint: every key is read back, then the
    // run ends at once (its input was read to the end).
    let again = checkpointed(true);
    println!(
        "restart restoring {keys} keys: restore {:?}, whole run {:?}",
        again.restore_time, again.elapsed
    );
}
