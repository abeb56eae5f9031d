//! Keyed state and checkpoints: a running count per key over 10M events
//! with 1M distinct keys, against a hand-written loop over an `FxHashMap`,
//! on the memory and the RocksDB backends; the same pipeline with
//! checkpoints every 50 ms (their duration, size, and for RocksDB the
//! bytes each one did not share with the one before); and a restart that
//! restores the 1M keys.
//!
//! ```text
//! cargo bench --bench state [-- EVENTS KEYS]
//! ```
//!
//! Prints one line per figure.

mod common;

use common::BlackHole;
use pipeline::runtime::checkpoint::CheckpointOptions;
use pipeline::runtime::connector::generator::{Generator, GeneratorSettings};
use pipeline::runtime::connector::{BadInputPolicy, NoSettings};
use pipeline::runtime::exec::{PipelineBuilder, RunOptions, RunOutcome};
use pipeline::runtime::state::{RocksDbOptions, StateBackend};
use rustc_hash::FxHashMap;
use std::collections::HashSet;
use std::hint::black_box;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
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
    format!("{:.2} M events/s", events as f64 / took.as_secs_f64() / 1e6)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(10_000_000);
    let keys = args.get(1).copied().unwrap_or(1_000_000);
    println!("running count over {events} events, {keys} keys");

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

    let backends = [
        StateBackend::Memory,
        StateBackend::RocksDb(RocksDbOptions::default()),
    ];
    for backend in backends {
        measure(events, keys, backend);
    }
}

/// The files of each checkpoint in `dir`, oldest first, as (inode, size).
fn checkpoint_files(dir: &Path) -> Vec<Vec<(u64, u64)>> {
    let mut chks: Vec<_> = std::fs::read_dir(dir)
        .expect("the checkpoint directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("chk-") && !name.ends_with(".tmp")
        })
        .collect();
    chks.sort();
    let mut out = Vec::new();
    for chk in chks {
        let mut files = Vec::new();
        let mut dirs = vec![chk];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("a checkpoint").flatten() {
                let meta = e.metadata().expect("a file");
                if meta.is_dir() {
                    dirs.push(e.path());
                } else {
                    files.push((meta.ino(), meta.len()));
                }
            }
        }
        out.push(files);
    }
    out
}

fn measure(events: u64, keys: u64, backend: StateBackend) {
    let name = backend.name();
    println!("-- {name} backend");
    for p in [1, 2] {
        let options = RunOptions::default()
            .with_parallelism(p)
            .with_state(backend.clone());
        let out = run(events, keys, options);
        println!(
            "{name} pipeline p={p}:                   {}",
            rate(events, out.elapsed)
        );
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let checkpointed = |restore: bool| {
        let options = RunOptions::default()
            .with_parallelism(2)
            .with_state(backend.clone())
            .with_checkpoints(CheckpointOptions {
                interval: Duration::from_millis(50),
                // All kept, to measure what each shares with the last.
                retain: 100_000,
                ..CheckpointOptions::new(dir.path())
            });
        if !restore {
            let _ = std::fs::remove_dir_all(dir.path());
        }
        run(events, keys, options)
    };
    let out = checkpointed(false);
    println!(
        "{name} pipeline p=2, checkpoint every 50ms: {} ({} checkpoints)",
        rate(events, out.elapsed),
        out.checkpoints.len()
    );
    let files = checkpoint_files(dir.path());
    let mut seen: HashSet<u64> = HashSet::new();
    for (c, files) in out.checkpoints.iter().zip(&files) {
        let new: u64 = files
            .iter()
            .filter(|(ino, _)| !seen.contains(ino))
            .map(|f| f.1)
            .sum();
        seen = files.iter().map(|f| f.0).collect();
        println!(
            "  checkpoint {}: {:?}, {:.1} MB of state, {:.1} MB not shared with the one before",
            c.epoch,
            c.duration,
            c.bytes as f64 / 1e6,
            new as f64 / 1e6
        );
    }
    // A restart from the last checkpoint: every key is read back, then the
    // run ends at once (its input was read to the end).
    let again = checkpointed(true);
    println!(
        "{name} restart restoring {keys} keys: restore {:?}, whole run {:?}",
        again.restore_time, again.elapsed
    );
}
