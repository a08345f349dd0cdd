#!/usr/bin/env bash
# Python data tools the tests use as independent writers and readers, each
# set in a virtual environment of its own (never the system Python), from
# PyPI. Idempotent. scripts/setup.sh --tests runs it.
# - ~/.cache/weir/readers: pyarrow, pandas and DuckDB, which write and read
#   Parquet;
# - ~/.cache/weir/lake-readers: readers of the Delta tables the `delta` sink
#   writes: the `deltalake` package (delta-rs's Python binding: versions,
#   history, time travel) and DuckDB with its Delta extension. DuckDB's
#   extension packages must match DuckDB's version, hence its own
#   environment;
# - ~/.cache/weir/lineage: the `openlineage-python` package, whose model of
#   the OpenLineage spec checks the lineage events Weir emits.
set -euo pipefail

# install_venv NAME DIR PINS: DIR holds exactly PINS afterwards.
install_venv() {
    local name=$1 dir=$2 pins=$3
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.installed" 2>/dev/null)" = "$pins" ]; then
        return
    fi
    echo "$name: installing $pins into $dir" >&2
    rm -rf "$dir"
    python3 -m venv "$dir"
    # shellcheck disable=SC2086
    "$dir/bin/pip" install -q --disable-pip-version-check $pins
    echo "$pins" > "$dir/.installed"
}

install_venv python-readers "${WEIR_READERS_DIR:-$HOME/.cache/weir/readers}" \
    "pyarrow==22.0.0 pandas==3.1.1 duckdb==2.0.1"
install_venv lake-readers "${WEIR_LAKE_READERS_DIR:-$HOME/.cache/weir/lake-readers}" \
    "deltalake==1.6.6 pyarrow==22.0.0 duckdb==1.5.5 duckdb-extension-delta==1.5.5"
install_venv lineage "${WEIR_LINEAGE_DIR:-$HOME/.cache/weir/lineage}" \
    "openlineage-python==1.54.0"
