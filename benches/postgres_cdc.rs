//! Changes per second from PostgreSQL through a `postgres-cdc` source into
//! the `count` sink, against `pg_recvlogical` writing the same changes
//! (pgoutput, from a slot of its own) to /dev/null, in the same run on the
//! same server (Debian's, started in a temporary folder). Then the
//! replication lag while a writer inserts a steady 10,000 rows/s: how far
//! the slot's confirmed position trails the server's WAL, sampled twice a
//! second.
//!
//! Run: `cargo bench -p weir-e2e --bench postgres_cdc` (needs
//! `scripts/setup.sh --tests` for the server).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::plugin::{EngineOptions, PluginEngine};
use weir::spec::Pipeline;

#[path = "../runtime/tests/support/postgres.rs"]
mod postgres;

use postgres::Postgres;

/// Changes per round: inserts in transactions of 1,000 rows.
const CHANGES: usize = 200_000;
const ROUNDS: usize = 3;
/// The pipelines' checkpoint interval: the slot is confirmed at checkpoints.
const CHECKPOINT_MS: u64 = 1000;

/// Inserts rows `from..from + count` into `events`, 1,000 per transaction.
fn insert(server: &Postgres, from: usize, count: usize) {
    let statements: String = (from..from + count)
        .step_by(1000)
        .map(|start| {
            format!(
                "INSERT INTO events SELECT i, 'name-' || i, i % 1000 + 0.5, now() FROM generate_series({start}, {}) i;\n",
                start + 999
            )
        })
        .collect();
    server.sql(&statements);
}

/// The server's current WAL position.
fn wal_now(server: &Postgres) -> String {
    server.sql("SELECT pg_current_wal_lsn()").trim().to_string()
}

/// pg_recvlogical reading slot `slot` to `end`, into /dev/null.
fn recvlogical(server: &Postgres, slot: &str, end: &str) -> Duration {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .map(|e| e.unwrap().path().join("bin/pg_recvlogical"))
        .filter(|p| p.is_file())
        .max()
        .expect("pg_recvlogical");
    let started = Instant::now();
    let status = std::process::Command::new(bin)
        .args(server.client_args())
        .args(["-d", "shop"])
        .args([
            "--slot",
            slot,
            "--start",
            "--endpos",
            end,
            "-f",
            "/dev/null",
        ])
        .args(["-o", "proto_version=1", "-o", "publication_names=events"])
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// The pipeline reading slot `slot` into the `count` sink.
fn pipeline(
    dir: &std::path::Path,
    server: &Postgres,
    slot: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("{slot}.yaml"));
    std::fs::write(
        &path,
        format!(
            "state: state-{slot}
checkpoint_interval_ms: {CHECKPOINT_MS}
sources:
  events: {{type: postgres-cdc, config: {{{}, table: events, publication: events, slot: {slot}, snapshot: false{extra}}}}}
sinks:
  counted: {{plugin: {}, inputs: [events]}}
",
            server.connection(),
            weir_plugin_artifacts::COUNT
        ),
    )
    .unwrap();
    path
}

/// Weir reading slot `slot` to the end of what it holds.
fn weir_run(
    dir: &std::path::Path,
    server: &Postgres,
    slot: &str,
    engine: &PluginEngine,
) -> Duration {
    let path = pipeline(dir, server, slot, ", until_end: true");
    let graph = Graph::build(Pipeline::from_file(&path).unwrap(), engine).unwrap();
    let started = Instant::now();
    let summary = weir::exec::run(
        &graph,
        engine,
        &RunOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(summary.source_rows(), CHANGES as u64);
    started.elapsed()
}

fn main() {
    let server = Postgres::start();
    server.sql("CREATE TABLE events (id int8 PRIMARY KEY, name text, amount numeric(10,2), at timestamptz)");
    server.sql("CREATE PUBLICATION events FOR TABLE events");
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut plain, mut weir) = (Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        let (theirs, ours) = (format!("recv_{round}"), format!("weir_{round}"));
        for slot in [&theirs, &ours] {
            server.sql(&format!(
                "SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"
            ));
        }
        insert(&server, round * CHANGES, CHANGES);
        let end = wal_now(&server);
        // Alternate who reads the new WAL first (and so from disk).
        if round % 2 == 0 {
            plain = plain.min(recvlogical(&server, &theirs, &end));
            weir = weir.min(weir_run(dir.path(), &server, &ours, &engine));
        } else {
            weir = weir.min(weir_run(dir.path(), &server, &ours, &engine));
            plain = plain.min(recvlogical(&server, &theirs, &end));
        }
        for slot in [&theirs, &ours] {
            server.sql(&format!("SELECT pg_drop_replication_slot('{slot}')"));
        }
    }
    let rate = |d: Duration| CHANGES as f64 / d.as_secs_f64();
    println!(
        "pg_recvlogical to /dev/null: {:.0} changes/s; weir postgres-cdc -> count: {:.0} changes/s (ratio {:.2})",
        rate(plain),
        rate(weir),
        rate(weir) / rate(plain)
    );

    // Lag under a steady writer: 10 transactions of 1,000 rows a second.
    server.sql("SELECT pg_create_logical_replication_slot('weir_lag', 'pgoutput')");
    let path = pipeline(dir.path(), &server, "weir_lag", "");
    let graph = Graph::build(Pipeline::from_file(&path).unwrap(), &engine).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        let engine = engine.clone();
        std::thread::spawn(move || {
            weir::exec::run(&graph, &engine, &RunOptions::default(), &stop).unwrap()
        })
    };
    let mut lags = Vec::new();
    let wal_at = |server: &Postgres| -> f64 {
        server
            .sql("SELECT pg_current_wal_lsn() - '0/0'")
            .trim()
            .parse()
            .unwrap()
    };
    let wal_start = wal_at(&server);
    let started = Instant::now();
    let mut next_id = ROUNDS * CHANGES;
    while started.elapsed() < Duration::from_secs(20) {
        let tick = Instant::now();
        insert(&server, next_id, 5_000);
        next_id += 5_000;
        let lag = server.sql(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots WHERE slot_name = 'weir_lag'",
        );
        lags.push(lag.trim().parse::<f64>().unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(500).saturating_sub(tick.elapsed()));
    }
    let written = next_id - ROUNDS * CHANGES;
    let wal_rate = (wal_at(&server) - wal_start) / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let summary = running.join().unwrap();
    lags.sort_by(f64::total_cmp);
    let writer_rate = written as f64 / started.elapsed().as_secs_f64();
    let (median, max) = (lags[lags.len() / 2], lags[lags.len() - 1]);
    println!(
        "steady writer {writer_rate:.0} rows/s ({:.1} MiB/s of WAL) for 20 s, checkpoints every {CHECKPOINT_MS} ms: slot lag median {:.0} KiB ({:.2} s of WAL), max {:.0} KiB ({:.2} s); {} changes read",
        wal_rate / 1048576.0,
        median / 1024.0,
        median / wal_rate,
        max / 1024.0,
        max / wal_rate,
        summary.source_rows()
    );
}
