#!/usr/bin/env bash
# The demo: builds the host and every first-party plugin, inspects the
# plugins and runs a chain of them over generated clickstream events.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --bin weir-demo
