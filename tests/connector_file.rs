//! File sources and sinks on real files: JSON lines and CSV, single files
//! and directories.

use pipeline::prelude::*;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Click {
    user: String,
    page: String,
    ms: u32,
}

pipeline! {
    pipeline JsonToCsv {
        source clicks: Click = file(path: "in", format: json);
        clicks
            -> filter(|c: &Click| c.ms >= 100)
            -> key_by(|c: &Click| c.page.clone())
            -> aggregate(sum(ms))
            -> sink file(name: "out", path: "out.csv", format: csv);
    }
}

pipeline! {
    pipeline CsvToJson {
        source clicks: Click = file(path: "in", format: csv, header: true);
        clicks -> map(|c: Click| (c.user, c.ms)) -> sink file(name: "out", path: "out.jsonl", format: json);
    }
}

fn settings(input: &Path, output: &Path, parallelism: usize) -> RunOptions {
    RunOptions::default()
        .with_parallelism(parallelism)
        .with_setting(&format!("clicks.path={:?}", input.display().to_string()))
        .unwrap()
        .with_setting(&format!("out.path={:?}", output.display().to_string()))
        .unwrap()
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn json_lines_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clicks.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"user":"u1","page":"/a","ms":120}"#,
            "\n",
            r#"{"user":"u2","page":"/b","ms":50}"#,
            "\n",
            "\n",
            r#"{"user":"u3","page":"/a","ms":300}"#,
            "\n",
        ),
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let out = JsonToCsv::run_with(settings(&input, &output, 1)).unwrap();
    assert_eq!(sorted_lines(&output), vec!["/a,120", "/a,420"]);
    assert!(
        out.summary().contains("sink out (file) 2"),
        "{}",
        out.summary()
    );
}

#[test]
fn csv_with_a_header_to_json_from_a_directory_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for part in 0..4 {
        let mut text = String::from("ms,page,user\n");
        for i in 0..250 {
            text.push_str(&format!("{},/p{},u{part}\n", i, i % 3));
        }
        std::fs::write(input.join(format!("part-{part}.csv")), text).unwrap();
    }
    // Hidden files are not read.
    std::fs::write(input.join(".hidden"), "garbage").unwrap();
    let output = dir.path().join("out.jsonl");
    let out = CsvToJson::run_with(settings(&input, &output, 4)).unwrap();
    let lines = sorted_lines(&output);
    assert_eq!(lines.len(), 1000);
    assert!(
        lines.contains(&r#"["u2",249]"#.to_string()),
        "{:?}",
        &lines[..3]
    );
    assert_eq!(out.graph.nodes[0].parallelism, 4);
}

#[test]
fn a_missing_input_names_the_source_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let err = JsonToCsv::run_with(settings(&missing, &dir.path().join("o"), 1)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("source `clicks`") && text.contains("nope.jsonl"),
        "{text}"
    );
}

#[test]
fn an_unwritable_output_names_the_sink_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clicks.jsonl");
    std::fs::write(&input, r#"{"user":"u1","page":"/a","ms":120}"#).unwrap();
    let output = dir.path().join("no-such-dir").join("out.csv");
    let err = JsonToCsv::run_with(settings(&input, &output, 1)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("sink `out`: cannot create") && text.contains("no-such-dir"),
        "{text}"
    );
}
