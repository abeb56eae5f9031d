//! The fused chain `map -> filter -> key_by -> count` over 10M records,
//! against a hand-written loop doing exactly the same work (same records,
//! same hasher, same output handed to `black_box`), twice: with records
//! generated on the fly (the `generator` source against a loop that computes
//! them), and with records already in memory (the `iter` source over a `Vec`
//! against a loop over the same `Vec`).
//!
//! ```text
//! cargo bench --bench chain
//! ```
//!
//! Prints criterion's figures, then the pipeline/hand-loop time ratio at
//! parallelism 1 (target: at most 1.2).

mod common;

use common::BlackHole;
use criterion::BatchSize;
use criterion::{BenchmarkId, Criterion, Throughput};
use pipeline::runtime::connector::generator::{Generator, GeneratorSettings, Iter};
use pipeline::runtime::connector::{BadInputPolicy, NoSettings, SourceConnector};
use pipeline::runtime::exec::{PipelineBuilder, RunOptions};
use rustc_hash::FxHashMap;
use std::hint::black_box;

const RECORDS: u64 = 10_000_000;
const KEYS: u64 = 10_000;

#[inline]
fn record(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn transform(x: u64) -> u64 {
    x >> 7
}

#[inline]
fn keep(x: &u64) -> bool {
    !x.is_multiple_of(4)
}

#[inline]
fn key(x: &u64) -> u64 {
    x % KEYS
}

/// The pipeline, built with the builder calls `pipeline!` expands into,
/// over `source`.
fn run_chain<C: SourceConnector<u64>>(parallelism: usize, source: C, settings: C::Settings) {
    let b = PipelineBuilder::new("Chain", RunOptions::default().with_parallelism(parallelism));
    b.source("records", source, settings, BadInputPolicy::Fail)
        .expect("the source is valid")
        .map(transform)
        .filter(keep)
        .key_by(key)
        .aggregate(|a| a.count())
        .sink("out", BlackHole, NoSettings {})
        .expect("the sink is valid");
    b.run().expect("the pipeline runs");
}

/// The pipeline over generated records.
fn run_pipeline(parallelism: usize) {
    let settings = GeneratorSettings {
        count: Some(RECORDS),
        rate: None,
    };
    run_chain(parallelism, Generator::new(record), settings);
}

/// The pipeline over records already in memory.
fn run_pipeline_in_memory(records: Vec<u64>) {
    run_chain(1, Iter::new(records), NoSettings {});
}

/// The same work as a plain loop over records in memory.
fn run_hand_loop_in_memory(records: Vec<u64>) {
    let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
    for r in records {
        let x = transform(r);
        if keep(&x) {
            let k = key(&x);
            let c = counts.entry(k).or_insert(0);
            *c += 1;
            black_box((k, *c));
        }
    }
}

/// The same work as a plain loop.
fn run_hand_loop() {
    let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
    for i in 0..RECORDS {
        let x = transform(record(i));
        if keep(&x) {
            let k = key(&x);
            let c = counts.entry(k).or_insert(0);
            *c += 1;
            black_box((k, *c));
        }
    }
}

fn mean_seconds(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(id)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(json["mean"]["point_estimate"].as_f64()? / 1e9)
}

fn main() {
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("hand_loop", |b| b.iter(run_hand_loop));
    for p in [1, 2] {
        group.bench_with_input(BenchmarkId::new("pipeline", p), &p, |b, &p| {
            b.iter(|| run_pipeline(p))
        });
    }
    let records: Vec<u64> = (0..RECORDS).map(record).collect();
    group.bench_function("hand_loop_in_memory", |b| {
        b.iter_batched(
            || records.clone(),
            run_hand_loop_in_memory,
            BatchSize::PerIteration,
        )
    });
    group.bench_function("pipeline_in_memory", |b| {
        b.iter_batched(
            || records.clone(),
            run_pipeline_in_memory,
            BatchSize::PerIteration,
        )
    });
    group.finish();
    c.final_summary();

    let rate = |s: f64| RECORDS as f64 / s / 1e6;
    let report = |label: &str, hand: &str, pipeline: &str| {
        if let (Some(hand), Some(one)) = (mean_seconds(hand), mean_seconds(pipeline)) {
            println!(
                "{label}: hand-written loop {:.1} M records/s ({hand:.3} s)",
                rate(hand)
            );
            println!(
                "{label}: pipeline, p=1      {:.1} M records/s ({one:.3} s)",
                rate(one)
            );
            println!(
                "{label}: ratio pipeline / hand loop {:.3} (target <= 1.2)",
                one / hand
            );
        }
    };
    report("generated", "chain/hand_loop", "chain/pipeline/1");
    report(
        "in memory",
        "chain/hand_loop_in_memory",
        "chain/pipeline_in_memory",
    );
    if let Some(two) = mean_seconds("chain/pipeline/2") {
        println!(
            "generated: pipeline, p=2      {:.1} M records/s ({two:.3} s)",
            rate(two)
        );
    }
}
