//! Every connector and option, fan-out, union, named streams and dead letters.
use pipeline::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Reading {
    sensor: String,
    value: f64,
    #[event_time]
    at: Timestamp,
}

pipeline! {
    pipeline Everything {
        source from_file: Reading = file(path: "in.csv", format: csv, header: true, on_error: dead_letter(bad));
        source from_socket: Reading = socket(host: "localhost", port: 7000, format: json, on_error: skip, retries: 2, retry_delay: 1.5s, reconnect: false);
        source from_stdin: Reading = stdin(format: json, on_error: fail);
        source made: u64 = generator(count: 10, rate: 5, record: |i: u64| i);
        source listed: u64 = iter(items: vec![1_u64, 2]);

        let readings = from_file -> union(from_socket, from_stdin);
        readings -> key_by(|r: &Reading| r.sensor.clone()) -> aggregate(avg(value)) -> sink stdout(format: json);
        readings -> filter(|r: &Reading| r.value > 0.0) -> sink file(path: "out.csv", format: csv, append: true);
        made -> union(listed) -> filter_map(|x: u64| x.checked_sub(1)) -> sink collect(name: "made_out");
        bad -> sink file(name: "bad", path: "bad.jsonl", format: json);
    }
}

fn main() {
    let graph = Everything::describe(RunOptions::default());
    let _ = graph;
}
