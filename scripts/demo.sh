#!/usr/bin/env bash
# The demo: builds the `weir` command and every first-party plugin, then runs
# the quickstart pipeline (examples/quickstart) and prints its summary.
# The dev profile is used on purpose: dependencies are optimized in it, and
# the tests reuse the same build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -p weir -p weir-plugin-artifacts
target_dir="${CARGO_TARGET_DIR:-target}"
export WEIR_PLUGIN_PATH="$target_dir/weir-plugins/wasm32-wasip2/release"
exec "$target_dir/debug/weir" run examples/quickstart/pipeline.yaml "$@"
