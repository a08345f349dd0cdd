//! The `delta` sink as a user runs it, read back by programs nobody here
//! wrote: the Python `deltalake` package and DuckDB with its Delta
//! extension (`scripts/python-readers.sh`).

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use support::*;

#[cfg(all(feature = "system-tests", feature = "kafka"))]
#[path = "support/kafka.rs"]
mod kafka;

/// Runs `code` with the lake readers' Python of `scripts/python-readers.sh`
/// (`TABLE` and `EXTENSION`, the DuckDB Delta extension file, are set) and
/// answers its stdout as JSON.
#[cfg(feature = "system-tests")]
fn read_with_python(table: &Path, code: &str) -> serde_json::Value {
    let prelude = r#"
import glob, json, os, sys
import duckdb, duckdb_extension_delta
from deltalake import DeltaTable
TABLE = sys.argv[1]
EXTENSION = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions", "*", "delta.duckdb_extension"))[0]
def duck():
    c = duckdb.connect(config={"allow_unsigned_extensions": True})
    c.execute(f"LOAD '{EXTENSION}'")
    return c
"#;
    let home = std::env::var_os("HOME").unwrap();
    let python = std::env::var_os("WEIR_LAKE_READERS_DIR")
        .map_or_else(
            || Path::new(&home).join(".cache/weir/lake-readers"),
            PathBuf::from,
        )
        .join("bin/python");
    let out = std::process::Command::new(&python)
        .arg("-c")
        // deltalake's Python package can abort while the interpreter shuts
        // down ("terminate called without an active exception") after the
        // code ran: leave without the shutdown once the output is out.
        .arg(format!(
            "{prelude}\n{code}\nsys.stdout.flush()\nos._exit(0)"
        ))
        .arg(table)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/python-readers.sh)", python.display()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// Appends orders `ids` as JSON lines to `path`.
fn append_orders(path: &Path, ids: std::ops::Range<i64>) {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let countries = ["DE", "FR", "NL"];
    for id in ids {
        writeln!(
            file,
            r#"{{"id": {id}, "country": "{}", "amount": {}.5, "at": "2026-12-0{}T10:00:00Z"}}"#,
            countries[id as usize % 3],
            id % 100,
            1 + id % 5
        )
        .unwrap();
    }
}

const ORDERS_SCHEMA: &str = "{id: int64, country: utf8, amount: float64, at: \"timestamp[ms]\"}";

/// A pipeline in `dir` that adds the orders appended to `orders.jsonl`
/// since its last run (`resume`, with `source` settings) to a `delta` sink
/// configured by `lake` (`path: lake, ...`).
fn orders_into_lake(dir: &Path, source: &str, lake: &str) -> PathBuf {
    let source = match source {
        "" => String::new(),
        extra => format!(", {extra}"),
    };
    write_pipeline(
        dir,
        &format!(
            "sources:
  orders: {{type: file, config: {{path: orders.jsonl, schema: {ORDERS_SCHEMA}, resume: true{source}}}}}
sinks:
  lake: {{type: delta, inputs: [orders], config: {{{lake}}}}}
"
        ),
    )
}

/// Two runs append to a partitioned table (the second reads only the new
/// lines); both readers see every row once, the versions, the history with
/// its transaction ids, and the table as it was after the first run.
#[cfg(feature = "system-tests")]
#[test]
fn a_partitioned_table_is_read_by_deltalake_and_duckdb_with_its_versions() {
    let dir = tempfile::tempdir().unwrap();
    append_orders(&dir.path().join("orders.jsonl"), 0..3000);
    let pipeline = orders_into_lake(
        dir.path(),
        "batch_rows: 500",
        "path: lake, partition_by: [country]",
    );
    run_pipeline(&pipeline, &[]);
    append_orders(&dir.path().join("orders.jsonl"), 3000..5000);
    run_pipeline(&pipeline, &[]);
    let table = dir.path().join("lake");
    let read = read_with_python(
        &table,
        r#"
t = DeltaTable(TABLE)
rows = t.to_pyarrow_table()
first_commit_with_data = min(h["version"] for h in t.history() if h["operation"] == "WRITE")
old = DeltaTable(TABLE, version=first_commit_with_data).to_pyarrow_table()
ids = duck().sql(f"select count(*), count(distinct id), min(id), max(id), count(distinct country), sum(amount) from delta_scan('{TABLE}')").fetchone()
print(json.dumps({
    "version": t.version(),
    "rows": rows.num_rows,
    "partition_columns": t.metadata().partition_columns,
    "operations": sorted({h["operation"] for h in t.history()}),
    "old_rows": old.num_rows,
    "duckdb": [float(x) for x in ids],
}))
"#,
    );
    assert_eq!(read["rows"], 5000, "{read}");
    assert_eq!(read["partition_columns"], serde_json::json!(["country"]));
    assert_eq!(
        read["operations"],
        serde_json::json!(["CREATE TABLE", "WRITE"])
    );
    assert!(read["version"].as_i64().unwrap() >= 2, "{read}");
    // `weir table history`: every version, newest first, with its rows.
    let history = weir(&["table", "history", table.to_str().unwrap()]);
    let listed = text(&history.stdout);
    assert!(history.status.success(), "{}", text(&history.stderr));
    let added: u64 = listed
        .lines()
        .skip(1)
        .filter(|line| line.contains("WRITE"))
        .map(|line| {
            line.split_whitespace()
                .last()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(added, 5000, "{listed}");
    assert!(
        listed.lines().last().unwrap().contains("CREATE TABLE"),
        "{listed}"
    );
    let old = read["old_rows"].as_i64().unwrap();
    assert!(
        old > 0 && old <= 3000,
        "time travel to the first write: {read}"
    );
    let expected_amount: f64 = (0..5000).map(|id| (id % 100) as f64 + 0.5).sum();
    assert_eq!(
        read["duckdb"],
        serde_json::json!([5000.0, 5000.0, 0.0, 4999.0, 3.0, expected_amount]),
        "DuckDB reads every row once"
    );
}

/// A table whose columns differ from the input is a `weir validate` error
/// naming the columns; overwrite replaces the rows in one commit.
#[test]
fn a_table_with_other_columns_is_refused_and_overwrite_replaces_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    append_orders(&dir.path().join("orders.jsonl"), 0..100);
    let pipeline = |schema: &str, mode: &str| {
        write_pipeline(
            dir.path(),
            &format!(
                "sources:
  orders: {{type: file, config: {{path: orders.jsonl, schema: {schema}}}}}
sinks:
  lake: {{type: delta, inputs: [orders], config: {{path: lake, mode: {mode}}}}}
"
            ),
        )
    };
    run_pipeline(&pipeline(ORDERS_SCHEMA, "append"), &[]);
    let other = pipeline("{id: utf8, country: utf8}", "append");
    let out = weir(&["validate", other.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"id\" is Utf8 in the input but Int64 in the table")
            && stderr.contains("the table's column \"amount\" is not in the input"),
        "{stderr}"
    );

    run_pipeline(&pipeline(ORDERS_SCHEMA, "overwrite"), &[]);
    let log = fs::read_dir(dir.path().join("lake/_delta_log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(log, 3, "create, append, one overwrite commit");
    let last =
        fs::read_to_string(dir.path().join("lake/_delta_log/00000000000000000002.json")).unwrap();
    assert!(
        last.contains("\"remove\"") && last.contains("\"add\"") && last.contains("Overwrite"),
        "{last}"
    );
}

/// The `delta` source reads a partitioned table back as it was written
/// (partition columns filled in from the files' partition values), at its
/// latest version and, by time travel, at an earlier one.
#[test]
fn a_table_is_read_back_at_its_latest_and_an_earlier_version() {
    let dir = tempfile::tempdir().unwrap();
    append_orders(&dir.path().join("orders.jsonl"), 0..300);
    let write = orders_into_lake(dir.path(), "", "path: lake, partition_by: [country]");
    run_pipeline(&write, &[]);
    append_orders(&dir.path().join("orders.jsonl"), 300..500);
    run_pipeline(&write, &[]);
    let latest = read_delta(dir.path(), "lake", None, "id");
    assert_eq!(latest.len(), 500);
    assert_eq!(
        latest[4]["country"], "FR",
        "partition value filled in: {}",
        latest[4]
    );
    assert_eq!(latest[4]["amount"], 4.5);
    assert_eq!(latest[4]["at"], "2026-12-05T10:00:00Z");
    let first = read_delta(dir.path(), "lake", Some(1), "id");
    assert_eq!(first.len(), 300, "the table after the first run");
    assert_eq!(first, latest[..300].to_vec());
}

/// `schema_mode: merge`: a later input with a new column (and without an
/// old one, in another order) adds the column to the table; rows land in
/// their columns by name, the missing one null. Without it, the new column
/// is refused before the run, with the option named.
#[test]
fn schema_mode_merge_adds_new_columns_and_matches_columns_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = |input: &str, schema: &str, extra: &str| {
        write_pipeline(
            dir.path(),
            &format!(
                "sources:
  orders: {{type: file, config: {{path: {input}, schema: {schema}}}}}
sinks:
  lake: {{type: delta, inputs: [orders], config: {{path: lake {extra}}}}}
"
            ),
        )
    };
    append_orders(&dir.path().join("orders.jsonl"), 0..10);
    run_pipeline(&pipeline("orders.jsonl", ORDERS_SCHEMA, ""), &[]);
    fs::write(
        dir.path().join("later.jsonl"),
        (10..15)
            .map(|id| format!("{{\"coupon\": \"C{id}\", \"id\": {id}, \"country\": \"DE\", \"at\": \"2026-12-06T10:00:00Z\"}}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let later_schema = "{coupon: utf8, id: int64, country: utf8, at: \"timestamp[ms]\"}";
    let refused = weir(&[
        "validate",
        pipeline("later.jsonl", later_schema, "").to_str().unwrap(),
    ]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"coupon\" is not in the table") && stderr.contains("schema_mode: merge"),
        "{stderr}"
    );
    run_pipeline(
        &pipeline("later.jsonl", later_schema, ", schema_mode: merge"),
        &[],
    );

    let rows = read_delta(dir.path(), "lake", None, "id");
    assert_eq!(rows.len(), 15);
    assert_eq!(rows[3]["coupon"], serde_json::Value::Null);
    assert_eq!(rows[3]["amount"], 3.5);
    assert_eq!(rows[12]["coupon"], "C12");
    assert_eq!(rows[12]["amount"], serde_json::Value::Null);
    assert_eq!(rows[12]["country"], "DE");
}

/// `follow: true`: a following source reads the table, then each commit
/// as it lands; a restart continues after the last version it read; a
/// commit that removes rows stops it, naming the version.
#[test]
fn a_following_source_reads_new_commits_as_they_land_and_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let writer = orders_into_lake(dir.path(), "", "path: lake, partition_by: [country]");
    let commit = |ids: std::ops::Range<i64>| {
        append_orders(&dir.path().join("orders.jsonl"), ids);
        run_pipeline(&writer, &[]);
    };
    commit(0..100);
    let follower = dir.path().join("follow.yaml");
    fs::write(
        &follower,
        "sources:
  lake: {type: delta, config: {path: lake, follow: true, poll_ms: 20}}
sinks:
  out: {type: file, inputs: [lake], config: {path: out, format: json}}
checkpoint_interval_ms: 50
",
    )
    .unwrap();
    let out = dir.path().join("out");
    let ids = || {
        if !out.exists() {
            return Vec::new();
        }
        let mut ids: Vec<i64> = read_json_dir(&out)
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let follow = || {
        Running::start(
            dir.path(),
            &["run", "--quiet", follower.to_str().unwrap()],
            &[],
        )
    };
    let mut running = follow();
    running.wait_for("the table as it was", || ids().len() == 100);
    commit(100..150);
    running.wait_for("the new commit", || ids().len() == 150);
    interrupt(&running.child);
    assert_eq!(
        running.exited("Ctrl-C").code(),
        Some(130),
        "{}",
        running.stderr()
    );

    commit(150..200);
    let mut running = follow();
    running.wait_for("the commit made while it was stopped", || {
        ids().len() == 200
    });
    assert_eq!(
        ids(),
        (0..200).collect::<Vec<_>>(),
        "each row once across the restart"
    );

    // An overwrite removes rows: a stream of added rows cannot say so.
    let overwrite = dir.path().join("overwrite.yaml");
    fs::write(
        &overwrite,
        format!(
            "sources:
  orders: {{type: file, config: {{path: orders.jsonl, schema: {ORDERS_SCHEMA}}}}}
sinks:
  lake: {{type: delta, inputs: [orders], config: {{path: lake, mode: overwrite}}}}
"
        ),
    )
    .unwrap();
    run_pipeline(&overwrite, &[]);
    let status = running.exited("the overwrite stops the follower");
    assert!(!status.success());
    assert!(
        running.stderr().contains("version 4 removes rows"),
        "{}",
        running.stderr()
    );
}

/// `weir table optimize` compacts the small files of many commits without
/// changing a row; `weir table vacuum` then deletes the files no recent
/// version reads, and the table still reads whole.
#[test]
fn optimize_compacts_small_files_and_vacuum_deletes_the_replaced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = orders_into_lake(dir.path(), "", "path: lake");
    for run in 0..5 {
        append_orders(&dir.path().join("orders.jsonl"), run * 100..(run + 1) * 100);
        run_pipeline(&pipeline, &[]);
    }
    let table = dir.path().join("lake");
    let parquet_files = || files_with_extension(&table, "parquet").len();
    assert_eq!(parquet_files(), 5);
    let optimized = weir(&["table", "optimize", table.to_str().unwrap()]);
    assert!(optimized.status.success(), "{}", text(&optimized.stderr));
    assert!(
        text(&optimized.stdout).contains("5 small file(s) rewritten into 1"),
        "{}",
        text(&optimized.stdout)
    );
    let history = text(&weir(&["table", "history", table.to_str().unwrap()]).stdout);
    assert!(
        history.lines().nth(1).unwrap().contains("OPTIMIZE"),
        "{history}"
    );

    // `weir table vacuum` keeping no history, with `extra` flags: stdout.
    let vacuum = |extra: &[&str]| {
        let mut args = vec![
            "table",
            "vacuum",
            table.to_str().unwrap(),
            "--retain-hours",
            "0",
        ];
        args.extend_from_slice(extra);
        let out = weir(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let dry = vacuum(&["--dry-run"]);
    assert!(dry.contains("would delete 5 file(s)"), "{dry}");
    assert_eq!(parquet_files(), 6, "a dry run deletes nothing");
    let vacuumed = vacuum(&[]);
    assert!(vacuumed.contains("deleted 5 file(s)"), "{vacuumed}");
    assert_eq!(parquet_files(), 1);

    let ids: Vec<i64> = read_delta(dir.path(), "lake", None, "id")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (0..500).collect::<Vec<_>>());
}

/// The sink's own maintenance: `optimize_every` compacts the small files
/// of the commits since the last compaction (counted across runs), and
/// `vacuum_retain_hours` then deletes the replaced files; the deltalake
/// package reads every row once.
#[cfg(feature = "system-tests")]
#[test]
fn the_sink_compacts_and_vacuums_its_table_every_few_commits() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = orders_into_lake(
        dir.path(),
        "",
        "path: lake, optimize_every: 3, vacuum_retain_hours: 0",
    );
    for run in 0..8 {
        append_orders(&dir.path().join("orders.jsonl"), run * 100..(run + 1) * 100);
        run_pipeline(&pipeline, &[]);
    }
    let table = dir.path().join("lake");
    let history = text(&weir(&["table", "history", table.to_str().unwrap()]).stdout);
    // Each run commits once: runs 3 and 6 compact (1 file each).
    assert_eq!(history.matches("OPTIMIZE").count(), 2, "{history}");
    let read = read_with_python(
        &table,
        r#"
t = DeltaTable(TABLE)
ids = t.to_pyarrow_table().column("id").to_pylist()
print(json.dumps({"ids": len(ids), "distinct": len(set(ids)), "files": len(t.file_uris()), "version": t.version()}))
"#,
    );
    assert_eq!(read["ids"], 800, "{read}");
    assert_eq!(read["distinct"], 800, "{read}");
    assert_eq!(read["files"], 3, "one compacted file and two: {history}");
    assert_eq!(
        files_with_extension(&table, "parquet").len(),
        3,
        "vacuum left only the live files: {history}"
    );
}

/// `mode: merge`: a stream of inserts, updates and deletes (with `op`, as
/// change data capture writes it), over many checkpoints and two runs,
/// leaves the table as the source table is: every key's last change, no
/// deleted key, no key twice.
#[test]
fn merge_applies_inserts_updates_and_deletes_so_the_table_ends_as_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let changes_file = dir.path().join("changes.jsonl");
    // A deterministic stream: 3,000 changes to 400 keys.
    let mut seed: u64 = 7;
    let mut expected: std::collections::BTreeMap<i64, String> = Default::default();
    let mut lines = Vec::new();
    for n in 0..3000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = (seed >> 33) as i64 % 400;
        let op = match (expected.contains_key(&key), (seed >> 20) % 4) {
            (false, _) => "c",
            (true, 0) => "d",
            (true, _) => "u",
        };
        let name = format!("v{n}");
        match op {
            "d" => expected.remove(&key),
            _ => expected.insert(key, name.clone()),
        };
        lines.push(format!(
            r#"{{"id": {key}, "name": "{name}", "part": {}, "op": "{op}"}}"#,
            key % 3
        ));
    }
    let pipeline = write_pipeline(
        dir.path(),
        "checkpoint_interval_ms: 5
sources:
  changes: {type: file, config: {path: changes.jsonl, schema: {id: int64, name: utf8, part: int64, op: utf8}, resume: true, batch_rows: 50}}
sinks:
  lake: {type: delta, inputs: [changes], config: {path: lake, mode: merge, keys: [id], partition_by: [part]}}
",
    );
    // Four runs, each adding a quarter of the stream: four merge commits at
    // least, each against the table the last one left.
    for end in [750, 1500, 2250, 3000] {
        fs::write(&changes_file, lines[..end].join("\n") + "\n").unwrap();
        run_pipeline(&pipeline, &[]);
    }

    let mut table: Vec<(i64, String)> = read_delta(dir.path(), "lake", None, "id")
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    table.sort();
    let expected: Vec<(i64, String)> = expected.into_iter().collect();
    assert_eq!(table.len(), expected.len(), "one row per live key");
    assert_eq!(table, expected);
    let history = weir(&[
        "table",
        "history",
        dir.path().join("lake").to_str().unwrap(),
    ]);
    let merges = text(&history.stdout).matches("MERGE").count();
    assert!(merges >= 4, "{}", text(&history.stdout));
}

/// Rows of the exactly-once tests.
#[cfg(feature = "system-tests")]
const KILLED_ROWS: i64 = 1_000_000;

/// The exactly-once test: a pipeline in `dir` reading ids 0..1,000,000
/// with `source` (node `ids`) writes them to a Delta table and, beside it,
/// to a Parquet folder; it is killed with SIGKILL at random points and
/// restarted until a run ends. `recorded` answers how many rows the source
/// has recorded as read. The table must hold every id exactly once; the
/// Parquet folder (at-least-once) every id at least once. Answers the
/// runs, the kills and what DuckDB read.
#[cfg(feature = "system-tests")]
fn kill_until_done(dir: &Path, source: &str, recorded: &dyn Fn() -> i64) -> serde_json::Value {
    let pipeline = write_pipeline(
        dir,
        &format!(
            "checkpoint_interval_ms: 20
sources:
  ids: {source}
transforms:
  keep: {{plugin: filter, inputs: [ids], config: {{predicate: \"id >= 0\"}}}}
sinks:
  lake: {{type: delta, inputs: [keep], config: {{path: lake}}}}
  files: {{type: file, inputs: [keep], config: {{path: files, format: parquet, mode: append}}}}
"
        ),
    );
    // Kill points spread over the input: each run is killed a random
    // moment after its source has recorded a position past the next mark
    // (a random step further, from a linear congruential walk), so every
    // kill lands mid-run however fast the machine is; the first is killed
    // at once.
    let mut seed: u64 = 0x5eed;
    let (mut kills, mut runs, mut mark) = (0, 0, 0);
    loop {
        runs += 1;
        let mut weir = Running::start(dir, &["run", "--quiet", pipeline.to_str().unwrap()], &[]);
        if kills >= 10 {
            let patience = std::time::Duration::from_secs(180);
            let status = weir.exited_within("the last run reads to the end", patience);
            assert!(status.success(), "{}", weir.stderr());
            break;
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        mark += 20_000 + (seed >> 33) as i64 % 60_000;
        let started = std::time::Instant::now();
        while kills > 0 && recorded() < mark && weir.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no progress: {}",
                weir.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Then a random part of a few checkpoint intervals, so kills land
        // anywhere between a sink's commit and a source's record.
        std::thread::sleep(std::time::Duration::from_millis((seed >> 20) % 50));
        let ended = weir.child.try_wait().unwrap().is_some();
        assert!(!ended, "run {runs} ended before its kill at row {mark}");
        weir.child.kill().unwrap(); // SIGKILL
        weir.child.wait().unwrap();
        kills += 1;
    }
    let read = read_with_python(
        &dir.join("lake"),
        r#"
c = duck()
lake = c.sql(f"select count(*), count(distinct id) from delta_scan('{TABLE}')").fetchone()
files = c.sql(f"select count(*), count(distinct id) from read_parquet('{os.path.dirname(TABLE)}/files/*.parquet')").fetchone()
gaps = c.sql(f"with ids as (select distinct id from delta_scan('{TABLE}')), r as (select id, id - row_number() over (order by id) as g from ids) select min(id), max(id) from r group by g order by 1").fetchall()
print(json.dumps({"lake": list(lake), "files": list(files), "version": DeltaTable(TABLE).version(), "runs_of_ids": gaps[:20]}))
"#,
    );
    let kind = source.split(',').next().unwrap_or(source);
    eprintln!("{kind}: {runs} runs, {kills} SIGKILLs, {KILLED_ROWS} rows: {read}");
    assert_eq!(
        read["lake"],
        serde_json::json!([KILLED_ROWS, KILLED_ROWS]),
        "every id exactly once in the table"
    );
    assert_eq!(
        read["files"][1], KILLED_ROWS,
        "every id at least once in the Parquet folder"
    );
    read
}

/// The exactly-once test (see [`kill_until_done`]) with a file source.
#[cfg(feature = "system-tests")]
#[test]
fn a_delta_table_holds_every_row_of_a_file_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..KILLED_ROWS)
        .map(|id| format!("{{\"id\": {id}}}\n"))
        .collect();
    fs::write(dir.path().join("ids.jsonl"), lines).unwrap();
    let position = dir.path().join("state/ids.json");
    let recorded_lines = || {
        let text = fs::read_to_string(&position).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                let files = v["position"].as_object()?.values().next()?.clone();
                files["line"].as_i64()
            })
            .unwrap_or(0)
    };
    kill_until_done(
        dir.path(),
        "{type: file, config: {path: ids.jsonl, schema: {id: int64}, resume: true, batch_rows: 200}}",
        &recorded_lines,
    );
}

/// The exactly-once test (see [`kill_until_done`]) with a Kafka source:
/// ids in three partitions of a topic on a real broker. The position the
/// source recorded wins over the group's offsets, which a crash can leave
/// behind it: after the group is rewound to the start, a run reads only the
/// messages that came since into the table.
#[cfg(all(feature = "system-tests", feature = "kafka"))]
#[test]
fn a_delta_table_holds_every_row_of_a_topic_exactly_once_across_sigkills() {
    let broker = kafka::Broker::start();
    broker.create_topic("ids", 3);
    let ids: Vec<String> = (0..KILLED_ROWS)
        .map(|id| format!("{{\"id\": {id}}}"))
        .collect();
    broker.produce("ids", &ids, false);
    let dir = tempfile::tempdir().unwrap();
    let position = dir.path().join("state/ids.json");
    let recorded_offsets = || {
        let text = fs::read_to_string(&position).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                let partitions = v["position"]["offsets"]["ids"].as_object()?.clone();
                Some(partitions.values().filter_map(|o| o.as_i64()).sum())
            })
            .unwrap_or(0)
    };
    // A static member id: a restarted run gets the partitions back at once
    // rather than after the killed one's session times out.
    let source = format!(
        "{{type: kafka, config: {{brokers: \"{}\", topics: [ids], group_id: ids, group_instance_id: weir-1,
    until_end: true, schema: {{id: int64}}, batch_rows: 2000}}}}",
        broker.addr
    );
    kill_until_done(dir.path(), &source, &recorded_offsets);
    let committed: i64 = broker.committed("ids", "ids").values().sum();
    assert_eq!(committed, KILLED_ROWS, "the group committed every offset");
    broker.rewind("ids", "ids");
    assert_eq!(broker.committed("ids", "ids").values().sum::<i64>(), 0);
    let more: Vec<String> = (KILLED_ROWS..KILLED_ROWS + 1000)
        .map(|id| format!("{{\"id\": {id}}}"))
        .collect();
    broker.produce("ids", &more, false);
    run_pipeline(&dir.path().join("pipeline.yaml"), &[]);
    let read = read_with_python(
        &dir.path().join("lake"),
        r#"print(json.dumps(duck().sql(f"select count(*), count(distinct id) from delta_scan('{TABLE}')").fetchone()))"#,
    );
    let all = KILLED_ROWS + 1000;
    assert_eq!(
        read,
        serde_json::json!([all, all]),
        "a rewound group reads only the new messages"
    );
}
