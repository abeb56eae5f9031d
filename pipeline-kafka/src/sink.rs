//! The Kafka sink: one producer per parallel instance.
//!
//! Delivery is at-least-once: sends are asynchronous, and before a source
//! commits its progress the sink waits until every record sent so far is
//! acknowledged ([`Push::sync`]). A record that cannot be delivered (the
//! broker gone longer than `message.timeout.ms`, a topic that does not
//! exist) fails the run with the broker's error; nothing is dropped
//! silently. Transactions, for exactly-once output, come with checkpoints.

use crate::{Property, default_brokers, settings_error};
use pipeline_runtime::connector::{SinkConnector, SinkCtx};
use pipeline_runtime::format::Encode;
use pipeline_runtime::operator::Push;
use pipeline_runtime::{ErrorKind, PipelineError, Result};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings of the Kafka sink; every field can be overridden with
/// `--set NAME.KEY=VALUE`, and any other key is passed to librdkafka as a
/// property (`--set out.linger.ms=20`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaSinkSettings {
    /// Bootstrap brokers, `host:port` separated by commas. Default:
    /// `$PIPELINE_KAFKA_BROKERS`, else `127.0.0.1:9092`.
    pub brokers: String,
    /// The topic to write to.
    pub topic: String,
    /// The longest a sync waits for acknowledgements before failing.
    #[serde(with = "humantime_serde")]
    pub sync_timeout: Duration,
    /// librdkafka properties, such as `linger.ms` or `partitioner`
    /// (`murmur2_random` partitions keys as the Java client does).
    #[serde(flatten)]
    pub properties: BTreeMap<String, Property>,
}

impl Default for KafkaSinkSettings {
    fn default() -> Self {
        KafkaSinkSettings {
            brokers: default_brokers(),
            topic: String::new(),
            sync_timeout: Duration::from_secs(60),
            properties: BTreeMap::new(),
        }
    }
}

/// A record key as bytes: strings and byte vectors as they are, numbers in
/// decimal, `None` for no key.
pub trait KafkaKey {
    /// Appends the key to `out`; `false` when there is no key.
    fn write_key(&self, out: &mut Vec<u8>) -> bool;
}

impl KafkaKey for str {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(self.as_bytes());
        true
    }
}

impl KafkaKey for String {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        self.as_str().write_key(out)
    }
}

impl KafkaKey for [u8] {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(self);
        true
    }
}

impl KafkaKey for Vec<u8> {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        self.as_slice().write_key(out)
    }
}

impl<K: KafkaKey + ?Sized> KafkaKey for &K {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        (**self).write_key(out)
    }
}

impl<K: KafkaKey> KafkaKey for Option<K> {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        self.as_ref().is_some_and(|k| k.write_key(out))
    }
}

macro_rules! decimal_keys {
    ($($t:ty),*) => {$(
        impl KafkaKey for $t {
            fn write_key(&self, out: &mut Vec<u8>) -> bool {
                use std::io::Write;
                let _ = write!(out, "{self}");
                true
            }
        }
    )*};
}
decimal_keys!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

/// Gives each record its key: a closure `|record: &T| key`, or [`NoKey`].
pub trait KeyOf<T>: Clone + Send + 'static {
    /// Appends `item`'s key to `out`; `false` when it has none.
    fn key_of(&mut self, item: &T, out: &mut Vec<u8>) -> bool;
}

/// Records without a key: the partitioner spreads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKey;

impl<T> KeyOf<T> for NoKey {
    fn key_of(&mut self, _item: &T, _out: &mut Vec<u8>) -> bool {
        false
    }
}

impl<T, F, K> KeyOf<T> for F
where
    F: FnMut(&T) -> K + Clone + Send + 'static,
    K: KafkaKey,
{
    #[inline]
    fn key_of(&mut self, item: &T, out: &mut Vec<u8>) -> bool {
        self(item).write_key(out)
    }
}

/// Gives each record its headers: a closure returning `(name, value)`
/// pairs, or [`NoHeaders`].
pub trait HeadersOf<T>: Clone + Send + 'static {
    /// `item`'s headers, if any.
    fn headers_of(&mut self, item: &T) -> Option<OwnedHeaders>;
}

/// Records without headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl<T> HeadersOf<T> for NoHeaders {
    fn headers_of(&mut self, _item: &T) -> Option<OwnedHeaders> {
        None
    }
}

impl<T, F, I, N, V> HeadersOf<T> for F
where
    F: FnMut(&T) -> I + Clone + Send + 'static,
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    fn headers_of(&mut self, item: &T) -> Option<OwnedHeaders> {
        let mut headers = OwnedHeaders::new();
        for (name, value) in self(item) {
            headers = headers.insert(Header {
                key: name.as_ref(),
                value: Some(value.as_ref()),
            });
        }
        Some(headers)
    }
}

/// Writes records to a Kafka topic: `kafka(topic: "out", format: json)`,
/// optionally with `key: |r: &T| ..` and `headers: |r: &T| vec![(name,
/// value)]`. Keyed records go to the partition their key hashes to.
///
/// # Examples
///
/// ```no_run
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Upper {
///         source words: String = kafka(topic: "words", format: string);
///         words -> map(|w: String| w.to_uppercase())
///             -> sink kafka(topic: "upper", format: string, key: |w: &String| w.clone(),
///                           headers: |_w: &String| [("origin", "upper")]);
///     }
/// }
///
/// fn main() -> std::process::ExitCode { Upper::main() }
/// ```
#[derive(Debug, Clone)]
pub struct KafkaSink<E, K = NoKey, H = NoHeaders> {
    encoder: E,
    key: K,
    headers: H,
}

impl<E> KafkaSink<E> {
    /// A sink writing records in `encoder`'s format, without keys or
    /// headers.
    pub fn new(encoder: E) -> Self {
        KafkaSink {
            encoder,
            key: NoKey,
            headers: NoHeaders,
        }
    }
}

impl<E, K, H> KafkaSink<E, K, H> {
    /// Keys each record with `key`.
    pub fn with_key<K2>(self, key: K2) -> KafkaSink<E, K2, H> {
        KafkaSink {
            encoder: self.encoder,
            key,
            headers: self.headers,
        }
    }

    /// Gives each record the headers `headers` returns.
    pub fn with_headers<H2>(self, headers: H2) -> KafkaSink<E, K, H2> {
        KafkaSink {
            encoder: self.encoder,
            key: self.key,
            headers,
        }
    }
}

impl<T, E, K, H> SinkConnector<T> for KafkaSink<E, K, H>
where
    T: Send + 'static,
    E: Encode<T>,
    K: KeyOf<T>,
    H: HeadersOf<T>,
{
    type Settings = KafkaSinkSettings;
    type Writer = KafkaWriter<T, E, K, H>;
    const KIND: &'static str = "kafka";

    fn writers(self, settings: KafkaSinkSettings, ctx: &SinkCtx) -> Result<Vec<Self::Writer>> {
        let name = ctx.name().to_owned();
        if settings.topic.trim().is_empty() {
            return Err(settings_error(&name, "needs a `topic`"));
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            // Retries must not reorder or duplicate.
            .set("enable.idempotence", "true");
        for (key, value) in &settings.properties {
            config.set(key, value.to_string());
        }
        (0..ctx.parallelism())
            .map(|_| {
                let failures = Arc::new(Mutex::new(Failures::default()));
                let producer: BaseProducer<Deliveries> = config
                    .create_with_context(Deliveries {
                        failures: failures.clone(),
                    })
                    .map_err(|e| settings_error(&name, &format!("bad Kafka settings: {e}")))?;
                Ok(KafkaWriter {
                    producer,
                    name: name.clone(),
                    topic: settings.topic.clone(),
                    sync_timeout: settings.sync_timeout,
                    encoder: self.encoder.clone(),
                    key: self.key.clone(),
                    headers: self.headers.clone(),
                    value: Vec::new(),
                    key_buf: Vec::new(),
                    failures,
                    _t: std::marker::PhantomData,
                })
            })
            .collect()
    }
}

/// Deliveries that failed, from the producer's callbacks.
#[derive(Debug, Default)]
struct Failures {
    count: u64,
    first: Option<String>,
}

struct Deliveries {
    failures: Arc<Mutex<Failures>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        if let Err((error, _)) = result {
            let mut failures = self
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            failures.count += 1;
            failures.first.get_or_insert_with(|| error.to_string());
        }
    }
}

/// One sink instance: a producer.
pub struct KafkaWriter<T, E, K, H> {
    producer: BaseProducer<Deliveries>,
    name: String,
    topic: String,
    sync_timeout: Duration,
    encoder: E,
    key: K,
    headers: H,
    value: Vec<u8>,
    key_buf: Vec<u8>,
    failures: Arc<Mutex<Failures>>,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T, E, K, H> std::fmt::Debug for KafkaWriter<T, E, K, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaWriter")
            .field("sink", &self.name)
            .field("topic", &self.topic)
            .finish()
    }
}

impl<T, E, K, H> KafkaWriter<T, E, K, H> {
    fn error(&self, message: String, retryable: bool) -> PipelineError {
        PipelineError::from(ErrorKind::Sink {
            sink: self.name.clone(),
            message,
            retryable,
        })
    }

    /// Fails if a delivery failed.
    fn check(&self) -> Result<()> {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &failures.first {
            Some(first) => Err(self.error(
                format!(
                    "{} record(s) could not be delivered to topic `{}`: {first}",
                    failures.count, self.topic
                ),
                false,
            )),
            None => Ok(()),
        }
    }
}

impl<T, E, K, H> Push<T> for KafkaWriter<T, E, K, H>
where
    E: Encode<T>,
    K: KeyOf<T>,
    H: HeadersOf<T>,
{
    fn push(&mut self, item: T) -> Result<()> {
        self.value.clear();
        self.encoder
            .encode(&item, &mut self.value)
            .map_err(|e| self.error(format!("could not encode a record: {e}"), false))?;
        // Formats end records with a newline, for line sinks; a message
        // needs none.
        if self.value.last() == Some(&b'\n') {
            self.value.pop();
        }
        self.key_buf.clear();
        let keyed = self.key.key_of(&item, &mut self.key_buf);
        let mut record = BaseRecord::to(&self.topic).payload(&self.value);
        if keyed {
            record = record.key(&self.key_buf);
        }
        if let Some(headers) = self.headers.headers_of(&item) {
            record = record.headers(headers);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue is full: serve deliveries, then retry.
                    record = back;
                    self.producer.poll(Duration::from_millis(10));
                    self.check()?;
                }
                Err((e, _)) => {
                    return Err(
                        self.error(format!("could not send to `{}`: {e}", self.topic), false)
                    );
                }
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.producer.poll(Duration::ZERO);
        self.check()
    }

    fn sync(&mut self) -> Result<()> {
        self.producer.flush(self.sync_timeout).map_err(|e| {
            self.error(
                format!(
                    "records to `{}` were not acknowledged within {}: {e}",
                    self.topic,
                    humantime::format_duration(self.sync_timeout)
                ),
                true,
            )
        })?;
        self.check()
    }

    fn finish(&mut self) -> Result<()> {
        self.sync()
    }
}
