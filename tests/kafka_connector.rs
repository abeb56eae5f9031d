//! The Kafka source and sink against a real Kafka-API broker: a round trip
//! per format, message metadata, bad records per policy, and a restart
//! that resumes from the committed offsets.

#[path = "support/kafka.rs"]
mod kafka;

use kafka::{Out, brokers, consume, create_topic, produce, reading, unique, writing};
use pipeline::kafka::KafkaMessage;
use pipeline::prelude::*;
use pipeline::runtime::connector::DeadLetter;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Event)]
struct Click {
    user: String,
    page: String,
    #[event_time]
    ts: i64,
}

fn clicks(n: usize) -> Vec<Click> {
    (0..n)
        .map(|i| Click {
            user: format!("u{}", i % 7),
            page: format!("/p/{}", i % 5),
            ts: 1_700_000_000_000 + i as i64 * 100,
        })
        .collect()
}

/// Options naming the test's input topic (and a fresh consumer group).
fn source_opts(source: &str, topic_in: &str) -> RunOptions {
    reading(RunOptions::default(), source, topic_in)
}

/// Options naming the test's own topics (and a fresh consumer group).
fn opts(source: &str, topic_in: &str, sink: &str, topic_out: &str) -> RunOptions {
    writing(source_opts(source, topic_in), sink, topic_out)
}

/// Fresh input and output topics with `partitions` partitions.
fn topics(name: &str, partitions: i32) -> (String, String, String) {
    let brokers = brokers();
    let (tin, tout) = (
        unique(&format!("{name}-in")),
        unique(&format!("{name}-out")),
    );
    create_topic(&brokers, &tin, partitions);
    create_topic(&brokers, &tout, partitions);
    (brokers, tin, tout)
}

pipeline! {
    pipeline JsonTrip {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true);
        clicks -> map(|mut c: Click| { c.page = c.page.to_uppercase(); c })
            -> sink kafka(name: "out", topic: "out", format: json, key: |c: &Click| c.user.clone(),
                          headers: |c: &Click| [("page", c.page.clone())]);
    }
}

#[test]
fn json_round_trip_keeps_every_record_with_key_and_headers() {
    let (brokers, tin, tout) = topics("json", 3);
    let input = clicks(500);
    produce(
        &brokers,
        &tin,
        input
            .iter()
            .map(|c| Out::keyed(&c.user, serde_json::to_vec(c).unwrap())),
    );
    let outcome = JsonTrip::run_with(opts("clicks", &tin, "out", &tout)).expect("runs");
    assert!(
        outcome.summary().contains("sink out (kafka) 500"),
        "{}",
        outcome.summary()
    );
    let got = consume(&brokers, &tout, 500, WAIT);
    assert_eq!(got.len(), 500);
    let mut values: Vec<Click> = got
        .iter()
        .map(|m| {
            let c: Click = serde_json::from_str(&m.value).unwrap();
            assert_eq!(m.key.as_deref(), Some(c.user.as_str()));
            assert_eq!(m.headers, vec![("page".to_owned(), c.page.clone())]);
            c
        })
        .collect();
    values.sort();
    let mut expected: Vec<Click> = input
        .into_iter()
        .map(|mut c| {
            c.page = c.page.to_uppercase();
            c
        })
        .collect();
    expected.sort();
    assert_eq!(values, expected);
}

pipeline! {
    pipeline CsvTrip {
        source clicks: Click = kafka(topic: "in", format: csv, start: earliest, bounded: true);
        clicks -> filter(|c: &Click| c.user != "u0") -> sink kafka(name: "out", topic: "out", format: csv);
    }
}

pipeline! {
    pipeline StringTrip {
        source lines: String = kafka(topic: "in", format: string, start: earliest, bounded: true);
        lines -> flat_map(|l: String| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
            -> sink kafka(name: "out", topic: "out", format: string);
    }
}

pipeline! {
    pipeline RawTrip {
        source bytes: Vec<u8> = kafka(topic: "in", format: raw, start: earliest, bounded: true);
        bytes -> map(|mut b: Vec<u8>| { b.reverse(); b }) -> sink kafka(name: "out", topic: "out", format: raw);
    }
}

#[test]
fn csv_string_and_raw_round_trips() {
    // CSV: header-less rows by position.
    let (brokers, tin, tout) = topics("csv", 2);
    let input = clicks(100);
    produce(
        &brokers,
        &tin,
        input
            .iter()
            .map(|c| Out::value(format!("{},{},{}", c.user, c.page, c.ts))),
    );
    CsvTrip::run_with(opts("clicks", &tin, "out", &tout)).expect("runs");
    let mut got: Vec<String> = consume(&brokers, &tout, 1, WAIT)
        .into_iter()
        .map(|m| m.value)
        .collect();
    got.sort();
    let mut expected: Vec<String> = input
        .iter()
        .filter(|c| c.user != "u0")
        .map(|c| format!("{},{},{}", c.user, c.page, c.ts))
        .collect();
    expected.sort();
    assert_eq!(got, expected);

    // Strings: one message per word.
    let (brokers, tin, tout) = topics("string", 1);
    produce(
        &brokers,
        &tin,
        ["a b", "c", "d e f"].into_iter().map(Out::value),
    );
    StringTrip::run_with(opts("lines", &tin, "out", &tout)).expect("runs");
    let got: Vec<String> = consume(&brokers, &tout, 6, WAIT)
        .into_iter()
        .map(|m| m.value)
        .collect();
    assert_eq!(got, vec!["a", "b", "c", "d", "e", "f"]);

    // Raw: bytes that are not UTF-8 pass unchanged.
    let (brokers, tin, tout) = topics("raw", 1);
    produce(&brokers, &tin, [Out::value(vec![0xff, 0x00, 0x80])]);
    RawTrip::run_with(opts("bytes", &tin, "out", &tout)).expect("runs");
    let consumer_side = consume(&brokers, &tout, 1, WAIT);
    assert_eq!(consumer_side.len(), 1);
    assert_eq!(
        consumer_side[0].value,
        String::from_utf8_lossy(&[0x80, 0x00, 0xff])
    );
}

pipeline! {
    pipeline Metadata {
        source msgs: KafkaMessage<String> = kafka(topic: "in", format: string, start: earliest, bounded: true);
        msgs -> sink collect(name: "out");
    }
}

#[test]
fn kafka_message_records_carry_key_headers_position_and_time() {
    let (brokers, tin, _) = topics("meta", 1);
    produce(
        &brokers,
        &tin,
        (0..3).map(|i| Out {
            key: Some(format!("k{i}")),
            value: format!("v{i}").into_bytes(),
            timestamp: Some(1_700_000_000_000 + i),
            partition: Some(0),
            headers: vec![("h".into(), format!("x{i}"))],
        }),
    );
    let outcome = Metadata::run_with(source_opts("msgs", &tin)).expect("runs");
    let got: Vec<KafkaMessage<String>> = outcome.collected("out").unwrap();
    assert_eq!(got.len(), 3);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.value, format!("v{i}"));
        assert_eq!(m.key.as_deref(), Some(format!("k{i}").as_bytes()));
        assert_eq!(
            m.headers,
            vec![("h".to_owned(), Some(format!("x{i}").into_bytes()))]
        );
        assert_eq!(
            (m.topic.as_str(), m.partition, m.offset),
            (tin.as_str(), 0, i as i64)
        );
        assert_eq!(
            m.timestamp,
            Some(Timestamp::from_millis(1_700_000_000_000 + i as i64))
        );
        assert_eq!(
            m.event_time(),
            Timestamp::from_millis(1_700_000_000_000 + i as i64)
        );
    }
}

pipeline! {
    pipeline SkipBad {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true, on_error: skip);
        clicks -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline DeadLetters {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true, on_error: dead_letter(bad));
        clicks -> sink collect(name: "out");
        bad -> sink collect(name: "bad");
    }
}

pipeline! {
    pipeline FailBad {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true);
        clicks -> sink collect(name: "out");
    }
}

#[test]
fn bad_records_follow_the_policy_and_name_their_offset() {
    let (brokers, tin, _) = topics("bad", 1);
    let good = clicks(4);
    let mut messages: Vec<Out> = good
        .iter()
        .map(|c| Out::value(serde_json::to_vec(c).unwrap()))
        .collect();
    messages.insert(2, Out::value("{not json"));
    produce(&brokers, &tin, messages);

    let outcome = SkipBad::run_with(source_opts("clicks", &tin)).expect("runs");
    let got: Vec<Click> = outcome.collected("out").unwrap();
    assert_eq!(got, good);
    assert!(
        outcome.summary().contains("(1 bad skipped)"),
        "{}",
        outcome.summary()
    );

    let outcome = DeadLetters::run_with(source_opts("clicks", &tin)).expect("runs");
    let bad: Vec<DeadLetter> = outcome.collected("bad").unwrap();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].position, format!("{tin}/0@2"));
    assert_eq!(bad[0].raw, "{not json");

    let err = FailBad::run_with(source_opts("clicks", &tin)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&format!("{tin}/0@2")), "{message}");
    assert!(message.contains("source `clicks`"), "{message}");
}

pipeline! {
    pipeline Resume {
        source clicks: Click = kafka(topic: "in", format: json, start: committed, bounded: true);
        clicks -> sink collect(name: "out");
    }
}

#[test]
fn a_restart_resumes_from_the_committed_offsets() {
    let (brokers, tin, _) = topics("resume", 2);
    let all = clicks(30);
    let to_out = |c: &Click| Out::keyed(&c.user, serde_json::to_vec(c).unwrap());
    produce(&brokers, &tin, all[..20].iter().map(to_out));
    let group = unique("resume-group");
    let opts = || {
        RunOptions::default()
            .with_setting(&format!("clicks.topic=\"{tin}\""))
            .and_then(|o| o.with_setting(&format!("clicks.group=\"{group}\"")))
            .expect("valid settings")
    };
    let sorted = |mut v: Vec<Click>| {
        v.sort();
        v
    };
    let first: Vec<Click> = Resume::run_with(opts()).unwrap().collected("out").unwrap();
    assert_eq!(sorted(first), sorted(all[..20].to_vec()));
    produce(&brokers, &tin, all[20..].iter().map(to_out));
    let second: Vec<Click> = Resume::run_with(opts()).unwrap().collected("out").unwrap();
    assert_eq!(
        sorted(second),
        sorted(all[20..].to_vec()),
        "only the new records"
    );
}

pipeline! {
    pipeline FromTime {
        source msgs: KafkaMessage<String> = kafka(topic: "in", format: string, start: timestamp(1_700_000_000_005), bounded: true);
        msgs -> sink collect(name: "out");
    }
}

#[test]
fn start_at_a_timestamp_skips_older_records() {
    let (brokers, tin, _) = topics("from-time", 1);
    produce(
        &brokers,
        &tin,
        (0..10).map(|i| Out {
            timestamp: Some(1_700_000_000_000 + i),
            ..Out::value(format!("v{i}"))
        }),
    );
    let got: Vec<KafkaMessage<String>> = FromTime::run_with(source_opts("msgs", &tin))
        .expect("runs")
        .collected("out")
        .unwrap();
    let values: Vec<&str> = got.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(values, ["v5", "v6", "v7", "v8", "v9"]);
}
