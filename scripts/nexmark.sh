#!/usr/bin/env bash
# Runs every Nexmark query of `examples/nexmark` (generated events in both
# modes, the exported CSV files, the latency run and the hand-written
# baselines) and writes the figures as a markdown section of
# benches/RESULTS.md, with the machine they were measured on.
#
#   bash scripts/nexmark.sh [EVENTS]      # default 10000000
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:-10000000}
data=target/nexmark-data
results=benches/RESULTS.md
queries=(q0 q1 q2 q3 q4 count q5 q7 q8 q11 q12)
log=target/nexmark-run.log

cargo build --release --example nexmark
bin=target/release/examples/nexmark
: >"$log"

# The CSV files are exported once per event count.
if [[ ! -f $data/bid.csv || "$(cat "$data/events" 2>/dev/null)" != "$events" ]]; then
    "$bin" export --dir "$data" --events "$events" | tee -a "$log"
    echo "$events" >"$data/events"
fi

field() { # field NAME OUTPUT: the value after `NAME: ` in the harness output
    grep -m1 "^$1: " <<<"$2" | sed "s|^$1: ||"
}
mps() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }

rows=()
baselines=()
for q in "${queries[@]}"; do
    echo "== $q" | tee -a "$log"
    cont=$("$bin" --query "$q" --events "$events" --mode continuous --parallelism 2)
    echo "$cont" >>"$log"
    micro=$("$bin" --query "$q" --events "$events" --mode micro-batch --parallelism 2 --latency-rate 0)
    echo "$micro" >>"$log"
    csv=$("$bin" --query "$q" --csv "$data" --mode continuous --parallelism 2 --latency-rate 0)
    echo "$csv" >>"$log"
    latency=$(grep -m1 '^latency at' <<<"$cont" | sed 's/^latency at [0-9]* events\/s: //')
    rate() { echo "$(mps "$(field events/s "$1")") ($(mps "$(field records/s "$1")"))"; }
    rows+=("| $q | $(rate "$cont") | $(rate "$micro") | $(rate "$csv") | ${latency:-n/a} | $(field 'peak memory' "$cont") / $(field 'peak memory' "$csv") |")
    if [[ $q == q1 || $q == q5 || $q == q7 ]]; then
        # Three runs: on a shared machine one run can be off by a third.
        for run in 1 2 3; do
            base=$("$bin" --query "$q" --events "$events" --parallelism 1 --latency-rate 0 --baseline)
            echo "$base" >>"$log"
            loop=$(grep -m1 '^hand-written loop' <<<"$base")
            loop_rate=$(sed -E 's/^hand-written loop: ([0-9]+) events\/s.*/\1/' <<<"$loop")
            ratio=$(sed -E 's/.*pipeline \/ loop time: ([0-9.]+)$/\1/' <<<"$loop")
            baselines+=("| $q | $run | $(mps "$(field events/s "$base")") | $(mps "$loop_rate") | $ratio |")
        done
    fi
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
section=$(
    cat <<MD
<!-- nexmark:begin (written by scripts/nexmark.sh; edits here are replaced) -->
## Nexmark

\`bash scripts/nexmark.sh $events\` on $(date -u +%Y-%m-%d): $(nproc) cores ($cpu), $mem, rustc $(rustc --version | cut -d' ' -f2).
Each figure is one run of \`cargo run --release --example nexmark -- --query Q --events $events --parallelism 2\`
(\`--mode micro-batch\` with 100 ms batches; \`--csv $data\` for the files \`nexmark export\` wrote). Events per second
count the events a run stands for: a query's sources make (or read) only the kinds it uses, and bids are 46
of every 50 events, auctions 3, persons 1; in brackets, the records the sources made or read per second. Latency is end-to-end (from the moment a source's record enters the pipeline to the emission
of the results it feeds) at 100,000 events/s in continuous mode; peak memory is the process's peak resident set (generator / CSV run).

| query | generator, continuous | generator, micro-batch | CSV, continuous | latency p50 / p99 | peak memory |
|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Hand-written loops over the same generated events, parallelism 1 (\`--parallelism 1 --baseline\`); the
ratio is the pipeline's time over the loop's (target: at most 1.2):

| query | run | pipeline, p=1 | hand-written loop | ratio |
|---|---|---|---|---|
$(printf '%s\n' "${baselines[@]}")
<!-- nexmark:end -->
MD
)

python3 - "$results" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pattern = re.compile(r"<!-- nexmark:begin.*?<!-- nexmark:end -->", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "wrote the Nexmark section of $results (full output in $log)"
