//! The `postgres-cdc` source against a real PostgreSQL server (Debian's,
//! started for each test in a temporary folder): the snapshot and the
//! stream after it, types, restarts, and schema changes.

mod support;

#[path = "support/postgres.rs"]
mod postgres;

#[cfg(feature = "kafka")]
#[path = "support/kafka.rs"]
mod kafka;

use std::collections::BTreeMap;
use std::path::Path;

use postgres::Postgres;
use support::*;

/// A pipeline in `dir` reading `table` of `server` (with `extra` source
/// settings) into JSON lines in `out/`.
fn cdc_pipeline(dir: &Path, server: &Postgres, table: &str, extra: &str) -> std::path::PathBuf {
    write_pipeline(
        dir,
        &format!(
            "checkpoint_interval_ms: 100
sources:
  changes:
    type: postgres-cdc
    config: {{{}, table: {table}, publication: weir_{table}, slot: weir_{table}, {extra}}}
sinks:
  out: {{type: file, inputs: [changes], config: {{path: out, format: json}}}}
",
            server.connection()
        ),
    )
}

/// The changes written to `dir/out`, in order of LSN (snapshot rows first).
fn changes(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = read_json_dir(&dir.join("out"));
    rows.sort_by_key(|r| (r["_lsn"].as_i64(), r["_op"] != "r"));
    rows
}

/// Rows inserted while the snapshot is read are either in it or in the
/// stream after it, never both and never neither; updates and deletes
/// follow as `u` and `d` with the old key in `_before`.
#[test]
fn the_snapshot_and_the_stream_after_it_hold_every_row_once() {
    let server = Postgres::start();
    server.sql("CREATE TABLE orders (id int PRIMARY KEY, email text, amount numeric(10,2))");
    server.sql("INSERT INTO orders SELECT i, 'u' || i || '@example.com', i * 1.5 FROM generate_series(0, 19999) i");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = cdc_pipeline(
        dir.path(),
        &server,
        "orders",
        "until_end: true, batch_rows: 500",
    );
    // Inserts that race the snapshot, one transaction each.
    let writer = {
        let client = server.client_args();
        std::thread::spawn(move || {
            for i in 20_000..20_300 {
                let out = std::process::Command::new("psql")
                    .args(&client)
                    .args(["-d", "shop", "-qc"])
                    .arg(format!(
                        "INSERT INTO orders VALUES ({i}, 'late{i}@example.com', 1)"
                    ))
                    .output()
                    .unwrap();
                assert!(out.status.success());
            }
        })
    };
    run_pipeline(&pipeline, &[]);
    writer.join().unwrap();
    server.sql("UPDATE orders SET amount = 2.25 WHERE id < 5");
    server.sql("DELETE FROM orders WHERE id >= 20290");
    run_pipeline(&pipeline, &[]);

    let rows = changes(dir.path());
    let mut ops: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for row in &rows {
        ops.entry(row["id"].as_i64().unwrap())
            .or_default()
            .push(row["_op"].as_str().unwrap().to_string());
    }
    assert_eq!(ops.len(), 20_300, "every id");
    for (id, seen) in &ops {
        let first = &seen[0];
        assert!(first == "r" || first == "c", "{id}: {seen:?}");
        let inserted = seen.iter().filter(|op| *op == "r" || *op == "c").count();
        assert_eq!(inserted, 1, "id {id} read once: {seen:?}");
    }
    assert_eq!(ops[&3], ["r", "u"]);
    assert_eq!(ops[&20_295].last().unwrap(), "d");
    let update = rows
        .iter()
        .find(|r| r["id"] == 3 && r["_op"] == "u")
        .unwrap();
    assert_eq!(update["amount"], 2.25);
    assert_eq!(update["email"], "u3@example.com");
    assert!(update["_txid"].as_i64().unwrap() > 0);
    assert!(update["_commit_time"].is_string());
    let delete = rows
        .iter()
        .find(|r| r["id"] == 20_295 && r["_op"] == "d")
        .unwrap();
    assert_eq!(
        delete["email"],
        serde_json::Value::Null,
        "a delete carries the key only"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(delete["_before"].as_str().unwrap()).unwrap()["id"],
        "20295"
    );
}

/// Every column type the source maps, from the snapshot and from the
/// stream, read as the values PostgreSQL holds; `weir validate` shows
/// the types; the slot confirms what the run recorded.
#[test]
fn columns_keep_their_types_and_the_slot_confirms_what_was_written() {
    let server = Postgres::start();
    server.sql(
        "CREATE TABLE kinds (id int8 PRIMARY KEY, small int2, whole int4, real4 float4, real8 float8,
         price numeric(12,3), free numeric, yes bool, name varchar(10), body text, raw bytea,
         day date, at_time time, at timestamp, at_zone timestamptz, ident uuid, doc jsonb)",
    );
    let row = |id: i64| {
        format!(
            "INSERT INTO kinds VALUES ({id}, -2, 40000, 1.5, -0.25, 1234.567, 3.14159265358979, true, 'é', 'a \"q\"', '\\x00ff',
             '2026-12-06', '10:11:12.5', '2026-12-06 10:11:12.123456', '2026-12-06 10:11:12+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{\"k\": [1]}}')"
        )
    };
    server.sql(&row(1));
    server.sql("INSERT INTO kinds (id) VALUES (2)");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = cdc_pipeline(dir.path(), &server, "kinds", "until_end: true");
    let validate = weir(&["validate", pipeline.to_str().unwrap()]);
    let shown = text(&validate.stdout) + &text(&validate.stderr);
    for typed in [
        "price: Decimal128(12, 3)",
        "free: Utf8",
        "at_zone: Timestamp(µs, \"+00:00\")",
        "raw: Binary",
        "_lsn: Int64",
    ] {
        assert!(shown.contains(typed), "{typed} in {shown}");
    }
    run_pipeline(&pipeline, &[]);
    server.sql(&row(3));
    run_pipeline(&pipeline, &[]);

    let rows = changes(dir.path());
    assert_eq!(rows.len(), 3);
    for row in [&rows[0], &rows[2]] {
        assert_eq!(row["small"], -2);
        assert_eq!(row["whole"], 40000);
        assert_eq!(row["real4"], 1.5);
        assert_eq!(row["real8"], -0.25);
        assert_eq!(row["price"], 1234.567);
        assert_eq!(row["free"], "3.14159265358979");
        assert_eq!(row["yes"], true);
        assert_eq!(row["name"], "é");
        assert_eq!(row["body"], "a \"q\"");
        assert_eq!(row["day"], "2026-12-06");
        assert_eq!(row["at_time"], "10:11:12.500");
        assert_eq!(row["at"], "2026-12-06T10:11:12.123456");
        assert_eq!(row["at_zone"], "2026-12-06T08:11:12Z");
        assert_eq!(row["ident"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assert_eq!(row["doc"], "{\"k\": [1]}");
        assert_eq!(row["_table"], "public.kinds");
    }
    assert_eq!(rows[0]["_op"], "r");
    assert_eq!(rows[2]["_op"], "c");
    assert_eq!(rows[1]["whole"], serde_json::Value::Null);

    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/changes.json")).unwrap(),
    )
    .unwrap();
    let confirmed = server.sql("SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = 'weir_kinds'");
    assert_eq!(
        confirmed.trim().parse::<i64>().unwrap(),
        recorded["position"]["lsn"].as_i64().unwrap(),
        "the slot confirms the recorded position"
    );
}

/// Starts streaming `pipeline` (no `until_end`) in `dir` and waits until
/// `rows` changes are written.
fn streaming(dir: &Path, pipeline: &Path, rows: usize) -> Running {
    let running = Running::start(dir, &["run", pipeline.to_str().unwrap()], &[]);
    running.wait_for(&format!("{rows} changes written"), || {
        dir.join("out").exists() && read_json_dir(&dir.join("out")).len() >= rows
    });
    running
}

/// A column added while the source streams stops the run after the
/// changes before it, naming the column; the next run reads the new
/// column. A column whose type changes stops it the same way. Nothing is
/// lost or read twice on the way (a failing source commits what it sent).
#[test]
fn a_table_altered_mid_stream_stops_the_run_saying_what_changed_and_loses_nothing() {
    let server = Postgres::start();
    server.sql("CREATE TABLE items (id int PRIMARY KEY, a text)");
    server.sql("INSERT INTO items VALUES (1, 'one')");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = cdc_pipeline(dir.path(), &server, "items", "linger_ms: 10");
    let stopped = |mut running: Running, what: &str| {
        let status = running.exited(&format!("after {what}"));
        assert!(!status.success(), "{}", running.stderr());
        running.stderr()
    };

    let running = streaming(dir.path(), &pipeline, 1);
    server.sql("INSERT INTO items VALUES (2, 'two')");
    server.sql("ALTER TABLE items ADD COLUMN b int");
    server.sql("INSERT INTO items VALUES (3, 'three', 7)");
    let stderr = stopped(running, "a new column");
    assert!(stderr.contains("public.items changed at LSN"), "{stderr}");
    assert!(stderr.contains("column b was added"), "{stderr}");
    assert!(stderr.contains("run the pipeline again"), "{stderr}");

    let running = streaming(dir.path(), &pipeline, 3);
    server.sql("ALTER TABLE items ALTER COLUMN b TYPE text");
    server.sql("INSERT INTO items VALUES (4, 'four', 'x')");
    let stderr = stopped(running, "a type change");
    assert!(stderr.contains("column b changed type"), "{stderr}");

    let running = streaming(dir.path(), &pipeline, 4);
    interrupt(&running.child);
    let rows = changes(dir.path());
    let by_id = |id: i64| rows.iter().filter(move |r| r["id"] == id);
    for id in 1..=4 {
        assert_eq!(by_id(id).count(), 1, "id {id} once in {rows:?}");
    }
    assert!(by_id(2).all(|r| r["a"] == "two"), "{rows:?}");
    assert!(by_id(3).any(|r| r["b"] == 7), "{rows:?}");
    assert!(by_id(4).all(|r| r["b"] == "x"), "{rows:?}");
}

/// The crash test: while pgbench runs 100,000 inserts, updates and deletes
/// over two tables, `weir` (two `postgres-cdc` sources into two Delta
/// tables in `merge` mode, and every change to JSON files beside them) is
/// killed with SIGKILL at random points and restarted, at least ten times.
/// At the end each Delta table holds exactly the rows of its source table;
/// the JSON files (at-least-once) hold every change at least once.
#[cfg(feature = "delta")]
#[test]
fn mirrors_in_delta_equal_the_source_tables_across_sigkills() {
    let server = Postgres::start();
    for table in ["orders", "customers"] {
        server.sql(&format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, amount int8 NOT NULL, note text)"
        ));
        server.sql(&format!(
            "INSERT INTO {table} SELECT i, i, 'seed' FROM generate_series(1, 2000) i"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let source = |table: &str, extra: &str| {
        format!(
            "  {table}: {{type: postgres-cdc, config: {{{}, table: {table}, publication: weir_{table}, slot: weir_{table}, batch_rows: 500, linger_ms: 20{extra}}}}}\n",
            server.connection()
        )
    };
    let pipeline = |extra: &str| {
        write_pipeline(
            dir.path(),
            &format!(
                "checkpoint_interval_ms: 50
sources:
{}{}sinks:
  orders_lake: {{type: delta, inputs: [orders], config: {{path: lake/orders, mode: merge, keys: [id], op_column: _op}}}}
  customers_lake: {{type: delta, inputs: [customers], config: {{path: lake/customers, mode: merge, keys: [id], op_column: _op}}}}
  log: {{type: file, inputs: [orders, customers], config: {{path: log, format: json}}}}
",
                source("orders", extra),
                source("customers", extra)
            ),
        )
    };
    // 25,000 transactions of four changes: an upsert and a delete in each
    // table (100,000 changes, about a quarter of them deletes that find no row).
    let mut writer = server.pgbench(
        "\\set a random(1, 4000)
\\set b random(1, 4000)
BEGIN;
INSERT INTO orders VALUES (:a, :a, 'w') ON CONFLICT (id) DO UPDATE SET amount = orders.amount + 1, note = 'u';
DELETE FROM orders WHERE id = :b;
INSERT INTO customers VALUES (:b, :b, 'w') ON CONFLICT (id) DO UPDATE SET amount = customers.amount + 1, note = 'u';
DELETE FROM customers WHERE id = :a;
END;
",
        25_000,
    );
    let streaming = pipeline("");
    let mut seed: u64 = 0xc0ffee;
    let mut kills = 0;
    while kills < 10 || writer.try_wait().unwrap().is_none() {
        let weir = Running::start(
            dir.path(),
            &["run", "--quiet", streaming.to_str().unwrap()],
            &[],
        );
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(std::time::Duration::from_millis(400 + (seed >> 33) % 1600));
        let mut weir = weir;
        assert!(
            weir.child.try_wait().unwrap().is_none(),
            "weir stopped: {}",
            weir.stderr()
        );
        weir.child.kill().unwrap(); // SIGKILL
        weir.child.wait().unwrap();
        kills += 1;
    }
    assert!(writer.wait().unwrap().success(), "pgbench failed");
    run_pipeline(&pipeline(", until_end: true"), &[]);

    for table in ["orders", "customers"] {
        let expected: Vec<(i64, i64, String)> = server
            .sql(&format!("SELECT id, amount, note FROM {table} ORDER BY id"))
            .lines()
            .map(|line| {
                let mut fields = line.split('|');
                let mut next = || fields.next().unwrap().to_string();
                (next().parse().unwrap(), next().parse().unwrap(), next())
            })
            .collect();
        let mirror: Vec<(i64, i64, String)> =
            read_delta(dir.path(), &format!("lake/{table}"), None, "id")
                .iter()
                .map(|r| {
                    (
                        r["id"].as_i64().unwrap(),
                        r["amount"].as_i64().unwrap(),
                        r["note"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
        assert_eq!(mirror.len(), expected.len(), "{table}: rows");
        assert_eq!(mirror, expected, "{table}: the mirror equals the table");
    }
    let log = read_json_dir(&dir.path().join("log"));
    let changes: std::collections::HashSet<(String, i64, i64)> = log
        .iter()
        .map(|r| {
            (
                r["_table"].as_str().unwrap().to_string(),
                r["_lsn"].as_i64().unwrap(),
                r["id"].as_i64().unwrap(),
            )
        })
        .collect();
    eprintln!(
        "{kills} SIGKILLs; changes logged {}, distinct {}, duplicates {}",
        log.len(),
        changes.len(),
        log.len() - changes.len()
    );
}

/// Changes to Kafka in Debezium's JSON envelope, read back with an
/// independent client (kafka-python) and checked field by field against
/// the envelope Debezium's PostgreSQL connector documents.
#[cfg(feature = "kafka")]
#[test]
fn changes_reach_kafka_in_debeziums_envelope() {
    let server = Postgres::start();
    server.sql("CREATE TABLE customers (id int PRIMARY KEY, email text, score numeric(5,1))");
    server.sql("INSERT INTO customers VALUES (1, 'a@example.com', 1.5)");
    let broker = kafka::Broker::start();
    broker.create_topic("shop.public.customers", 1);
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        &format!(
            "sources:
  changes: {{type: postgres-cdc, config: {{{}, table: customers, publication: p, slot: s, until_end: true}}}}
sinks:
  topic: {{type: kafka, inputs: [changes], config: {{brokers: \"{}\", topic: shop.public.customers, key: id, format: debezium-json, database: shop}}}}
",
            server.connection(),
            broker.addr
        ),
    );
    run_pipeline(&pipeline, &[]);
    server.sql("INSERT INTO customers VALUES (2, 'b@example.com', 2.0)");
    server.sql("UPDATE customers SET score = 9.5 WHERE id = 1");
    server.sql("DELETE FROM customers WHERE id = 2");
    run_pipeline(&pipeline, &[]);

    let envelopes: Vec<serde_json::Value> = broker
        .consume("shop.public.customers")
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
    let ops: Vec<&str> = envelopes
        .iter()
        .map(|e| e["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["r", "c", "u", "d"]);
    for envelope in &envelopes {
        let keys: Vec<&String> = envelope.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["before", "after", "source", "op", "ts_ms"],
            "Debezium's order"
        );
        let source = &envelope["source"];
        let mut fields: Vec<&String> = source.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "connector",
                "db",
                "lsn",
                "name",
                "schema",
                "sequence",
                "snapshot",
                "table",
                "ts_ms",
                "txId",
                "version",
                "xmin"
            ]
        );
        assert_eq!(source["connector"], "postgresql");
        assert_eq!(source["db"], "shop");
        assert_eq!(source["schema"], "public");
        assert_eq!(source["table"], "customers");
        assert!(source["lsn"].as_i64().unwrap() > 0);
        assert!(source["ts_ms"].as_i64().unwrap() > 1_700_000_000_000);
        assert!(envelope["ts_ms"].as_i64().unwrap() > 1_700_000_000_000);
        let after = envelope["after"].as_object();
        assert!(
            after.is_none_or(|row| !row.keys().any(|k| k.starts_with('_'))),
            "{envelope}"
        );
    }
    let [snapshot, insert, update, delete] = &envelopes[..] else {
        panic!("four envelopes: {envelopes:?}")
    };
    assert_eq!(snapshot["source"]["snapshot"], "true");
    assert_eq!(snapshot["before"], serde_json::Value::Null);
    assert_eq!(
        snapshot["after"],
        serde_json::json!({"id": 1, "email": "a@example.com", "score": 1.5})
    );
    assert_eq!(insert["source"]["snapshot"], "false");
    assert!(insert["source"]["txId"].as_i64().unwrap() > 0);
    assert_eq!(
        insert["after"],
        serde_json::json!({"id": 2, "email": "b@example.com", "score": 2.0})
    );
    assert_eq!(update["after"]["score"], 9.5);
    assert_eq!(
        update["before"],
        serde_json::Value::Null,
        "no old row under REPLICA IDENTITY DEFAULT"
    );
    assert_eq!(delete["after"], serde_json::Value::Null);
    assert_eq!(delete["before"]["id"], 2);
}

/// examples/orders-cdc as its README runs it (`run.sh`, with its own
/// server and broker on free ports): the mirror read with DuckDB equals
/// the table, e-mails are hashed, and Debezium envelopes reach the topic.
#[cfg(all(feature = "kafka", feature = "delta"))]
#[test]
fn the_orders_cdc_example_mirrors_the_table() {
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string()
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/orders-cdc");
    let plugins = Path::new(weir_plugin_artifacts::FILTER).parent().unwrap();
    let out = std::process::Command::new(example.join("run.sh"))
        .env("WEIR", env!("CARGO_BIN_EXE_weir"))
        .env("WEIR_PLUGIN_PATH", plugins)
        .env("PGPORT", free_port())
        .env("KAFKA_PORT", free_port())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let section = |title: &str| {
        let rest = &stdout[stdout
            .find(title)
            .unwrap_or_else(|| panic!("{title} in {stdout}"))
            + title.len()..];
        rest.lines().skip(1).take(2).collect::<Vec<_>>()
    };
    let table = section("== the table in PostgreSQL");
    assert_eq!(table, ["new|850|37316.50", "paid|200|9531.00"]);
    assert_eq!(section("read with DuckDB"), table);
    let mirrored = stdout.split("an e-mail as mirrored: ").nth(1).unwrap();
    assert_eq!(
        mirrored.lines().next().unwrap().len(),
        64,
        "a SHA-256 in hex"
    );
    let last = stdout.lines().last().unwrap();
    let envelope: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(envelope["source"]["db"], "shop");
    assert!(!envelope["after"]["email"].as_str().unwrap().contains('@'));
    std::fs::remove_dir_all(example.join("lake")).unwrap();
    std::fs::remove_dir_all(example.join("state")).unwrap();
}

/// A sink slower than the server sends: the source's channel fills and its
/// stream thread stops reading, yet it keeps the replication connection
/// alive with status updates, so a server that drops clients silent for
/// 10 s (`wal_sender_timeout`) keeps streaming to it for longer than that.
#[test]
fn a_slow_sink_does_not_lose_the_replication_connection() {
    let server = Postgres::start();
    server.sql_on("postgres", "ALTER SYSTEM SET wal_sender_timeout = '10s'");
    server.sql_on("postgres", "SELECT pg_reload_conf()");
    server.sql("CREATE TABLE ticks (id int PRIMARY KEY)");
    server.sql("CREATE PUBLICATION p FOR TABLE ticks");
    server.sql("SELECT pg_create_logical_replication_slot('s', 'pgoutput')");
    let dir = tempfile::tempdir().unwrap();
    let count = weir_plugin_artifacts::COUNT;
    let pipeline = write_pipeline(
        dir.path(),
        &format!(
            "sources:
  changes: {{type: postgres-cdc, config: {{{}, table: ticks, publication: p, slot: s, snapshot: false, until_end: true, batch_rows: 100, linger_ms: 10}}}}
sinks:
  slow: {{plugin: {count}, inputs: [changes], config: {{delay_ms: 20}}}}
",
            server.connection()
        ),
    );
    // 80,000 changes in transactions of 100: about 16 s through the sink.
    server.sql(
        "DO $$ BEGIN FOR b IN 0..799 LOOP
           INSERT INTO ticks SELECT i FROM generate_series(b * 100, b * 100 + 99) i; COMMIT;
         END LOOP; END $$",
    );
    let started = std::time::Instant::now();
    let out = weir_command(&["run", pipeline.to_str().unwrap()])
        .env("WEIR_LOG", "info")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stderr.contains("80000 rows from sources"), "{stderr}");
    assert!(
        started.elapsed() > std::time::Duration::from_secs(12),
        "the sink was not slow enough to test anything: {stderr}"
    );
    assert!(
        !server
            .log()
            .contains("terminating walsender process due to replication timeout")
    );
}

/// A column dropped while the source streams: the run goes on and the
/// column reads as null in the changes after the drop (PostgreSQL no longer
/// has its values); the changes before it keep theirs.
#[test]
fn a_column_dropped_mid_stream_reads_as_null_after_the_drop() {
    let server = Postgres::start();
    server.sql("CREATE TABLE notes (id int PRIMARY KEY, body text, extra text)");
    server.sql("INSERT INTO notes VALUES (1, 'one', 'x')");
    let dir = tempfile::tempdir().unwrap();
    let pipeline = cdc_pipeline(dir.path(), &server, "notes", "linger_ms: 10");
    let mut running = streaming(dir.path(), &pipeline, 1);
    server.sql("INSERT INTO notes VALUES (2, 'two', 'y')");
    server.sql("ALTER TABLE notes DROP COLUMN extra");
    server.sql("INSERT INTO notes VALUES (3, 'three')");
    running.wait_for("the change after the drop", || {
        read_json_dir(&dir.path().join("out")).len() >= 3
    });
    assert!(
        running.child.try_wait().unwrap().is_none(),
        "the run goes on"
    );
    interrupt(&running.child);
    let status = running.exited("after Ctrl-C");
    assert_eq!(status.code(), Some(130), "{}", running.stderr());
    let rows = changes(dir.path());
    let extra = |id: i64| rows.iter().find(|r| r["id"] == id).unwrap()["extra"].clone();
    assert_eq!(extra(1), "x");
    assert_eq!(extra(2), "y");
    assert_eq!(extra(3), serde_json::Value::Null);
    assert!(rows.iter().any(|r| r["id"] == 3 && r["body"] == "three"));
}

/// A `TRUNCATE` of the table stops the run after the changes before it,
/// saying how to go on; run again, it stops at the same place (nothing is
/// passed over unless asked); with `on_truncate: skip` the run goes on past
/// it, and no change is lost or doubled.
#[test]
fn a_truncate_stops_the_run_until_the_user_says_to_skip_it() {
    let server = Postgres::start();
    server.sql("CREATE TABLE jobs (id int PRIMARY KEY, state text)");
    server.sql("INSERT INTO jobs VALUES (1, 'new')");
    let dir = tempfile::tempdir().unwrap();
    let stopped = |mut running: Running, what: &str| {
        let status = running.exited(what);
        assert!(!status.success(), "{}", running.stderr());
        let stderr = running.stderr();
        assert!(
            stderr.contains("public.jobs was truncated at LSN"),
            "{stderr}"
        );
        assert!(stderr.contains("on_truncate: skip"), "{stderr}");
    };
    let pipeline = cdc_pipeline(dir.path(), &server, "jobs", "linger_ms: 10");
    let running = streaming(dir.path(), &pipeline, 1);
    server.sql("INSERT INTO jobs VALUES (2, 'new')");
    server.sql("TRUNCATE jobs");
    server.sql("INSERT INTO jobs VALUES (3, 'new')");
    stopped(running, "after the truncate");
    let again = Running::start(dir.path(), &["run", pipeline.to_str().unwrap()], &[]);
    stopped(again, "after the truncate, run again");

    let pipeline = cdc_pipeline(
        dir.path(),
        &server,
        "jobs",
        "linger_ms: 10, on_truncate: skip",
    );
    let running = streaming(dir.path(), &pipeline, 3);
    interrupt(&running.child);
    let rows = changes(dir.path());
    let ids: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["_op"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [(1, "r"), (2, "c"), (3, "c")], "{rows:?}");
}

/// A server that takes TCP connections over TLS only: with `sslmode:
/// verify-full` and the server's CA the source reads the snapshot and the
/// stream (both connections encrypted); without TLS, or with a CA that did
/// not sign the server's certificate, the run fails saying why.
#[test]
fn the_source_connects_over_tls_and_checks_the_servers_certificate() {
    let server = Postgres::start_tls();
    server.sql("CREATE TABLE secrets (id int PRIMARY KEY, body text)");
    server.sql("INSERT INTO secrets VALUES (1, 'one')");
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca();
    let pipeline = |settings: &str| {
        cdc_pipeline(
            dir.path(),
            &server,
            "secrets",
            &format!("until_end: true, {settings}"),
        )
    };
    let fails = |settings: &str| {
        let out = weir(&["run", pipeline(settings).to_str().unwrap()]);
        assert!(!out.status.success(), "{settings}");
        text(&out.stderr)
    };

    let plain = fails("sslmode: disable");
    assert!(plain.contains("no encryption"), "{plain}");
    assert!(plain.contains("node \"changes\""), "{plain}");
    let other = ca.with_file_name("other-ca.crt");
    let stranger = fails(&format!(
        "sslmode: verify-full, sslrootcert: {}",
        other.display()
    ));
    assert!(stranger.contains("invalid peer certificate"), "{stranger}");

    let trusted = format!("sslmode: verify-full, sslrootcert: {}", ca.display());
    run_pipeline(&pipeline(&trusted), &[]);
    server.sql("INSERT INTO secrets VALUES (2, 'two')");
    run_pipeline(&pipeline(&trusted), &[]);
    let rows: Vec<(i64, String)> = changes(dir.path())
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["_op"].as_str().unwrap().into()))
        .collect();
    assert_eq!(rows, [(1, "r".into()), (2, "c".into())]);
    let ssl = server.sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl");
    assert!(
        ssl.trim().parse::<u32>().unwrap() >= 1,
        "psql itself uses TLS"
    );
}
