#!/usr/bin/env bash
# Weir against Polars and DuckDB (Nexmark q1 and q2 on the same Parquet file,
# 2 threads each) and Weir's Python plugins against Bytewax, runs
# alternating; writes the ratios to BENCHMARKS.md (benches/peers/run.py).
# The peers come from PyPI into ~/.cache/weir/peers. PEERS_ROUNDS (default 7)
# and PEERS_EVENTS (default 2,173,950 generated events: 2,000,034 bids)
# change the size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/toolchains.sh python
cargo build --release -p weir -p weir-plugin-artifacts
target_dir="${CARGO_TARGET_DIR:-target}"
export WEIR_PLUGIN_PATH="$PWD/$target_dir/weir-plugins/wasm32-wasip2/release"
weir="$target_dir/release/weir"

peers="${WEIR_PEERS_DIR:-$HOME/.cache/weir/peers}"
pins="polars==2.1.0 duckdb==2.0.1 bytewax==0.21.1 pyarrow==22.0.0"
if [ "$(cat "$peers/.installed" 2>/dev/null)" != "$pins" ]; then
    rm -rf "$peers"
    python3 -m venv "$peers"
    # shellcheck disable=SC2086
    "$peers/bin/pip" install -q --disable-pip-version-check $pins
    echo "$pins" > "$peers/.installed"
fi

for query in q1 q2; do
    "$weir" plugin build "benches/peers/python/$query"
done
data="$PWD/$target_dir/bench-peers"
rm -rf "$data/bids"
mkdir -p "$data"
EVENTS="${PEERS_EVENTS:-2173950}" OUT="$data/bids" "$weir" run --quiet benches/peers/bids.yaml
mv "$data/bids/part-00000.parquet" "$data/bids.parquet"
exec "$peers/bin/python" benches/peers/run.py --weir "$weir" --input "$data/bids.parquet" \
    --rounds "${PEERS_ROUNDS:-7}" --write BENCHMARKS.md
