#!/usr/bin/env bash
# Python data tools the tests use as independent writers and readers of
# Parquet (pyarrow, pandas, DuckDB, from PyPI), in a virtual environment of
# their own under ~/.cache/weir/readers (never the system Python).
# Idempotent. scripts/setup.sh --tests runs it.
set -euo pipefail

dir="${WEIR_READERS_DIR:-$HOME/.cache/weir/readers}"
pins="pyarrow==22.0.0 pandas==3.1.1 duckdb==2.0.1"
if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.installed" 2>/dev/null)" = "$pins" ]; then exit 0; fi
echo "python-readers: installing $pins into $dir" >&2
rm -rf "$dir"
python3 -m venv "$dir"
# shellcheck disable=SC2086
"$dir/bin/pip" install -q --disable-pip-version-check $pins
echo "$pins" > "$dir/.installed"
