//! The Kafka source: one consumer per parallel instance, all in one
//! consumer group, so instances (and other copies of the pipeline with the
//! same group) split the topic's partitions.
//!
//! Offsets are committed by the source, never automatically: after records
//! went through the source task's chain and its sinks acknowledged them
//! ([`Push::sync`](pipeline_runtime::operator::Push::sync)), every
//! `commit_interval` and at the end. A revocation waits for the same: the
//! instance finishes its batch, syncs, commits, and only then gives the
//! partitions up, so their next owner goes on exactly where it stopped. A
//! copy that restarts resumes from the last commit. Without checkpoints,
//! records still in flight across an exchange, and window state, are not
//! covered: a crash may lose them.
//!
//! With checkpoints, each instance saves the next offset of every
//! partition in the checkpoint, and a restored run starts each partition
//! there (whatever the group committed or `start` says); offsets are
//! committed to the group only when a checkpoint is complete, and a
//! partition revoked from one instance goes on at the next instance of
//! this process from where the first stopped. Between copies of the
//! pipeline (several processes in one group, each with its own
//! checkpoints), a partition that moves goes on from the group's offsets,
//! those of the last complete checkpoint: at-least-once. Window
//! state is not handed over with a partition between copies of the
//! pipeline: results of windows open when a partition moves to another
//! copy can be split between the copies.

use crate::message::ReadMessage;
use crate::{Property, default_brokers, settings_error};
use pipeline_runtime::connector::{BadInput, SourceConnector, SourceCtx};
use pipeline_runtime::exec::channel::{BATCH, TICK};
use pipeline_runtime::exec::{Fill, Origin, PartitionView, RunEnv};
use pipeline_runtime::{ErrorKind, PipelineError, Position, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where a source starts reading each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// The group's committed offset; the beginning where there is none.
    #[default]
    Committed,
    /// The beginning of each partition, whatever was committed.
    Earliest,
    /// The end of each partition: only records written from now on.
    Latest,
    /// The first record at or after this time (epoch milliseconds).
    Timestamp(i64),
}

/// Settings of the Kafka source; every field can be overridden with
/// `--set NAME.KEY=VALUE`, and any other key is passed to librdkafka as a
/// property (`--set clicks.fetch.min.bytes=1024`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaSourceSettings {
    /// Bootstrap brokers, `host:port` separated by commas. Default:
    /// `$PIPELINE_KAFKA_BROKERS`, else `127.0.0.1:9092`.
    pub brokers: String,
    /// The topic; several separated by commas, or a regular expression
    /// starting with `^` (every matching topic, including ones created
    /// later).
    pub topic: String,
    /// The consumer group. Default: `pipeline.<source name>`.
    pub group: String,
    /// Where to start reading: `committed`, `earliest`, `latest`, or
    /// `{ timestamp = MS }`. The position applies to each partition the
    /// first time this process reads it; a partition taken over from
    /// another instance or copy goes on from the group's committed offset
    /// only with `committed`, so several copies should use that.
    pub start: Start,
    /// Stop once every partition of the instance is read to its end (as it
    /// was when reached), instead of waiting for more.
    pub bounded: bool,
    /// How often offsets are committed (as Kafka's
    /// `auto.commit.interval.ms`); each commit first waits for the sinks'
    /// acknowledgements.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// How long no broker may be reachable before the source fails;
    /// librdkafka reconnects with backoff meanwhile, and reading goes on
    /// where it stopped.
    #[serde(with = "humantime_serde")]
    pub unavailable_timeout: Duration,
    /// librdkafka properties, such as `session.timeout.ms`.
    #[serde(flatten)]
    pub properties: BTreeMap<String, Property>,
}

impl Default for KafkaSourceSettings {
    fn default() -> Self {
        KafkaSourceSettings {
            brokers: default_brokers(),
            topic: String::new(),
            group: String::new(),
            start: Start::Committed,
            bounded: false,
            commit_interval: Duration::from_secs(5),
            unavailable_timeout: Duration::from_secs(60),
            properties: BTreeMap::new(),
        }
    }
}

/// Reads records from Kafka topics: `kafka(topic: "clicks", format: json)`.
///
/// # Examples
///
/// ```no_run
/// use pipeline::prelude::*;
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// struct Click { user: String, #[event_time] ts: i64 }
///
/// pipeline! {
///     pipeline Counts {
///         source clicks: Click = kafka(topic: "clicks", group: "counts", format: json, start: earliest, watermark: bounded(5s));
///         clicks -> key_by(|c: &Click| c.user.clone()) -> window(tumbling(1min)) -> aggregate(count())
///             -> sink kafka(topic: "counts", format: json, key: |w: &Windowed<String, u64>| w.key.clone());
///     }
/// }
///
/// fn main() -> std::process::ExitCode { Counts::main() }
/// ```
#[derive(Debug, Clone)]
pub struct KafkaSource<R> {
    reader: R,
}

impl<R> KafkaSource<R> {
    /// A source whose records `reader` makes from messages.
    pub fn new(reader: R) -> Self {
        KafkaSource { reader }
    }
}

impl<T: Send + 'static, R: ReadMessage<T>> SourceConnector<T> for KafkaSource<R> {
    type Settings = KafkaSourceSettings;
    const KIND: &'static str = "kafka";

    fn instances(
        self,
        mut settings: KafkaSourceSettings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<T>>>> {
        let name = ctx.name().to_owned();
        if settings.topic.trim().is_empty() {
            return Err(settings_error(&name, "needs a `topic`"));
        }
        let topics: Vec<String> = settings
            .topic
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if settings.bounded && (topics.len() != 1 || topics[0].starts_with('^')) {
            return Err(settings_error(
                &name,
                "`bounded` reads one topic; give one topic name",
            ));
        }
        if settings.group.is_empty() {
            settings.group = format!("pipeline.{name}");
        }
        let config = consumer_config(&settings);
        let group = Arc::new(Mutex::new(Group::default()));
        Ok((0..ctx.parallelism())
            .map(|instance| {
                Box::new(KafkaOrigin {
                    reader: self.reader.clone(),
                    name: name.clone(),
                    instance,
                    topics: topics.clone(),
                    settings: settings.clone(),
                    config: config.clone(),
                    bad: ctx.bad_input(instance),
                    consumer: None,
                    shared: Arc::default(),
                    group: Arc::clone(&group),
                    revoking: Arc::default(),
                    closing: Arc::default(),
                    must_commit: false,
                    ids: Vec::new(),
                    assigned: Vec::new(),
                    last: 0,
                    read: Vec::new(),
                    reached: Vec::new(),
                    marked_end: HashSet::new(),
                    stash: None,
                    last_commit: Instant::now(),
                    uncommitted: false,
                    down_since: None,
                    last_probe: Instant::now(),
                    ended: false,
                    warned_missing: false,
                    env: None,
                    checkpointed: false,
                    last_epoch: 0,
                    saved: Vec::new(),
                }) as Box<dyn Origin<T>>
            })
            .collect())
    }
}

/// The librdkafka configuration of a source's consumers.
fn consumer_config(settings: &KafkaSourceSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        .set("group.id", &settings.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // Faster group joins than the 45 s default; override as needed.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        // When records are read slower than fetched, librdkafka waits this
        // long (1 s by default) before fetching again, which starves a
        // pipeline that decodes; keep fetching.
        .set("fetch.queue.backoff.ms", "10")
        // Instances joining or leaving move only the partitions that must
        // move; the others keep being read (eager rebalancing stops every
        // instance for seconds).
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set(
            "enable.partition.eof",
            if settings.bounded { "true" } else { "false" },
        );
    if settings.start == Start::Latest {
        config.set("auto.offset.reset", "latest");
    }
    for (key, value) in &settings.properties {
        config.set(key, value.to_string());
    }
    config
}

/// A partition by topic and number.
type Tp = (String, i32);

/// What the consumer's callbacks share with its origin.
#[derive(Debug, Default)]
struct Shared {
    /// The partitions assigned now.
    assigned: Vec<Tp>,
    /// Whether the current assignment is settled: an assignment arrived
    /// and no revocation since (an eager rebalance revokes everything
    /// before it assigns again).
    settled: bool,
    changed: bool,
    /// Partitions revoked and not given up yet: the origin first lets the
    /// chain finish their records, syncs the sinks and commits, so the
    /// next owner goes on exactly where this instance stopped.
    revoking: Option<Vec<Tp>>,
    /// When no broker could be reached, since.
    down_since: Option<Instant>,
    /// A failure in a callback, reported by the next fill.
    error: Option<String>,
}

/// What the instances of one source in this process share.
#[derive(Debug, Default)]
struct Group {
    /// Partitions whose start position was applied in this run, by any
    /// instance: one taken over from another instance goes on from the
    /// committed offset.
    started: HashSet<Tp>,
    /// Partitions some instance committed an offset for in this run: their
    /// next owner always goes on from the commit.
    committed: HashSet<Tp>,
    /// `bounded`: the topic's partition count, and the partitions read to
    /// their end by some instance.
    partitions: Option<usize>,
    at_end: HashSet<i32>,
    /// The next offset of each partition in the checkpoint the run
    /// started from: a partition assigned to any instance starts there.
    restored: std::collections::HashMap<Tp, i64>,
}

/// The consumer's callbacks: rebalances (start positions, revocations
/// handed to the origin) and client errors.
struct Callbacks {
    shared: Arc<Mutex<Shared>>,
    group: Arc<Mutex<Group>>,
    /// Set when a revocation waits for the origin.
    revoking: Arc<AtomicBool>,
    /// Set when the origin closes the consumer: revocations then give the
    /// partitions up at once (what was synced is committed already).
    closing: Arc<AtomicBool>,
    start: Start,
    source: String,
}

fn lock<S>(shared: &Mutex<S>) -> MutexGuard<'_, S> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Gives up `tpl`'s partitions (all of them under the eager protocol).
fn give_up(consumer: &BaseConsumer<Callbacks>, tpl: &TopicPartitionList, source: &str) {
    let result = if matches!(
        consumer.rebalance_protocol(),
        RebalanceProtocol::Cooperative
    ) {
        consumer.incremental_unassign(tpl)
    } else {
        consumer.unassign()
    };
    if let Err(e) = result {
        tracing::warn!(source = %source, "could not give up partitions: {e}");
    }
}

impl ClientContext for Callbacks {
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF)
        {
            // Also reported to the poll loop, which uses it for `bounded`.
            return;
        }
        let code = error.rdkafka_error_code();
        if matches!(
            code,
            Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
        ) {
            let mut shared = lock(&self.shared);
            if shared.down_since.is_none() {
                tracing::warn!(source = %self.source, "Kafka broker unreachable ({reason}); retrying");
                shared.down_since = Some(Instant::now());
            }
        } else {
            tracing::warn!(source = %self.source, "Kafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for Callbacks {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let listed: Vec<Tp> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.set_start(consumer, tpl, &listed);
                let result = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                let mut shared = lock(&self.shared);
                if let Err(e) = result {
                    shared.error = Some(format!("could not take its partitions: {e}"));
                }
                if cooperative {
                    shared.assigned.extend(listed.iter().cloned());
                } else {
                    shared.assigned = listed.clone();
                }
                shared.settled = true;
                shared.changed = true;
                tracing::info!(
                    source = %self.source,
                    "assigned {}; reading {}",
                    describe(&listed),
                    describe(&shared.assigned)
                );
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                if !self.closing.load(Ordering::Acquire) && !consumer.closed() =>
            {
                // Given up once the origin has committed their records
                // (librdkafka waits for that); until the next assignment
                // the instance's partitions are unknown, so a bounded
                // source must not end.
                let mut shared = lock(&self.shared);
                shared.revoking = Some(listed);
                shared.settled = false;
                self.revoking.store(true, Ordering::Release);
            }
            _ => {
                // Closing (what was synced is committed already) or a
                // failed rebalance: give up at once.
                if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                    tracing::warn!(source = %self.source, "rebalance failed ({err:?}); giving up the partitions");
                }
                give_up(consumer, tpl, &self.source);
                let mut shared = lock(&self.shared);
                shared.assigned.retain(|tp| !listed.contains(tp));
                shared.settled = false;
                shared.changed = true;
            }
        }
    }
}

/// The dense id of a partition, added if new.
#[inline]
fn intern(ids: &mut Vec<Tp>, topic: &str, partition: i32) -> usize {
    match ids.iter().position(|(t, p)| *p == partition && t == topic) {
        Some(i) => i,
        None => {
            ids.push((topic.to_owned(), partition));
            ids.len() - 1
        }
    }
}

fn describe(tps: &[Tp]) -> String {
    if tps.is_empty() {
        return "no partitions".into();
    }
    tps.iter()
        .map(|(t, p)| format!("{t}/{p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Callbacks {
    /// Sets where newly assigned partitions start, unless they continue
    /// from the committed offset.
    fn set_start(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
        listed: &[Tp],
    ) {
        let fresh: Vec<&Tp> = {
            let mut group = lock(&self.group);
            let fresh: Vec<&Tp> = listed
                .iter()
                .filter(|tp| group.started.insert((*tp).clone()))
                .collect();
            // A partition with a known position (from the checkpoint the
            // run started from, or handed over by another instance of this
            // process) goes on from there, whatever the start setting or
            // the group's offsets say.
            for tp in listed {
                if let Some(next) = group.restored.get(tp) {
                    let _ = tpl.set_partition_offset(&tp.0, tp.1, Offset::Offset(*next));
                }
            }
            fresh
                .into_iter()
                .filter(|tp| !group.restored.contains_key(*tp))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let offset = match self.start {
            Start::Committed => return,
            Start::Earliest => Offset::Beginning,
            Start::Latest => Offset::End,
            Start::Timestamp(ms) => {
                // Look the offsets up, then set each fresh partition's.
                let mut query = TopicPartitionList::new();
                for (t, p) in &fresh {
                    let _ = query.add_partition_offset(t, *p, Offset::Offset(ms));
                }
                match consumer.offsets_for_times(query, Duration::from_secs(10)) {
                    Ok(found) => {
                        for e in found.elements() {
                            if let Err(err) = e.error() {
                                tracing::warn!(source = %self.source, "no offset for {ms}ms in {}/{}: {err}; reading from the beginning", e.topic(), e.partition());
                                let _ = tpl.set_partition_offset(
                                    e.topic(),
                                    e.partition(),
                                    Offset::Beginning,
                                );
                                continue;
                            }
                            let _ = tpl.set_partition_offset(e.topic(), e.partition(), e.offset());
                        }
                    }
                    Err(e) => {
                        lock(&self.shared).error =
                            Some(format!("could not find the offsets at {ms}ms: {e}"));
                    }
                }
                return;
            }
        };
        for (t, p) in fresh {
            let _ = tpl.set_partition_offset(t, *p, offset);
        }
    }
}

/// One source instance: a consumer in the group.
struct KafkaOrigin<T, R> {
    reader: R,
    name: String,
    instance: usize,
    topics: Vec<String>,
    settings: KafkaSourceSettings,
    config: ClientConfig,
    bad: BadInput,
    consumer: Option<BaseConsumer<Callbacks>>,
    shared: Arc<Mutex<Shared>>,
    group: Arc<Mutex<Group>>,
    revoking: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
    /// A revocation waits: commit at the end of this batch, then give the
    /// partitions up.
    must_commit: bool,
    /// Partitions by the dense id the watermarks see.
    ids: Vec<Tp>,
    /// Ids of the partitions assigned now.
    assigned: Vec<usize>,
    /// The partition of the last fill.
    last: usize,
    /// Next offset per partition id, of records handed to the chain (`-1`:
    /// none since the partition was assigned).
    read: Vec<i64>,
    /// Per partition id: whether a record at or after a `timestamp` start
    /// has been read.
    reached: Vec<bool>,
    /// Partitions this instance marked as read to their end (`bounded`).
    marked_end: HashSet<i32>,
    /// A record from another partition than the batch's, for the next
    /// fill, with its offset (counted as read once handed out).
    stash: Option<(usize, i64, T)>,
    last_commit: Instant,
    uncommitted: bool,
    down_since: Option<Instant>,
    last_probe: Instant,
    ended: bool,
    warned_missing: bool,
    env: Option<RunEnv>,
    /// Whether checkpoints decide when offsets are committed.
    checkpointed: bool,
    /// The last checkpoint this instance took.
    last_epoch: u64,
    /// The offsets saved for checkpoints not known complete yet.
    saved: Vec<(u64, Vec<(Tp, i64)>)>,
}

impl<T, R> Drop for KafkaOrigin<T, R> {
    fn drop(&mut self) {
        // Closing the consumer leaves the group, which revokes its
        // partitions from inside the close: nothing may wait for us then.
        self.closing.store(true, Ordering::Release);
        // A revocation still waiting (the task failed before committing)
        // is given up without a commit: its records are read again.
        let waiting = lock(&self.shared).revoking.take();
        if let (Some(revoked), Some(consumer)) = (waiting, &self.consumer) {
            let mut tpl = TopicPartitionList::new();
            for (topic, partition) in &revoked {
                tpl.add_partition(topic, *partition);
            }
            give_up(consumer, &tpl, &self.name);
        }
        self.consumer = None;
    }
}

impl<T, R> KafkaOrigin<T, R> {
    fn error(&self, message: String, retryable: bool) -> PipelineError {
        PipelineError::from(ErrorKind::Source {
            source_name: self.name.clone(),
            message,
            retryable,
        })
    }

    /// Drops the position kept for partition `id` (see `Group::restored`).
    fn forget_kept(&self, id: usize) {
        lock(&self.group).restored.remove(&self.ids[id]);
    }

    /// Takes in a rebalance's new assignment and any callback failure.
    fn follow_callbacks(&mut self) -> Result<()> {
        let (assigned, error, down_since) = {
            let mut shared = lock(&self.shared);
            let assigned = std::mem::take(&mut shared.changed).then(|| shared.assigned.clone());
            (assigned, shared.error.take(), shared.down_since)
        };
        if let Some(message) = error {
            return Err(self.error(message, false));
        }
        if let Some(assigned) = assigned {
            self.assigned = assigned
                .iter()
                .map(|(t, p)| intern(&mut self.ids, t, *p))
                .collect();
            for (id, next) in self.read.iter_mut().enumerate() {
                if !self.assigned.contains(&id) {
                    *next = -1;
                }
            }
        }
        self.down_since = down_since;
        Ok(())
    }

    /// While brokers are unreachable: checks whether they are back, and
    /// fails once they have been gone longer than allowed.
    fn watch_brokers(&mut self) -> Result<()> {
        let Some(since) = self.down_since else {
            return Ok(());
        };
        if self.last_probe.elapsed() >= Duration::from_secs(1) {
            self.last_probe = Instant::now();
            let reachable = self
                .consumer
                .as_ref()
                .is_some_and(|c| c.fetch_metadata(None, Duration::from_millis(500)).is_ok());
            if reachable {
                tracing::info!(source = %self.name, "Kafka broker reachable again");
                lock(&self.shared).down_since = None;
                self.down_since = None;
                return Ok(());
            }
        }
        if since.elapsed() >= self.settings.unavailable_timeout {
            return Err(self.error(
                format!(
                    "no Kafka broker reachable at {} for {}; start one or point `brokers` (or PIPELINE_KAFKA_BROKERS) at a running cluster",
                    self.settings.brokers,
                    humantime::format_duration(self.settings.unavailable_timeout)
                ),
                true,
            ));
        }
        Ok(())
    }

    /// Commits the offsets of the records handed out so far.
    fn commit_now(&mut self, mode: CommitMode) -> Result<()> {
        let Some(consumer) = &self.consumer else {
            return Ok(());
        };
        let mut tpl = TopicPartitionList::new();
        let mut group = lock(&self.group);
        for (id, &next) in self.read.iter().enumerate().filter(|(_, n)| **n >= 0) {
            let (topic, partition) = &self.ids[id];
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(next));
            group.committed.insert(self.ids[id].clone());
        }
        drop(group);
        if tpl.count() > 0
            && let Err(e) = consumer.commit(&tpl, mode)
        {
            // A failed commit only means some records may be read again.
            tracing::warn!(source = %self.name, "could not commit offsets: {e}");
        }
        self.last_commit = Instant::now();
        self.uncommitted = false;
        Ok(())
    }

    /// Gives up the partitions of a waiting revocation, now that their
    /// records are committed. A partition no record was read from goes
    /// back to its start position for its next owner.
    fn finish_revocation(&mut self) {
        self.must_commit = false;
        let Some(revoked) = lock(&self.shared).revoking.take() else {
            return;
        };
        self.revoking.store(false, Ordering::Release);
        // A stashed record of a revoked partition is its next owner's now.
        if let Some((id, _, _)) = &self.stash
            && revoked.contains(&self.ids[*id])
        {
            self.stash = None;
        }
        let mut tpl = TopicPartitionList::new();
        {
            let mut group = lock(&self.group);
            for (topic, partition) in &revoked {
                tpl.add_partition(topic, *partition);
                let id = intern(&mut self.ids, topic, *partition);
                let tp = (topic.clone(), *partition);
                if self.read.get(id).is_none_or(|next| *next < 0) && !group.committed.contains(&tp)
                {
                    group.started.remove(&tp);
                }
                if let Some(next) = self.read.get_mut(id) {
                    *next = -1;
                }
            }
        }
        if let Some(consumer) = &self.consumer {
            give_up(consumer, &tpl, &self.name);
        }
        let mut shared = lock(&self.shared);
        shared.assigned.retain(|tp| !revoked.contains(tp));
        shared.changed = true;
        tracing::info!(
            source = %self.name,
            "revoked {}; reading {}",
            describe(&revoked),
            describe(&shared.assigned)
        );
    }

    /// Whether a bounded source is done: every partition of the topic has
    /// been read to its end by some instance of this source, and this
    /// instance's assignment is settled.
    fn at_end(&self) -> bool {
        if !self.settings.bounded || self.stash.is_some() || self.must_commit {
            return false;
        }
        let settled = {
            let shared = lock(&self.shared);
            shared.settled && shared.revoking.is_none()
        };
        let group = lock(&self.group);
        settled && group.partitions.is_some_and(|n| group.at_end.len() >= n)
    }

    /// `bounded`: learns the topic's partition count once.
    fn count_partitions(&mut self) {
        if !self.settings.bounded || lock(&self.group).partitions.is_some() {
            return;
        }
        let Some(consumer) = &self.consumer else {
            return;
        };
        if let Ok(metadata) = consumer.fetch_metadata(Some(&self.topics[0]), Duration::from_secs(5))
            && let Some(topic) = metadata.topics().first()
            && !topic.partitions().is_empty()
        {
            lock(&self.group).partitions = Some(topic.partitions().len());
        }
    }
}

impl<T: Send, R: ReadMessage<T>> Origin<T> for KafkaOrigin<T, R> {
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        self.env = Some(env.clone());
        self.checkpointed = env.checkpointing();
        self.bad.open(env);
        let callbacks = Callbacks {
            shared: self.shared.clone(),
            group: self.group.clone(),
            revoking: self.revoking.clone(),
            closing: self.closing.clone(),
            start: self.settings.start,
            source: self.name.clone(),
        };
        let consumer: BaseConsumer<Callbacks> = self
            .config
            .create_with_context(callbacks)
            .map_err(|e| self.error(format!("bad Kafka settings: {e}"), false))?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| self.error(format!("could not subscribe to {topics:?}: {e}"), false))?;
        tracing::debug!(source = %self.name, instance = self.instance, "subscribed to {topics:?}");
        self.consumer = Some(consumer);
        Ok(())
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        if let Some((id, offset, item)) = self.stash.take() {
            if self.read[id] < 0 && self.checkpointed {
                self.forget_kept(id);
            }
            self.last = id;
            self.read[id] = offset + 1;
            buf.push(item);
        }
        self.count_partitions();
        let deadline = Instant::now() + TICK;
        loop {
            if buf.len() >= BATCH
                || self.env.as_ref().is_some_and(RunEnv::is_cancelled)
                || self.revoking.load(Ordering::Acquire)
            {
                break;
            }
            let wait = if buf.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            let Some(consumer) = &self.consumer else {
                break;
            };
            let message = match consumer.poll(wait) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    // `bounded` reads one topic, so the number names it.
                    lock(&self.group).at_end.insert(partition);
                    self.marked_end.insert(partition);
                    continue;
                }
                Some(Err(e)) => {
                    let retryable = matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::BrokerTransportFailure
                                | RDKafkaErrorCode::AllBrokersDown
                                | RDKafkaErrorCode::OperationTimedOut
                        )
                    );
                    if retryable {
                        let mut shared = lock(&self.shared);
                        shared.down_since.get_or_insert_with(Instant::now);
                        continue;
                    }
                    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
                        // The topic may be created later: keep waiting.
                        if !self.warned_missing {
                            self.warned_missing = true;
                            tracing::warn!(source = %self.name, "topic {:?} does not exist (yet); waiting for it", self.topics);
                        }
                        continue;
                    }
                    return Err(self.error(format!("reading failed: {e}"), false));
                }
                Some(Ok(message)) => message,
            };
            let (partition, offset) = (message.partition(), message.offset());
            // With one topic the partition number names the partition; skip
            // reading the topic's name then.
            let id = if self.topics.len() == 1 && !self.topics[0].starts_with('^') {
                intern(&mut self.ids, &self.topics[0], partition)
            } else {
                intern(&mut self.ids, message.topic(), partition)
            };
            if self.read.len() <= id {
                self.read.resize(id + 1, -1);
                self.reached.resize(id + 1, false);
            }
            // The first record of the partition this instance hands out
            // (or skips): a position kept for the partition (restored or
            // handed over) has then done its job, and must not apply to a
            // later assignment. A stashed record is not handed out yet.
            let first = self.read[id] < 0 && self.checkpointed;
            self.uncommitted = true;
            // Only the reader of a partition marks its end: most records
            // need no lock here.
            if !self.marked_end.is_empty() && self.marked_end.remove(&partition) {
                lock(&self.group).at_end.remove(&partition);
            }
            if let Start::Timestamp(t) = self.settings.start
                && !self.reached[id]
            {
                // Brokers answer the offset for a time from their index,
                // which may point early (the test broker answers 0): skip
                // up to the first record at or after the time, as Kafka
                // defines the start.
                if message.timestamp().to_millis().is_some_and(|ts| ts < t) {
                    self.read[id] = offset + 1;
                    if first {
                        self.forget_kept(id);
                    }
                    continue;
                }
                self.reached[id] = true;
            }
            match self.reader.read(&message) {
                Ok(item) if buf.is_empty() || id == self.last => {
                    self.last = id;
                    self.read[id] = offset + 1;
                    if first {
                        self.forget_kept(id);
                    }
                    buf.push(item);
                }
                Ok(item) => {
                    self.stash = Some((id, offset, item));
                    break;
                }
                Err(error) => {
                    self.read[id] = offset + 1;
                    if first {
                        self.forget_kept(id);
                    }
                    let raw = String::from_utf8_lossy(message.payload().unwrap_or_default());
                    let topic = message.topic();
                    self.bad.handle(
                        || Position::other(format!("{topic}/{partition}@{offset}")),
                        &raw,
                        error,
                    )?;
                }
            }
        }
        self.bad.flush()?;
        self.follow_callbacks()?;
        self.watch_brokers()?;
        if self.revoking.load(Ordering::Acquire) {
            self.must_commit = true;
        }
        if self.at_end() {
            self.ended = true;
            self.bad.finish()?;
            return Ok(Fill::End);
        }
        Ok(Fill::More)
    }

    /// With checkpoints, offsets are committed when a checkpoint is
    /// complete, and only a revocation commits on its own.
    fn commit_due(&self) -> bool {
        self.must_commit
            || (!self.checkpointed
                && self.uncommitted
                && self.last_commit.elapsed() >= self.settings.commit_interval)
    }

    /// The next offset of every partition this instance has read from or
    /// is assigned (its fetch position, once known), and every position
    /// restored or handed over in this process (a checkpoint taken while
    /// the group is still being joined must not forget where reading goes
    /// on; where instances disagree, a restore takes the furthest); also
    /// passes the barrier to the dead-letter stream.
    fn snapshot(
        &mut self,
        snapshot: &mut pipeline_runtime::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        self.bad.snapshot(snapshot)?;
        let mut positions: std::collections::BTreeMap<Tp, i64> = lock(&self.group)
            .restored
            .iter()
            .map(|(tp, next)| (tp.clone(), *next))
            .collect();
        for (id, next) in self.read.iter().enumerate().filter(|(_, n)| **n >= 0) {
            positions.insert(self.ids[id].clone(), *next);
        }
        // A record read but not handed out yet comes after the barrier.
        if let Some((id, offset, _)) = &self.stash {
            positions.insert(self.ids[*id].clone(), *offset);
        }
        // Assigned partitions nothing was read from yet: where the
        // consumer will start, so a restore does not fall back to `start`.
        let unread: Vec<&Tp> = self
            .assigned
            .iter()
            .map(|id| &self.ids[*id])
            .filter(|tp| !positions.contains_key(*tp))
            .collect();
        if !unread.is_empty()
            && let Some(consumer) = &self.consumer
            && let Ok(at) = consumer.position()
        {
            for e in at.elements() {
                let tp = (e.topic().to_owned(), e.partition());
                if let Offset::Offset(next) = e.offset()
                    && next >= 0
                    && unread.contains(&&tp)
                {
                    positions.insert(tp, next);
                }
            }
        }
        let offsets: Vec<(Tp, i64)> = positions.into_iter().collect();
        let json = serde_json::json!({
            "offsets": offsets.iter().map(|((t, p), n)| serde_json::json!([t, p, n])).collect::<Vec<_>>()
        });
        match snapshot.epoch() {
            Some(epoch) => {
                self.last_epoch = epoch;
                self.saved.push((epoch, offsets));
            }
            // The last positions, after the input ended: covered by any
            // checkpoint after the last one taken.
            None => self.saved.push((u64::MAX, offsets)),
        }
        Ok(Some(json))
    }

    /// Every instance's saved offsets, for whichever instance is assigned
    /// each partition now (the parallelism may differ from then). Where
    /// instances disagree (one carried a restored position, another read
    /// on from it), the furthest wins: positions only move forward.
    fn restore(&mut self, _instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        let mut group = lock(&self.group);
        for position in saved.iter().flatten() {
            let offsets = position
                .get("offsets")
                .and_then(serde_json::Value::as_array);
            for entry in offsets.into_iter().flatten() {
                let parsed = (
                    entry.get(0).and_then(serde_json::Value::as_str),
                    entry.get(1).and_then(serde_json::Value::as_i64),
                    entry.get(2).and_then(serde_json::Value::as_i64),
                );
                let (Some(topic), Some(partition), Some(next)) = parsed else {
                    return Err(
                        self.error(format!("a saved Kafka position is damaged: {entry}"), false)
                    );
                };
                let partition = i32::try_from(partition).map_err(|_| {
                    self.error(format!("a saved Kafka position is damaged: {entry}"), false)
                })?;
                let at = group
                    .restored
                    .entry((topic.to_owned(), partition))
                    .or_insert(next);
                *at = (*at).max(next);
            }
        }
        Ok(())
    }

    /// Commits the offsets saved for the newest complete checkpoint, of
    /// the partitions this instance reads now, so the group's committed
    /// offsets (lag monitoring, a start without a checkpoint) follow the
    /// checkpoints.
    fn checkpoint_complete(&mut self, epoch: u64) -> Result<()> {
        let covered = |e: u64| e <= epoch || (e == u64::MAX && epoch > self.last_epoch);
        let Some(last) = self.saved.iter().rposition(|(e, _)| covered(*e)) else {
            return Ok(());
        };
        let done: Vec<_> = self.saved.drain(..=last).collect();
        let Some((_, offsets)) = done.last() else {
            return Ok(());
        };
        let Some(consumer) = &self.consumer else {
            return Ok(());
        };
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in offsets {
            let mine = self
                .assigned
                .iter()
                .any(|id| self.ids[*id].0 == *topic && self.ids[*id].1 == *partition);
            if mine {
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
            }
        }
        if tpl.count() > 0
            && let Err(e) = consumer.commit(&tpl, CommitMode::Async)
        {
            tracing::warn!(source = %self.name, "could not commit the offsets of checkpoint {epoch}: {e}");
        }
        Ok(())
    }

    /// Without checkpoints: commits the offsets read. With checkpoints,
    /// offsets are committed when a checkpoint completes; a revocation
    /// only hands the revoked partitions' positions to their next owner in
    /// this process (a commit now would run ahead of the checkpoints),
    /// once no checkpoint is in progress. The instance does not poll while
    /// it waits: a checkpoint longer than `max.poll.interval.ms` (5 min)
    /// makes the group drop it, and its partitions are read again by
    /// their next owner from the last checkpoint's offsets.
    fn commit(&mut self) -> Result<()> {
        if self.checkpointed {
            // Positions handed over while a checkpoint is being taken
            // could mix both sides of its barrier: wait for it to end
            // (the revocation stays due and is tried after each batch).
            let busy = self
                .env
                .as_ref()
                .is_some_and(RunEnv::checkpoint_in_progress);
            if self.must_commit && busy {
                // Not a busy loop while the checkpoint completes.
                std::thread::sleep(Duration::from_millis(1));
            }
            if self.must_commit && !busy {
                let revoked = lock(&self.shared).revoking.clone().unwrap_or_default();
                let mut group = lock(&self.group);
                let mut handed: Vec<(usize, i64)> = self
                    .read
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n >= 0)
                    .map(|(id, n)| (id, *n))
                    .collect();
                // A stashed record of a revoked partition was not handed
                // out: its next owner starts there.
                if let Some((id, offset, _)) = &self.stash
                    && self.read[*id] < 0
                {
                    handed.push((*id, *offset));
                }
                for (id, next) in handed {
                    if revoked.contains(&self.ids[id]) {
                        let at = group.restored.entry(self.ids[id].clone()).or_insert(next);
                        *at = (*at).max(next);
                    }
                }
                drop(group);
                self.finish_revocation();
            }
            return Ok(());
        }
        self.commit_now(if self.ended || self.must_commit {
            CommitMode::Sync
        } else {
            CommitMode::Async
        })?;
        if self.must_commit {
            self.finish_revocation();
        }
        Ok(())
    }

    fn partitions(&self) -> Option<PartitionView<'_>> {
        Some(PartitionView {
            last: self.last,
            assigned: &self.assigned,
        })
    }
}
