//! The `postgres-cdc` source against a real PostgreSQL server (Debian's,
//! started for each test in a temporary folder): the snapshot and the
//! stream after it, types, restarts, and schema changes.

mod support;

#[path = "support/postgres.rs"]
mod postgres;

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
        let port = server.port;
        std::thread::spawn(move || {
            for i in 20_000..20_300 {
                let out = std::process::Command::new("psql")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "-U",
                        "weir",
                        "-d",
                        "shop",
                        "-qc",
                    ])
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
