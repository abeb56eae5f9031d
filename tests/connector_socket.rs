//! The socket source against real TCP servers on 127.0.0.1.

use pipeline::prelude::*;
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

pipeline! {
    /// Spark's network word count.
    pipeline NetworkWordCount {
        source lines: String = socket(host: "127.0.0.1", port: 9);
        lines
            -> flat_map(|l: String| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            -> key_by(|w: &String| w.clone())
            -> aggregate(count())
            -> sink collect(name: "counts");
    }
}

/// A server that accepts `connections` connections in turn and writes
/// `text` to each, then closes it.
fn serve(text: &'static str, connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..connections {
            let (mut conn, _) = listener.accept().unwrap();
            // Written in pieces, so lines straddle reads.
            for piece in text.as_bytes().chunks(7) {
                conn.write_all(piece).unwrap();
                conn.flush().unwrap();
            }
        }
    });
    port
}

fn opts(port: u16, parallelism: usize) -> RunOptions {
    RunOptions::default()
        .with_parallelism(parallelism)
        .with_setting(&format!("lines.port={port}"))
        .unwrap()
}

fn finals(mut updates: Vec<(String, u64)>) -> Vec<(String, u64)> {
    updates.sort();
    let mut last = std::collections::BTreeMap::new();
    for (k, v) in updates {
        last.insert(k, v);
    }
    last.into_iter().collect()
}

#[test]
fn word_count_over_a_socket_at_parallelism_four() {
    let text = "the quick brown fox\njumps over the lazy dog\r\nthe end";
    let port = serve(text, 1);
    let out = NetworkWordCount::run_with(opts(port, 4)).unwrap();
    let counts = finals(out.collected("counts").unwrap());
    let get = |w: &str| counts.iter().find(|(k, _)| k == w).map(|(_, n)| *n);
    assert_eq!(get("the"), Some(3));
    assert_eq!(get("dog"), Some(1));
    assert_eq!(get("end"), Some(1));
    assert_eq!(counts.len(), 9);
    assert!(
        out.summary().contains("source lines (socket) 3"),
        "{}",
        out.summary()
    );
}

#[test]
fn an_absent_peer_is_a_clear_error() {
    // Bind, then drop: the port is very likely free and refusing.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = NetworkWordCount::run_with(opts(port, 1)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("source `lines`"), "{text}");
    assert!(
        text.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("is a server listening there?"), "{text}");
    assert!(err.is_retryable());
}

#[test]
fn retries_wait_for_a_late_server() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"late words\n").unwrap();
    });
    let opts = opts(port, 1)
        .with_setting("lines.retries=50")
        .unwrap()
        .with_setting("lines.retry_delay=\"50ms\"")
        .unwrap();
    let counts = finals(
        NetworkWordCount::run_with(opts)
            .unwrap()
            .collected("counts")
            .unwrap(),
    );
    assert_eq!(counts, vec![("late".into(), 1), ("words".into(), 1)]);
}

static RECONNECT_WORDS: AtomicU64 = AtomicU64::new(0);

pipeline! {
    pipeline CountedWords {
        source lines: String = socket(port: 9, reconnect: true, retry_delay: 20ms);
        lines
            -> flat_map(|l: String| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            -> inspect(|_w: &String| { RECONNECT_WORDS.fetch_add(1, Ordering::SeqCst); })
            -> sink collect(name: "words");
    }
}

#[test]
fn reconnect_reads_every_connection_until_the_server_is_gone() {
    let port = serve("a b\n", 3);
    let opts = opts(port, 2);
    // After the third connection the listener is dropped, the next connect
    // is refused, and with no retries left the source fails with an error
    // saying why; every word of the three connections was read before.
    let err = CountedWords::run_with(opts).unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert_eq!(RECONNECT_WORDS.load(Ordering::SeqCst), 6);
}

#[test]
fn reconnect_settings_can_come_from_the_command_line() {
    let port = serve("a b\n", 2);
    let opts = opts(port, 2)
        .with_setting("lines.reconnect=true")
        .unwrap()
        .with_setting("lines.retry_delay=\"20ms\"")
        .unwrap();
    let err = NetworkWordCount::run_with(opts).unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
}
