//! Every pipeline under `examples/`, run by the real binary on a copy of its
//! folder, its outputs read back and checked against a reference computed
//! here from the same input.

#[cfg(all(
    feature = "system-tests",
    feature = "mqtt",
    feature = "http",
    feature = "delta"
))]
#[path = "support/mosquitto.rs"]
mod mosquitto;
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};

use support::*;

/// A copy of `examples/<name>` in a temporary folder.
fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let pipeline = dir.path().join("pipeline.yaml");
    (dir, pipeline)
}

fn run(pipeline: &Path, env: &[(&str, &str)]) -> String {
    let out = weir_command(&["run", "--quiet", pipeline.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let column = batch.column_by_name(name).unwrap().as_string::<i32>();
    column.iter().map(|v| v.unwrap().to_string()).collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let column = batch.column_by_name(name).unwrap();
    column.as_primitive::<Float64Type>().values().to_vec()
}

fn times(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let column = batch.column_by_name(name).unwrap();
    column
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec()
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() < 1e-6 * b.abs().max(1.0),
        "{what}: {a} != {b}"
    );
}

#[test]
fn quickstart_stats_match_a_plain_filter_run_minute_by_minute() {
    let (dir, pipeline) = example("quickstart");
    let stdout = run(&pipeline, &[("ROWS", "30000")]);

    let windows = read_parquet_dir(&dir.path().join("out/page-stats"));
    let mut stats = BTreeMap::new();
    for batch in &windows {
        let counts = batch.column_by_name("count").unwrap();
        let counts = counts.as_primitive::<Int64Type>().values();
        let starts = times(batch, "window_start");
        let revenue = floats(batch, "revenue");
        for (row, action) in strings(batch, "action").into_iter().enumerate() {
            stats.insert((starts[row], action), (counts[row], revenue[row]));
        }
    }
    assert_eq!(
        stats.len(),
        stdout.lines().count(),
        "the Parquet and stdout sinks got the same rows"
    );

    // The same source and filter without select and aggregate, as JSON
    // lines, summed here per minute and action.
    fs::write(
        dir.path().join("plain.yaml"),
        "sources:
  clicks: {plugin: generate, config: {dataset: clickstream, rows: 30000, seed: 7}}
transforms:
  keep:
    plugin: filter
    inputs: [clicks]
    config: {predicate: \"action in ['add_to_cart', 'purchase'] and price is not null\"}
sinks:
  rows: {type: file, inputs: [keep], config: {path: plain, format: parquet}}
",
    )
    .unwrap();
    run(&dir.path().join("plain.yaml"), &[]);
    let mut reference: BTreeMap<(i64, String), (i64, f64)> = BTreeMap::new();
    for batch in read_parquet_dir(&dir.path().join("plain")) {
        let prices = floats(&batch, "price");
        let event_times = times(&batch, "event_time");
        for (row, action) in strings(&batch, "action").into_iter().enumerate() {
            let minute = event_times[row] - event_times[row].rem_euclid(60_000);
            let entry = reference.entry((minute, action)).or_default();
            entry.0 += 1;
            entry.1 += prices[row];
        }
    }
    assert!(!reference.is_empty());
    assert_eq!(
        stats.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    for (key, (count, revenue)) in &reference {
        let (got_count, got_revenue) = stats[key];
        assert_eq!(got_count, *count, "{key:?}");
        assert_close(got_revenue, *revenue, &format!("revenue of {key:?}"));
    }
}

/// The normal range of each sensor of the `generate` plugin's iot data:
/// base ± spread / 2.
fn in_normal_range(sensor: &str, value: f64) -> bool {
    let (base, spread) = match sensor {
        "temperature" => (20.0, 10.0),
        "humidity" => (50.0, 30.0),
        _ => (1013.0, 20.0),
    };
    (value - base).abs() <= spread / 2.0 + 0.01
}

#[test]
fn iot_anomaly_alerts_exactly_the_faults_and_keeps_every_reading_by_day() {
    let (dir, pipeline) = example("iot-anomaly");
    run(&pipeline, &[("ROWS", "60000")]);

    let lake = dir.path().join("out/readings");
    let mut days = read_dir_names(&lake);
    days.sort();
    // 60,000 readings 2 s apart from 2026-11-25T00:00Z span 33 hours.
    assert_eq!(days, ["dt=2026-11-25", "dt=2026-11-26"]);
    let mut readings = Vec::new();
    for day in &days {
        for batch in read_parquet_dir(&lake.join(day)) {
            let flags = batch
                .column_by_name("anomaly")
                .unwrap()
                .as_boolean()
                .clone();
            let (t, v) = (times(&batch, "event_time"), floats(&batch, "value"));
            let (devices, sensors) = (strings(&batch, "device_id"), strings(&batch, "sensor"));
            for row in 0..batch.num_rows() {
                let date = chrono::DateTime::from_timestamp_millis(t[row]).unwrap();
                assert_eq!(format!("dt={}", date.format("%Y-%m-%d")), *day);
                readings.push((
                    t[row],
                    devices[row].clone(),
                    sensors[row].clone(),
                    v[row],
                    flags.value(row),
                ));
            }
        }
    }
    assert_eq!(readings.len(), 60_000);
    readings.sort_by_key(|r| r.0);

    // Reference: a reading is a fault when it is outside its sensor's
    // range; it can be flagged once its series has 30 normal readings.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut expected = Vec::new();
    for (time, device, sensor, value, flagged) in &readings {
        let normal = in_normal_range(sensor, *value);
        let count = seen.entry((device.clone(), sensor.clone())).or_default();
        let should_flag = !normal && *count >= 30;
        assert_eq!(
            *flagged, should_flag,
            "{device} {sensor} {value} at {time} after {count} readings"
        );
        if normal {
            *count += 1;
        }
        if should_flag {
            expected.push((*time, device.clone()));
        }
    }
    assert!(expected.len() > 20, "too few faults to test: {expected:?}");

    let alerts = read_json_dir(&dir.path().join("out/alerts"));
    let got: Vec<(i64, String)> = alerts
        .iter()
        .map(|a| {
            let time = chrono::DateTime::parse_from_rfc3339(a["event_time"].as_str().unwrap());
            (
                time.unwrap().timestamp_millis(),
                a["device_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        alerts
            .iter()
            .all(|a| a["zscore"].as_f64().unwrap().abs() > 4.0)
    );
}

#[test]
fn nightly_sales_totals_match_the_csv_and_garbled_rows_are_dead_letters() {
    let (dir, pipeline) = example("nightly-sales");
    run(&pipeline, &[("MASK_SALT", "test-salt")]);

    // Reference from the CSV text: rows with five fields and a decimal amount.
    let csv = fs::read_to_string(dir.path().join("sales.csv")).unwrap();
    let mut reference: BTreeMap<(String, String), (i64, f64, f64)> = BTreeMap::new();
    let mut garbled = Vec::new();
    for (n, line) in csv.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 5 {
            garbled.push(n + 1);
            continue;
        }
        let amount: f64 = fields[4].parse().unwrap();
        let entry = reference
            .entry((fields[1][..10].to_string(), fields[2].to_string()))
            .or_insert((0, 0.0, f64::MIN));
        entry.0 += 1;
        entry.1 += amount;
        entry.2 = entry.2.max(amount);
    }
    assert_eq!(garbled, [43, 189]);

    let mut totals = BTreeMap::new();
    for batch in read_parquet_dir(&dir.path().join("out/daily-totals")) {
        let sales = batch.column_by_name("sales").unwrap();
        let sales = sales.as_primitive::<Int64Type>().values();
        let (starts, revenue) = (times(&batch, "window_start"), floats(&batch, "revenue"));
        let largest = floats(&batch, "largest_sale");
        for (row, store) in strings(&batch, "store").into_iter().enumerate() {
            let day = chrono::DateTime::from_timestamp_millis(starts[row]).unwrap();
            let key = (day.format("%Y-%m-%d").to_string(), store);
            totals.insert(key, (sales[row], revenue[row], largest[row]));
        }
    }
    assert_eq!(
        totals.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    for (key, (count, revenue, largest)) in &reference {
        let got = totals[key];
        assert_eq!(got.0, *count, "{key:?}");
        assert_close(got.1, *revenue, &format!("revenue of {key:?}"));
        assert_close(got.2, *largest, &format!("largest sale of {key:?}"));
    }

    // Masked transactions: every good row, no e-mail address left.
    let transactions = dir.path().join("out/transactions");
    let mut rows = 0;
    for day in read_dir_names(&transactions) {
        for batch in read_parquet_dir(&transactions.join(&day)) {
            rows += batch.num_rows();
            for email in strings(&batch, "customer_email") {
                assert!(
                    email.len() == 64 && email.chars().all(|c| c.is_ascii_hexdigit()),
                    "{email}"
                );
            }
        }
    }
    assert_eq!(rows, csv.lines().count() - 1 - garbled.len());

    let dead: Vec<serde_json::Value> =
        fs::read_to_string(dir.path().join("dead-letters/sales.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(dead.len(), 2);
    assert!(dead[0]["error"].as_str().unwrap().contains("sales.csv:43"));
    assert_eq!(
        dead[1]["record"].as_str().unwrap(),
        "S00188,2026-11-27T15:02:00Z,munich"
    );
}

/// examples/lakehouse as its README runs it: the stream grows between two
/// runs, each adds only the new orders; a restatement overwrites the table
/// in one commit; Weir's own `delta` source reads every version back, and
/// revenue per country matches the input.
#[test]
fn lakehouse_appends_each_order_once_and_time_travel_reads_every_version() {
    let (dir, pipeline) = example("lakehouse");
    let orders = fs::read_to_string(dir.path().join("orders.jsonl")).unwrap();
    let lines: Vec<&str> = orders.lines().collect();
    let stream = dir.path().join("stream.jsonl");
    let env = [("ORDERS_FILE", stream.to_str().unwrap())];
    fs::write(&stream, lines[..800].join("\n") + "\n").unwrap();
    run(&pipeline, &env);
    fs::write(&stream, &orders).unwrap();
    run(&pipeline, &env);
    run(&dir.path().join("restate.yaml"), &[]);

    let history = weir(&[
        "table",
        "history",
        dir.path().join("lake/orders").to_str().unwrap(),
    ]);
    let listed = text(&history.stdout);
    assert!(
        listed.contains("WRITE (Overwrite)") && listed.contains("1200"),
        "{listed}"
    );

    // Orders and revenue per country, from the input and from a version of
    // the table.
    let per_country = |rows: &[serde_json::Value]| {
        let mut revenue: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for row in rows {
            let country = row["country"].as_str().unwrap().to_string();
            let entry = revenue.entry(country).or_default();
            entry.0 += 1;
            entry.1 += row["amount"].as_f64().unwrap();
        }
        revenue
    };
    let input: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (version, input) in [
        (Some(1), &input[..800]),
        (Some(2), &input[..]),
        (None, &input[..]),
    ] {
        let rows = read_delta(dir.path(), "lake/orders", version, "order_id");
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r["order_id"].as_i64().unwrap())
            .collect();
        let want: Vec<i64> = (1..=input.len() as i64).collect();
        assert_eq!(ids, want, "version {version:?}: every order once");
        for ((country, (n, sum)), (their_country, (their_n, their_sum))) in
            per_country(input).iter().zip(&per_country(&rows))
        {
            assert_eq!(
                (country, n),
                (their_country, their_n),
                "version {version:?}"
            );
            assert_close(*sum, *their_sum, country);
        }
    }
}

/// Sensors over MQTT (a real Mosquitto, `mosquitto_pub`) and an app over
/// HTTP into one pipeline: one faulty reading among normal ones becomes
/// exactly one alert; every reading and every app event is in its Delta
/// table; each app request was answered once durable.
#[cfg(all(
    feature = "system-tests",
    feature = "mqtt",
    feature = "http",
    feature = "delta"
))]
#[test]
fn iot_ingest_takes_mqtt_sensors_and_http_events_into_one_pipeline() {
    let broker = mosquitto::Mosquitto::start();
    let (dir, pipeline) = example("iot-ingest");
    let port = free_port();
    let token = "a-test-token-of-some-length";
    let (mqtt_port, address) = (broker.port.to_string(), format!("127.0.0.1:{port}"));
    let env = [
        ("MQTT_PORT", mqtt_port.as_str()),
        ("HTTP_ADDRESS", address.as_str()),
        ("INGEST_TOKEN", token),
    ];
    let mut weir = Running::start(dir.path(), &["run", pipeline.to_str().unwrap()], &env);
    weir.wait_for("both sources", || {
        weir.stderr().contains("mqtt source subscribed")
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let mut readings: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{"device_id": "dev-1", "sensor": "temp", "value": {}, "event_time": "2026-12-07T10:{:02}:00Z"}}"#,
                20.0 + f64::from(i % 5) * 0.1,
                i
            )
        })
        .collect();
    readings.push(
        r#"{"device_id": "dev-1", "sensor": "temp", "value": 500, "event_time": "2026-12-07T10:55:00Z"}"#
            .into(),
    );
    broker.publish_lines("sensors/dev-1/reading", readings);

    let agent = http_client();
    for (user, action) in [("u1", "open"), ("u2", "scan"), ("u1", "close")] {
        let event = format!(
            r#"{{"user_id": "{user}", "action": "{action}", "device_id": "dev-1", "event_time": "2026-12-07T10:00:01Z"}}"#
        );
        let mut answer = agent
            .post(format!("http://{address}/events"))
            .header("Authorization", &format!("Bearer {token}"))
            .send(event.as_str())
            .unwrap();
        let body = answer.body_mut().read_to_string().unwrap();
        assert_eq!(body, r#"{"rows":1,"ack":"durable"}"#);
    }
    let alerts = dir.path().join("out/alerts");
    weir.wait_for("the alert", || {
        alerts.exists() && !read_json_dir(&alerts).is_empty()
    });
    weir.interrupt_and_wait();

    let alerts = read_json_dir(&alerts);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["value"], 500.0);
    assert_eq!(alerts[0]["event_time"], "2026-12-07T10:55:00Z");
    let readings = read_delta(dir.path(), "lake/readings", None, "event_time");
    assert_eq!(readings.len(), 51);
    assert_eq!(readings.iter().filter(|r| r["anomaly"] == true).count(), 1);
    let events = read_delta(dir.path(), "lake/app_events", None, "action");
    let mut actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.sort();
    assert_eq!(actions, ["close", "open", "scan"]);
}
