//! The file connectors as a user runs them: globs, resuming where the last
//! run ended, following a growing log, Hive-style partitions and rolling by
//! bytes, all through the real `weir` binary.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;

use support::*;

fn run_ok(pipeline: &Path) -> String {
    let out = weir(&["run", "--quiet", pipeline.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn ids(rows: &[serde_json::Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

fn json_lines(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter()
        .map(|id| format!("{{\"id\": {id}, \"name\": \"n{id}\"}}\n"))
        .collect()
}

#[test]
fn a_glob_is_read_in_name_order_and_a_resumed_run_reads_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a.jsonl"), json_lines(1..=3)).unwrap();
    fs::write(input.join("b.jsonl"), json_lines(4..=5)).unwrap();
    fs::write(input.join("notes.txt"), "not matched\n").unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  logs: {type: file, config: {path: in/*.jsonl, schema: {id: int64, name: utf8}, resume: true, batch_rows: 2}}
sinks:
  out: {type: file, inputs: [logs], config: {path: out, format: json}}
",
    )
    .unwrap();

    run_ok(&pipeline);
    assert_eq!(
        ids(&read_json_dir(&dir.path().join("out"))),
        [1, 2, 3, 4, 5]
    );
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("state/logs.json")).unwrap()).unwrap();
    let b = input.join("b.jsonl").display().to_string();
    assert_eq!(state["position"][&b]["line"], 2, "{state}");

    // New lines in a file already read, and a new file.
    fs::OpenOptions::new()
        .append(true)
        .open(input.join("b.jsonl"))
        .unwrap()
        .write_all(json_lines([6]).as_bytes())
        .unwrap();
    fs::write(input.join("c.jsonl"), json_lines([7])).unwrap();
    run_ok(&pipeline);
    let out = dir.path().join("out");
    assert_eq!(ids(&read_json_dir(&out)), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        read_dir_names(&out).len(),
        2,
        "the second run wrote its own file"
    );

    // Nothing new: nothing read, no empty file.
    run_ok(&pipeline);
    assert_eq!(ids(&read_json_dir(&out)), [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn a_glob_that_matches_nothing_is_a_validation_error() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  logs: {type: file, config: {path: missing/*.jsonl}}
sinks:
  out: {type: stdout, inputs: [logs]}
",
    )
    .unwrap();
    let out = weir(&["validate", pipeline.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("node \"logs\"") && stderr.contains("no file matches"),
        "{stderr}"
    );
}

/// Lines `weir` prints, collected by a thread.
fn stdout_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if send.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    receive
}

fn next_ids(lines: &mpsc::Receiver<String>, count: usize) -> Vec<i64> {
    (0..count)
        .map(|_| {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .expect("a row within a minute");
            serde_json::from_str::<serde_json::Value>(&line).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_followed_log_is_read_as_it_grows_and_a_restart_continues_after_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, json_lines(1..=2)).unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  log: {type: file, config: {path: app.log, format: json, follow: true, schema: {id: int64, name: utf8}}}
sinks:
  console: {type: stdout, inputs: [log], config: {format: json}}
",
    )
    .unwrap();
    let append = |text: &str| {
        let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    };
    let start = || {
        weir_command(&["run", "--quiet", pipeline.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    let mut child = start();
    let lines = stdout_lines(&mut child);
    assert_eq!(next_ids(&lines, 2), [1, 2]);
    // Half a line is held back until its end is written.
    append(r#"{"id": 3, "na"#);
    assert!(
        lines.recv_timeout(Duration::from_millis(500)).is_err(),
        "an unfinished line was read"
    );
    append("me\": \"n3\"}\n");
    append(&json_lines([4]));
    assert_eq!(next_ids(&lines, 2), [3, 4]);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));

    append(&json_lines([5]));
    let mut child = start();
    let lines = stdout_lines(&mut child);
    assert_eq!(next_ids(&lines, 1), [5], "the restart read lines again");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
}

#[test]
fn a_followed_csv_may_start_empty_and_its_header_is_skipped_when_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("readings.csv");
    fs::write(&log, "").unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  log: {type: file, config: {path: readings.csv, follow: true, schema: {id: int64, name: utf8}}}
sinks:
  console: {type: stdout, inputs: [log], config: {format: json}}
",
    )
    .unwrap();
    let mut child = weir_command(&["run", "--quiet", pipeline.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    fs::write(&log, "id,name\n1,n1\n2,n2\n").unwrap();
    assert_eq!(next_ids(&lines, 2), [1, 2]);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        !dir.path().join("dead-letters/log.jsonl").exists(),
        "the header was read as a record"
    );
}

#[test]
fn partitions_are_hive_folders_and_files_roll_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        (1, "2026-11-24T23:59:59Z", Some("north")),
        (2, "2026-11-25T00:00:00Z", Some("south")),
        (3, "2026-11-25T12:00:00Z", Some("north")),
        (4, "2026-11-25T13:00:00Z", None),
        (5, "2026-11-24T08:00:00Z", Some("a/b")),
        (6, "2026-11-25T14:00:00Z", Some("north")),
        (7, "2026-11-25T15:00:00Z", Some("north")),
    ];
    let input: String = rows
        .iter()
        .map(|(id, time, store)| {
            serde_json::json!({"id": id, "time": time, "store": store}).to_string() + "\n"
        })
        .collect();
    fs::write(dir.path().join("sales.jsonl"), input).unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  sales: {type: file, config: {path: sales.jsonl, schema: {id: int64, time: timestamp, store: utf8}, batch_rows: 1}}
sinks:
  by_day: {type: file, inputs: [sales], config: {path: lake, format: parquet, partition_by: time}}
  by_store: {type: file, inputs: [sales], config: {path: stores, format: json, partition_by: store, max_bytes_per_file: 60}}
",
    )
    .unwrap();
    run_ok(&pipeline);

    let lake = dir.path().join("lake");
    let mut days = read_dir_names(&lake);
    days.sort();
    assert_eq!(days, ["dt=2026-11-24", "dt=2026-11-25"]);
    let day_ids = |day: &str| -> Vec<i64> {
        read_parquet_dir(&lake.join(day))
            .iter()
            .flat_map(|b| {
                assert_eq!(b.num_columns(), 3, "a timestamp partition keeps its column");
                b.column_by_name("id")
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    };
    assert_eq!(day_ids("dt=2026-11-24"), [1, 5]);
    assert_eq!(day_ids("dt=2026-11-25"), [2, 3, 4, 6, 7]);

    let stores = dir.path().join("stores");
    let mut folders = read_dir_names(&stores);
    folders.sort();
    assert_eq!(
        folders,
        [
            "store=__HIVE_DEFAULT_PARTITION__",
            "store=a%2Fb",
            "store=north",
            "store=south"
        ]
    );
    let north = stores.join("store=north");
    let north_rows = read_json_dir(&north);
    assert_eq!(ids(&north_rows), [1, 3, 6, 7]);
    assert!(
        north_rows.iter().all(|r| r.get("store").is_none()),
        "the partition column is in the path, not the files: {north_rows:?}"
    );
    // Each row is about 45 bytes: a file is closed once it passes 60.
    let mut files = read_dir_names(&north);
    files.sort();
    assert_eq!(files, ["part-00000.jsonl", "part-00001.jsonl"]);
}

/// Parquet written by pyarrow, pandas and DuckDB names its zones (`UTC`,
/// `Europe/Berlin`): every file sink writes them, and partitions by them.
#[test]
fn timestamps_in_named_zones_reach_every_file_sink() {
    use arrow::array::{Int64Array, RecordBatch, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let zoned = |name: &str, zone: &str| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some(zone.into())),
            false,
        )
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        zoned("at_utc", "UTC"),
        zoned("at_berlin", "Europe/Berlin"),
    ]));
    // 2027-01-15T08:00:00Z and 2027-07-15T23:30:00Z (01:30 the next day in
    // Berlin, summer time).
    let times = vec![1_800_000_000_000, 1_815_694_200_000];
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(TimestampMillisecondArray::from(times.clone()).with_timezone("UTC")),
            Arc::new(TimestampMillisecondArray::from(times).with_timezone("Europe/Berlin")),
        ],
    )
    .unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        fs::File::create(dir.path().join("zoned.parquet")).unwrap(),
        schema,
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  zoned: {type: file, config: {path: zoned.parquet}}
sinks:
  json: {type: file, inputs: [zoned], config: {path: json, format: json}}
  csv: {type: file, inputs: [zoned], config: {path: csv, format: csv}}
  lake: {type: file, inputs: [zoned], config: {path: lake, format: parquet, partition_by: at_berlin}}
",
    )
    .unwrap();
    let stderr = run_ok(&pipeline);
    assert!(!stderr.contains("dead letter"), "{stderr}");
    let rows = read_json_dir(&dir.path().join("json"));
    let instant = |value: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(instant(&rows[0]["at_utc"]), 1_800_000_000_000);
    assert_eq!(instant(&rows[1]["at_berlin"]), 1_815_694_200_000);
    assert!(
        rows[1]["at_berlin"].as_str().unwrap().ends_with("+02:00"),
        "Berlin's summer offset: {}",
        rows[1]["at_berlin"]
    );
    let csv_files = read_dir_names(&dir.path().join("csv"));
    assert_eq!(csv_files.len(), 1, "{csv_files:?}");
    let csv = fs::read_to_string(dir.path().join("csv").join(&csv_files[0])).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let mut days = read_dir_names(&dir.path().join("lake"));
    days.sort();
    assert_eq!(
        days,
        ["dt=2027-01-15", "dt=2027-07-16"],
        "days in the column's zone"
    );
}

/// `scripts/parquet_fixtures.py ARGS...` with the Python that
/// `scripts/python-readers.sh` installs (pyarrow, pandas, DuckDB).
#[cfg(feature = "system-tests")]
fn parquet_fixtures(args: &[&Path]) -> std::process::Output {
    let home = std::env::var_os("HOME").unwrap();
    let python = std::env::var_os("WEIR_READERS_DIR")
        .map_or_else(|| Path::new(&home).join(".cache/weir/readers"), Into::into)
        .join("bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/parquet_fixtures.py");
    std::process::Command::new(&python)
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/python-readers.sh)", python.display()))
}

/// Parquet as pyarrow, pandas and DuckDB write it (timestamps in `UTC`,
/// `Europe/Berlin` and `America/New_York`, decimals, dates, lists, structs,
/// nulls) reaches the JSON, Parquet (pyarrow reads back the same rows),
/// partitioned Parquet and stdout sinks; CSV refuses nested columns before
/// the run, naming one.
#[cfg(feature = "system-tests")]
#[test]
fn parquet_from_pyarrow_pandas_and_duckdb_reaches_every_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    let out = parquet_fixtures(&[Path::new("write"), dir.path()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for writer in ["pyarrow", "pandas", "duckdb"] {
        let pipeline = dir.path().join(format!("{writer}.yaml"));
        fs::write(
            &pipeline,
            format!(
                "sources:
  rows: {{type: file, config: {{path: {writer}.parquet}}}}
sinks:
  json: {{type: file, inputs: [rows], config: {{path: out-{writer}/json, format: json}}}}
  parquet: {{type: file, inputs: [rows], config: {{path: out-{writer}/parquet, format: parquet}}}}
  days: {{type: file, inputs: [rows], config: {{path: out-{writer}/days, format: parquet, partition_by: at_utc}}}}
  shown: {{type: stdout, inputs: [rows]}}
"
            ),
        )
        .unwrap();
        let run = weir(&["run", pipeline.to_str().unwrap()]);
        let stderr = text(&run.stderr);
        assert!(run.status.success(), "{writer}: {stderr}");
        assert!(
            !dir.path().join("dead-letters").exists(),
            "{writer}: {stderr}"
        );
        assert_eq!(text(&run.stdout).lines().count(), 3, "{writer}: {stderr}");
        let rows = read_json_dir(&dir.path().join(format!("out-{writer}/json")));
        assert_eq!(ids(&rows), [1, 2, 3], "{writer}");
        assert_eq!(rows[0]["amount"], 12.5, "{writer}: {:?}", rows[0]);
        assert_eq!(rows[1]["amount"], -0.01, "{writer}: {:?}", rows[1]);
        assert_eq!(rows[0]["tags"], serde_json::json!(["a", "b"]), "{writer}");
        let written = dir.path().join(format!("out-{writer}/parquet"));
        let same = parquet_fixtures(&[
            Path::new("same"),
            &dir.path().join(format!("{writer}.parquet")),
            &written,
        ]);
        assert!(same.status.success(), "{writer}: {}", text(&same.stderr));
        assert!(
            read_dir_names(&dir.path().join(format!("out-{writer}/days")))
                .contains(&"dt=2027-01-15".to_string()),
            "{writer}"
        );
    }
    let csv = dir.path().join("csv.yaml");
    fs::write(
        &csv,
        "sources:
  rows: {type: file, config: {path: pyarrow.parquet}}
sinks:
  csv: {type: file, inputs: [rows], config: {path: out-csv, format: csv}}
",
    )
    .unwrap();
    let refused = weir(&["validate", csv.to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("CSV cannot hold column \"tags\""),
        "{stderr}"
    );
}

/// A Parquet source reads only the columns its consumers take: those a
/// filter decides by and passes on; a source that also feeds a sink keeps
/// every column. The rows are those of the run that reads everything.
#[test]
fn a_parquet_source_reads_only_the_columns_the_graph_uses() {
    let dir = tempfile::tempdir().unwrap();
    let write = dir.path().join("write.yaml");
    fs::write(
        &write,
        "sources:
  clicks: {plugin: generate, config: {dataset: clickstream, rows: 20000, seed: 5}}
sinks:
  lake: {type: file, inputs: [clicks], config: {path: lake, format: parquet, row_group_rows: 5000}}
",
    )
    .unwrap();
    run_ok(&write);
    let pipeline = |name: &str, also_raw: bool| {
        let path = dir.path().join(format!("{name}.yaml"));
        let raw = match also_raw {
            true => {
                "\n  raw: {type: file, inputs: [clicks], config: {path: out-raw, format: parquet}}"
            }
            false => "",
        };
        fs::write(
            &path,
            format!(
                "sources:
  clicks: {{type: file, config: {{path: lake/part-00000.parquet}}}}
transforms:
  purchases:
    plugin: filter
    inputs: [clicks]
    config: {{predicate: \"action = 'purchase'\", columns: [user_id, price, event_time]}}
  eur:
    plugin: select
    inputs: [purchases]
    config: {{columns: [{{name: user_id}}, {{name: eur, expr: \"price * 0.9\"}}]}}
sinks:
  out: {{type: file, inputs: [eur], config: {{path: out-{name}, format: json}}}}{raw}
"
            ),
        )
        .unwrap();
        path
    };
    let narrow = pipeline("narrow", false);
    let validated = weir(&["validate", narrow.to_str().unwrap()]);
    let stdout = text(&validated.stdout);
    assert!(validated.status.success(), "{}", text(&validated.stderr));
    assert!(
        stdout.contains("clicks -> purchases: event_time: Timestamp(ms, \"+00:00\"), user_id: Int64, action: Utf8, price: Float64\n"),
        "the filter decides by action and passes three columns on; session_id, page, country and referrer are not read: {stdout}"
    );
    let wide = pipeline("wide", true);
    let validated = text(&weir(&["validate", wide.to_str().unwrap()]).stdout);
    assert!(
        validated.contains("clicks -> purchases: event_time: Timestamp(ms, \"+00:00\"), user_id: Int64, session_id: Utf8"),
        "a sink of the source takes every column: {validated}"
    );
    run_ok(&narrow);
    run_ok(&wide);
    let narrow_rows = read_json_dir(&dir.path().join("out-narrow"));
    assert!(narrow_rows.len() > 100, "{}", narrow_rows.len());
    assert_eq!(narrow_rows, read_json_dir(&dir.path().join("out-wide")));
    assert_eq!(
        narrow_rows[0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["user_id", "eur"]
    );
}

/// Within a row group, the page index (each page's statistics) leaves
/// unread the pages that hold no row a filter's bounds let through: of one
/// row group of 100,000 ids, a filter for the last 5,000 reads only the
/// last page's rows, and the output is every matching row.
#[test]
fn parquet_pages_no_filter_can_pass_are_left_unread() {
    let dir = tempfile::tempdir().unwrap();
    write_ids_lake(dir.path(), 100_000);
    let path = dir.path().join("read.yaml");
    fs::write(
        &path,
        "sources:
  ids: {type: file, config: {path: lake/part-00000.parquet}}
transforms:
  high: {plugin: filter, inputs: [ids], config: {predicate: \"id >= 95000 and kind = 'b'\"}}
sinks:
  out: {type: file, inputs: [high], config: {path: out, format: json}}
",
    )
    .unwrap();
    let out = weir(&["run", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let read = rows_read(&stderr);
    assert!(
        (5_000..=30_000).contains(&read),
        "the last page(s) of one row group read, not all 100,000: {stderr}"
    );
    let rows = read_json_dir(&dir.path().join("out"));
    assert_eq!(ids(&rows), (95_001..100_000).step_by(2).collect::<Vec<_>>());
}

/// A filter states what its rows hold (`input-bounds`), and a Parquet
/// source leaves unread the row groups whose statistics show no row can
/// meet it, when every consumer says so; the output is that of a run
/// reading every row group. A consumer stating nothing (a sink), or a
/// source that resumes, reads them all.
#[test]
fn parquet_row_groups_no_filter_can_pass_are_left_unread() {
    let dir = tempfile::tempdir().unwrap();
    write_ids_lake(dir.path(), 10_000);
    let run = |name: &str, source: &str, transforms: &str, sinks: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        fs::write(
            &path,
            format!(
                "sources:
  ids: {{type: file, config: {{path: lake/part-00000.parquet{source}}}}}
transforms:
  high:
    plugin: filter
    inputs: [ids]
    config: {{predicate: \"id >= 95000 and kind = 'b'\"}}
{transforms}sinks:
  out: {{type: file, inputs: [high], config: {{path: out-{name}, format: json}}}}
{sinks}"
            ),
        )
        .unwrap();
        let out = weir(&["run", path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let rows = read_json_dir(&dir.path().join(format!("out-{name}")));
        (stderr, rows)
    };
    let (skipping, rows) = run("skipping", "", "", "");
    assert_eq!(
        rows_read(&skipping),
        10_000,
        "one row group of ten read: {skipping}"
    );
    assert_eq!(ids(&rows), (95_001..100_000).step_by(2).collect::<Vec<_>>());
    let (both, both_rows) = run(
        "two-filters",
        "",
        "  low: {plugin: filter, inputs: [ids], config: {predicate: \"id < 15000\"}}\n",
        "  low_out: {type: file, inputs: [low], config: {path: out-low, format: json}}\n",
    );
    assert_eq!(
        rows_read(&both),
        30_000,
        "the row groups either filter may pass: {both}"
    );
    assert_eq!(both_rows, rows);
    assert_eq!(read_json_dir(&dir.path().join("out-low")).len(), 15_000);
    let (all, all_rows) = run(
        "a-sink-reads-all",
        "",
        "",
        "  raw: {type: file, inputs: [ids], config: {path: out-raw, format: json}}\n",
    );
    assert_eq!(rows_read(&all), 100_000, "{all}");
    assert_eq!(all_rows, rows);
    let (resumed, resumed_rows) = run("resuming", ", resume: true", "", "");
    assert_eq!(rows_read(&resumed), 100_000, "{resumed}");
    assert_eq!(resumed_rows, rows);
}

/// What `scripts/parquet_fixtures.py describe` says of Parquet file `path`:
/// rows, row group sizes, each column's codecs and dictionary use.
#[cfg(feature = "system-tests")]
fn describe_parquet(path: &Path) -> serde_json::Value {
    let out = parquet_fixtures(&[Path::new("describe"), path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Parquet sink's codec, row group size, dictionary and encoding
/// options are what pyarrow finds in the files, every variant holds the
/// same rows, `dictionary: auto` leaves out the columns of mostly distinct
/// values (the event time, the session ids) while keeping it for the
/// repeated ones (actions, countries), and `encoding: auto` delta-encodes
/// the integer columns whose neighbouring values differ by little (the
/// event time; the user ids, which repeat but take fewer bits so than with
/// a dictionary) and no other (`encoding: plain`: none, and the user ids
/// get a dictionary).
#[cfg(feature = "system-tests")]
#[test]
fn parquet_sink_options_shape_the_files_real_readers_see() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.yaml");
    fs::write(
        &pipeline,
        "sources:
  clicks: {plugin: generate, config: {dataset: clickstream, rows: 300000, seed: 3}}
sinks:
  zstd: {type: file, inputs: [clicks], config: {path: out/zstd, format: parquet, compression: zstd, row_group_rows: 50000}}
  lz4: {type: file, inputs: [clicks], config: {path: out/lz4, format: parquet, compression: lz4, dictionary: false}}
  none: {type: file, inputs: [clicks], config: {path: out/none, format: parquet, compression: none, dictionary: [country]}}
  default: {type: file, inputs: [clicks], config: {path: out/default, format: parquet}}
  plain: {type: file, inputs: [clicks], config: {path: out/plain, format: parquet, encoding: plain}}
",
    )
    .unwrap();
    run_ok(&pipeline);
    let out = dir.path().join("out");
    let file = |name: &str| out.join(name).join("part-00000.parquet");
    let column = |described: &serde_json::Value, name: &str, key: &str| {
        described["columns"][name][key].clone()
    };
    let zstd = describe_parquet(&file("zstd"));
    assert_eq!(zstd["rows"], 300_000);
    assert_eq!(
        zstd["row_groups"],
        serde_json::json!([50_000, 50_000, 50_000, 50_000, 50_000, 50_000])
    );
    let default = describe_parquet(&file("default"));
    assert_eq!(
        default["row_groups"],
        serde_json::json!([131_072, 131_072, 37_856]),
        "131,072 rows a row group by default"
    );
    for (sink, codec) in [
        ("zstd", "ZSTD"),
        ("lz4", "LZ4"),
        ("none", "UNCOMPRESSED"),
        ("default", "SNAPPY"),
        ("plain", "SNAPPY"),
    ] {
        let described = describe_parquet(&file(sink));
        for name in ["event_time", "user_id", "session_id", "price"] {
            // Small ids differ by little too; with a dictionary they have
            // no need of it.
            let delta = match name {
                "event_time" | "user_id" => sink != "plain",
                _ => false,
            };
            assert_eq!(
                column(&described, name, "delta"),
                serde_json::json!([delta]),
                "{sink} {name}: {described}"
            );
        }
        for name in ["event_time", "action", "country", "price"] {
            assert_eq!(
                column(&described, name, "compression"),
                serde_json::json!([codec]),
                "{sink}: {described}"
            );
        }
        let dictionary = |name| column(&described, name, "dictionary");
        let (repeated, distinct) = match sink {
            "lz4" => (false, false),
            "none" => {
                assert_eq!(
                    dictionary("country"),
                    serde_json::json!([true]),
                    "{described}"
                );
                (false, false)
            }
            _ => (true, false),
        };
        assert_eq!(
            dictionary("action"),
            serde_json::json!([repeated]),
            "{sink}: {described}"
        );
        for name in ["event_time", "session_id"] {
            assert_eq!(
                dictionary(name),
                serde_json::json!([distinct]),
                "{sink} {name}: {described}"
            );
        }
        // The user ids repeat, but delta-packed they are smaller still.
        assert_eq!(
            dictionary("user_id"),
            serde_json::json!([sink == "plain"]),
            "{sink}: {described}"
        );
        if sink != "default" {
            let same =
                parquet_fixtures(&[Path::new("same"), &out.join("default"), &out.join(sink)]);
            assert!(same.status.success(), "{sink}: {}", text(&same.stderr));
        }
    }
}

/// Parquet options on another format, row groups of no rows, a dictionary
/// naming a column there is not, and an unknown codec or encoding are
/// refused before the run, naming the field.
#[test]
fn parquet_sink_options_that_cannot_apply_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "format: json, compression: zstd",
            "`compression`: applies to format: parquet only",
        ),
        (
            "format: csv, row_group_rows: 10",
            "`row_group_rows`: applies to format: parquet only",
        ),
        (
            "format: parquet, row_group_rows: 0",
            "`row_group_rows`: must be at least 1",
        ),
        (
            "format: parquet, dictionary: [country, nope]",
            "`dictionary`: no column \"nope\"",
        ),
        (
            "format: parquet, dictionary: sometimes",
            "expected auto, true, false or a list of column names",
        ),
        (
            "format: parquet, compression: brotli",
            "unknown variant `brotli`",
        ),
        (
            "format: json, encoding: plain",
            "`encoding`: applies to format: parquet only",
        ),
        (
            "format: parquet, encoding: delta",
            "unknown variant `delta`, expected `auto` or `plain`",
        ),
    ];
    for (options, expected) in cases {
        let pipeline = dir.path().join("p.yaml");
        fs::write(
            &pipeline,
            format!(
                "sources:
  clicks: {{plugin: generate, config: {{dataset: clickstream, rows: 10}}}}
sinks:
  out: {{type: file, inputs: [clicks], config: {{path: out, {options}}}}}
"
            ),
        )
        .unwrap();
        let refused = weir(&["validate", pipeline.to_str().unwrap()]);
        let stderr = text(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{options}: {stderr}");
        assert!(stderr.contains("node \"out\""), "{options}: {stderr}");
        assert!(stderr.contains(expected), "{options}: {stderr}");
    }
}

/// `rows` page views one second apart from 2026-11-25T00:00:00Z, as JSON
/// lines, each on one of three pages.
fn page_views(rows: usize) -> String {
    (0..rows)
        .map(|i| {
            format!(
                "{{\"t\": \"2026-11-25T00:{:02}:{:02}Z\", \"page\": \"/p{}\"}}\n",
                i / 60,
                i % 60,
                i % 3
            )
        })
        .collect()
}

/// Windows per (start, page) and their counts, from JSON-lines output.
fn window_counts(rows: &[serde_json::Value]) -> std::collections::BTreeMap<(String, String), i64> {
    rows.iter()
        .map(|r| {
            let key = (r["window_start"].to_string(), r["page"].to_string());
            (key, r["count"].as_i64().unwrap())
        })
        .collect()
}

#[test]
fn windows_over_files_read_one_after_another_count_every_file_and_make_nothing_late() {
    // Three files over the same 10 minutes, read one after the other: the
    // window's clock waits for every file, so with no lateness at all the
    // second and third file's rows are not late.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    for name in ["a", "b", "c"] {
        fs::write(input.join(format!("{name}.jsonl")), page_views(600)).unwrap();
    }
    let pipeline = |transforms: &str| {
        format!(
            "sources:
  views: {{type: file, config: {{path: in/*.jsonl, schema: {{t: \"timestamp[ms]\", page: utf8}}, batch_rows: 50}}}}
transforms:
{transforms}
  per_minute:
    plugin: window-aggregate
    inputs: [pages]
    config: {{time_column: t, window: 1m, keys: [page], aggregates: [{{op: count}}]}}
sinks:
  out: {{type: file, inputs: [per_minute], config: {{path: out, format: json}}}}
"
        )
    };
    let path = dir.path().join("pipeline.yaml");
    fs::write(
        &path,
        pipeline("  pages: {plugin: select, inputs: [views], config: {columns: [{name: t}, {name: page}]}}"),
    )
    .unwrap();
    run_ok(&path);
    let counts = window_counts(&read_json_dir(&dir.path().join("out")));
    assert_eq!(
        counts.len(),
        10 * 3,
        "ten minutes of three pages: {counts:?}"
    );
    assert!(
        counts.values().all(|&count| count == 3 * 20),
        "every file counted in every window: {counts:?}"
    );
    assert!(
        !dir.path().join("dead-letters/per_minute.jsonl").exists(),
        "nothing late"
    );

    // Parallel instances upstream may reorder a file's rows: refused.
    fs::write(
        &path,
        pipeline(
            "  pages: {plugin: select, inputs: [views], parallelism: 2, config: {columns: [{name: t}, {name: page}]}}",
        ),
    )
    .unwrap();
    let out = weir(&["validate", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("per_minute")
            && stderr.contains("\"pages\", which runs with `parallelism: 2`"),
        "{stderr}"
    );
}

/// Orders as a CSV export writes them: the header's order is not the
/// schema's.
const ORDERS_CSV: &str = "id,customer_email,country,amount
1,ann@example.com,FR,10.5
2,\"bob, jr@example.com\",DE,3
";

fn orders_pipeline(dir: &Path, csv_options: &str, schema: &str) -> std::path::PathBuf {
    let path = dir.join("pipeline.yaml");
    fs::write(
        &path,
        format!(
            "sources:
  orders: {{type: file, config: {{path: orders.csv, resume: true, {csv_options} schema: {{{schema}}}}}}}
transforms:
  masked: {{plugin: mask, inputs: [orders], config: {{columns: {{customer_email: {{method: hash, salt: s}}}}}}}}
sinks:
  out: {{type: file, inputs: [masked], config: {{path: out, format: json}}}}
"
        ),
    )
    .unwrap();
    path
}

#[test]
fn csv_columns_are_matched_by_header_name_so_no_column_is_mixed_up() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("orders.csv"), ORDERS_CSV).unwrap();
    // The schema lists country before customer_email; the file the other
    // way round.
    let reordered = "id: int64, country: utf8, customer_email: utf8, amount: float64";
    let pipeline = orders_pipeline(dir.path(), "", reordered);
    run_ok(&pipeline);
    let rows = read_json_dir(&dir.path().join("out"));
    let countries: Vec<&str> = rows
        .iter()
        .map(|r| r["country"].as_str().unwrap())
        .collect();
    assert_eq!(countries, ["FR", "DE"]);
    let text = serde_json::to_string(&rows).unwrap();
    assert!(
        !text.contains('@'),
        "an e-mail address reached the sink: {text}"
    );

    // A resumed run reads the header from the file's start.
    fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("orders.csv"))
        .unwrap()
        .write_all(b"3,cid@example.com,IT,7\n")
        .unwrap();
    run_ok(&pipeline);
    let rows = read_json_dir(&dir.path().join("out"));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[2]["country"], "IT");
    assert!(!serde_json::to_string(&rows).unwrap().contains('@'));
}

#[test]
fn csv_headers_that_do_not_match_the_schema_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("orders.csv"), ORDERS_CSV).unwrap();
    let validate = |csv_options: &str, schema: &str| {
        let pipeline = orders_pipeline(dir.path(), csv_options, schema);
        let out = weir(&["validate", pipeline.to_str().unwrap()]);
        (out.status.success(), text(&out.stderr))
    };
    let (ok, stderr) = validate(
        "",
        "id: int64, region: utf8, customer_email: utf8, amount: float64",
    );
    assert!(!ok);
    assert!(
        stderr.contains("orders.csv") && stderr.contains("\"region\" are not in the header"),
        "{stderr}"
    );
    let declared = "id: int64, customer_email: utf8, amount: float64";
    let (ok, stderr) = validate("", declared);
    assert!(ok, "extra columns are left out by default: {stderr}");
    let (ok, stderr) = validate("extra_columns: error,", declared);
    assert!(!ok);
    assert!(stderr.contains("\"country\""), "{stderr}");

    // Without a header, columns are taken by position.
    fs::write(
        dir.path().join("orders.csv"),
        ORDERS_CSV.lines().skip(1).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let positional = "id: int64, customer_email: utf8, country: utf8, amount: float64";
    run_ok(&orders_pipeline(dir.path(), "header: false,", positional));
    let rows = read_json_dir(&dir.path().join("out"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["country"], "DE");
}

/// Re-running a batch job: with `mode: error-if-exists` the second run is
/// refused before it writes anything; with `append` it adds its files, and
/// the dead letters say which run wrote each.
#[test]
fn a_rerun_is_refused_by_error_if_exists_and_dead_letters_name_their_run() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("in.jsonl"),
        "{\"id\": 1}\n{\"id\": \"x\"}\n{\"id\": 3}\n",
    )
    .unwrap();
    let pipeline = |mode: &str| {
        write_pipeline(
            dir.path(),
            &format!(
                "sources:
  ids: {{type: file, config: {{path: in.jsonl, schema: {{id: int64}}, resume: false}}}}
sinks:
  out: {{type: file, inputs: [ids], config: {{path: out, format: json, mode: {mode}}}}}
"
            ),
        )
    };
    let files = || read_dir_names(&dir.path().join("out"));
    run_pipeline(&pipeline("error-if-exists"), &[]);
    let first = files();
    assert_eq!(rows_in(&dir.path().join("out")), 2);

    let out = weir(&["run", pipeline("error-if-exists").to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("holds output already") && stderr.contains("or append"),
        "{stderr}"
    );
    assert_eq!(files(), first, "the refused run wrote nothing");
    assert_eq!(dead_letters(dir.path(), "ids").len(), 1, "nor dead letters");

    run_pipeline(&pipeline("append"), &[]);
    assert_eq!(rows_in(&dir.path().join("out")), 4);
    let letters = dead_letters(dir.path(), "ids");
    let runs: Vec<&str> = letters.iter().map(|l| l["run"].as_str().unwrap()).collect();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0], runs[1], "each letter says its run: {runs:?}");
}

/// A batch job's sink refuses a re-run by default; `mode: overwrite`
/// replaces the output in one step when the run read all its input, and a
/// run that fails leaves the old output as it was.
#[test]
fn a_batch_job_refuses_a_rerun_by_default_and_overwrite_replaces_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = |mode: &str, on_error: &str| {
        write_pipeline(
            dir.path(),
            &format!(
                "sources:
  ids: {{type: file, on_error: {on_error}, config: {{path: in.jsonl, schema: {{id: int64, name: utf8}}}}}}
sinks:
  out: {{type: file, inputs: [ids], config: {{path: out, format: json, partition_by: id, {mode}}}}}
"
            ),
        )
    };
    let out = dir.path().join("out");
    // Partitioned by id: each id is a folder (`id=4`) with one row.
    let ids_now = || {
        let mut ids: Vec<i64> = read_dir_names(&out)
            .iter()
            .map(|name| {
                assert_eq!(rows_in(&out.join(name)), 1, "{name}");
                name.strip_prefix("id=").unwrap().parse().unwrap()
            })
            .collect();
        ids.sort();
        ids
    };
    fs::write(dir.path().join("in.jsonl"), json_lines([1, 2, 3])).unwrap();
    run_ok(&pipeline("", "dead-letter"));
    let refused = weir(&["run", pipeline("", "dead-letter").to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the default for a batch job") && stderr.contains("overwrite"),
        "{stderr}"
    );

    fs::write(dir.path().join("in.jsonl"), json_lines([4, 5])).unwrap();
    run_ok(&pipeline("mode: overwrite", "dead-letter"));
    assert_eq!(ids_now(), vec![4, 5], "no partition of the old run is left");

    // A run that fails half-way publishes nothing.
    fs::write(
        dir.path().join("in.jsonl"),
        format!("{}{{\"id\": \"bad\"}}\n", json_lines([6, 7])),
    )
    .unwrap();
    let failed = weir(&["run", pipeline("mode: overwrite", "stop").to_str().unwrap()]);
    assert_ne!(failed.status.code(), Some(0), "{}", text(&failed.stderr));
    assert_eq!(ids_now(), vec![4, 5], "the failed run left the old output");
    fs::write(dir.path().join("in.jsonl"), json_lines([8])).unwrap();
    run_ok(&pipeline("mode: overwrite", "stop"));
    assert_eq!(ids_now(), vec![8], "the next run replaced it");
    assert!(
        !read_dir_names(dir.path())
            .iter()
            .any(|n| n.contains("weir-overwrite")),
        "nothing staged is left"
    );
}
