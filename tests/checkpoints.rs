//! Checkpoints and exactly-once output under failure: pipelines are run in
//! a child process (this test binary, re-run with `--exact child --ignored`)
//! that is killed with SIGKILL at random points and started again on the
//! same checkpoint directory; the output they finally publish must be
//! exactly what an uninterrupted run publishes, with no record lost or
//! written twice. Also: restoring at another parallelism, damaged
//! checkpoints, and a disk that fills up.

#[path = "support/kafka.rs"]
mod kafka;

use pipeline::prelude::*;
use pipeline::runtime::checkpoint::{CheckpointOptions, Manifest};
use pipeline::runtime::operator::Joined;
use pipeline::runtime::state::{KeyedProcess, MapState, ProcessContext, Timer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Click {
    seq: u64,
    user: String,
    amount: u64,
    #[event_time]
    ts: i64,
}

/// Slows a run down so that it lasts a few seconds and kills land while
/// it works: 10 ms every 200 records.
fn pace(c: &Click) {
    if c.seq.is_multiple_of(200) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

pipeline! {
    /// Clicks and amounts per user in 10-second windows, file to files.
    pipeline Totals {
        source clicks: Click = file(path: "in", format: json, watermark: bounded(1s));
        clicks
            -> inspect(pace)
            -> key_by(|c: &Click| c.user.clone())
            -> window(tumbling(10s))
            -> aggregate(count(), sum(amount))
            -> sink file(name: "out", path: "out/", format: json);
    }
}

/// Slower than [`pace`]: 10 ms every 100 records, so a Kafka run outlasts
/// its consumer's group join.
fn pace_slowly(c: &Click) {
    if c.seq.is_multiple_of(100) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

pipeline! {
    /// As `Totals`, from a Kafka topic.
    pipeline KafkaTotals {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true, watermark: bounded(1s));
        clicks
            -> inspect(pace_slowly)
            -> key_by(|c: &Click| c.user.clone())
            -> window(tumbling(10s))
            -> aggregate(count(), sum(amount))
            -> sink file(name: "out", path: "out/", format: json);
    }
}

/// Tumbling 10-second totals per user, by hand: keyed state and
/// event-time timers in place of `window(..)`.
#[operator]
#[derive(Clone, Default)]
struct HandWindows {
    /// (count, sum) per open window start.
    open: MapState<i64, (u64, u64)>,
}

impl KeyedProcess<String, Click> for HandWindows {
    type Out = Windowed<String, (u64, u64)>;

    fn on_record(
        &mut self,
        _user: &String,
        c: Click,
        ctx: &mut ProcessContext<'_, Self::Out>,
    ) -> pipeline::Result<()> {
        let start = c.ts - c.ts.rem_euclid(10_000);
        let e = self.open.entry(start).or_insert((0, 0));
        e.0 += 1;
        e.1 += c.amount;
        ctx.set_event_timer(Timestamp::from_millis(start + 9_999));
        Ok(())
    }

    fn on_timer(
        &mut self,
        user: &String,
        timer: Timer,
        ctx: &mut ProcessContext<'_, Self::Out>,
    ) -> pipeline::Result<()> {
        if let Timer::EventTime(at) = timer {
            let start = at.as_millis() - 9_999;
            if let Some(value) = self.open.remove(&start) {
                ctx.emit(Windowed {
                    key: user.clone(),
                    start: Timestamp::from_millis(start),
                    end: Timestamp::from_millis(start + 10_000),
                    value,
                });
            }
        }
        Ok(())
    }
}

pipeline! {
    /// `Totals` with a hand-written keyed operator.
    pipeline HandTotals {
        source clicks: Click = file(path: "in", format: json, watermark: bounded(1s));
        clicks
            -> inspect(pace)
            -> key_by(|c: &Click| c.user.clone())
            -> process_keyed(HandWindows::default())
            -> sink file(name: "out", path: "out/", format: json);
    }
}

pipeline! {
    /// As `KafkaTotals`, into a Kafka topic through transactions.
    pipeline KafkaToKafka {
        source clicks: Click = kafka(topic: "in", format: json, start: earliest, bounded: true, watermark: bounded(1s));
        clicks
            -> inspect(pace_slowly)
            -> key_by(|c: &Click| c.user.clone())
            -> window(tumbling(10s))
            -> aggregate(count(), sum(amount))
            -> sink kafka(name: "out", topic: "out", format: json, delivery: exactly_once);
    }
}

pipeline! {
    /// The running total per user, from a generator, through `reduce`.
    pipeline Running {
        source nums: (u64, u64) = generator(count: 100_000, rate: 20_000, record: |i: u64| (i % 7, i));
        nums
            -> key_by(|n: &(u64, u64)| n.0)
            -> reduce(|a: (u64, u64), b: (u64, u64)| (a.0, a.1 + b.1))
            -> sink file(name: "out", path: "out/", format: json);
    }
}

/// A record of the join pipeline: `key` decides who meets whom.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Ev {
    id: u64,
    key: u64,
    #[event_time]
    t: i64,
}

const LEFTS: u64 = 20_000;
const RIGHTS: u64 = 15_000;
const JOIN_KEYS: u64 = 50;

fn left_ev(i: u64) -> Ev {
    Ev {
        id: i,
        key: i % JOIN_KEYS,
        t: i as i64 * 3,
    }
}

fn right_ev(i: u64) -> Ev {
    Ev {
        id: i,
        key: i * 7 % JOIN_KEYS,
        t: i as i64 * 4,
    }
}

pipeline! {
    /// Both kinds of state a join keeps: an interval join's buffered
    /// records, and a stream-table join's rows and the records waiting for
    /// a row (the rows come slowly, so most records wait).
    pipeline Joins {
        source ls: Ev = generator(count: 20_000, rate: 3_000, record: left_ev, watermark: monotonic);
        source rs: Ev = generator(count: 15_000, rate: 2_250, record: right_ev, watermark: monotonic);
        source users: (u64, String) = generator(count: 50, rate: 8, record: |j: u64| (j, format!("u{j}")));
        let near = ls
            -> join(rs).on(|l: &Ev| l.key, |r: &Ev| r.key).between(-30ms, 50ms)
            -> map(|j: Joined<Ev, Ev>| format!("near {} {}", j.left.id, j.right.id));
        let named = ls
            -> join(users).on(|l: &Ev| l.key, |u: &(u64, String)| u.0)
            -> map(|j: Joined<Ev, (u64, String)>| format!("named {} {}", j.left.id, j.right.1));
        near -> union(named) -> sink file(name: "out", path: "out/", format: json);
    }
}

/// What `Joins` publishes, sorted, worked out by plain loops.
fn expected_joins() -> Vec<String> {
    let mut want = Vec::new();
    for l in (0..LEFTS).map(left_ev) {
        for r in (0..RIGHTS).map(right_ev) {
            if l.key == r.key && l.t - 30 <= r.t && r.t <= l.t + 50 {
                want.push(format!("\"near {} {}\"", l.id, r.id));
            }
        }
        want.push(format!("\"named {} u{}\"", l.id, l.key));
    }
    want.sort();
    want
}

const CLICKS: u64 = 200_000;
const USERS: u64 = 40;

/// Click `seq` as a JSON line: 2 ms apart in event time with up to 500 ms
/// of disorder (less than the watermark's bound, so no record is late and
/// results do not depend on timing).
fn click(seq: u64) -> String {
    click_shifted(seq, 0)
}

/// [`click`], `shift` milliseconds later.
fn click_shifted(seq: u64, shift: i64) -> String {
    let jitter = (seq * 7919) % 500;
    let ts = 1_000_000 + (seq * 2) as i64 - jitter as i64 + shift;
    format!(
        "{{\"seq\":{seq},\"user\":\"u{}\",\"amount\":{},\"ts\":{ts}}}",
        (seq * 31) % USERS,
        seq % 13
    )
}

/// Writes the input: the clicks in two files.
fn write_input(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let mut files = [String::new(), String::new()];
    for seq in 0..CLICKS {
        let file = &mut files[(seq * 2 / CLICKS) as usize];
        file.push_str(&click(seq));
        file.push('\n');
    }
    for (i, text) in files.iter().enumerate() {
        std::fs::write(input.join(format!("clicks-{i}.jsonl")), text).unwrap();
    }
    input
}

/// What `Totals` must publish, computed directly: (user, window start) →
/// (count, sum).
fn expected_totals() -> BTreeMap<(String, i64), (u64, u64)> {
    expected_totals_of(CLICKS)
}

/// The same for the first `clicks` clicks.
fn expected_totals_of(clicks: u64) -> BTreeMap<(String, i64), (u64, u64)> {
    let mut out = BTreeMap::new();
    for seq in 0..clicks {
        let jitter = (seq * 7919) % 500;
        let ts = 1_000_000 + (seq * 2) as i64 - jitter as i64;
        let start = ts - ts.rem_euclid(10_000);
        let e = out
            .entry((format!("u{}", (seq * 31) % USERS), start))
            .or_insert((0, 0));
        e.0 += 1;
        e.1 += seq % 13;
    }
    out
}

/// Every line of the published part files, sorted; fails if a staged
/// part is left over.
fn published(out: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".inprogress"),
            "a staged part was left after the run: {name}"
        );
        let text = std::fs::read_to_string(entry.path()).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    lines.sort();
    lines
}

/// How a child process runs.
#[derive(Debug, Clone)]
struct Job {
    pipeline: &'static str,
    input: Option<PathBuf>,
    /// For `kafka`: the topic and brokers.
    topic: Option<(String, String)>,
    /// For `kafka-to-kafka`: the output topic.
    out_topic: Option<String>,
    out: PathBuf,
    checkpoints: PathBuf,
    mode: &'static str,
    parallelism: usize,
    /// `memory` or `rocksdb`.
    backend: &'static str,
}

impl Job {
    fn spawn(&self) -> Child {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CP_PIPELINE", self.pipeline)
        .env("CP_OUT", &self.out)
        .env("CP_DIR", &self.checkpoints)
        .env("CP_MODE", self.mode)
        .env("CP_P", self.parallelism.to_string())
        .env("CP_BACKEND", self.backend)
        .env("PIPELINE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(input) = &self.input {
            cmd.env("CP_IN", input);
        }
        if let Some((topic, brokers)) = &self.topic {
            cmd.env("CP_TOPIC", topic)
                .env("PIPELINE_KAFKA_BROKERS", brokers);
        }
        if let Some(topic) = &self.out_topic {
            cmd.env("CP_OUT_TOPIC", topic);
        }
        cmd.spawn().unwrap()
    }

    /// Runs to the end; returns stderr.
    fn run(&self) -> String {
        let out = self.spawn().wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "the child run failed:\n{stderr}");
        stderr
    }

    /// Starts it, waits `ms`, and kills it with SIGKILL.
    fn kill_after(&self, ms: u64) {
        let mut child = self.spawn();
        std::thread::sleep(Duration::from_millis(ms));
        // `Child::kill` sends SIGKILL on Unix.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A small deterministic random sequence (printed, so a failure can be
/// replayed by hand).
struct Lcg(u64);

impl Lcg {
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

fn seed() -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill points seeded with {seed}");
    seed
}

/// Kills `job` `kills` times at random points, then lets it finish.
fn run_with_kills(job: &Job, kills: usize, rng: &mut Lcg) {
    run_with_kills_between(job, kills, rng, (300, 1000));
}

/// Kills `job` `kills` times, each between `ms.0` and `ms.1` after its
/// start, then lets it finish.
fn run_with_kills_between(job: &Job, kills: usize, rng: &mut Lcg, ms: (u64, u64)) {
    for _ in 0..kills {
        job.kill_after(rng.between(ms.0, ms.1));
    }
    let stderr = job.run();
    // The kills landed while the pipeline worked: the last run went on
    // from a checkpoint rather than starting over or finding it finished.
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(
        stderr.contains("restoring checkpoint") && !summary.contains(") 0 |"),
        "the last run did not go on from a checkpoint: {stderr}"
    );
    eprintln!("{}", stderr.lines().last().unwrap_or_default());
}

fn totals_job(dir: &Path, input: &Path, name: &str, mode: &'static str, p: usize) -> Job {
    Job {
        pipeline: "totals",
        input: Some(input.to_owned()),
        topic: None,
        out_topic: None,
        out: dir.join(format!("{name}-out")),
        checkpoints: dir.join(format!("{name}-chk")),
        mode,
        parallelism: p,
        backend: "memory",
    }
}

/// Parses `Totals` output lines into the map `expected_totals` gives.
fn parse_totals(lines: &[String]) -> BTreeMap<(String, i64), (u64, u64)> {
    let mut out = BTreeMap::new();
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = (
            v["key"].as_str().unwrap().to_owned(),
            v["start"].as_i64().unwrap(),
        );
        let value = (
            v["value"][0].as_u64().unwrap(),
            v["value"][1].as_u64().unwrap(),
        );
        assert!(
            out.insert(key, value).is_none(),
            "a window was published twice: {line}"
        );
    }
    out
}

fn exactly_once_under_kills(mode: &'static str, backend: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let reference = totals_job(dir.path(), &input, "reference", mode, 2);
    reference.run();
    let expected = published(&reference.out);
    assert_eq!(parse_totals(&expected), expected_totals());

    let mut job = totals_job(dir.path(), &input, "killed", mode, 2);
    job.backend = backend;
    let mut rng = Lcg(seed());
    run_with_kills(&job, 5, &mut rng);
    assert_backend(&job);
    assert_eq!(published(&job.out), expected);
}

#[test]
fn file_to_file_is_exactly_once_across_kills_in_continuous_mode() {
    exactly_once_under_kills("continuous", "memory");
}

#[test]
fn file_to_file_is_exactly_once_across_kills_in_micro_batch_mode() {
    exactly_once_under_kills("micro-batch", "memory");
}

#[test]
fn file_to_file_on_rocksdb_is_exactly_once_across_kills_in_continuous_mode() {
    exactly_once_under_kills("continuous", "rocksdb");
}

#[test]
fn file_to_file_on_rocksdb_is_exactly_once_across_kills_in_micro_batch_mode() {
    exactly_once_under_kills("micro-batch", "rocksdb");
}

#[test]
fn kafka_to_files_on_rocksdb_is_exactly_once_across_kills() {
    const KAFKA_CLICKS: u64 = 60_000;
    let brokers = kafka::brokers();
    let topic = kafka::unique("checkpointed-clicks");
    kafka::create_topic(&brokers, &topic, 2);
    kafka::produce(
        &brokers,
        &topic,
        (0..KAFKA_CLICKS).map(|seq| kafka::Out::keyed(format!("k{}", seq % 2), click(seq))),
    );
    let dir = tempfile::tempdir().unwrap();
    let job = Job {
        pipeline: "kafka",
        input: None,
        topic: Some((topic, brokers)),
        out_topic: None,
        out: dir.path().join("out"),
        checkpoints: dir.path().join("chk"),
        mode: "continuous",
        parallelism: 2,
        // The RocksDB backend here; Kafka to Kafka below keeps state in memory.
        backend: "rocksdb",
    };
    let mut rng = Lcg(seed());
    // A group join takes about 1.5 s on the test broker: kills come later.
    run_with_kills_between(&job, 5, &mut rng, (2000, 3200));
    if std::env::var("CP_DEBUG").is_ok() {
        for chk in checkpoints(&job.checkpoints) {
            eprintln!(
                "{}",
                std::fs::read_to_string(chk.join("manifest.json")).unwrap()
            );
        }
    }
    assert_eq!(
        parse_totals(&published(&job.out)),
        expected_totals_of(KAFKA_CLICKS)
    );
}

/// Kafka to Kafka through transactions, killed five times.
///
/// What this proves: every output record names its sink instance and the
/// checkpoint that covers it (headers); the records of checkpoints that
/// completed (a manifest exists: the pipeline's own commit log) are
/// exactly the uninterrupted run's output, each window once. That is the
/// read-committed view a broker gives when it hides aborted transactions,
/// which the test broker (tansu 0.6) does not do, so the view is rebuilt
/// here from the checkpoints instead. What it does not prove: that the
/// broker hides aborted records from read-committed consumers, and that
/// a transaction whose checkpoint completed just before a crash is not
/// aborted on restart (librdkafka cannot resume it; see the sink's docs).
#[test]
fn kafka_to_kafka_is_exactly_once_in_the_committed_view_across_kills() {
    const KAFKA_CLICKS: u64 = 60_000;
    let brokers = kafka::brokers();
    let topic = kafka::unique("eos-in");
    let out_topic = kafka::unique("eos-out");
    kafka::create_topic(&brokers, &topic, 2);
    kafka::create_topic(&brokers, &out_topic, 2);
    kafka::produce(
        &brokers,
        &topic,
        (0..KAFKA_CLICKS).map(|seq| kafka::Out::value(click(seq))),
    );
    let dir = tempfile::tempdir().unwrap();
    let job = Job {
        pipeline: "kafka-to-kafka",
        input: None,
        topic: Some((topic, brokers.clone())),
        out_topic: Some(out_topic.clone()),
        out: dir.path().join("unused"),
        checkpoints: dir.path().join("chk"),
        mode: "continuous",
        parallelism: 2,
        backend: "memory",
    };
    let mut rng = Lcg(seed());
    for _ in 0..5 {
        job.kill_after(rng.between(2000, 3200));
    }
    let stderr = job.run();
    assert!(stderr.contains("restoring checkpoint"), "{stderr}");
    let complete: std::collections::HashSet<String> = checkpoints(&job.checkpoints)
        .iter()
        .map(|chk| Manifest::load(chk).unwrap().epoch.to_string())
        .collect();
    let expected = expected_totals_of(KAFKA_CLICKS);
    // Everything written, aborted or not: the view is rebuilt from the
    // checkpoints (a transaction a kill left open would also hold a
    // read-committed reader back until the broker times it out).
    let written = kafka::consume_with(
        &brokers,
        &out_topic,
        expected.len(),
        Duration::from_secs(60),
        "read_uncommitted",
    );
    let header = |m: &kafka::In, name: &str| {
        m.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("a record without the `{name}` header: {m:?}"))
    };
    let mut kept = Vec::new();
    let mut left_out = 0;
    for m in &written {
        let _sink = header(m, pipeline::kafka::SINK_HEADER);
        if complete.contains(&header(m, pipeline::kafka::EPOCH_HEADER)) {
            kept.push(m.value.clone());
        } else {
            left_out += 1;
        }
    }
    eprintln!(
        "{} records written, {left_out} of checkpoints that never completed",
        written.len()
    );
    assert_eq!(parse_totals(&kept), expected);
}

#[test]
fn a_restarted_sink_fences_the_producer_of_its_previous_process() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let brokers = kafka::brokers();
    let topic = kafka::unique("fence-in");
    let out_topic = kafka::unique("fence-out");
    kafka::create_topic(&brokers, &topic, 1);
    kafka::create_topic(&brokers, &out_topic, 1);
    kafka::produce(
        &brokers,
        &topic,
        (0..200).map(|seq| kafka::Out::value(click(seq))),
    );
    // A zombie: a producer of an earlier process of the sink's instance 0,
    // with a transaction open.
    let zombie: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("transactional.id", format!("pipeline.out.{out_topic}-0-0"))
        .create()
        .unwrap();
    zombie.init_transactions(Duration::from_secs(30)).unwrap();
    zombie.begin_transaction().unwrap();
    zombie
        .send(BaseRecord::<(), str>::to(&out_topic).payload("zombie"))
        .unwrap();
    zombie.flush(Duration::from_secs(10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let job = Job {
        pipeline: "kafka-to-kafka",
        input: None,
        topic: Some((topic, brokers)),
        out_topic: Some(out_topic),
        out: dir.path().join("unused"),
        checkpoints: dir.path().join("chk"),
        mode: "continuous",
        parallelism: 1,
        backend: "memory",
    };
    job.run();
    let fenced = zombie.commit_transaction(Duration::from_secs(30));
    assert!(
        fenced.is_err(),
        "the old producer could still commit after the sink restarted"
    );
}

#[test]
fn keyed_operator_state_and_timers_are_exactly_once_across_kills() {
    hand_windows_under_kills("memory");
}

#[test]
fn keyed_operator_state_on_rocksdb_is_exactly_once_across_kills() {
    hand_windows_under_kills("rocksdb");
}

fn hand_windows_under_kills(backend: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let mut job = totals_job(dir.path(), &input, "hand", "continuous", 2);
    job.pipeline = "hand";
    job.backend = backend;
    let mut rng = Lcg(seed());
    run_with_kills(&job, 5, &mut rng);
    assert_backend(&job);
    assert_eq!(parse_totals(&published(&job.out)), expected_totals());
}

fn joins_under_kills(backend: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let job = Job {
        pipeline: "joins",
        input: None,
        topic: None,
        out_topic: None,
        out: dir.path().join("out"),
        checkpoints: dir.path().join("chk"),
        mode: "continuous",
        parallelism: 2,
        backend,
    };
    let mut rng = Lcg(seed());
    run_with_kills(&job, 5, &mut rng);
    assert_backend(&job);
    let mut got = published(&job.out);
    got.sort();
    let want = expected_joins();
    assert_eq!(got.len(), want.len(), "records published");
    assert!(got == want, "the joins published other records");
}

#[test]
fn interval_and_table_joins_are_exactly_once_across_kills() {
    joins_under_kills("memory");
}

#[test]
fn interval_and_table_joins_on_rocksdb_are_exactly_once_across_kills() {
    joins_under_kills("rocksdb");
}

/// Kills `job` until a checkpoint exists, then finishes it at
/// parallelism 3 on `backend`.
fn rescale(mut job: Job, backend: &'static str) {
    kill_until_checkpoint(&job);
    job.parallelism = 3;
    job.backend = backend;
    let stderr = job.run();
    assert!(
        stderr.contains("taken at parallelism 2, now 3"),
        "the run did not restore: {stderr}"
    );
}

/// Kills `job` at random points until it has completed a checkpoint.
fn kill_until_checkpoint(job: &Job) {
    let mut rng = Lcg(seed());
    let mut attempts = 0;
    while !has_checkpoint(&job.checkpoints) {
        job.kill_after(rng.between(500, 1200));
        attempts += 1;
        assert!(attempts < 10, "no checkpoint was ever completed");
    }
}

/// `Totals` killed at parallelism 2 until a checkpoint exists, finished
/// at 3, on `backend` throughout.
fn rescaled_totals(backend: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let mut job = totals_job(dir.path(), &input, "rescaled", "continuous", 2);
    job.backend = backend;
    rescale(job.clone(), backend);
    assert_eq!(parse_totals(&published(&job.out)), expected_totals());
}

#[test]
fn a_checkpoint_taken_at_two_instances_restores_at_three() {
    rescaled_totals("memory");
}

#[test]
fn a_rocksdb_checkpoint_taken_at_two_instances_restores_at_three() {
    rescaled_totals("rocksdb");
}

#[test]
fn a_memory_checkpoint_restores_on_rocksdb_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    // Killed on memory and finished on RocksDB at parallelism 3; then
    // killed on RocksDB and finished on memory at the same parallelism.
    let job = totals_job(dir.path(), &input, "switched", "continuous", 2);
    rescale(job.clone(), "rocksdb");
    assert_eq!(parse_totals(&published(&job.out)), expected_totals());
    let mut job = totals_job(dir.path(), &input, "switched-back", "continuous", 2);
    job.backend = "rocksdb";
    kill_until_checkpoint(&job);
    assert_backend(&job);
    job.backend = "memory";
    job.run();
    assert_eq!(parse_totals(&published(&job.out)), expected_totals());
}

/// Asserts that `job`'s newest checkpoint holds state of its backend:
/// RocksDB's own checkpoint directories, or state files.
fn assert_backend(job: &Job) {
    let newest = checkpoints(&job.checkpoints)
        .into_iter()
        .next()
        .expect("a checkpoint");
    let manifest = Manifest::load(&newest).unwrap();
    let states: Vec<_> = manifest.tasks.iter().flat_map(|t| &t.states).collect();
    assert!(!states.is_empty(), "the checkpoint holds no state");
    let rocksdb = states.iter().all(|s| !s.files.is_empty());
    let memory = states.iter().all(|s| s.files.is_empty());
    match job.backend {
        "rocksdb" => assert!(rocksdb, "not RocksDB checkpoints: {states:?}"),
        _ => assert!(memory, "not state files: {states:?}"),
    }
}

#[test]
fn a_reduce_over_a_generator_is_exactly_once_across_kills() {
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str| Job {
        pipeline: "running",
        input: None,
        topic: None,
        out_topic: None,
        out: dir.path().join(format!("{name}-out")),
        checkpoints: dir.path().join(format!("{name}-chk")),
        mode: "continuous",
        parallelism: 1,
        backend: "memory",
    };
    let reference = job("reference");
    reference.run();
    let expected = published(&reference.out);
    assert_eq!(expected.len(), 100_000);
    // Each key's last running total is the sum of its numbers.
    let last: u64 = (0..100_000u64).filter(|i| i % 7 == 3).sum();
    assert!(expected.contains(&format!("[3,{last}]")));
    let killed = job("killed");
    let mut rng = Lcg(seed());
    run_with_kills(&killed, 5, &mut rng);
    assert_eq!(published(&killed.out), expected);
}

fn has_checkpoint(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("chk-") && !name.ends_with(".tmp")
        })
    })
}

/// The complete checkpoints in `dir`, newest first.
fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("chk-") && !name.ends_with(".tmp")
        })
        .collect();
    found.sort();
    found.reverse();
    found
}

/// Runs `Totals` until at least two checkpoints exist, damages the newest
/// with `damage`, and checks that the next run starts from the one before
/// and still publishes the right output.
fn a_damaged_checkpoint_is_skipped(damage: impl Fn(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let job = totals_job(dir.path(), &input, "damaged", "continuous", 2);
    let mut rng = Lcg(seed());
    let mut attempts = 0;
    while checkpoints(&job.checkpoints).len() < 2 {
        job.kill_after(rng.between(600, 1200));
        attempts += 1;
        assert!(attempts < 10, "fewer than two checkpoints were ever kept");
    }
    let all = checkpoints(&job.checkpoints);
    damage(&all[0]);
    let stderr = job.run();
    let skipped = all[0].file_name().unwrap().to_string_lossy().into_owned();
    let epoch: u64 = skipped.trim_start_matches("chk-").parse().unwrap();
    assert!(
        stderr.contains(&format!("skipping checkpoint {epoch}")),
        "the damaged checkpoint was not reported: {stderr}"
    );
    assert_eq!(parse_totals(&published(&job.out)), expected_totals());
}

#[test]
fn a_truncated_manifest_is_reported_and_the_previous_checkpoint_used() {
    a_damaged_checkpoint_is_skipped(|chk| {
        let manifest = chk.join("manifest.json");
        let text = std::fs::read(&manifest).unwrap();
        std::fs::write(&manifest, &text[..text.len() / 3]).unwrap();
    });
}

#[test]
fn a_missing_state_file_is_reported_and_the_previous_checkpoint_used() {
    a_damaged_checkpoint_is_skipped(|chk| {
        let state = std::fs::read_dir(chk)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".state"))
            .expect("the checkpoint has a state file");
        std::fs::remove_file(state.path()).unwrap();
    });
}

#[test]
fn a_full_disk_fails_the_run_clearly_and_leaves_no_damaged_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let job = totals_job(dir.path(), &input, "full", "continuous", 2);
    // Files may grow to 20 KiB: writes past that fail (EFBIG), as on a
    // full disk; SIGXFSZ is ignored so the write returns the error.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 20; exec \"$0\" --exact child --ignored --nocapture")
        .arg(&exe)
        .env("CP_PIPELINE", job.pipeline)
        .env("CP_IN", &input)
        .env("CP_OUT", &job.out)
        .env("CP_DIR", &job.checkpoints)
        .env("CP_MODE", job.mode)
        .env("CP_P", "2")
        .env("CP_BACKEND", job.backend)
        .env("PIPELINE_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the run should fail: {stderr}");
    assert!(
        stderr.contains("File too large") && stderr.contains("cannot write"),
        "the error does not say what happened: {stderr}"
    );
    for chk in checkpoints(&job.checkpoints) {
        Manifest::load(&chk).unwrap_or_else(|e| panic!("{} is damaged: {e}", chk.display()));
    }
}

#[test]
fn sigterm_stops_after_a_last_checkpoint_and_a_restart_finishes_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let job = totals_job(dir.path(), &input, "stopped", "continuous", 2);
    let child = job.spawn();
    std::thread::sleep(Duration::from_millis(800));
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a stopped run exits cleanly: {stderr}"
    );
    assert!(
        stderr.contains("Totals stopped after checkpoint"),
        "the summary says where it stopped: {stderr}"
    );
    let stderr = job.run();
    assert!(stderr.contains("restoring checkpoint"), "{stderr}");
    assert_eq!(parse_totals(&published(&job.out)), expected_totals());
}

#[test]
fn a_checkpoint_of_another_pipeline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/");
    let chk = dir.path().join("chk");
    let options = |p: &str| {
        RunOptions::default()
            .with_setting(&format!(
                "out.path={:?}",
                out.join(p).display().to_string() + "/"
            ))
            .unwrap()
            .with_checkpoints(CheckpointOptions::new(&chk))
    };
    Running::run_with(options("a")).unwrap();
    let e = Totals::run_with(
        options("b")
            .with_setting(&format!(
                "clicks.path={:?}",
                dir.path().display().to_string()
            ))
            .unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("was taken by pipeline `Running`, not `Totals`"),
        "{e}"
    );
}

#[test]
fn a_single_output_file_is_refused_with_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions::default()
        .with_setting(&format!(
            "out.path={:?}",
            dir.path().join("out.jsonl").display().to_string()
        ))
        .unwrap()
        .with_checkpoints(CheckpointOptions::new(dir.path().join("chk")));
    let e = Running::run_with(options).unwrap_err().to_string();
    assert!(
        e.contains("with checkpoints, the file sink writes exactly once into a directory"),
        "{e}"
    );
}

/// The child process: runs the pipeline the environment names, with
/// checkpoints every 100 ms. Run only by the tests above.
#[test]
#[ignore = "run as a child process by the fault-injection tests"]
fn child() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent test"))
    };
    let mut args: Vec<String> = [
        "child",
        "run",
        "--parallelism",
        &var("CP_P"),
        "--checkpoint-dir",
        &var("CP_DIR"),
        "--checkpoint-interval",
        "100ms",
    ]
    .map(str::to_owned)
    .to_vec();
    if var("CP_PIPELINE") != "kafka-to-kafka" {
        args.extend([
            "--set".into(),
            format!("out.path={:?}", var("CP_OUT") + "/"),
        ]);
    }
    args.extend(["--state-backend".into(), var("CP_BACKEND")]);
    if var("CP_MODE") == "micro-batch" {
        args.extend(["--batch-interval".into(), "50ms".into()]);
    }
    let code = match var("CP_PIPELINE").as_str() {
        "totals" => {
            args.extend(["--set".into(), format!("clicks.path={:?}", var("CP_IN"))]);
            pipeline::runtime::cli::main_from::<Totals, _>(args)
        }
        "hand" => {
            args.extend(["--set".into(), format!("clicks.path={:?}", var("CP_IN"))]);
            pipeline::runtime::cli::main_from::<HandTotals, _>(args)
        }
        "kafka" => {
            args.extend(kafka_source_args(&var("CP_TOPIC")));
            pipeline::runtime::cli::main_from::<KafkaTotals, _>(args)
        }
        "joins" => pipeline::runtime::cli::main_from::<Joins, _>(args),
        "kafka-to-kafka" => {
            args.extend(kafka_source_args(&var("CP_TOPIC")));
            args.extend([
                "--set".into(),
                format!("out.topic={:?}", var("CP_OUT_TOPIC")),
                // Every checkpoint is kept: they are the commit log the
                // test rebuilds the committed view from.
                "--checkpoints-retained".into(),
                "100000".into(),
            ]);
            pipeline::runtime::cli::main_from::<KafkaToKafka, _>(args)
        }
        _ => pipeline::runtime::cli::main_from::<Running, _>(args),
    };
    if code != std::process::ExitCode::SUCCESS {
        std::process::exit(1);
    }
}

pipeline! {
    /// A short branch into part files beside a slow one.
    pipeline ShortAndSlow {
        source small: u64 = iter(items: 0..100_u64);
        source slow: u64 = generator(count: 40, rate: 10, record: |i: u64| i);
        small -> sink file(name: "out", path: "out/", format: json);
        slow -> sink discard();
    }
}

#[test]
fn a_branch_that_ended_publishes_its_output_while_the_rest_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let options = RunOptions::default()
        .with_setting(&format!("out.path={:?}", out.display().to_string() + "/"))
        .unwrap()
        .with_checkpoints(CheckpointOptions {
            interval: Duration::from_millis(100),
            ..CheckpointOptions::new(dir.path().join("chk"))
        });
    let run = std::thread::spawn(move || ShortAndSlow::run_with(options).unwrap());
    // The slow source takes 4 s; the short branch's part must be
    // published long before that.
    let started = std::time::Instant::now();
    while published_or_empty(&out).len() < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the ended branch's output was not published while the run went on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!run.is_finished());
    run.join().unwrap();
    assert_eq!(published(&out).len(), 100);
}

/// Published lines, or none if the directory is not there yet.
fn published_or_empty(out: &Path) -> Vec<String> {
    if !out.exists() {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("part-") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    lines
}

#[test]
fn a_run_restored_from_a_finished_checkpoint_processes_new_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let lines: String = (0..10_000).map(|seq| click(seq) + "\n").collect();
    std::fs::write(input.join("a.jsonl"), &lines).unwrap();
    let job = totals_job(dir.path(), &input, "twice", "continuous", 2);
    job.run();
    let first = expected_totals_of(10_000);
    assert_eq!(parse_totals(&published(&job.out)), first);
    // The same clicks an hour later, then the same command again: the
    // windows restored from the finished run must not treat them as late.
    let later: String = (0..10_000)
        .map(|seq| click_shifted(seq, 3_600_000) + "\n")
        .collect();
    std::fs::write(input.join("b.jsonl"), later).unwrap();
    let stderr = job.run();
    assert!(stderr.contains("restoring checkpoint"), "{stderr}");
    let mut want = first.clone();
    for ((user, start), v) in first {
        want.insert((user, start + 3_600_000), v);
    }
    assert_eq!(parse_totals(&published(&job.out)), want);
}

#[test]
fn when_no_checkpoint_can_be_restored_the_run_refuses_to_start_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let chk = dir.path().join("chk");
    let options = || {
        RunOptions::default()
            .with_setting(&format!(
                "out.path={:?}",
                dir.path().join("out").display().to_string() + "/"
            ))
            .unwrap()
            .with_checkpoints(CheckpointOptions {
                retain: 1,
                ..CheckpointOptions::new(&chk)
            })
    };
    Running::run_with(options()).unwrap();
    let only = checkpoints(&chk);
    assert_eq!(only.len(), 1);
    std::fs::write(only[0].join("manifest.json"), "{").unwrap();
    let e = Running::run_with(options()).unwrap_err().to_string();
    assert!(e.contains("none of the 1 checkpoints"), "{e}");
}

pipeline! {
    /// Bad lines go to a dead-letter stream, in micro-batches.
    pipeline WithDeadLetters {
        source nums: u64 = file(path: "in", format: json, on_error: dead_letter(bad));
        nums -> map(|n: u64| n * 2) -> sink file(name: "out", path: "out/", format: json);
        bad -> sink file(name: "bad", path: "bad/", format: json);
    }
}

#[test]
fn dead_letters_take_part_in_checkpoints_in_micro_batch_mode() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let text: String = (0..5_000)
        .map(|i| {
            if i % 100 == 0 {
                "oops\n".to_owned()
            } else {
                format!("{i}\n")
            }
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string() + "/";
    let options = RunOptions::default()
        .with_mode(pipeline::runtime::exec::ExecMode::MicroBatch {
            interval: Duration::from_millis(10),
        })
        .with_setting(&format!("nums.path={:?}", input.display().to_string()))
        .unwrap()
        .with_setting(&format!("out.path={:?}", path("out")))
        .unwrap()
        .with_setting(&format!("bad.path={:?}", path("bad")))
        .unwrap()
        .with_checkpoints(CheckpointOptions {
            interval: Duration::from_millis(20),
            ..CheckpointOptions::new(dir.path().join("chk"))
        });
    WithDeadLetters::run_with(options).unwrap();
    assert_eq!(published(&dir.path().join("out")).len(), 4_950);
    assert_eq!(published(&dir.path().join("bad")).len(), 50);
}

/// The child's settings of the Kafka source `clicks`: a new consumer group
/// each time, so no member of a killed run holds partitions, and the
/// checkpoint's offsets, not the group's, say where reading goes on.
fn kafka_source_args(topic: &str) -> [String; 6] {
    [
        "--set".into(),
        format!("clicks.topic={topic:?}"),
        "--set".into(),
        format!("clicks.group={:?}", kafka::unique("checkpointed")),
        "--set".into(),
        "clicks.session.timeout.ms=3000".into(),
    ]
}
