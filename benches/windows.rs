//! Keyed tumbling-window count over 10M events with 10,000 keys, in
//! continuous and micro-batch mode, at parallelism 1 and 2.
//!
//! ```text
//! cargo bench --bench windows
//! ```
//!
//! Events are made on the fly: event `i` has key `i mod 10,000` and time
//! `i / 10` ms (10,000 events per second of event time), so the run covers
//! 1,000 s of event time: 100 windows of 10 s, 1M results. Watermarks are
//! bounded by 1 s. Prints events per second for each configuration.

mod common;

use common::BlackHole;
use criterion::{BenchmarkId, Criterion, Throughput};
use pipeline::prelude::*;
use pipeline::runtime::connector::generator::{Generator, GeneratorSettings};
use pipeline::runtime::connector::{BadInputPolicy, NoSettings};
use pipeline::runtime::exec::{ExecMode, PipelineBuilder};
use pipeline::runtime::window::{Tumbling, WatermarkStrategy};
use std::time::Duration;

const EVENTS: u64 = 10_000_000;
const KEYS: u64 = 10_000;

#[derive(Debug, Clone, Copy, Event)]
struct Tick {
    key: u64,
    #[event_time]
    at: i64,
}

fn run(mode: ExecMode, parallelism: usize) {
    let options = RunOptions::default()
        .with_parallelism(parallelism)
        .with_mode(mode);
    let b = PipelineBuilder::new("WindowCount", options);
    let settings = GeneratorSettings {
        count: Some(EVENTS),
        rate: None,
    };
    let tick = |i: u64| Tick {
        key: i % KEYS,
        at: (i / 10) as i64,
    };
    b.source(
        "ticks",
        Generator::new(tick),
        settings,
        BadInputPolicy::Fail,
    )
    .expect("the source is valid")
    .with_watermarks(WatermarkStrategy::bounded(Duration::from_secs(1)).expect("a valid bound"))
    .key_by(|t: &Tick| t.key)
    .window(Tumbling::new(Duration::from_secs(10)).expect("a valid size"))
    .aggregate(|a| a.count())
    .sink("out", BlackHole, NoSettings {})
    .expect("the sink is valid");
    b.run().expect("the pipeline runs");
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut group = c.benchmark_group("windows");
    group.throughput(Throughput::Elements(EVENTS));
    let micro = ExecMode::MicroBatch {
        interval: Duration::from_millis(100),
    };
    for p in [1, 2] {
        group.bench_with_input(BenchmarkId::new("continuous", p), &p, |b, &p| {
            b.iter(|| run(ExecMode::Continuous, p))
        });
        group.bench_with_input(BenchmarkId::new("micro_batch_100ms", p), &p, |b, &p| {
            b.iter(|| run(micro, p))
        });
    }
    group.finish();
    c.final_summary();
}
