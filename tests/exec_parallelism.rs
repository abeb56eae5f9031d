//! The same pipeline at parallelism 1 and 4 gives the same multiset of
//! results, on fixed and on random input.

use pipeline::prelude::*;
use proptest::prelude::*;

pipeline! {
    pipeline Counts {
        source words: String = iter(items: Vec::<String>::new());
        words
            -> filter(|w: &String| !w.is_empty())
            -> key_by(|w: &String| w.clone())
            -> aggregate(count())
            -> sink collect(name: "counts");
    }
}

/// Runs `Counts` over `words` (fed through a file, so the source can be
/// overridden from settings) at `parallelism`; returns the sorted updates.
fn run(words: &[String], parallelism: usize) -> Vec<(String, u64)> {
    pipeline! {
        pipeline FileCounts {
            source words: String = file(path: "unset", format: text);
            words
                -> filter(|w: &String| !w.is_empty())
                -> key_by(|w: &String| w.clone())
                -> aggregate(count())
                -> map(|(w, n): (String, u64)| (w, n))
                -> sink collect(name: "counts");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    // Several files, so the source itself runs in parallel too.
    for (i, chunk) in words.chunks(words.len().div_ceil(3).max(1)).enumerate() {
        std::fs::write(dir.path().join(format!("part-{i}.txt")), chunk.join("\n")).unwrap();
    }
    let opts = RunOptions::default()
        .with_parallelism(parallelism)
        .with_setting(&format!(
            "words.path={:?}",
            dir.path().display().to_string()
        ))
        .unwrap();
    let out = FileCounts::run_with(opts).unwrap();
    let mut got: Vec<(String, u64)> = out.collected("counts").unwrap();
    got.sort();
    got
}

#[test]
fn parallelism_one_and_four_agree() {
    let words: Vec<String> = (0..20_000)
        .map(|i| format!("w{}", (i * 7919) % 1_000))
        .collect();
    let one = run(&words, 1);
    let four = run(&words, 4);
    assert_eq!(one.len(), 20_000);
    assert_eq!(one, four);
    // Each word's running count reaches its number of occurrences (20).
    assert!(one.iter().filter(|(_, n)| *n == 20).count() == 1_000);
}

#[test]
fn an_empty_input_finishes_with_no_output() {
    let out = Counts::run_with(RunOptions::default().with_parallelism(4)).unwrap();
    let got: Vec<(String, u64)> = out.collected("counts").unwrap();
    assert!(got.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn parallel_runs_equal_serial_runs(words in prop::collection::vec("[a-e]{0,2}", 0..300), p in 2usize..6) {
        prop_assert_eq!(run(&words, 1), run(&words, p));
    }
}
