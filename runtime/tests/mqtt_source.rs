//! The `mqtt` source against Debian's Mosquitto broker and its
//! `mosquitto_pub` client: wildcard topics with the topic as a column,
//! payload formats, bad payloads to the dead letters, the persistent
//! session across restarts, and SIGKILLs with no QoS 1 message lost.

#[path = "support/mosquitto.rs"]
mod mosquitto;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use mosquitto::Mosquitto;
use support::*;

/// A pipeline from an `mqtt` source on `broker` (config fields `extra`)
/// of `{id: int64, temp: float64}` to JSON lines in `out/`.
fn pipeline(dir: &Path, broker: &Mosquitto, extra: &str) -> std::path::PathBuf {
    write_pipeline(
        dir,
        &format!(
            "checkpoint_interval_ms: 100
sources:
  sensors:
    type: mqtt
    config: {{host: 127.0.0.1, port: {}, client_id: weir-sensors, topics: [\"sensors/+/reading\"], schema: {{id: int64, temp: float64}}{extra}}}
sinks:
  out: {{type: file, inputs: [sensors], config: {{path: out, format: json}}}}
",
            broker.port
        ),
    )
}

/// Readings `{"id": N, "temp": 1}` for N in `0..count`, one a line.
fn readings(count: i64) -> Vec<String> {
    (0..count)
        .map(|id| format!("{{\"id\":{id},\"temp\":1}}"))
        .collect()
}

/// Starts `weir run` on `pipeline`, once it has subscribed.
fn start(dir: &Path, pipeline: &Path) -> Running {
    let weir = Running::start(dir, &["run", pipeline.to_str().unwrap()], &[]);
    weir.wait_for("the subscription", || {
        weir.stderr().contains("mqtt source subscribed")
    });
    weir
}

/// The rows written to `out/` so far.
fn rows(dir: &Path) -> Vec<serde_json::Value> {
    match dir.join("out").exists() {
        true => read_json_dir(&dir.join("out")),
        false => Vec::new(),
    }
}

#[test]
fn messages_on_matching_topics_become_rows_with_their_topic() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &broker, "");
    let mut weir = start(dir.path(), &pipeline);
    broker.publish("sensors/a/reading", r#"{"id": 1, "temp": 20.5}"#);
    broker.publish(
        "sensors/b/reading",
        "{\"id\": 2, \"temp\": 21}\n{\"id\": 3, \"temp\": null}",
    );
    broker.publish("sensors/b/status", r#"{"id": 99, "temp": 0}"#);
    broker.publish("sensors/c/reading", r#"{"id": "four"}"#);
    broker.publish("sensors/c/reading", r#"{"id": 5, "temp": 1}"#);
    weir.wait_for("four rows", || rows(dir.path()).len() == 4);
    weir.interrupt_and_wait();
    let mut rows = rows(dir.path());
    rows.sort_by_key(|r| r["id"].as_i64());
    let got: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["topic"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "sensors/a/reading"),
            (2, "sensors/b/reading"),
            (3, "sensors/b/reading"),
            (5, "sensors/c/reading")
        ]
    );
    let letters = dead_letters(dir.path(), "sensors");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["record"], r#"{"id": "four"}"#);
    let error = letters[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("topic sensors/c/reading: line 1:") && error.contains("id"),
        "{error}"
    );
    assert!(
        weir.stderr().contains("3 messages taken, 1 refused"),
        "{}",
        weir.stderr()
    );
}

/// Messages arriving together are decoded together; one that does not
/// decode among them goes to the dead letters alone, and every row keeps
/// its own message's topic.
#[test]
fn a_bad_message_among_many_costs_only_itself() {
    let broker = std::sync::Arc::new(Mosquitto::start());
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &broker, "");
    let mut weir = start(dir.path(), &pipeline);
    let publishers: Vec<_> = [("a", 0..1000), ("b", 1000..2000)]
        .into_iter()
        .map(|(device, ids)| {
            let broker = broker.clone();
            std::thread::spawn(move || {
                let lines = ids
                    .map(|id| match id {
                        1500 => r#"{"id": "fifteen hundred"}"#.to_string(),
                        id => format!(r#"{{"id":{id},"temp":1}}"#),
                    })
                    .collect();
                broker.publish_lines(&format!("sensors/{device}/reading"), lines);
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().unwrap();
    }
    weir.wait_for("1,999 rows", || rows(dir.path()).len() == 1999);
    weir.interrupt_and_wait();
    for row in rows(dir.path()) {
        let id = row["id"].as_i64().unwrap();
        let device = if id < 1000 { "a" } else { "b" };
        assert_eq!(row["topic"], format!("sensors/{device}/reading"), "{row}");
    }
    let letters = dead_letters(dir.path(), "sensors");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["record"], r#"{"id": "fifteen hundred"}"#);
    assert!(
        weir.stderr().contains("1999 messages taken, 1 refused"),
        "{}",
        weir.stderr()
    );
}

#[test]
fn csv_payloads_and_no_topic_column() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &broker, ", format: csv, topic_column: null");
    let mut weir = start(dir.path(), &pipeline);
    broker.publish("sensors/a/reading", "temp,id\n1.5,1\n2.5,2\n");
    weir.wait_for("two rows", || rows(dir.path()).len() == 2);
    weir.interrupt_and_wait();
    assert_eq!(
        rows(dir.path()),
        [
            serde_json::json!({"id": 1, "temp": 1.5}),
            serde_json::json!({"id": 2, "temp": 2.5})
        ]
    );
}

/// The session outlives a run: what is published while `weir` is down
/// arrives when it runs again.
#[test]
fn messages_published_while_down_arrive_on_the_next_run() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &broker, "");
    let mut weir = start(dir.path(), &pipeline);
    weir.interrupt_and_wait();
    broker.publish_lines("sensors/x/reading", readings(500));
    let weir = start(dir.path(), &pipeline);
    weir.wait_for("the 500 messages sent while it was down", || {
        rows(dir.path()).len() == 500
    });
}

/// 200,000 numbered readings published at QoS 1 (`mosquitto_pub`) while
/// `weir` is killed with SIGKILL at random points at least ten times and
/// restarted: every reading the broker took is in the output.
#[test]
fn qos1_messages_survive_sigkills() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &broker, "");
    const READINGS: i64 = 200_000;
    // Subscribe once, so the session exists before anything is published.
    let mut weir = start(dir.path(), &pipeline);
    let broker = std::sync::Arc::new(broker);
    let publisher = {
        let broker = broker.clone();
        std::thread::spawn(move || broker.publish_lines("sensors/p/reading", readings(READINGS)))
    };
    let mut seed: u64 = 0x9e3779b9;
    let mut kills = 0;
    let started = Instant::now();
    while kills < 10 || !publisher.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the publisher did not finish"
        );
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(200 + (seed >> 33) % 1000));
        weir.child.kill().unwrap(); // SIGKILL
        weir.child.wait().unwrap();
        kills += 1;
        weir = start(dir.path(), &pipeline);
    }
    publisher.join().unwrap();
    let distinct = |rows: &[serde_json::Value]| {
        let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    weir.wait_for("every reading", || {
        distinct(&rows(dir.path())).len() == READINGS as usize
    });
    weir.interrupt_and_wait();
    let rows = rows(dir.path());
    assert_eq!(distinct(&rows), (0..READINGS).collect::<Vec<_>>());
    eprintln!(
        "{kills} SIGKILLs; {} readings written, {} distinct, {} duplicates",
        rows.len(),
        READINGS,
        rows.len() as i64 - READINGS
    );
}
