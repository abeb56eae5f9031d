//! The command line of a pipeline binary (the `clicks` example): run,
//! describe, help, and exit code 2 with a clear message for bad flags and
//! settings.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// An example binary, with the examples (re)built once per test run:
/// `cargo test --test cli` alone does not rebuild examples.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--example",
                "clicks",
                "--example",
                "stdin_words",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the examples failed");
    });
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn clicks(args: &[&str]) -> Output {
    Command::new(example("clicks"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PIPELINE_LOG", "warn")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_prints_results_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    let out = clicks(&[
        "run",
        "--parallelism",
        "2",
        "--set",
        &format!("bad_rows.path={:?}", bad.display().to_string()),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let last_home = stdout
        .lines()
        .filter(|l| l.starts_with("[\"/home\","))
        .count();
    assert!(last_home > 0, "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("PageTime finished in"), "{stderr}");
    assert!(stderr.contains("source clicks (file) 240"), "{stderr}");
    assert!(stderr.contains("dead letters (clicks) 2"), "{stderr}");
    assert!(stderr.contains("filter 240→107"), "{stderr}");
    assert!(stderr.contains("sink bad_rows (file) 2"), "{stderr}");
    let dead = std::fs::read_to_string(&bad).unwrap();
    assert_eq!(dead.lines().count(), 2, "{dead}");
    assert!(
        dead.contains("field 4 (`duration_ms`): invalid digit"),
        "{dead}"
    );
}

#[test]
fn help_lists_sources_and_sinks() {
    let out = clicks(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("Total time spent per page"), "{help}");
    assert!(
        help.contains("Sources:\n  clicks           file (Click records)"),
        "{help}"
    );
    assert!(help.contains("bad_rows         file"), "{help}");
    let run_help = text(&clicks(&["run", "--help"]).stdout);
    assert!(
        run_help.contains("--set <NAME.KEY=VALUE>") && run_help.contains("--config <FILE>"),
        "{run_help}"
    );
}

#[test]
fn describe_prints_text_dot_and_mermaid() {
    let out = clicks(&["describe", "--parallelism", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let graph = text(&out.stdout);
    assert!(
        graph.contains("[4] aggregate x3  <- [3] via hash"),
        "{graph}"
    );
    assert!(
        graph.contains("[1] dead letters (clicks) x1  <- [0] via forward"),
        "{graph}"
    );
    let dot = text(&clicks(&["describe", "--format", "dot"]).stdout);
    assert!(dot.starts_with("digraph \"PageTime\""), "{dot}");
    let mermaid = text(&clicks(&["describe", "--format", "mermaid"]).stdout);
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
}

#[test]
fn bad_settings_exit_2_naming_the_setting() {
    let out = clicks(&["run", "--set", "clicks.prot=1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("setting `clicks`: unknown field `prot`"),
        "{err}"
    );

    let out = clicks(&["run", "--set", "nope.port=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("setting `nope` names no source or sink"));

    let out = clicks(&["run", "--set", "clicks.header=maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("setting `clicks`"),
        "{}",
        text(&out.stderr)
    );

    let out = clicks(&["run", "--set", "no-dot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected NAME.KEY=VALUE"));
}

#[test]
fn bad_flags_and_config_files_exit_2() {
    let out = clicks(&["run", "--parallelism", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--parallelism"),
        "{}",
        text(&out.stderr)
    );

    let out = clicks(&["run", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[clicks\npath = 1").unwrap();
    let out = clicks(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("config file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_config_file_sets_parallelism_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &config,
        format!(
            "parallelism = 2\n[bad_rows]\npath = {:?}\n",
            bad.display().to_string()
        ),
    )
    .unwrap();
    let out = clicks(&["describe", "--config", config.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains("aggregate x2"),
        "{}",
        text(&out.stdout)
    );
    let out = clicks(&["run", "--quiet", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    assert!(bad.exists());
}

#[test]
fn a_runtime_failure_exits_1() {
    let out = clicks(&["run", "--set", "clicks.path=does/not/exist.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("source `clicks`") && err.contains("does/not/exist.csv"),
        "{err}"
    );
}

#[test]
fn stdin_is_read_to_its_end() {
    use std::io::Write;
    let mut child = Command::new(example("stdin_words"))
        .args(["run", "--parallelism", "2"])
        .env("PIPELINE_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written in two parts, so the source sees input arrive while it runs.
    stdin.write_all(b"to be or\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    stdin.write_all(b"not to be\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, vec!["be,1", "be,2", "not,1", "or,1", "to,1", "to,2"]);
    assert!(
        text(&out.stderr).contains("source lines (stdin) 2"),
        "{}",
        text(&out.stderr)
    );
}

/// Sorted stdout lines of an example run.
fn sorted_output(name: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(example(name))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PIPELINE_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn window_examples_give_the_same_results_in_both_modes() {
    for name in ["sessions", "hot_pages"] {
        let continuous = sorted_output(name, &["run"]);
        let batched = sorted_output(
            name,
            &[
                "run",
                "--mode",
                "micro-batch",
                "--batch-interval",
                "1ms",
                "--parallelism",
                "2",
            ],
        );
        assert!(!continuous.is_empty(), "{name} printed nothing");
        assert_eq!(continuous, batched, "{name}");
    }
    // The same over a generator, with the source split in two.
    for name in ["sessions", "hot_pages"] {
        let continuous = sorted_output(name, &["generated", "run"]);
        let batched = sorted_output(
            name,
            &[
                "generated",
                "run",
                "--mode",
                "micro-batch",
                "--batch-interval",
                "20ms",
                "--parallelism",
                "2",
            ],
        );
        assert!(!continuous.is_empty(), "{name} printed nothing");
        assert_eq!(continuous, batched, "{name}, generated");
    }
    // 100,000 clicks 100ms apart, users in bursts of 25 s: 1,600 sessions;
    // one hot page per 20 s of the 5,000 s of event time.
    assert_eq!(
        sorted_output("sessions", &["generated", "run"]).len(),
        1_600
    );
    assert_eq!(
        sorted_output("hot_pages", &["generated", "run"]).len(),
        250 + 2
    );
    // 137 sessions of 25 users in the shipped log; one hot page per 20 s.
    assert_eq!(sorted_output("sessions", &["run"]).len(), 137);
    assert!(
        sorted_output("hot_pages", &["run"])
            .iter()
            .all(|l| l.starts_with('['))
    );
}

#[test]
fn checkpoint_flags_need_a_checkpoint_directory() {
    let out = clicks(&["run", "--checkpoint-interval", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--checkpoint-dir <DIR>"), "{err}");
    let out = clicks(&["run", "--help"]);
    let help = text(&out.stdout);
    for flag in [
        "--checkpoint-dir",
        "--checkpoint-interval",
        "--checkpoints-retained",
        "--restore-from",
        "--allow-non-restored-state",
    ] {
        assert!(help.contains(flag), "`run --help` lists {flag}: {help}");
    }
}

#[test]
fn a_checkpointed_run_of_the_example_refuses_its_single_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    let out = clicks(&[
        "run",
        "--checkpoint-dir",
        &dir.path().join("chk").display().to_string(),
        "--set",
        &format!("bad_rows.path={:?}", bad.display().to_string()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("setting `bad_rows.path`: with checkpoints"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_rocksdb_backend_gives_the_memory_backend_s_output() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let bad = dir.path().join("bad.jsonl");
        let mut args = vec![
            "run".to_owned(),
            "--parallelism".into(),
            "2".into(),
            "--set".into(),
            format!("bad_rows.path={:?}", bad.display().to_string()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = clicks(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let memory = run(&[]);
    assert!(!memory.is_empty());
    let work = dir.path().join("state");
    let rocksdb = run(&[
        "--state-backend",
        "rocksdb",
        "--state-dir",
        work.to_str().unwrap(),
        "--rocksdb-block-cache",
        "8MiB",
        "--rocksdb-cache-entries",
        "1",
    ]);
    assert_eq!(memory, rocksdb);
    // The run's working databases are gone with it.
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // So is the config file's choice.
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            "state_backend = \"rocksdb\"\nstate_dir = {:?}\n",
            work.display().to_string()
        ),
    )
    .unwrap();
    assert_eq!(run(&["--config", config.to_str().unwrap()]), memory);
}

#[test]
fn rocksdb_flags_need_the_rocksdb_backend() {
    let out = clicks(&["run", "--rocksdb-block-cache", "1GiB"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--rocksdb-block-cache")
            && err.contains("only applies to `--state-backend rocksdb`"),
        "{err}"
    );
    let out = clicks(&[
        "run",
        "--state-backend",
        "rocksdb",
        "--rocksdb-write-buffer",
        "lots",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--rocksdb-write-buffer"),
        "{}",
        text(&out.stderr)
    );
}
