#!/usr/bin/env bash
# Load on the `http` source with wrk (Debian's; scripts/setup.sh --tests
# installs it), with the release `weir`:
# - requests/s, events/s and p50/p99 latency with `ack: received` and with
#   `ack: durable` (checkpoints every 100 ms), bodies of 100 JSON lines,
#   into a JSON-lines file sink;
# - resident memory of `weir` while a stuck transform makes the source
#   refuse (503): sampled every half second, it must stay flat.
# Usage: scripts/bench-http.sh [SECONDS]   (each load lasts SECONDS, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
scripts/setup.sh --tests >/dev/null
cargo build --release -q -p weir -p weir-plugin-artifacts
target_dir="$(realpath "${CARGO_TARGET_DIR:-target}")"
weir="$target_dir/release/weir"
plugins="$target_dir/weir-plugins/wasm32-wasip2/release"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=18480

body=""
for i in $(seq 1 100); do body="$body{\\\"id\\\":$i,\\\"name\\\":\\\"load\\\"}\\n"; done
cat > "$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-ndjson"
EOF

# pipeline ACK [TRANSFORM]: the pipeline file for one load.
pipeline() {
    local transforms="" input=events
    if [ -n "${2:-}" ]; then
        transforms="transforms:
  stuck: {plugin: test-misbehave, config: sleep, inputs: [events]}"
        input=stuck
    fi
    cat > "$work/pipeline.yaml" <<EOF
checkpoint_interval_ms: 100
sources:
  events:
    type: http
    config: {address: 127.0.0.1:$port, schema: {id: int64, name: utf8}, ack: $1}
$transforms
sinks:
  out: {type: file, inputs: [$input], config: {path: out, format: json, mode: append}}
EOF
}

# load NAME CONNECTIONS: runs wrk against the pipeline written last; prints
# its figures (events/s: of the requests answered 200).
load() {
    rm -rf "$work/out" "$work/state"
    (cd "$work" && WEIR_PLUGIN_PATH="$plugins" "$weir" run --quiet pipeline.yaml 2>"$work/weir.log") &
    local weir_pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    local pid
    pid="$(pgrep -n -f "$weir run --quiet pipeline.yaml")"
    : > "$work/rss"
    (while kill -0 "$pid" 2>/dev/null; do
        awk '/VmRSS/ {print $2}' "/proc/$pid/status" >> "$work/rss" 2>/dev/null || true
        sleep 0.5
    done) &
    wrk -t2 -c"$2" -d"${seconds}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port/" > "$work/wrk.txt"
    kill -INT "$pid"; wait "$weir_pid" || true
    local rps p50 p99 non2xx
    rps="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")"
    p50="$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")"
    p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
    non2xx="$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")"
    local rss
    rss="$(sort -n "$work/rss" | awk 'NR == 1 {min = $1} {max = $1} END {printf "%.1f to %.1f MiB", min / 1024, max / 1024}')"
    local requests ok_rps
    requests="$(awk '/requests in/ {print $1}' "$work/wrk.txt")"
    ok_rps="$(awk -v n="$requests" -v bad="${non2xx:-0}" -v s="$seconds" 'BEGIN {printf "%.0f", (n - bad) / s}')"
    printf '%-34s %8s req/s (%7s answered 200/s, %9s events/s)  p50 %8s  p99 %8s  RSS %s\n' \
        "$1, $2 connections" "$rps" "$ok_rps" "$((ok_rps * 100))" "$p50" "$p99" "$rss"
}

pipeline received; load "ack: received" 16
pipeline durable; load "ack: durable" 16
pipeline durable; load "ack: durable" 256
pipeline received stuck; load "saturated (503s)" 16
echo "RSS samples while saturated (KiB, every 0.5 s): $(tr '\n' ' ' < "$work/rss")"
