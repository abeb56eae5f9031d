//! Statically typed stream processing: write a pipeline in the
//! [`pipeline!`] DSL, and the compiler checks every stage and fuses them into
//! monomorphized operator chains; the binary gets a command line to run it.
//!
//! ```no_run
//! use pipeline::prelude::*;
//!
//! pipeline! {
//!     /// Counts words read from a TCP socket (try `nc -lk 9999`).
//!     pub pipeline WordCount {
//!         source lines: String = socket(host: "127.0.0.1", port: 9999);
//!
//!         lines
//!             -> flat_map(|line: String| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
//!             -> key_by(|word: &String| word.clone())
//!             -> aggregate(count())
//!             -> sink stdout();
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     WordCount::main()
//! }
//! ```
//!
//! # The DSL
//!
//! A pipeline has statements of three kinds:
//!
//! - `source NAME: TYPE = CONNECTOR(OPTION: VALUE, ..);` declares a source
//!   and the type of its records.
//! - `let NAME = CHAIN;` names an intermediate stream.
//! - `CHAIN;` is a chain that ends in a sink.
//!
//! A chain starts at a stream's name and goes through stages joined by `->`:
//! `lines -> map(..) -> filter(..) -> sink stdout()`. A stream read by
//! several chains is copied to each (fan-out); `union(a, b)` merges streams.
//!
//! | stage | input | does |
//! |---|---|---|
//! | `map(\|r\| ..)` | any | one output per record |
//! | `filter(\|r: &T\| ..)` | any | keeps records where it is `true` |
//! | `filter_map(\|r\| ..)` | any | keeps the `Some` outputs |
//! | `flat_map(\|r\| ..)` | any | any number of outputs per record |
//! | `inspect(\|r: &T\| ..)` | any | sees records, passes them on |
//! | `union(a, ..)` | any | merges streams of the same type |
//! | `join(other).on(\|l\| key, \|r\| key)` | any | stream-table join: each record with the latest `other` record of its key (waiting for the first); emits [`Joined`](runtime::operator::Joined) |
//! | `join(other).on(..).ttl(1h)` | any | stream-table join whose keys' rows (and waiting records) are dropped after an hour without records |
//! | `join(other).on(..).window(tumbling(10s))` | any | window join: every pair of the same key and window, when the window fires; emits `Windowed<K, Joined<L, R>>` |
//! | `join(other).on(..).between(-2s, 5s)` | any | interval join: pairs whose right record's time is within the bounds of the left one's; emits `Joined` |
//! | `key_by(\|r: &T\| key)` | any | keys the stream (hash exchange at parallelism > 1) |
//! | `reduce(\|acc, r\| ..)` | keyed | running fold per key, emits the new value |
//! | `process_keyed(op)` | keyed | your `#[operator]` struct: keyed `ValueState` / `MapState` / `ListState` fields and timers ([`runtime::state::KeyedProcess`]) |
//! | `aggregate(count())` | keyed | running count per key, emits `(key, n)` |
//! | `aggregate(sum(f) \| min(f) \| max(f) \| avg(f))` | keyed | `f` is a field name or a closure |
//! | `aggregate(EXPR)` | keyed | `EXPR` implements [`runtime::operator::Aggregate`] |
//! | `aggregate(A, B, ..)` | keyed or windowed | several aggregates at once; results as a tuple |
//! | `window(tumbling(10s))` | keyed | event-time windows; also `sliding(10s, 2s)`, `session(30s)`, `.offset(2s)` |
//! | `window(tumbling(10s).processing_time())` | keyed | windows of the clock, for records without event time |
//! | `window(global)` | keyed | one window per key over all time, fired by a trigger |
//! | `trigger(count(100))` | `global` window | fires and clears a key's window every 100 records |
//! | `trigger(every(1s))` | windowed | emits each changed window's result so far every second (early firing) |
//! | `window_all(..)` | any | one window over all records (no key) |
//! | `allowed_lateness(5s)` | windowed | late records re-fire their window for this long |
//! | `late_records(NAME)` | windowed | records too late for every window go to the new stream `NAME` |
//! | `aggregate(..)` | windowed | one [`Windowed`](runtime::window::Windowed) result per key and window; `top(n, f)` keeps the n largest |
//! | `process(\|key, window, records\| ..)` | windowed | a function of all of a window's records |
//!
//! Windows follow Flink's semantics: `[start, end)` aligned to the epoch
//! (plus offset), fired when the watermark reaches `end - 1`. Watermarks come
//! from sources given `watermark: bounded(2s)` or `watermark: monotonic`; the
//! records must have an event time (`#[derive(Event)]` with an
//! `#[event_time]` field). Records too late for every window are counted as
//! "late dropped" unless `late_records(NAME)` takes them.
//!
//! A source's watermark is made per source instance (a file set, a
//! connection); streams that meet (after `union` or an exchange) take the
//! minimum. `idle_timeout: 30s` lets an instance that reads nothing for
//! that long stop holding the others back. A record whose time is negative
//! or more than `max_ahead` (default `1h`; `none` turns the check off) past
//! the clock is bad input, handled by the source's `on_error` (`skip` and
//! `dead_letter` both count it as skipped: it decoded fine). Sources with
//! `watermark: none`, or none given, have no event time: use
//! processing-time or `global` windows on them.
//!
//! A pipeline runs continuously by default; `mode micro_batch(500ms);` in the
//! pipeline (or `run --mode micro-batch --batch-interval 500ms`) cuts each
//! source's input into batches processed whole, with watermarks and output
//! at batch ends.
//!
//! Connectors (options in brackets are optional; `format` is `text`, `json`
//! or `csv` for sources, and also `debug` for sinks):
//!
//! | source | options |
//! |---|---|
//! | `socket` | `[host]`, `[port]`, `[retries]`, `[retry_delay: 1s]`, `[reconnect]`, `[format]`, `[on_error]`, `[watermark]`, `[idle_timeout]`, `[max_ahead]` |
//! | `file` | `path` (a file or a directory), `[header]`, `[format]`, `[on_error]`, `[watermark]`, `[idle_timeout]`, `[max_ahead]` |
//! | `stdin` | `[format]`, `[on_error]`, `[watermark]`, `[idle_timeout]`, `[max_ahead]` |
//! | `generator` | `record: \|i: u64\| ..`, `[count]`, `[rate]` (records per second), `[watermark]`, `[idle_timeout]`, `[max_ahead]` |
//! | `nexmark` | `[events]`, `[rate]` (events per second), `[event_rate: 10000]` (events per second of event time), `[watermark]`, `[idle_timeout]`, `[max_ahead]`: [Nexmark](nexmark) events |
//! | `iter` | `items: EXPR` (anything `IntoIterator`), `[watermark]`, `[idle_timeout]`, `[max_ahead]` |
//! | `kafka` | `topic` (a name, `a,b`, or `^regex`), `[group]`, `[brokers]`, `[start: committed \| earliest \| latest \| timestamp(MS)]`, `[bounded]`, `[commit_interval: 5s]`, `[unavailable_timeout: 60s]`, `[format]` (`json`, `csv`, `string`, `raw`), `[on_error]`, `[watermark]`, `[idle_timeout]`, `[max_ahead]` |
//!
//! | sink | options |
//! |---|---|
//! | `stdout` | `[format]` (default `debug`), `[name]` |
//! | `file` | `path`, `[append]`, `[format]` (default `json`), `[name]` |
//! | `discard` | `[name]`: drops records (counted in the summary), for benchmarks |
//! | `collect` | `[name]`: records are read back with [`RunOutcome::collected`](runtime::exec::RunOutcome::collected) |
//! | `kafka` | `topic`, `[brokers]`, `[key: \|r: &T\| ..]`, `[headers: \|r: &T\| [(name, value)]]`, `[sync_timeout: 60s]`, `[format]` (default `json`), `[name]` |
//!
//! A Kafka source declared as `KafkaMessage<T>` gets each message's key,
//! headers, topic, partition, offset and timestamp with its value. Kafka
//! settings that are not options above are librdkafka properties
//! (`--set clicks.fetch.min.bytes=65536`); brokers default to
//! `$PIPELINE_KAFKA_BROKERS`, else `127.0.0.1:9092`.
//!
//! `on_error` says what a source does with a record it cannot decode:
//! `fail` (the default: stop with an error naming the source, the position
//! and the record), `skip` (count it in the summary and log it), or
//! `dead_letter(NAME)`, which makes `NAME` a stream of
//! [`DeadLetter`](runtime::connector::DeadLetter) records to send to a sink.
//!
//! Durations are written `500ms`, `10s`, `1.5s`, `2min` or `1h`. Every
//! setting that is a plain value can be overridden at run time with
//! `--set NAME.KEY=VALUE` (sinks are named after their connector, or by
//! their `name` option).

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use pipeline_macros::{Event, operator, pipeline};
pub use pipeline_runtime as runtime;
/// Nexmark events and their generator (the `nexmark` source).
pub use pipeline_runtime::connector::nexmark;
pub use pipeline_runtime::{PipelineError, Result, Timestamp};

/// The Kafka connector (the default `kafka` feature).
#[cfg(feature = "kafka")]
pub use pipeline_kafka as kafka;

/// What a pipeline file needs: `use pipeline::prelude::*;`.
pub mod prelude {
    pub use crate::{Event, operator, pipeline};
    pub use pipeline_runtime::exec::{PipelineDef, RunOptions, RunOutcome};
    pub use pipeline_runtime::window::{Window, Windowed};
    pub use pipeline_runtime::{Event, Timestamp, ToTimestamp};
    pub use serde::{Deserialize, Serialize};
}
