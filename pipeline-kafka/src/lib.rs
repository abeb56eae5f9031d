//! Kafka source and sink for pipelines, on librdkafka (the `rdkafka`
//! crate).
//!
//! This crate is separate from the runtime so that only what uses Kafka
//! pays for building librdkafka. In the DSL:
//!
//! ```text
//! source clicks: Click = kafka(topic: "clicks", format: json, group: "counts",
//!                              start: earliest, watermark: bounded(5s));
//! .. -> sink kafka(topic: "counts", format: json, key: |w: &Windowed<String, u64>| w.key.clone());
//! ```
//!
//! Brokers come from the `brokers` setting (`--set clicks.brokers=..` or a
//! config file), else from `$PIPELINE_KAFKA_BROKERS`, else
//! `127.0.0.1:9092`. Any other setting is a librdkafka property.
//!
//! Scaling out follows Kafka Streams: run more copies of the pipeline with
//! the same consumer group, and the group spreads the partitions over
//! them. Keyed results are right across copies when the input topic is
//! partitioned by the key the pipeline groups by.

mod message;
mod sink;
mod source;

pub use message::{KafkaMessage, ReadMessage, Value, WithMetadata};
pub use sink::{
    Delivery, EPOCH_HEADER, HeadersOf, KafkaKey, KafkaSink, KafkaSinkSettings, KafkaWriter, KeyOf,
    NoHeaders, NoKey, SINK_HEADER,
};
pub use source::{KafkaSource, KafkaSourceSettings, Start};

use pipeline_runtime::{ConfigError, PipelineError};
use serde::{Deserialize, Serialize};

/// The environment variable naming the default brokers.
pub const BROKERS_ENV: &str = "PIPELINE_KAFKA_BROKERS";

/// The brokers used when a pipeline names none: `$PIPELINE_KAFKA_BROKERS`,
/// else `127.0.0.1:9092`.
///
/// # Examples
///
/// ```
/// let brokers = pipeline_kafka::default_brokers();
/// assert!(brokers.contains(':'));
/// ```
pub fn default_brokers() -> String {
    std::env::var(BROKERS_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:9092".to_owned())
}

/// A librdkafka property value as written in settings: text, a number or a
/// flag.
///
/// # Examples
///
/// ```
/// use pipeline_kafka::Property;
/// assert_eq!(Property::Int(500).to_string(), "500");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Property {
    /// A flag.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// Text.
    Text(String),
}

impl std::fmt::Display for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Property::Bool(b) => write!(f, "{b}"),
            Property::Int(i) => write!(f, "{i}"),
            Property::Float(x) => write!(f, "{x}"),
            Property::Text(s) => f.write_str(s),
        }
    }
}

/// A configuration error of the connector `name`.
fn settings_error(name: &str, message: &str) -> PipelineError {
    ConfigError::Invalid {
        name: name.to_owned(),
        message: message.to_owned(),
    }
    .into()
}
