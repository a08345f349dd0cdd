#!/usr/bin/env bash
# Instruction counts per 8192-row batch of the filter paths (native, Wasm
# selection, Wasm whole batch), measured with callgrind: repeatable where
# wall-clock medians are not (a shared 2-core VM moves them by ±20 %).
# Also each Wasm path without epoch interruption, for what deadlines cost.
# Each path runs twice (20 and 120 batches after the same setup); the
# difference divided by 100 is the count per batch. Note that callgrind counts
# a `rep movsb` copy once per byte, so copies weigh more here than in time.
# FILTER_BENCH_ROWS=64 (say) counts smaller batches, where the fixed cost of a
# call shows.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y valgrind
cargo bench -p weir-e2e --bench filter_instructions --no-run
target_dir="${CARGO_TARGET_DIR:-target}"
bench=$(ls -t "$target_dir"/release/deps/filter_instructions-* | grep -v '\.d$' | head -1)
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" "$1" "$2" 2>&1 | sed -nE 's/.*Collected : ([0-9]+).*/\1/p'; }
# Fill the compiled-component cache first, so no counted run compiles. Under
# valgrind the engine may see other CPU features (another cache key), so warm
# it there too.
for path in wasm_selection wasm_selection_no_epoch; do
  "$bench" "$path" 1 >/dev/null
  valgrind --tool=none "$bench" "$path" 1 >/dev/null 2>&1
done
declare -A per_batch
for path in native wasm_selection wasm_batches wasm_selection_no_epoch wasm_batches_no_epoch; do
  low=$(count "$path" 20)
  high=$(count "$path" 120)
  per_batch[$path]=$(( (high - low) / 100 ))
  echo "$path: ${per_batch[$path]} instructions per batch"
done
for path in wasm_selection wasm_batches; do
  awk -v n="${per_batch[native]}" -v w="${per_batch[$path]}" -v p="$path" \
    'BEGIN {printf "%s: %.0f %% of native (native / %s instructions)\n", p, 100 * n / w, p}'
done
for path in wasm_selection wasm_batches; do
  awk -v e="${per_batch[$path]}" -v n="${per_batch[${path}_no_epoch]}" -v p="$path" \
    'BEGIN {printf "%s: epoch interruption costs %.1f %% (%d vs %d instructions without)\n", p, 100 * (e - n) / n, e, n}'
done
