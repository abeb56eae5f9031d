//! Whole pipelines on Kafka against a real broker: a windowed aggregation
//! from Kafka to Kafka in both executor modes, two processes sharing one
//! consumer group, and a broker that is not there yet.

#[path = "support/kafka.rs"]
mod kafka;

use kafka::{Out, brokers, consume, create_topic, produce, reading, unique, writing};
use pipeline::prelude::*;
use pipeline::runtime::exec::ExecMode;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct Click {
    #[event_time]
    ts: i64,
    user: String,
    page: String,
    duration_ms: u32,
}

/// A minute of clicks by 20 users, one every 30ms, starting a day ago
/// (well within `max_ahead`), in time order.
fn clicks(n: u64) -> Vec<Click> {
    let base = (Timestamp::now().as_millis() - 86_400_000) / 60_000 * 60_000;
    (0..n)
        .map(|i| Click {
            ts: base + i as i64 * 30,
            user: format!("u{}", (i * 7) % 20),
            page: format!("/p/{}", i % 3),
            duration_ms: (i % 1000) as u32,
        })
        .collect()
}

type Counts = BTreeMap<(String, i64), (u64, u64)>;

/// Clicks and time per user and 10-second window, computed directly.
fn reference(clicks: &[Click], size: i64) -> Counts {
    let mut out = Counts::new();
    for c in clicks {
        let e = out
            .entry((c.user.clone(), c.ts - c.ts.rem_euclid(size)))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(c.duration_ms);
    }
    out
}

/// Parses window results written as JSON; fails on a duplicate.
fn parse_results(values: &[String]) -> Counts {
    let mut out = Counts::new();
    for v in values {
        let w: Windowed<String, (u64, u64)> = serde_json::from_str(v).expect("a window result");
        let before = out.insert((w.key.clone(), w.start.as_millis()), w.value);
        assert!(before.is_none(), "a window was emitted twice: {w:?}");
    }
    out
}

pipeline! {
    pipeline UserWindows {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true, watermark: bounded(1s));
        clicks -> key_by(|c: &Click| c.user.clone()) -> window(tumbling(10s)) -> aggregate(count(), sum(duration_ms))
            -> sink kafka(name: "out", topic: "out", format: json, key: |w: &Windowed<String, (u64, u64)>| w.key.clone());
    }
}

#[test]
fn a_windowed_aggregation_gives_the_same_results_in_both_modes() {
    let brokers = brokers();
    let tin = unique("windows-in");
    create_topic(&brokers, &tin, 3);
    let input = clicks(3_000);
    produce(
        &brokers,
        &tin,
        input
            .iter()
            .map(|c| Out::keyed(&c.user, serde_json::to_vec(c).unwrap())),
    );
    let expected = reference(&input, 10_000);
    for (mode, parallelism) in [
        (ExecMode::Continuous, 1),
        (ExecMode::Continuous, 2),
        (
            ExecMode::MicroBatch {
                interval: Duration::from_millis(50),
            },
            2,
        ),
    ] {
        let tout = unique("windows-out");
        create_topic(&brokers, &tout, 2);
        let opts = RunOptions::default()
            .with_mode(mode)
            .with_parallelism(parallelism);
        let opts = writing(reading(opts, "clicks", &tin), "out", &tout);
        UserWindows::run_with(opts).expect("the pipeline runs");
        let got = consume(&brokers, &tout, expected.len(), Duration::from_secs(30));
        let values: Vec<String> = got.into_iter().map(|m| m.value).collect();
        assert_eq!(
            parse_results(&values),
            expected,
            "{mode:?} at parallelism {parallelism}"
        );
    }
}

/// The `kafka_click_counts` example binary, built once.
fn example() -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--example", "kafka_click_counts"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example failed");
    });
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the profile directory");
    profile.join("examples").join("kafka_click_counts")
}

/// A copy of the example counting `topic` into `out` in `group`, and how
/// many partitions it reads now (from its log).
struct Copy(Child, Arc<Mutex<Option<usize>>>);

impl Copy {
    fn start(brokers: &str, topic: &str, group: &str, out: &str) -> Self {
        let mut child = Command::new(example())
            .args(["run", "--quiet"])
            .args(["--set", &format!("clicks.topic=\"{topic}\"")])
            .args(["--set", &format!("clicks.group=\"{group}\"")])
            .args(["--set", "clicks.session.timeout.ms=3000"])
            .args(["--set", &format!("counts.topic=\"{out}\"")])
            .env("PIPELINE_KAFKA_BROKERS", brokers)
            .env("PIPELINE_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts");
        let assigned = Arc::new(Mutex::new(None));
        let stderr = child.stderr.take().expect("piped stderr");
        let seen = assigned.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // "assigned ..; reading t/0, t/1" after every change.
                if let Some(list) = line.split("; reading ").nth(1) {
                    let n = list.split(", ").filter(|p| p.contains('/')).count();
                    *seen.lock().unwrap() = Some(n);
                }
            }
        });
        Copy(child, assigned)
    }

    /// How many partitions it reads now.
    fn assigned(&self) -> Option<usize> {
        *self.1.lock().unwrap()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until each copy holds `each` partitions.
fn wait_for_split(copies: &[&Copy], each: usize) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if copies.iter().all(|c| c.assigned() == Some(each)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let now: Vec<Option<usize>> = copies.iter().map(|c| c.assigned()).collect();
    panic!("the copies did not split the partitions: {now:?}");
}

#[test]
fn two_processes_in_one_group_split_the_partitions_and_emit_each_result_once() {
    let brokers = brokers();
    let (tin, tout, group) = (unique("split-in"), unique("split-out"), unique("split"));
    create_topic(&brokers, &tin, 4);
    create_topic(&brokers, &tout, 2);
    let a = Copy::start(&brokers, &tin, &group, &tout);
    let b = Copy::start(&brokers, &tin, &group, &tout);
    wait_for_split(&[&a, &b], 2);

    let input = clicks(4_000);
    produce(
        &brokers,
        &tin,
        input
            .iter()
            .map(|c| Out::keyed(&c.user, serde_json::to_vec(c).unwrap())),
    );
    // A later click in every partition moves every partition's watermark
    // past the last minute, so every window fires.
    let last = input.last().map_or(0, |c| c.ts);
    produce(
        &brokers,
        &tin,
        (0..4).map(|p| Out {
            partition: Some(p),
            ..Out::value(
                serde_json::to_vec(&Click {
                    ts: last + 120_000,
                    user: format!("~end{p}"),
                    page: String::new(),
                    duration_ms: 0,
                })
                .unwrap(),
            )
        }),
    );
    let expected = reference(&input, 60_000);
    let got = consume(&brokers, &tout, expected.len(), Duration::from_secs(60));
    let values: Vec<String> = got.into_iter().map(|m| m.value).collect();
    assert_eq!(parse_results(&values), expected);
}

pipeline! {
    pipeline Patient {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true);
        clicks -> sink collect(name: "out");
    }
}

/// A free port on 127.0.0.1 for a broker of the test's own.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts or stops a broker of the test's own with the project's script.
fn broker_script(script: &str, port: u16) {
    script_with(script, &[&port.to_string()], &[]);
}

/// Runs one of the project's scripts with `args` and extra `env`.
fn script_with(script: &str, args: &[&str], env: &[(&str, String)]) {
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new("bash")
        .arg(format!("{root}/scripts/{script}"))
        .args(args)
        .env("TANSU_HOME", format!("{root}/target/tansu"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .status()
        .expect("the script runs");
    assert!(status.success(), "{script} {args:?} failed");
}

#[test]
fn a_broker_that_is_down_at_start_is_waited_for_then_reported() {
    // Never comes: a clear error once `unavailable_timeout` has passed.
    let port = free_port();
    let opts = RunOptions::default()
        .with_setting(&format!("clicks.brokers=\"127.0.0.1:{port}\""))
        .and_then(|o| o.with_setting("clicks.unavailable_timeout=\"2s\""))
        .expect("valid settings");
    let started = Instant::now();
    let err = Patient::run_with(opts).expect_err("no broker, no run");
    let message = err.to_string();
    assert!(
        message.contains(&format!("no Kafka broker reachable at 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{message}");

    // Comes up a little later: the source waits, then reads everything.
    let port = free_port();
    let topic = unique("late-broker");
    let brokers = format!("127.0.0.1:{port}");
    let opts = RunOptions::default()
        .with_setting(&format!("clicks.brokers=\"{brokers}\""))
        .and_then(|o| o.with_setting(&format!("clicks.topic=\"{topic}\"")))
        .and_then(|o| o.with_setting("clicks.unavailable_timeout=\"60s\""))
        .and_then(|o| o.with_setting("clicks.session.timeout.ms=3000"))
        .expect("valid settings");
    let input = clicks(50);
    let feeder = {
        let input = input.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            broker_script("kafka-start.sh", port);
            create_topic(&brokers, &topic, 1);
            produce(
                &brokers,
                &topic,
                input
                    .iter()
                    .map(|c| Out::value(serde_json::to_vec(c).unwrap())),
            );
        })
    };
    let outcome = Patient::run_with(opts);
    feeder.join().expect("the feeder thread");
    broker_script("kafka-stop.sh", port);
    let got: Vec<Click> = outcome
        .expect("the run waits for the broker")
        .collected("out")
        .unwrap();
    assert_eq!(got, input);
}

pipeline! {
    pipeline Gather {
        source nums: u64 = kafka(topic: "in", format: string, start: earliest, bounded: true);
        nums -> sink collect(name: "out");
    }
}

#[test]
fn parallel_instances_share_the_partitions_and_lose_nothing() {
    let brokers = brokers();
    let topic = unique("gather");
    create_topic(&brokers, &topic, 4);
    let n = 200_000_u64;
    produce(
        &brokers,
        &topic,
        (0..n).map(|i| Out::keyed(format!("k{}", i % 100), i.to_string())),
    );
    for parallelism in [2, 3] {
        let opts = reading(
            RunOptions::default().with_parallelism(parallelism),
            "nums",
            &topic,
        );
        let mut got: Vec<u64> = Gather::run_with(opts).unwrap().collected("out").unwrap();
        got.sort_unstable();
        let read = got.len();
        got.dedup();
        assert_eq!(
            got.len() as u64,
            n,
            "parallelism {parallelism}: every record read"
        );
        assert_eq!(read as u64, n, "parallelism {parallelism}: none read twice");
    }
}

pipeline! {
    pipeline Slow {
        source nums: u64 = kafka(topic: "in", format: string, start: earliest, bounded: true);
        nums -> map(|n: u64| { std::thread::sleep(Duration::from_micros(500)); n })
            -> sink kafka(name: "out", topic: "out", format: string);
    }
}

/// A broker of the test's own that keeps its data in a local S3 emulator,
/// so it can be restarted; stopped on drop.
struct DurableBroker {
    port: u16,
    s3: u16,
    env: Vec<(&'static str, String)>,
}

impl DurableBroker {
    fn start() -> Self {
        let (port, s3) = (free_port(), free_port());
        script_with("s3-start.sh", &[&s3.to_string(), "tansu"], &[]);
        let env = vec![
            ("TANSU_STORAGE", "s3://tansu/".to_owned()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{s3}")),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ];
        let broker = DurableBroker { port, s3, env };
        broker.up();
        broker
    }

    fn up(&self) {
        script_with("kafka-start.sh", &[&self.port.to_string()], &self.env);
    }

    fn down(&self) {
        broker_script("kafka-stop.sh", self.port);
    }
}

impl Drop for DurableBroker {
    fn drop(&mut self) {
        self.down();
        script_with("s3-stop.sh", &[&self.s3.to_string()], &[]);
    }
}

#[test]
fn a_broker_restart_mid_run_loses_nothing() {
    let broker = DurableBroker::start();
    let brokers = format!("127.0.0.1:{}", broker.port);
    let (tin, tout) = (unique("restart-in"), unique("restart-out"));
    create_topic(&brokers, &tin, 2);
    create_topic(&brokers, &tout, 2);
    let n = 6_000_u64;
    produce(&brokers, &tin, (0..n).map(|i| Out::value(i.to_string())));
    let opts = RunOptions::default()
        .with_setting(&format!("nums.brokers=\"{brokers}\""))
        .and_then(|o| o.with_setting(&format!("nums.topic=\"{tin}\"")))
        .and_then(|o| o.with_setting("nums.session.timeout.ms=3000"))
        .and_then(|o| o.with_setting(&format!("out.brokers=\"{brokers}\"")))
        .and_then(|o| o.with_setting(&format!("out.topic=\"{tout}\"")))
        .expect("valid settings");
    let run = std::thread::spawn(move || Slow::run_with(opts));
    // The group join takes about 1.5 s, then reading about 3 s: stop the
    // broker in the middle, for 2 s.
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(!run.is_finished(), "the run should still be going");
    broker.down();
    std::thread::sleep(Duration::from_secs(2));
    broker.up();
    let outcome = run.join().expect("the run thread");
    outcome.expect("the run survives the restart");
    let got = consume(&brokers, &tout, n as usize, Duration::from_secs(60));
    let mut values: Vec<u64> = got.iter().map(|m| m.value.parse().unwrap()).collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values, (0..n).collect::<Vec<_>>(), "every record arrived");
}
