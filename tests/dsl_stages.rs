//! Every stage of the DSL, run end to end through the `pipeline!` macro.

use pipeline::prelude::*;
use pipeline::runtime::operator::Aggregate;

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sale {
    shop: String,
    amount: u32,
    price: f64,
}

fn sales() -> Vec<Sale> {
    [
        ("a", 3, 1.5),
        ("b", 1, 2.0),
        ("a", 5, 0.5),
        ("a", 2, 4.0),
        ("b", 7, 1.0),
    ]
    .into_iter()
    .map(|(shop, amount, price)| Sale {
        shop: shop.into(),
        amount,
        price,
    })
    .collect()
}

pipeline! {
    pipeline Stateless {
        source xs: i64 = iter(items: -3..=6_i64);
        let evens = xs -> filter(|x: &i64| x % 2 == 0) -> map(|x: i64| x * 10);
        evens -> sink collect(name: "evens");
        xs -> filter_map(|x: i64| u8::try_from(x).ok()) -> sink collect(name: "small");
        xs -> flat_map(|x: i64| std::iter::repeat_n(x, usize::try_from(x).unwrap_or(0).min(2)))
           -> inspect(|x: &i64| assert!(*x > 0))
           -> sink collect(name: "repeated");
    }
}

#[test]
fn stateless_stages_and_fan_out() {
    let out = Stateless::run_default().unwrap();
    let evens: Vec<i64> = out.collected("evens").unwrap();
    assert_eq!(sorted(evens), vec![-20, 0, 20, 40, 60]);
    let small: Vec<u8> = out.collected("small").unwrap();
    assert_eq!(sorted(small), vec![0, 1, 2, 3, 4, 5, 6]);
    let repeated: Vec<i64> = out.collected("repeated").unwrap();
    assert_eq!(sorted(repeated), vec![1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
    // The summary counts what each stage saw: `xs` fans out to three chains.
    let summary = out.summary();
    assert!(summary.contains("source xs (iter) 10"), "{summary}");
    assert!(summary.contains("filter 10→5"), "{summary}");
}

pipeline! {
    pipeline Aggregates {
        source sales: Sale = iter(items: sales());
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(count()) -> sink collect(name: "count");
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(sum(amount)) -> sink collect(name: "sum");
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(min(|s| s.price)) -> sink collect(name: "min");
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(max(amount)) -> sink collect(name: "max");
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(avg(price)) -> sink collect(name: "avg");
        sales
            -> key_by(|s: &Sale| s.shop.clone())
            -> reduce(|a: Sale, b: Sale| Sale { amount: a.amount + b.amount, ..b })
            -> map(|s: Sale| (s.shop, s.amount))
            -> sink collect(name: "reduce");
    }
}

/// The last value emitted per key: the final result of a running aggregate.
fn finals<K: Ord + Clone, V: Clone>(updates: Vec<(K, V)>) -> Vec<(K, V)> {
    let mut last = std::collections::BTreeMap::new();
    for (k, v) in updates {
        last.insert(k, v);
    }
    last.into_iter().collect()
}

#[test]
fn keyed_running_aggregates() {
    let out = Aggregates::run_default().unwrap();
    let count: Vec<(String, u64)> = out.collected("count").unwrap();
    // Running: every record emits its key's count so far.
    assert_eq!(
        sorted(count.clone()),
        vec![
            ("a".into(), 1),
            ("a".into(), 2),
            ("a".into(), 3),
            ("b".into(), 1),
            ("b".into(), 2)
        ]
    );
    assert_eq!(finals(count), vec![("a".into(), 3), ("b".into(), 2)]);
    let sum: Vec<(String, u64)> = out.collected("sum").unwrap();
    assert_eq!(finals(sum), vec![("a".into(), 10), ("b".into(), 8)]);
    let min: Vec<(String, f64)> = out.collected("min").unwrap();
    assert_eq!(finals(min), vec![("a".into(), 0.5), ("b".into(), 1.0)]);
    let max: Vec<(String, u32)> = out.collected("max").unwrap();
    assert_eq!(finals(max), vec![("a".into(), 5), ("b".into(), 7)]);
    let avg: Vec<(String, f64)> = out.collected("avg").unwrap();
    assert_eq!(finals(avg), vec![("a".into(), 2.0), ("b".into(), 1.5)]);
    let reduce: Vec<(String, u32)> = out.collected("reduce").unwrap();
    assert_eq!(finals(reduce), vec![("a".into(), 10), ("b".into(), 8)]);
}

/// A user aggregate: the distinct values seen.
#[derive(Clone)]
struct Distinct;

impl Aggregate<Sale> for Distinct {
    type Acc = std::collections::BTreeSet<u32>;
    type Out = usize;
    fn create(&self) -> Self::Acc {
        Default::default()
    }
    fn add(&self, acc: &mut Self::Acc, item: &Sale) {
        acc.insert(item.amount % 2);
    }
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
        acc.extend(other);
    }
    fn result(&self, acc: &Self::Acc) -> usize {
        acc.len()
    }
}

pipeline! {
    pipeline Custom {
        source sales: Sale = iter(items: sales());
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(Distinct) -> sink collect(name: "out");
    }
}

#[test]
fn a_user_aggregate_runs_in_the_dsl() {
    let out: Vec<(String, usize)> = Custom::run_default().unwrap().collected("out").unwrap();
    assert_eq!(finals(out), vec![("a".into(), 2), ("b".into(), 1)]);
}

pipeline! {
    pipeline Unions {
        source a: u32 = iter(items: 0..3_u32);
        source b: u32 = generator(count: 4, record: |i: u64| 100 + i as u32);
        source c: u32 = iter(items: [7_u32]);
        a -> union(b, c) -> map(|x: u32| x + 1) -> sink collect(name: "out");
    }
}

#[test]
fn union_merges_every_input() {
    for p in [1, 3] {
        let out = Unions::run_with(RunOptions::default().with_parallelism(p)).unwrap();
        let got: Vec<u32> = out.collected("out").unwrap();
        assert_eq!(
            sorted(got),
            vec![1, 2, 3, 8, 101, 102, 103, 104],
            "parallelism {p}"
        );
    }
}

#[test]
fn graphs_describe_every_node_and_exchange() {
    let g = Aggregates::describe(RunOptions::default().with_parallelism(2)).unwrap();
    let text = g.render(pipeline::runtime::exec::GraphFormat::Text);
    assert!(text.starts_with("pipeline Aggregates"), "{text}");
    assert!(text.contains("key_by x1"), "{text}");
    assert!(text.contains("aggregate x2  <- ["), "{text}");
    assert!(text.contains("via hash"), "{text}");
    let dot = g.render(pipeline::runtime::exec::GraphFormat::Dot);
    assert!(dot.contains("label=\"hash\", style=dashed"), "{dot}");
    let mermaid = g.render(pipeline::runtime::exec::GraphFormat::Mermaid);
    assert!(
        mermaid.starts_with("flowchart LR") && mermaid.contains("-. hash .->"),
        "{mermaid}"
    );
    assert_eq!(g.nodes[0].id, "Aggregates/0-source-sales--iter");
}
