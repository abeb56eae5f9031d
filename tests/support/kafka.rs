//! The tests' side of Kafka: the broker the test script started, unique
//! topic names, and a plain producer and consumer to feed pipelines and
//! read what they wrote.

#![allow(dead_code, unreachable_pub)]

use pipeline::prelude::RunOptions;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The broker the tests run against: `$PIPELINE_KAFKA_BROKERS`. A Kafka
/// test never skips: without a reachable broker it fails and says how to
/// start one.
pub fn brokers() -> String {
    let how = "run the tests with `scripts/test.sh` (it starts a local broker), or start one with `scripts/kafka-start.sh 9092` and set PIPELINE_KAFKA_BROKERS=127.0.0.1:9092";
    let brokers = std::env::var("PIPELINE_KAFKA_BROKERS")
        .unwrap_or_else(|_| panic!("PIPELINE_KAFKA_BROKERS is not set: {how}"));
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("a consumer can be configured");
    if let Err(e) = consumer.fetch_metadata(None, Duration::from_secs(10)) {
        panic!("no Kafka broker answers at {brokers} ({e}): {how}");
    }
    brokers
}

/// A topic or group name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// `opts` with the source `source` reading `topic` in a fresh consumer
/// group, joining fast (the test broker answers a group join after half the
/// session timeout).
pub fn reading(opts: RunOptions, source: &str, topic: &str) -> RunOptions {
    opts.with_setting(&format!("{source}.topic=\"{topic}\""))
        .and_then(|o| o.with_setting(&format!("{source}.group=\"{}\"", unique("group"))))
        .and_then(|o| o.with_setting(&format!("{source}.session.timeout.ms=3000")))
        .expect("valid settings")
}

/// `opts` with the sink `sink` writing to `topic`.
pub fn writing(opts: RunOptions, sink: &str, topic: &str) -> RunOptions {
    opts.with_setting(&format!("{sink}.topic=\"{topic}\""))
        .expect("valid settings")
}

/// Creates `topic` with `partitions` partitions.
pub fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("an admin client");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = futures_executor::block_on(admin.create_topics([&new], &AdminOptions::new()))
        .expect("create_topics answers");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
}

/// One message to produce.
#[derive(Debug, Clone, Default)]
pub struct Out {
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub timestamp: Option<i64>,
    pub partition: Option<i32>,
    pub headers: Vec<(String, String)>,
}

impl Out {
    pub fn value(value: impl Into<Vec<u8>>) -> Self {
        Out {
            value: value.into(),
            ..Out::default()
        }
    }

    pub fn keyed(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Out {
            key: Some(key.into()),
            ..Out::value(value)
        }
    }
}

/// Produces `messages` to `topic` and waits until all are acknowledged.
pub fn produce(brokers: &str, topic: &str, messages: impl IntoIterator<Item = Out>) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
        .expect("a producer");
    for m in messages {
        let mut record = BaseRecord::to(topic).payload(&m.value);
        if let Some(key) = &m.key {
            record = record.key(key.as_bytes());
        }
        if let Some(ts) = m.timestamp {
            record = record.timestamp(ts);
        }
        if let Some(p) = m.partition {
            record = record.partition(p);
        }
        if !m.headers.is_empty() {
            let mut headers = OwnedHeaders::new();
            for (k, v) in &m.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            record = record.headers(headers);
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(_), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("producing to {topic}: {e}"),
            }
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("every message is acknowledged");
}

/// A consumed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct In {
    pub key: Option<String>,
    pub value: String,
    pub partition: i32,
    pub headers: Vec<(String, String)>,
}

/// Reads `topic` from the beginning until at least `at_least` messages
/// came and every partition is read to its end, or `timeout` passes.
pub fn consume(brokers: &str, topic: &str, at_least: usize, timeout: Duration) -> Vec<In> {
    consume_with(brokers, topic, at_least, timeout, "read_committed")
}

/// As [`consume`], with the consumer's `isolation.level`.
pub fn consume_with(
    brokers: &str,
    topic: &str,
    at_least: usize,
    timeout: Duration,
    isolation: &str,
) -> Vec<In> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("isolation.level", isolation)
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let partitions = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()
        .and_then(|m| m.topics().first().map(|t| t.partitions().len()))
        .unwrap_or(1);
    let mut got = Vec::new();
    let mut at_end = HashSet::new();
    let started = Instant::now();
    while started.elapsed() < timeout {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
                if got.len() >= at_least && at_end.len() >= partitions {
                    break;
                }
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                let v = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                                (h.key.to_owned(), v.into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                got.push(In {
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                    partition: m.partition(),
                    headers,
                });
            }
        }
    }
    got
}
