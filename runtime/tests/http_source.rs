//! The `http` source with real clients: curl and ureq posting every body
//! format, bad bodies refused whole, tokens per tenant, a saturated
//! pipeline answering 503, wrk's load with every row accounted for, and
//! SIGKILLs at random points with no acknowledged row lost.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

const ACME: &str = "acme-token-0123456789";
const GLOBEX: &str = "globex-token-0123456789";

/// A pipeline from an `http` source on `port` (config fields `extra`) of
/// `{id: int64, name: utf8}` to JSON lines in `out/`.
fn pipeline(dir: &Path, port: u16, extra: &str, transform: &str) -> std::path::PathBuf {
    let (transforms, input) = match transform {
        "" => (String::new(), "events"),
        spec => (
            format!("transforms:\n  slow: {{{spec}, inputs: [events]}}\n"),
            "slow",
        ),
    };
    write_pipeline(
        dir,
        &format!(
            "checkpoint_interval_ms: 100
sources:
  events:
    type: http
    config: {{address: 127.0.0.1:{port}, schema: {{id: int64, name: utf8}}{extra}}}
{transforms}sinks:
  out: {{type: file, inputs: [{input}], config: {{path: out, format: json}}}}
"
        ),
    )
}

/// Starts `weir run` on `pipeline` (its summary on stderr at the end) and
/// waits until the source listens.
fn start(dir: &Path, pipeline: &Path, port: u16) -> Running {
    let weir = Running::start(dir, &["run", pipeline.to_str().unwrap()], &[]);
    weir.wait_for("the http source to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    weir
}

/// `curl -s` with `args`: the status and the body.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (scripts/setup.sh --tests installs it)");
    let text = text(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

/// The ids written to `out/` so far, sorted.
fn ids_written(dir: &Path) -> Vec<i64> {
    let mut ids: Vec<i64> = match dir.join("out").exists() {
        true => read_json_dir(&dir.join("out"))
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect(),
        false => Vec::new(),
    };
    ids.sort();
    ids
}

/// With `ack: durable`, a 200 means the rows are in the sink's files: read
/// right after each answer, they are there. Every body format, gzip, a
/// token per tenant with the tenant and path as columns.
#[test]
fn every_acknowledged_request_is_already_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let tenants = format!(
        ", paths: [/events, /logs], tenants: {{acme: {ACME}, globex: {{file: globex.token}}}}, tenant_column: tenant, path_column: path"
    );
    fs::write(dir.path().join("globex.token"), format!("{GLOBEX}\n")).unwrap();
    let pipeline = pipeline(dir.path(), port, &tenants, "");
    let weir = start(dir.path(), &pipeline, port);
    let url = format!("http://127.0.0.1:{port}");
    let acme = format!("Authorization: Bearer {ACME}");

    let (status, body) = curl(&[
        "-H",
        &acme,
        "--data-binary",
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2}\n",
        &format!("{url}/events"),
    ]);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"rows":2,"ack":"durable"}"#)
    );
    assert_eq!(ids_written(dir.path()), [1, 2], "written before the answer");

    let csv = "name,id\nc,3\nd,4\n";
    let (status, body) = curl(&[
        "-H",
        &acme,
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        csv,
        &format!("{url}/logs"),
    ]);
    assert_eq!(status, 200, "{body}");
    let array = r#"[{"id": 5, "name": "e"}, {"id": 6, "name": null}]"#;
    let globex = format!("Authorization: Bearer {GLOBEX}");
    let (status, body) = curl(&[
        "-H",
        &globex,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        array,
        &format!("{url}/events"),
    ]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids_written(dir.path()), [1, 2, 3, 4, 5, 6]);

    // gzip, made by gzip(1), posted by curl.
    let gzipped = dir.path().join("body.gz");
    let plain = dir.path().join("body.jsonl");
    fs::write(&plain, "{\"id\":7,\"name\":\"g\"}\n").unwrap();
    let out = Command::new("gzip")
        .args(["-k", "-c"])
        .arg(&plain)
        .output()
        .unwrap();
    fs::write(&gzipped, out.stdout).unwrap();
    let (status, body) = curl(&[
        "-H",
        &acme,
        "-H",
        "Content-Encoding: gzip",
        "--data-binary",
        &format!("@{}", gzipped.display()),
        &format!("{url}/events"),
    ]);
    assert_eq!(status, 200, "{body}");

    // An Arrow IPC stream, its columns in another order and id as int32.
    use arrow::array::{Int32Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("id", DataType::Int32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(StringArray::from(vec!["h", "i"])),
            std::sync::Arc::new(Int32Array::from(vec![8, 9])),
        ],
    )
    .unwrap();
    let mut ipc = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut ipc, &schema).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    let mut response = http_client()
        .post(format!("{url}/logs"))
        .header("Authorization", &format!("Bearer {GLOBEX}"))
        .header("Content-Type", "application/vnd.apache.arrow.stream")
        .send(&ipc[..])
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );
    assert_eq!(ids_written(dir.path()), (1..=9).collect::<Vec<_>>());

    let rows = read_json_dir(&dir.path().join("out"));
    let row = |id: i64| rows.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(row(1)["tenant"], "acme");
    assert_eq!(row(1)["path"], "/events");
    assert_eq!(row(3)["name"], "c");
    assert_eq!(row(3)["path"], "/logs");
    assert_eq!(row(5)["tenant"], "globex");
    assert_eq!(row(2)["name"], serde_json::Value::Null);
    assert_eq!(row(9)["tenant"], "globex");
    drop(weir);
}

/// Bad requests are refused whole, naming what is wrong; nothing of them
/// is written, and the source goes on.
#[test]
fn bad_requests_are_refused_whole_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = format!(", token: {ACME}, max_body_bytes: 1000");
    let pipeline = pipeline(dir.path(), port, &extra, "");
    let mut weir = start(dir.path(), &pipeline, port);
    let url = format!("http://127.0.0.1:{port}/");
    let auth = format!("Authorization: Bearer {ACME}");

    let bad_json = "{\"id\":1}\n{\"id\":\"two\"}\n{\"id\":3}\n";
    let (status, body) = curl(&["-H", &auth, "--data-binary", bad_json, &url]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line 2:") && body.contains("id"), "{body}");
    assert!(body.contains("none of its rows was taken"), "{body}");
    let bad_csv = "id,name\n1,a\n2,b\nthree,c\n";
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        bad_csv,
        &url,
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("line 4:") && body.contains(r#"column \"id\""#),
        "{body}"
    );
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Type: text/csv",
        "--data-binary",
        "id,age\n1,2\n",
        &url,
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("age"), "{body}");
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "[{\"id\":1},",
        &url,
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line 1, column"), "{body}");

    let big = format!("{}\n", "{\"id\":1}\n".repeat(200));
    let (status, body) = curl(&["-H", &auth, "--data-binary", &big, &url]);
    assert_eq!(status, 413, "{body}");
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "x",
        &url,
    ]);
    assert_eq!(status, 415, "{body}");
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Encoding: br",
        "--data-binary",
        "x",
        &url,
    ]);
    assert_eq!(status, 415, "{body}");
    let (status, _) = curl(&["--data-binary", "{\"id\":1}\n", &url]);
    assert_eq!(status, 401);
    let (status, _) = curl(&[
        "-H",
        "Authorization: Bearer acme-token-012345678X",
        "--data-binary",
        "{\"id\":1}\n",
        &url,
    ]);
    assert_eq!(status, 401);
    let (status, _) = curl(&["-H", &auth, &url]);
    assert_eq!(status, 405, "GET is not a push");

    let (status, body) = curl(&["-H", &auth, "--data-binary", "{\"id\":10}\n", &url]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids_written(dir.path()), [10], "only the good request");
    weir.interrupt_and_wait();
    let stderr = weir.stderr();
    assert!(
        stderr.contains("1 requests taken (1 rows); refused: 7 bad bodies, 0 while saturated, 2 without a valid token"),
        "{stderr}"
    );
}

/// Config mistakes are refused before anything listens, naming the field.
#[test]
fn config_mistakes_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, expected) in [
        (
            ", token: short",
            "`token`: a token must be at least 16 characters",
        ),
        (", token: {file: missing.token}", "`token`: cannot read"),
        (
            &format!(", token: {ACME}, tenants: {{a: {GLOBEX}}}"),
            "give `token` or `tenants`, not both",
        ),
        (
            &format!(", tenants: {{a: {ACME}, b: {ACME}}}"),
            "tenants \\\"a\\\" and \\\"b\\\" have the same token",
        ),
        (
            ", tenant_column: tenant",
            "`tenant_column`: needs `tenants`",
        ),
        (
            ", path_column: id",
            "`path_column`: \\\"id\\\" is already a column",
        ),
        (", paths: [events]", "`paths[0]`"),
        (", ack: maybe", "unknown variant `maybe`"),
        (
            ", queue_requests: 0",
            "`queue_requests`: must be at least 1",
        ),
    ] {
        let pipeline = pipeline(dir.path(), 1, extra, "");
        let out = weir(&["validate", pipeline.to_str().unwrap()]);
        let stderr = text(&out.stderr).replace('"', "\\\"");
        assert!(!out.status.success(), "{extra}");
        assert!(
            stderr.contains("events") && stderr.contains(expected),
            "{extra}: {stderr}"
        );
    }
}

/// A pipeline that cannot keep up (a transform stuck in a call) makes the
/// source answer 503 with `Retry-After` once its queue is full, instead of
/// holding more.
#[test]
fn a_saturated_pipeline_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pipeline = pipeline(
        dir.path(),
        port,
        ", ack: received, queue_requests: 2",
        "plugin: test-misbehave, config: sleep",
    );
    let weir = start(dir.path(), &pipeline, port);
    let url = format!("http://127.0.0.1:{port}/");
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for id in 0..30 {
        // Time for the source to take what its queue holds.
        std::thread::sleep(Duration::from_millis(30));
        let mut response = http_client()
            .post(&url)
            .send(format!("{{\"id\":{id}}}\n"))
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 503 {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            assert!(
                response
                    .body_mut()
                    .read_to_string()
                    .unwrap()
                    .contains("saturated")
            );
        }
    }
    let taken = statuses.iter().filter(|&&s| s == 200).count();
    // One in the stuck call, four in the channel to it, one held by the
    // source, two in its queue.
    assert!((6..=10).contains(&taken), "{statuses:?}");
    assert!(statuses.ends_with(&[503; 10]), "{statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    drop(weir);
}

/// wrk (a load generator nobody here wrote) posts 10-row bodies for three
/// seconds over eight connections, `ack: received`: every row of every
/// request it saw answered 200 is written, and no more than those in
/// flight when it stopped.
#[cfg(feature = "system-tests")]
#[test]
fn wrk_load_is_written_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pipeline = pipeline(dir.path(), port, ", ack: received, queue_requests: 256", "");
    let mut weir = start(dir.path(), &pipeline, port);
    let rows: String = (0..10)
        .map(|i| format!("{{\"id\":{i},\"name\":\"wrk\"}}\\n"))
        .collect();
    let script = dir.path().join("post.lua");
    fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.body = \"{}\"\nwrk.headers[\"Content-Type\"] = \"application/x-ndjson\"\n", rows.replace('"', "\\\"")),
    )
    .unwrap();
    let out = Command::new("wrk")
        .args(["-t2", "-c8", "-d3s", "-s"])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .expect("wrk (scripts/setup.sh --tests installs it)");
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    let requests: usize = report
        .split(" requests in ")
        .next()
        .and_then(|s| s.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    let refused: usize = report
        .split("Non-2xx or 3xx responses: ")
        .nth(1)
        .map_or(0, |s| s.split_whitespace().next().unwrap().parse().unwrap());
    let answered = requests - refused;
    assert!(answered > 100, "{report}");
    weir.interrupt_and_wait();
    let written = ids_written(dir.path()).len();
    assert!(
        (answered * 10..=(answered + 8) * 10).contains(&written),
        "{written} rows written for {answered} requests answered 200:\n{report}"
    );
    eprintln!(
        "wrk: {answered} requests answered 200, {refused} refused; {written} rows written\n{report}"
    );
}

/// A client posts 200,000 numbered events in requests of 1,000 with
/// `ack: durable`, sending a request again until it is answered 200;
/// `weir` is killed with SIGKILL at random points at least ten times and
/// restarted. Every event the client saw acknowledged is in the output.
#[test]
fn acknowledged_events_survive_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pipeline = pipeline(dir.path(), port, ", ack_timeout_ms: 5000", "");
    const EVENTS: i64 = 200_000;
    const PER_REQUEST: i64 = 1_000;
    let client = std::thread::spawn(move || {
        let agent = http_client();
        let url = format!("http://127.0.0.1:{port}/");
        let mut retries = 0;
        for first in (0..EVENTS).step_by(PER_REQUEST as usize) {
            let body: String = (first..first + PER_REQUEST)
                .map(|id| format!("{{\"id\":{id},\"name\":\"e\"}}\n"))
                .collect();
            loop {
                match agent.post(&url).send(body.as_str()) {
                    Ok(response) if response.status() == 200 => break,
                    _ => {
                        retries += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
        retries
    });
    let mut seed: u64 = 0x5eed;
    let mut kills = 0;
    let started = Instant::now();
    while kills < 10 || !client.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the client did not finish"
        );
        let mut weir = start(dir.path(), &pipeline, port);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(200 + (seed >> 33) % 1300));
        if client.is_finished() && kills >= 10 {
            weir.interrupt_and_wait();
            break;
        }
        weir.child.kill().unwrap(); // SIGKILL
        weir.child.wait().unwrap();
        kills += 1;
    }
    let retries = client.join().unwrap();
    let ids = ids_written(dir.path());
    let mut distinct = ids.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        (0..EVENTS).collect::<Vec<_>>(),
        "every acknowledged event, once at least"
    );
    eprintln!(
        "{kills} SIGKILLs, {retries} requests sent again; {} events written, {} distinct, {} duplicates",
        ids.len(),
        distinct.len(),
        ids.len() - distinct.len()
    );
}
