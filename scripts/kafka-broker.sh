#!/usr/bin/env bash
# The Kafka-protocol broker the tests run against: tansu (crates.io), built
# once into ~/.cache/weir/tansu and reused, and an independent client for the
# tests (kafka-python from PyPI, in a venv beside it; Debian's kcat, on
# librdkafka 2.0, fails tansu 0.6's ApiVersions handshake). The tests start
# and stop their own broker processes with it (runtime/tests/support/kafka.rs);
# this script installs it, or runs one by hand.
#
# Storage: SQLite (the libsql feature). tansu 0.6's in-memory engine
# answers end offsets short of the last message and fetches from inside a
# batch starting at the next one; runtime/tests/kafka.rs checks the broker
# for both (WEIR_TANSU_FEATURES=libsql,dynostore builds the in-memory engine
# too, and WEIR_TEST_BROKER_STORAGE=memory runs the tests on it). Its
# successor, nisshi 0.7+, needs rustc 1.96.
#
#   scripts/kafka-broker.sh install        # build it if missing (idempotent)
#   scripts/kafka-broker.sh path           # print the binary's path
#   scripts/kafka-broker.sh run [PORT]     # a broker on localhost:PORT (default 9092), in the foreground
set -euo pipefail

version="0.6.0+${WEIR_TANSU_FEATURES:-libsql}"
dir="${WEIR_TANSU_DIR:-$HOME/.cache/weir/tansu}"
binary="$dir/bin/tansu"

install() {
    if [ ! -x "$dir/client/bin/python" ]; then
        python3 -m venv "$dir/client"
        "$dir/client/bin/pip" install -q --disable-pip-version-check kafka-python==2.2.15
    fi
    if [ -x "$binary" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$version" ]; then return; fi
    echo "kafka-broker: building tansu $version into $dir (once; several minutes)" >&2
    started=$SECONDS
    cargo install tansu --version "${version%+*}" --locked --no-default-features \
        --features "${version#*+}" --root "$dir" --target-dir "$dir/target"
    echo "$version" > "$dir/.version"
    rm -rf "$dir/target"
    echo "kafka-broker: built in $((SECONDS - started)) s" >&2
}

case "${1:-install}" in
    install) install ;;
    path) echo "$binary" ;;
    run)
        install
        port="${2:-9092}"
        # tansu 0.6 reads the database's path relative to its folder.
        mkdir -p "$dir/data" && cd "$dir/data"
        exec "$binary" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine "sqlite://tansu-$port.db"
        ;;
    *) echo "usage: $0 [install|path|run [PORT]]" >&2; exit 2 ;;
esac
