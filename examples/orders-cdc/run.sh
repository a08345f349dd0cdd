#!/usr/bin/env bash
# The orders-cdc example end to end on this machine: a throwaway PostgreSQL
# (Debian's, a new cluster in a temporary folder with wal_level=logical) and
# a Kafka-protocol broker (tansu, scripts/kafka-broker.sh), the `orders`
# table with 1,000 rows, a first run (the snapshot), a small writer
# (inserts, updates, deletes), a second run (the changes), then the mirror
# read with DuckDB beside the table itself, and the Debezium messages.
#
#   examples/orders-cdc/run.sh          # needs `weir` on PATH, or WEIR=path/to/weir
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
weir="${WEIR:-weir}"

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q && $sudo apt-get install -y -q postgresql
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
"$root/scripts/kafka-broker.sh" install
"$root/scripts/python-readers.sh"

work=$(mktemp -d)
as_server=()
if [ "$(id -u)" -eq 0 ]; then chown postgres "$work"; as_server=(runuser -u postgres --); fi
cleanup() {
    "${as_server[@]}" "$bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true
    [ -n "${broker:-}" ] && kill "$broker" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

export PGHOST=127.0.0.1 PGPORT=${PGPORT:-54329} PGUSER=weir PGDATABASE=shop
export KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT:-19092}
"${as_server[@]}" "$bin/initdb" -D "$work/data" -U weir --auth=trust -E UTF8 >/dev/null
"${as_server[@]}" "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start \
    -o "-c port=$PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c wal_level=logical" >/dev/null
(cd "$work" && exec "$HOME/.cache/weir/tansu/bin/tansu" broker --listener-url "tcp://$KAFKA_BROKERS" \
    --advertised-listener-url "tcp://$KAFKA_BROKERS" --storage-engine sqlite://tansu.db >/dev/null 2>&1) &
broker=$!
psql -q -d postgres -c "CREATE DATABASE shop"
psql -q <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, email text NOT NULL, status text NOT NULL, amount numeric(10,2) NOT NULL);
INSERT INTO orders SELECT i, 'customer' || i || '@example.com', 'new', (i % 97) + 0.99 FROM generate_series(1, 1000) i;
SQL
"$HOME/.cache/weir/tansu/bin/tansu" topic create shop.public.orders --broker "tcp://$KAFKA_BROKERS" >/dev/null

cd "$here"
rm -rf lake state dead-letters
echo "== first run: the snapshot of 1,000 orders"
"$weir" run pipeline.yaml
echo "== a writer: 200 orders paid, 50 cancelled (deleted), 100 new"
psql -q <<'SQL'
UPDATE orders SET status = 'paid' WHERE id <= 200;
DELETE FROM orders WHERE id > 950;
INSERT INTO orders SELECT i, 'customer' || i || '@example.com', 'new', 10 FROM generate_series(1001, 1100) i;
SQL
echo "== second run: the changes"
"$weir" run pipeline.yaml

echo "== the table in PostgreSQL"
psql -At -c "SELECT status, count(*), sum(amount) FROM orders GROUP BY status ORDER BY status"
echo "== its mirror in lake/orders, read with DuckDB"
python="$HOME/.cache/weir/lake-readers/bin/python"
"$python" - <<'PY'
import glob, os, duckdb, duckdb_extension_delta
ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions", "*", "delta.duckdb_extension"))[0]
c = duckdb.connect(config={"allow_unsigned_extensions": True})
c.execute(f"LOAD '{ext}'")
for row in c.sql("SELECT status, count(*), sum(amount) FROM delta_scan('lake/orders') GROUP BY status ORDER BY status").fetchall():
    print("|".join(str(v) for v in row))
print("an e-mail as mirrored:", c.sql("SELECT email FROM delta_scan('lake/orders') WHERE id = 1").fetchone()[0])
PY
echo "== the last Debezium message on shop.public.orders"
"$HOME/.cache/weir/tansu/client/bin/python" "$root/scripts/kafka_client.py" consume "$KAFKA_BROKERS" shop.public.orders | tail -1
