#!/usr/bin/env bash
# Every test: host unit tests, SDK and plugin unit tests, and end-to-end
# tests that build every plugin for wasm32-wasip2 and run it in the host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
exec cargo test --workspace --no-fail-fast "$@"
