#!/usr/bin/env bash
# Installs what building and testing Weir needs on a fresh machine. Idempotent.
# - the wasm32-wasip2 target: plugins are built for it (RUSTUP_AUTO_INSTALL=0
#   machines never install it on their own);
# - Debian packages: procps (`kill`: the Ctrl-C test sends SIGINT to a running
#   `weir`), libssl-dev, zlib1g-dev and pkg-config (librdkafka is built from
#   source with TLS and compression);
# - the Python and JavaScript plugin toolchains (scripts/toolchains.sh);
# - with --tests: a Kafka-protocol broker and client for the tests
#   (scripts/kafka-broker.sh; building the broker takes minutes, once), and
#   Debian's kcat, the stock Kafka command-line client the tests check
#   interoperability with, and Debian's prometheus for `promtool check
#   metrics` on Weir's /metrics; and pyarrow, pandas and DuckDB
#   (scripts/python-readers.sh), which write and read Parquet in the tests, and
#   the Delta readers (deltalake, DuckDB with its Delta extension), and the
#   openlineage-python package that checks the lineage events; and
#   Debian's postgresql, whose server the change-data-capture tests start in
#   temporary folders (runtime/tests/support/postgres.rs), and openssl, which
#   makes the certificates of its TLS test; and Debian's chromium and
#   chromium-driver, the headless browser the admin page's test drives; and
#   curl and wrk, the HTTP client and load generator of the http source's
#   tests.
set -euo pipefail

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi

packages=(procps libssl-dev zlib1g-dev pkg-config)
[ "${1:-}" = "--tests" ] && packages+=(kcat prometheus postgresql openssl chromium chromium-driver curl wrk mosquitto mosquitto-clients)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q && $sudo apt-get install -y -q "${missing[@]}"
fi

"$(dirname "$0")/toolchains.sh"
if [ "${1:-}" = "--tests" ]; then
    "$(dirname "$0")/kafka-broker.sh" install
    "$(dirname "$0")/python-readers.sh"
fi
