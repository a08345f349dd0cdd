#!/usr/bin/env bash
# The benchmark page: the Nexmark queries (benches/nexmark/) as Weir
# pipelines of Wasm plugins against the same queries in native Rust on arrow
# and, for q1/q2, a per-record Wasm plugin; then instantiation, hot swap
# pause and cached vs uncached component load. Writes BENCHMARKS.md.
# NEXMARK_EVENTS (default 2,000,000) and NEXMARK_RUNS (default 5) set the size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo bench -p weir-e2e --bench nexmark "$@"
