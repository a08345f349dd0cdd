//! Helpers shared by the end-to-end tests: the `weir` binary with the
//! first-party plugins, and readers of what it wrote.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The `weir` command with the first-party plugins on its plugin path.
pub fn weir_command(args: &[&str]) -> Command {
    let plugins = Path::new(weir_plugin_artifacts::FILTER).parent().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command
        .args(args)
        .env("WEIR_PLUGIN_PATH", plugins)
        .env(
            "WEIR_CACHE_DIR",
            std::env::temp_dir().join("weir-test-component-cache"),
        )
        .env_remove("WEIR_TEST_UNSET_ROWS");
    command
}

/// Writes `text` as `dir/pipeline.yaml`; answers its path.
pub fn write_pipeline(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("pipeline.yaml");
    fs::write(&path, text).unwrap();
    path
}

pub fn weir(args: &[&str]) -> Output {
    weir_command(args).output().expect("run weir")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines")
}

/// Every batch of every Parquet file in `dir`, in file-name order.
pub fn read_parquet_dir(dir: &Path) -> Vec<RecordBatch> {
    files_with_extension(dir, "parquet")
        .into_iter()
        .flat_map(|path| {
            ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The names of the entries of `dir` (none when it does not exist).
pub fn read_dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `weir run PIPELINE` with `envs`; fails with weir's output unless it
/// succeeds, and answers its stderr.
pub fn run_pipeline(pipeline: &Path, envs: &[(&str, &str)]) -> String {
    let out = weir_command(&["run", pipeline.to_str().unwrap()])
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", pipeline.display());
    stderr
}

/// The dead letters of `node` of the pipeline in `dir` (default folder).
pub fn dead_letters(dir: &Path, node: &str) -> Vec<serde_json::Value> {
    fs::read_to_string(dir.join(format!("dead-letters/{node}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every row of every JSON-lines file in `dir`, in file-name order.
pub fn read_json_dir(dir: &Path) -> Vec<serde_json::Value> {
    files_with_extension(dir, "jsonl")
        .iter()
        .flat_map(|path| {
            fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The files of `dir` ending in `.<extension>`, in name order.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// A `weir` running in the background, killed when dropped so a failing
/// test leaves no process behind; its stderr goes to `stderr.log` in the
/// test's folder.
pub struct Running {
    pub child: Child,
    stderr: PathBuf,
}

impl Running {
    /// Starts `weir args...` with `envs`, logging stderr into `dir`.
    pub fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let stderr = dir.join("stderr.log");
        let child = weir_command(args)
            .envs(envs.iter().copied())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self { child, stderr }
    }

    /// Starts `weir run --quiet --admin 127.0.0.1:0 FLAGS... PIPELINE` in
    /// `dir`; answers it and its admin address once it listens and shows
    /// the pipeline (which it does once the pipeline's graph is built).
    pub fn with_admin(dir: &Path, pipeline: &Path, flags: &[&str]) -> (Self, String) {
        let mut args = vec!["run", "--quiet", "--admin", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        args.push(pipeline.to_str().unwrap());
        let running = Self::start(dir, &args, &[]);
        let addr = running.admin_address();
        running.wait_for("the pipeline in the admin API", || {
            http(&addr, "GET", "/pipelines", "").1 != "[]"
        });
        (running, addr)
    }

    /// Waits until the audit log of a pipeline in `dir` (its default
    /// place, `state/audit.jsonl`) holds `text`.
    pub fn wait_for_audit(&self, dir: &Path, text: &str) {
        let audit = dir.join("state/audit.jsonl");
        self.wait_for(&format!("{text} in the audit log"), || {
            fs::read_to_string(&audit).is_ok_and(|log| log.contains(text))
        });
    }

    /// The address of its admin API (`weir run --admin 127.0.0.1:0`), once
    /// it says it listens.
    pub fn admin_address(&self) -> String {
        let mut addr = String::new();
        self.wait_for("the admin address", || {
            match self.stderr().split("admin API listening on http://").nth(1) {
                Some(rest) => {
                    addr = rest.lines().next().unwrap().trim().to_string();
                    true
                }
                None => false,
            }
        });
        addr
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits (up to 30 s) until weir has exited, and answers how; on
    /// time-out, fails saying `why` it should have, with its stderr.
    pub fn exited(&mut self, why: &str) -> std::process::ExitStatus {
        self.exited_within(why, std::time::Duration::from_secs(30))
    }

    /// [`Running::exited`], waiting up to `patience`.
    pub fn exited_within(
        &mut self,
        why: &str,
        patience: std::time::Duration,
    ) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < patience,
                "weir still runs {why}: {}",
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Sends Ctrl-C and waits until weir has drained and exited as
    /// interrupted (code 130); fails with its stderr otherwise.
    pub fn interrupt_and_wait(&mut self) {
        interrupt(&self.child);
        let status = self.exited("after Ctrl-C");
        assert_eq!(status.code(), Some(130), "{}", self.stderr());
    }

    /// Waits (up to 60 s) until `ready` holds; on time-out, fails with
    /// weir's stderr.
    pub fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let started = std::time::Instant::now();
        while !ready() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "timed out waiting for {what}; weir said:\n{}",
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The audit detail of a plugin instance opened by a hot reload.
pub const HOT_RELOAD: &str = "\"detail\":\"hot reload\"";

/// A pipeline the follow-a-file tests share: `ids.jsonl` (followed, not
/// resumed, batches of 100 rows) through the transform `node` (`spec`, its
/// fields but `inputs`, e.g. `plugin: filter, config: {...}`) into JSON
/// lines in `out/`, 100 rows a file.
pub fn ids_pipeline(node: &str, spec: &str) -> String {
    format!(
        "sources:
  ids: {{type: file, config: {{path: ids.jsonl, schema: {{id: int64}}, follow: true, resume: false, batch_rows: 100}}}}
transforms:
  {node}: {{{spec}, inputs: [ids]}}
sinks:
  out: {{type: file, inputs: [{node}], config: {{path: out, format: json, max_rows_per_file: 100, mode: append}}}}
"
    )
}

/// Appends `{"id": N}` lines for `ids` to the JSON-lines file at `path`.
pub fn append_ids(path: &Path, ids: std::ops::Range<i64>) {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let lines: String = ids.map(|id| format!("{{\"id\": {id}}}\n")).collect();
    file.write_all(lines.as_bytes()).unwrap();
}

/// Rows in the complete JSON-lines files of `dir` so far (0 before it exists).
pub fn rows_in(dir: &Path) -> usize {
    match dir.exists() {
        true => read_json_dir(dir).len(),
        false => 0,
    }
}

/// Sends one HTTP/1.1 request; answers the status code and the body.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The value of metric `name` for `node`, from a scrape of `/metrics`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, node: &str) -> prometheus_parse::Value {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && s.labels.get("node") == Some(node))
        .map(|s| s.value.clone())
        .unwrap_or_else(|| panic!("no {name} for {node}"))
}

/// The value of counter `name` for `node`, from a scrape of `/metrics`.
pub fn counter(scrape: &prometheus_parse::Scrape, name: &str, node: &str) -> f64 {
    match sample(scrape, name, node) {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
        other => panic!("{name} is {other:?}"),
    }
}

/// The value of gauge `name` for `node`, from a scrape of `/metrics`.
pub fn gauge(scrape: &prometheus_parse::Scrape, name: &str, node: &str) -> f64 {
    match sample(scrape, name, node) {
        prometheus_parse::Value::Gauge(v) => v,
        other => panic!("{name} is {other:?}"),
    }
}

pub fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let (status, body) = http(addr, "GET", "/metrics", "");
    assert_eq!(status, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The rows of the Delta table at `dir/table` as Weir's `delta` source
/// reads it (at `version`, or the latest), sorted by column `key`.
pub fn read_delta(
    dir: &Path,
    table: &str,
    version: Option<i64>,
    key: &str,
) -> Vec<serde_json::Value> {
    let out = dir.join(format!("read-{version:?}"));
    let version = version.map_or_else(String::new, |v| format!(", version: {v}"));
    let pipeline = dir.join("read.yaml");
    fs::write(
        &pipeline,
        format!(
            "sources:
  lake: {{type: delta, config: {{path: {table}{version}}}}}
sinks:
  out: {{type: file, inputs: [lake], config: {{path: {}, format: json, mode: overwrite}}}}
",
            out.display()
        ),
    )
    .unwrap();
    run_pipeline(&pipeline, &[]);
    let mut rows = read_json_dir(&out);
    rows.sort_by_key(|r| r[key].as_i64());
    rows
}

/// A free port on 127.0.0.1 (for a server started right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP client that answers every status (not only 2xx) as a response,
/// giving up on a request after 20 s.
pub fn http_client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .into()
}

/// Writes `ids.jsonl` (ids 0..100,000, named `n<id>`, kind `a` for even
/// ids and `b` for odd) into `dir` and `lake/part-00000.parquet` of it,
/// `row_group_rows` a row group.
pub fn write_ids_lake(dir: &Path, row_group_rows: usize) {
    let lines: String = (0..100_000)
        .map(|i| {
            let kind = ["a", "b"][i % 2];
            format!("{{\"id\": {i}, \"name\": \"n{i}\", \"kind\": \"{kind}\"}}\n")
        })
        .collect();
    std::fs::write(dir.join("ids.jsonl"), lines).unwrap();
    let write = write_pipeline(
        dir,
        &format!(
            "sources:
  ids: {{type: file, config: {{path: ids.jsonl, schema: {{id: int64, name: utf8, kind: utf8}}}}}}
sinks:
  lake: {{type: file, inputs: [ids], config: {{path: lake, format: parquet, row_group_rows: {row_group_rows}}}}}
"
        ),
    );
    let out = weir(&["run", "--quiet", write.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The rows a run read, from its summary (`N rows from sources`).
pub fn rows_read(stderr: &str) -> usize {
    let before = stderr
        .split(" rows from sources")
        .next()
        .expect("a run summary");
    let number = before.rsplit(|c: char| !c.is_ascii_digit()).next().unwrap();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no row count in {stderr}"))
}
