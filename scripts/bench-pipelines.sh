#!/usr/bin/env bash
# End-to-end pipeline benchmark: the quickstart's shape on 10 million
# generated rows against a pass-through baseline (same source and sink, no
# transform), in one run of this script. Prints each run's summary line
# (rows/s, peak memory) and the median ratio. ROWS and RUNS override the
# defaults (10,000,000 rows, 3 runs each, alternating).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p weir -p weir-plugin-artifacts
target_dir="${CARGO_TARGET_DIR:-target}"
export WEIR_PLUGIN_PATH="$target_dir/weir-plugins/wasm32-wasip2/release"
export ROWS="${ROWS:-10000000}"
runs="${RUNS:-3}"
weir="$target_dir/release/weir"
# Compile the plugins into the cache before timing anything.
ROWS=1000 "$weir" run --quiet benches/pipelines/quickstart.yaml

declare -A rates
for run in $(seq "$runs"); do
  for pipeline in passthrough quickstart; do
    line=$("$weir" run "benches/pipelines/$pipeline.yaml" 2>&1 >/dev/null | tail -1)
    echo "$pipeline run $run: $line"
    rate=$(sed -E 's/.*\(([0-9]+) rows\/s\).*/\1/' <<<"$line")
    rates[$pipeline]+="$rate "
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median "${rates[passthrough]}")
full=$(median "${rates[quickstart]}")
echo "median rows/s: passthrough $base, quickstart $full; quickstart runs at $(awk "BEGIN {printf \"%.0f\", 100 * $full / $base}") % of the pass-through rate"
