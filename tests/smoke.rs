use pipeline::prelude::*;

pipeline! {
    /// Counts words.
    pub pipeline WordCount {
        source lines: String = iter(items: vec!["a b".to_string(), "b c b".to_string()]);
        lines
            -> flat_map(|l: String| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            -> key_by(|w: &String| w.clone())
            -> aggregate(count())
            -> sink collect(name: "counts");
    }
}

#[test]
fn smoke() {
    let out = WordCount::run_default().unwrap();
    let got: Vec<(String, u64)> = out.collected("counts").unwrap();
    eprintln!("{}", out.summary());
    assert_eq!(got.len(), 5);
}
