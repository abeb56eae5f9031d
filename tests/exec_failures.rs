//! Failures stop the whole run promptly with the root cause, instead of
//! hanging: a panicking closure, a failing sink while a source waits for
//! input, bad settings. Each run is under a watchdog, so a hang fails the
//! test instead of blocking the suite.

use pipeline::prelude::*;
use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a thread and fails if it takes longer than `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the run did not stop within {limit:?}"))
}

pipeline! {
    pipeline PanicsInMap {
        source xs: u64 = generator(rate: 2000, record: |i: u64| i);
        xs -> map(|x: u64| if x == 300 { panic!("record {x} is cursed") } else { x })
           -> key_by(|x: &u64| x % 7)
           -> aggregate(count())
           -> sink collect(name: "out");
    }
}

#[test]
fn a_panicking_closure_fails_the_run_and_stops_an_unbounded_source() {
    for p in [1, 3] {
        let err = within(Duration::from_secs(20), move || {
            PanicsInMap::run_with(RunOptions::default().with_parallelism(p)).unwrap_err()
        });
        let text = err.to_string();
        assert!(text.contains("panicked: record 300 is cursed"), "{text}");
    }
}

pipeline! {
    pipeline IdleSourceBadSink {
        source lines: String = socket(port: 9);
        lines -> sink file(name: "out", path: "/nonexistent-dir/out.txt", format: text);
        lines -> sink collect(name: "copy");
    }
}

#[test]
fn a_failing_sink_stops_a_source_that_waits_for_input() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        // One line, then silence with the connection open.
        conn.write_all(b"hello\n").unwrap();
        std::thread::sleep(Duration::from_secs(60));
    });
    let err = within(Duration::from_secs(20), move || {
        let opts = RunOptions::default()
            .with_setting(&format!("lines.port={port}"))
            .unwrap();
        IdleSourceBadSink::run_with(opts).unwrap_err()
    });
    let text = err.to_string();
    assert!(text.contains("sink `out`: cannot create"), "{text}");
}

pipeline! {
    pipeline RateZero {
        source xs: u64 = generator(count: 10, record: |i: u64| i);
        xs -> sink collect(name: "out");
    }
}

#[test]
fn bad_settings_are_config_errors() {
    let opts = RunOptions::default().with_setting("xs.rate=0").unwrap();
    let err = RateZero::run_with(opts).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("`xs.rate`: must be at least 1"),
        "{err}"
    );
    let err = RateZero::run_with(RunOptions::default().with_parallelism(129)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("setting `parallelism`"), "{err}");
}

pipeline! {
    pipeline NotUtf8 {
        source lines: String = socket(port: 9, on_error: skip);
        lines -> sink collect(name: "out");
    }
}

#[test]
fn lines_that_are_not_utf8_follow_the_bad_input_policy() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"good\n\xff\xfe bad\nalso good").unwrap();
    });
    let out = within(Duration::from_secs(20), move || {
        let opts = RunOptions::default()
            .with_setting(&format!("lines.port={port}"))
            .unwrap();
        NotUtf8::run_with(opts).unwrap()
    });
    let got: Vec<String> = out.collected("out").unwrap();
    assert_eq!(got, vec!["good", "also good"]);
    assert_eq!(out.stats[0].skipped, 1);
}
