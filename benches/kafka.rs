//! Kafka throughput: pipelines against plain rdkafka loops, in one run, on
//! one broker.
//!
//! ```text
//! scripts/kafka-start.sh 19092
//! PIPELINE_KAFKA_BROKERS=127.0.0.1:19092 cargo bench --bench kafka
//! ```
//!
//! Writes 1M JSON clicks of about 100 bytes to a 4-partition topic, then
//! reads them back: a raw consume loop against a pipeline that only reads
//! (`kafka -> filter`, writing nothing); a raw consume-and-produce loop
//! against a pass-through pipeline (`kafka -> map -> kafka`, bytes as they
//! are); the same pipeline decoding and re-encoding JSON; and a keyed
//! 10-second tumbling count (`kafka -> key_by -> window -> aggregate ->
//! kafka`). Start from a fresh broker: the test broker keeps every message
//! in memory and slows down as it grows. Each rate counts from the first record read to the last
//! record handed to the producer (or read, for the consume loop), so
//! consumer group joins and leaves, which take seconds on the test broker,
//! are left out alike.

#[path = "../tests/support/kafka.rs"]
mod kafka;

use kafka::{Out, brokers, create_topic, produce, reading, unique, writing};
use pipeline::prelude::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RECORDS: u64 = 1_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Click {
    #[event_time]
    ts: i64,
    user: String,
    page: String,
    session: String,
    duration_ms: u32,
}

fn click(i: u64) -> Click {
    Click {
        // 100 s of event time: ten windows of 10 s per user.
        ts: 1_700_000_000_000 + i as i64 / 10,
        user: format!("user-{:05}", i % 10_000),
        page: format!("/catalog/item/{:06}", (i * 7919) % 100_000),
        session: format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        duration_ms: (i % 30_000) as u32,
    }
}

/// When the pipeline saw its first record, and when its last output.
static FIRST: Mutex<Option<Instant>> = Mutex::new(None);
static LAST: Mutex<Option<Instant>> = Mutex::new(None);

fn first_seen<T>(_: &T) {
    let mut first = FIRST.lock().unwrap();
    if first.is_none() {
        *first = Some(Instant::now());
    }
}

fn last_seen<T>(_: &T) {
    *LAST.lock().unwrap() = Some(Instant::now());
}

pipeline! {
    /// Reads every record and writes none: the consume path alone.
    pipeline ReadOnly {
        source clicks: Vec<u8> = kafka(topic: "in", format: raw, start: earliest, bounded: true);
        clicks -> inspect(first_seen) -> inspect(last_seen) -> filter(|_b: &Vec<u8>| false)
            -> sink kafka(name: "out", topic: "out", format: raw);
    }
}

pipeline! {
    pipeline PassThrough {
        source clicks: Vec<u8> = kafka(topic: "in", format: raw, start: earliest, bounded: true);
        clicks -> inspect(first_seen) -> map(|b: Vec<u8>| b) -> inspect(last_seen) -> sink kafka(name: "out", topic: "out", format: raw);
    }
}

pipeline! {
    pipeline JsonThrough {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true);
        clicks -> inspect(first_seen) -> map(|mut c: Click| { c.duration_ms += 1; c }) -> inspect(last_seen) -> sink kafka(name: "out", topic: "out", format: json);
    }
}

pipeline! {
    pipeline WindowCount {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true, watermark: bounded(1s));
        clicks -> inspect(first_seen) -> key_by(|c: &Click| c.user.clone()) -> window(tumbling(10s)) -> aggregate(count())
            -> inspect(last_seen) -> sink kafka(name: "out", topic: "out", format: json);
    }
}

fn consumer(brokers: &str, topic: &str) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("raw"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "3000")
        .set("heartbeat.interval.ms", "500")
        // As the pipeline's source sets it: fetch again at once when the
        // loop reads slower than records arrive.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .expect("a consumer");
    c.subscribe(&[topic]).expect("subscribe");
    c
}

/// Reads `topic` until every record came; returns the time from the first.
fn raw_consume(brokers: &str, topic: &str) -> Duration {
    let c = consumer(brokers, topic);
    let (mut n, mut bytes, mut first) = (0u64, 0usize, None);
    while n < RECORDS {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            first.get_or_insert_with(Instant::now);
            bytes += m.payload().map_or(0, <[u8]>::len);
            n += 1;
        }
    }
    std::hint::black_box(bytes);
    first.map_or(Duration::ZERO, |f| f.elapsed())
}

/// Reads `topic` and writes each record to `out`, as a hand-written
/// pass-through would; returns the time from the first record to the last
/// acknowledged.
fn raw_consume_produce(brokers: &str, topic: &str, out: &str) -> Duration {
    let c = consumer(brokers, topic);
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("a producer");
    let (mut n, mut first) = (0u64, None);
    while n < RECORDS {
        if let Some(Ok(m)) = c.poll(Duration::ZERO) {
            first.get_or_insert_with(Instant::now);
            let mut record =
                BaseRecord::<(), [u8]>::to(out).payload(m.payload().unwrap_or_default());
            loop {
                match p.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        p.poll(Duration::from_millis(1));
                    }
                }
            }
            n += 1;
        } else {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(60)).expect("all acknowledged");
    first.map_or(Duration::ZERO, |f| f.elapsed())
}

/// Runs pipeline `P` from `topic` into a new topic; returns the time from
/// its first record read to its last record out (so the consumer's group
/// join and leave are left out, as for the raw loops).
fn pipeline<P: PipelineDef>(brokers: &str, topic: &str, parallelism: usize) -> Duration {
    *FIRST.lock().unwrap() = None;
    *LAST.lock().unwrap() = None;
    let out = unique("bench-out");
    create_topic(brokers, &out, 4);
    let opts = RunOptions::default().with_parallelism(parallelism);
    let opts = writing(reading(opts, "clicks", topic), "out", &out);
    let outcome = P::run_with(opts).expect("the pipeline runs");
    let first = FIRST.lock().unwrap().take().expect("records came");
    let last = LAST.lock().unwrap().take().expect("records went out");
    eprintln!("    {}", outcome.summary());
    last.duration_since(first)
}

fn rate(d: Duration) -> f64 {
    RECORDS as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    // `cargo test --benches` runs bench binaries without `--bench`; only
    // measure when asked to.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let brokers = brokers();
    let topic = unique("bench-in");
    create_topic(&brokers, &topic, 4);
    let payload = serde_json::to_vec(&click(0)).unwrap().len();
    let started = Instant::now();
    produce(
        &brokers,
        &topic,
        (0..RECORDS).map(|i| {
            Out::keyed(
                format!("user-{:05}", i % 10_000),
                serde_json::to_vec(&click(i)).unwrap(),
            )
        }),
    );
    let produced = started.elapsed();
    println!("{RECORDS} records of about {payload} bytes, 4 partitions");
    println!(
        "raw produce (setup)                    {:>5.2} M records/s",
        rate(produced)
    );
    let raw = raw_consume(&brokers, &topic);
    println!(
        "raw consume loop                       {:>5.2} M records/s",
        rate(raw)
    );
    let read = pipeline::<ReadOnly>(&brokers, &topic, 1);
    println!(
        "pipeline kafka -> filter (reads only)  {:>5.2} M records/s ({:.0}% of raw consume)",
        rate(read),
        100.0 * raw.as_secs_f64() / read.as_secs_f64()
    );
    let out = unique("bench-raw-out");
    create_topic(&brokers, &out, 4);
    let raw_pp = raw_consume_produce(&brokers, &topic, &out);
    println!(
        "raw consume + produce loop             {:>5.2} M records/s",
        rate(raw_pp)
    );
    for parallelism in [1, 2] {
        println!("parallelism {parallelism}:");
        let pass = pipeline::<PassThrough>(&brokers, &topic, parallelism);
        println!(
            "  kafka -> map -> kafka (bytes)        {:>5.2} M records/s ({:.0}% of raw consume + produce)",
            rate(pass),
            100.0 * raw_pp.as_secs_f64() / pass.as_secs_f64()
        );
        let json = pipeline::<JsonThrough>(&brokers, &topic, parallelism);
        println!(
            "  kafka -> map -> kafka (JSON)         {:>5.2} M records/s",
            rate(json)
        );
        let window = pipeline::<WindowCount>(&brokers, &topic, parallelism);
        println!(
            "  kafka -> keyed 10 s count -> kafka   {:>5.2} M records/s",
            rate(window)
        );
    }
}
