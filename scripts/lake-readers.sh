#!/usr/bin/env bash
# Readers of lakehouse tables that nobody here wrote, for the tests of the
# `delta` sink: the Python `deltalake` package (delta-rs's Python binding:
# versions, history, time travel) and DuckDB with its Delta extension, from
# PyPI, in a virtual environment of their own under ~/.cache/weir/lake-readers.
# DuckDB's extension packages must match DuckDB's version, which is why this
# is not the Parquet readers' environment (scripts/python-readers.sh).
# Idempotent. scripts/setup.sh --tests runs it.
set -euo pipefail

dir="${WEIR_LAKE_READERS_DIR:-$HOME/.cache/weir/lake-readers}"
pins="deltalake==1.6.6 pyarrow==22.0.0 duckdb==1.5.5 duckdb-extension-delta==1.5.5"
if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.installed" 2>/dev/null)" = "$pins" ]; then exit 0; fi
echo "lake-readers: installing $pins into $dir" >&2
rm -rf "$dir"
python3 -m venv "$dir"
# shellcheck disable=SC2086
"$dir/bin/pip" install -q --disable-pip-version-check $pins
echo "$pins" > "$dir/.installed"
