#!/usr/bin/env bash
# Every test: host unit tests, SDK and plugin unit tests, and end-to-end
# tests that build every plugin for wasm32-wasip2 and run it in the host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
# system-tests: the tests that need the broker and tools setup.sh --tests
# installed (a plain `cargo test` leaves them out).
exec cargo test --workspace --no-fail-fast --features weir/system-tests "$@"
