//! The Kafka sink: one producer per parallel instance.
//!
//! With `delivery: at_least_once` (the default), sends are asynchronous,
//! and before a source commits its progress the sink waits until every
//! record sent so far is acknowledged ([`Push::sync`]). A record that
//! cannot be delivered (the broker gone longer than `message.timeout.ms`, a
//! topic that does not exist) fails the run with the broker's error;
//! nothing is dropped silently.
//!
//! With `delivery: exactly_once` (which needs checkpoints), the sink is
//! the two-phase commit of Flink's Kafka sink: each instance writes
//! through transactional producers with stable ids
//! (`TRANSACTIONAL_ID-INSTANCE-SLOT`, two slots used in turn), prepares
//! (flushes) its transaction at each checkpoint barrier, and commits it
//! once the checkpoint is complete. A restarted instance initialises the
//! same ids, which fences any producer of the old process still alive (a
//! zombie) and aborts its open transactions. Every record carries the
//! headers `pipeline.sink` (`SINK/INSTANCE`) and `pipeline.epoch` (the
//! checkpoint that covers it), so that a reader can also rebuild the
//! committed view from the pipeline's own checkpoints.
//!
//! What still depends on the broker: read-committed consumers must not
//! see aborted transactions; and librdkafka cannot resume a prepared
//! transaction in a new process, so a crash in the moment between a
//! checkpoint's completion and the sink's commit leaves that transaction
//! to be aborted when the ids are initialised again (Flink resumes it
//! instead).

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
    /// `at_least_once`, or `exactly_once` (transactions committed with
    /// checkpoints; needs `--checkpoint-dir`).
    pub delivery: Delivery,
    /// With `exactly_once`: the prefix of the producers' transactional ids.
    /// Default: `pipeline.SINK.TOPIC`. Keep it stable across restarts, and
    /// unique per sink.
    pub transactional_id: String,
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
            delivery: Delivery::AtLeastOnce,
            transactional_id: String::new(),
            properties: BTreeMap::new(),
        }
    }
}

/// What the Kafka sink guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Every record written at least once (after a restart, some again).
    #[default]
    AtLeastOnce,
    /// Transactions committed with checkpoints (see the module docs).
    ExactlyOnce,
}

/// The header naming the sink instance that wrote a record.
pub const SINK_HEADER: &str = "pipeline.sink";
/// The header naming the checkpoint that covers a record.
pub const EPOCH_HEADER: &str = "pipeline.epoch";

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
        let exactly_once = settings.delivery == Delivery::ExactlyOnce;
        if exactly_once && !ctx.checkpointing() {
            return Err(settings_error(
                &format!("{name}.delivery"),
                "`exactly_once` commits transactions with checkpoints: run with `--checkpoint-dir`",
            ));
        }
        let prefix = if settings.transactional_id.is_empty() {
            format!("pipeline.{name}.{}", settings.topic)
        } else {
            settings.transactional_id.clone()
        };
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            // Retries must not reorder or duplicate.
            .set("enable.idempotence", "true");
        if exactly_once {
            // A transaction stays open for a checkpoint interval and more:
            // allow what brokers allow by default (15 min), not 1 min.
            config.set("transaction.timeout.ms", "900000");
        }
        for (key, value) in &settings.properties {
            config.set(key, value.to_string());
        }
        let parallelism = ctx.parallelism();
        (0..ctx.parallelism())
            .map(|instance| {
                let failures = Arc::new(Mutex::new(Failures::default()));
                let slots = if exactly_once { 2 } else { 1 };
                let mut producers = Vec::new();
                let mut ids = Vec::new();
                for slot in 0..slots {
                    let mut config = config.clone();
                    if exactly_once {
                        let id = format!("{prefix}-{instance}-{slot}");
                        config.set("transactional.id", &id);
                        ids.push(id);
                    }
                    let producer: BaseProducer<Deliveries> = config
                        .create_with_context(Deliveries {
                            failures: failures.clone(),
                        })
                        .map_err(|e| settings_error(&name, &format!("bad Kafka settings: {e}")))?;
                    producers.push(producer);
                }
                Ok(KafkaWriter {
                    producers,
                    active: 0,
                    txn: exactly_once.then(|| Transactions {
                        ids,
                        initialised: [false, false],
                        open: false,
                        epoch: 0,
                        pending: Vec::new(),
                        last_epoch: 0,
                        instance,
                        parallelism,
                        prefix: prefix.clone(),
                        config: config.clone(),
                    }),
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

/// The transactions of an `exactly_once` sink instance.
#[derive(Debug)]
struct Transactions {
    /// The transactional id of each producer slot.
    ids: Vec<String>,
    initialised: [bool; 2],
    /// Whether the active slot has begun a transaction.
    open: bool,
    /// The checkpoint that will cover the records written now.
    epoch: u64,
    /// Prepared transactions: their checkpoint (`None`: the last, after the
    /// input ended) and slot.
    pending: Vec<(Option<u64>, usize)>,
    /// The last checkpoint this instance took a barrier of: the last
    /// transaction (after the input ended) is covered only by a later one.
    last_epoch: u64,
    instance: usize,
    /// Instances of the sink now, the ids' prefix and the producers'
    /// settings (to fence instances a smaller restart no longer has).
    parallelism: usize,
    prefix: String,
    config: ClientConfig,
}

/// How long transactional calls may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// One sink instance: a producer (two, taking turns, with transactions).
pub struct KafkaWriter<T, E, K, H> {
    producers: Vec<BaseProducer<Deliveries>>,
    /// The producer written to now.
    active: usize,
    txn: Option<Transactions>,
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

    /// With transactions: initialises the transactional id of producer
    /// `slot`, once; that fences older producers with the same id (a
    /// previous process of this instance) and aborts what they left open.
    fn init(&mut self, slot: usize) -> Result<()> {
        let Some(txn) = &mut self.txn else {
            return Ok(());
        };
        if txn.initialised[slot] {
            return Ok(());
        }
        self.producers[slot]
            .init_transactions(TXN_TIMEOUT)
            .map_err(|e| {
                PipelineError::from(ErrorKind::Sink {
                    sink: self.name.clone(),
                    message: format!(
                        "could not initialise transactions of `{}`: {e}",
                        txn.ids[slot]
                    ),
                    retryable: true,
                })
            })?;
        txn.initialised[slot] = true;
        Ok(())
    }

    /// With transactions: begins one on the active producer if none is
    /// open.
    fn begin(&mut self) -> Result<()> {
        if self.txn.as_ref().is_none_or(|t| t.open) {
            return Ok(());
        }
        self.init(self.active)?;
        let producer = &self.producers[self.active];
        producer.begin_transaction().map_err(|e| {
            PipelineError::from(ErrorKind::Sink {
                sink: self.name.clone(),
                message: format!("could not begin a transaction: {e}"),
                retryable: false,
            })
        })?;
        if let Some(txn) = &mut self.txn {
            txn.open = true;
        }
        Ok(())
    }

    /// Commits the prepared transactions `due` selects.
    fn commit_pending(&mut self, due: impl Fn(Option<u64>) -> bool) -> Result<()> {
        let Some(txn) = &mut self.txn else {
            return Ok(());
        };
        let (now, later): (Vec<_>, Vec<_>) = txn.pending.drain(..).partition(|(e, _)| due(*e));
        txn.pending = later;
        for (epoch, slot) in now {
            self.producers[slot]
                .commit_transaction(TXN_TIMEOUT)
                .map_err(|e| {
                    PipelineError::from(ErrorKind::Sink {
                        sink: self.name.clone(),
                        message: format!(
                            "could not commit the transaction of checkpoint {} (`{}`): {e}",
                            epoch.map_or_else(|| "last".to_owned(), |e| e.to_string()),
                            txn.ids[slot]
                        ),
                        retryable: false,
                    })
                })?;
        }
        Ok(())
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
        self.begin()?;
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
        let mut headers = self.headers.headers_of(&item);
        if let Some(txn) = &self.txn {
            let sink = format!("{}/{}", self.name, txn.instance);
            let epoch = txn.epoch.to_string();
            headers = Some(
                headers
                    .unwrap_or_default()
                    .insert(Header {
                        key: SINK_HEADER,
                        value: Some(sink.as_bytes()),
                    })
                    .insert(Header {
                        key: EPOCH_HEADER,
                        value: Some(epoch.as_bytes()),
                    }),
            );
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        let producer = &self.producers[self.active];
        loop {
            match producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue is full: serve deliveries, then retry.
                    record = back;
                    producer.poll(Duration::from_millis(10));
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
        self.producers[self.active].poll(Duration::ZERO);
        self.check()
    }

    fn sync(&mut self) -> Result<()> {
        self.producers[self.active]
            .flush(self.sync_timeout)
            .map_err(|e| {
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

    /// With transactions: prepares (flushes) the open one for this
    /// checkpoint, commits those of earlier checkpoints (complete, since
    /// one checkpoint is taken at a time), and moves to the other
    /// producer for the next.
    fn snapshot(
        &mut self,
        snapshot: &mut pipeline_runtime::checkpoint::Snapshot<'_>,
    ) -> Result<()> {
        if self.txn.is_none() {
            return self.sync();
        }
        self.sync()?;
        let epoch = snapshot.epoch();
        if let Some(e) = epoch {
            self.commit_pending(|p| p.is_some_and(|p| p < e))?;
        }
        let active = self.active;
        if let Some(txn) = &mut self.txn {
            if txn.open {
                txn.open = false;
                txn.pending.push((epoch, active));
            }
            for (e, slot) in &txn.pending {
                snapshot.stage(
                    &self.name,
                    serde_json::json!({ "transactional_id": txn.ids[*slot], "epoch": e }),
                );
            }
            if let Some(e) = epoch {
                txn.last_epoch = e;
                txn.epoch = e + 1;
                self.active = 1 - active;
                if txn.pending.iter().any(|(_, slot)| *slot == self.active) {
                    return Err(self.error(
                        "a transaction of an earlier checkpoint is still open".into(),
                        false,
                    ));
                }
            }
        }
        Ok(())
    }

    /// At the start of a run: initialises both transactional ids, which
    /// fences the producers of a previous process of this instance. Records
    /// of this run are covered by the checkpoint after the restored one.
    /// Transactions the restored checkpoint had prepared are committed, if
    /// the old process did, or aborted by the initialisation (see the
    /// module docs).
    fn restore(&mut self, restore: &pipeline_runtime::checkpoint::Restore<'_>) -> Result<()> {
        let Some(txn) = &mut self.txn else {
            return Ok(());
        };
        txn.epoch = restore.next_epoch();
        // Instances the previous run had and this one has not: their ids
        // are initialised once (by instance 0), which aborts what they
        // left open.
        let gone = if txn.instance == 0 {
            txn.parallelism..restore.saved_parallelism().unwrap_or(0)
        } else {
            0..0
        };
        for instance in gone {
            for slot in 0..2 {
                let id = format!("{}-{instance}-{slot}", txn.prefix);
                let mut config = txn.config.clone();
                config.set("transactional.id", &id);
                let name = &self.name;
                let producer: BaseProducer = config
                    .create()
                    .map_err(|e| settings_error(name, &format!("bad Kafka settings: {e}")))?;
                producer.init_transactions(TXN_TIMEOUT).map_err(|e| {
                    PipelineError::from(ErrorKind::Sink {
                        sink: name.clone(),
                        message: format!("could not abort the transactions of `{id}`: {e}"),
                        retryable: true,
                    })
                })?;
            }
        }
        self.init(0)?;
        self.init(1)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        let last = self.txn.as_ref().map_or(0, |t| t.last_epoch);
        self.commit_pending(|p| match p {
            Some(p) => p <= epoch,
            None => epoch > last,
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.sync()
    }
}
