//! Each bad-input policy: `fail`, `skip` and `dead_letter`.

use pipeline::prelude::*;
use pipeline::runtime::ErrorKind;
use pipeline::runtime::connector::DeadLetter;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    value: f64,
}

const INPUT: &str = "sensor,value\ns1,1.5\ns2,oops\ns1,2.5\n,,,\ns3,4\n";

fn input() -> (tempfile::TempDir, RunOptions) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("readings.csv");
    std::fs::write(&path, INPUT).unwrap();
    let opts = RunOptions::default()
        .with_setting(&format!("readings.path={:?}", path.display().to_string()))
        .unwrap();
    (dir, opts)
}

pipeline! {
    pipeline Fail {
        source readings: Reading = file(path: "x", format: csv, header: true);
        readings -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline Skip {
        source readings: Reading = file(path: "x", format: csv, header: true, on_error: skip);
        readings -> sink collect(name: "out");
    }
}

pipeline! {
    pipeline DeadLetters {
        source readings: Reading = file(path: "x", format: csv, header: true, on_error: dead_letter(bad));
        readings -> sink collect(name: "out");
        bad -> sink collect(name: "bad");
    }
}

#[test]
fn fail_stops_with_the_source_position_and_record() {
    let (_dir, opts) = input();
    let err = Fail::run_with(opts).unwrap_err();
    let ErrorKind::BadRecord {
        source_name,
        position,
        raw,
        ..
    } = err.kind()
    else {
        panic!("expected a bad record error, got {err}");
    };
    assert_eq!(source_name, "readings");
    assert!(position.as_str().ends_with("readings.csv:3"), "{position}");
    assert_eq!(raw, "s2,oops");
    let text = err.to_string();
    assert!(text.contains("invalid float literal"), "{text}");
}

#[test]
fn skip_drops_counts_and_keeps_the_rest() {
    let (_dir, opts) = input();
    let out = Skip::run_with(opts).unwrap();
    let got: Vec<Reading> = out.collected("out").unwrap();
    let values: Vec<f64> = got.iter().map(|r| r.value).collect();
    assert_eq!(values, vec![1.5, 2.5, 4.0]);
    assert_eq!(out.stats[0].skipped, 2);
    assert!(
        out.summary().contains("(2 bad skipped)"),
        "{}",
        out.summary()
    );
}

#[test]
fn dead_letters_go_to_their_own_stream() {
    let (_dir, opts) = input();
    let out = DeadLetters::run_with(opts).unwrap();
    let good: Vec<Reading> = out.collected("out").unwrap();
    assert_eq!(good.len(), 3);
    let bad: Vec<DeadLetter> = out.collected("bad").unwrap();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].source, "readings");
    assert!(bad[0].position.ends_with("readings.csv:3"), "{:?}", bad[0]);
    assert_eq!(bad[0].raw, "s2,oops");
    assert!(bad[1].position.ends_with("readings.csv:5"), "{:?}", bad[1]);
    assert!(!bad[1].error.is_empty());
}

#[test]
fn long_bad_records_are_cut_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("readings.csv");
    std::fs::write(
        &path,
        format!("sensor,value\ns1,{}\n", "9".repeat(10_000) + "x"),
    )
    .unwrap();
    let opts = RunOptions::default()
        .with_setting(&format!("readings.path={:?}", path.display().to_string()))
        .unwrap();
    let err = Fail::run_with(opts).unwrap_err();
    let ErrorKind::BadRecord { raw, .. } = err.kind() else {
        panic!("expected a bad record");
    };
    assert_eq!(raw.chars().count(), pipeline::runtime::MAX_QUOTED + 1);
    assert!(raw.ends_with('…'));
}
