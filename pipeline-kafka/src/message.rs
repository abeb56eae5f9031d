//! What a Kafka source produces from a message: the decoded value alone,
//! or the value with the message's key, headers, position and timestamp.

use pipeline_runtime::format::Decode;
use pipeline_runtime::{DecodeError, Event, Timestamp};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use serde::{Deserialize, Serialize};

/// A Kafka record with its metadata. Declare a source's records as
/// `KafkaMessage<T>` to see them; its event time is the Kafka timestamp
/// (create or log-append time, `0` when the message has none).
///
/// # Examples
///
/// ```
/// use pipeline::kafka::KafkaMessage;
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Audit {
///         source raw: KafkaMessage<String> = kafka(topic: "events", format: string, watermark: bounded(1s));
///         raw -> map(|m: KafkaMessage<String>| format!("{}/{}@{}: {}", m.topic, m.partition, m.offset, m.value))
///             -> sink stdout(format: text);
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaMessage<T> {
    /// The decoded value.
    pub value: T,
    /// The message key, if any.
    pub key: Option<Vec<u8>>,
    /// Headers in order; a header without a value has `None`.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset in its partition.
    pub offset: i64,
    /// The Kafka timestamp, if the message has one.
    pub timestamp: Option<Timestamp>,
}

impl<T> Event for KafkaMessage<T> {
    fn event_time(&self) -> Timestamp {
        self.timestamp.unwrap_or_default()
    }
}

/// Turns a consumed message into a record.
pub trait ReadMessage<T>: Clone + Send + 'static {
    /// The record of `message`.
    fn read(&mut self, message: &BorrowedMessage<'_>) -> Result<T, DecodeError>;
}

/// Records are the decoded message values.
#[derive(Debug, Clone, Copy)]
pub struct Value<D>(pub D);

impl<T, D: Decode<T>> ReadMessage<T> for Value<D> {
    #[inline]
    fn read(&mut self, message: &BorrowedMessage<'_>) -> Result<T, DecodeError> {
        self.0.decode_bytes(message.payload().unwrap_or_default())
    }
}

/// Records are [`KafkaMessage`]s: decoded values with their metadata.
#[derive(Debug, Clone, Copy)]
pub struct WithMetadata<D>(pub D);

impl<T, D: Decode<T>> ReadMessage<KafkaMessage<T>> for WithMetadata<D> {
    fn read(&mut self, message: &BorrowedMessage<'_>) -> Result<KafkaMessage<T>, DecodeError> {
        let value = self.0.decode_bytes(message.payload().unwrap_or_default())?;
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(KafkaMessage {
            value,
            key: message.key().map(<[u8]>::to_vec),
            headers,
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis().map(Timestamp::from_millis),
        })
    }
}
