//! A real Kafka-protocol broker for the tests (tansu, built by
//! `scripts/kafka-broker.sh install`), started on a free port with its
//! SQLite storage engine and stopped when dropped, or librdkafka's mock
//! cluster where tansu falls short; and an independent client
//! (kafka-python, not librdkafka) that produces inputs and reads outputs
//! (`scripts/kafka_client.py`).
//!
//! tansu 0.6's in-memory engine answers end offsets short of the last
//! message and fetches from inside a batch from the next batch on (issue
//! 27); its SQLite engine keeps one row per message and does neither.
//! `WEIR_TEST_BROKER_STORAGE=memory` runs the tests on the in-memory one.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/kafka-broker.sh` installs the broker and the client.
fn dir() -> PathBuf {
    std::env::var_os("WEIR_TANSU_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/weir/tansu"),
        PathBuf::from,
    )
}

/// `scripts/kafka_client.py args...`.
fn client(args: &[&str]) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka_client.py");
    let mut command = Command::new(dir().join("client/bin/python"));
    command.arg(script).args(args);
    command
}

/// The tansu binary `scripts/kafka-broker.sh` installs.
fn tansu() -> PathBuf {
    let binary = dir().join("bin/tansu");
    assert!(
        binary.is_file(),
        "{} is missing: run scripts/kafka-broker.sh install (scripts/setup.sh does)",
        binary.display()
    );
    binary
}

/// A broker on localhost, stopped on drop.
pub struct Broker {
    server: Server,
    /// Where tansu keeps its SQLite database, removed on drop.
    _storage: Option<tempfile::TempDir>,
    /// `HOST:PORT,...` of its bootstrap listeners.
    pub addr: String,
}

enum Server {
    /// tansu, in its own process.
    Tansu(Child),
    /// librdkafka's mock cluster, in the test's process: for what tansu
    /// 0.6.0 cannot do (after a member of a group of two is killed, the
    /// survivor is never given its partitions; Debian's kcat fails its
    /// ApiVersions reply).
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
}

impl Broker {
    /// Starts a broker storing its topics in SQLite (see the module doc)
    /// and waits until it listens.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let storage = tempfile::tempdir().unwrap();
        let engine = match std::env::var("WEIR_TEST_BROKER_STORAGE").as_deref() {
            Ok("memory") => "memory://tansu/".to_string(),
            // A path relative to the broker's folder: tansu 0.6 reads an
            // absolute one as relative too.
            _ => "sqlite://tansu.db".to_string(),
        };
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &engine])
            .current_dir(storage.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "tansu did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            server: Server::Tansu(child),
            _storage: Some(storage),
            addr,
        }
    }

    /// Starts librdkafka's mock cluster (three brokers) on localhost.
    pub fn mock() -> Self {
        let cluster = rdkafka::mocking::MockCluster::new(3).expect("mock cluster");
        let addr = cluster.bootstrap_servers();
        Self {
            server: Server::Mock(cluster),
            _storage: None,
            addr,
        }
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        if let Server::Mock(cluster) = &self.server {
            cluster
                .create_topic(topic, partitions as i32, 1)
                .expect("create a topic");
            return;
        }
        let out = Command::new(tansu())
            .args([
                "topic",
                "create",
                topic,
                "--broker",
                &format!("tcp://{}", self.addr),
            ])
            .args(["--partitions", &partitions.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "creating {topic}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Produces `messages` (one per line, `key<TAB>value` when `keyed`) to
    /// `topic` with the independent client.
    pub fn produce(&self, topic: &str, messages: &[String], keyed: bool) {
        let mut command = client(&["produce", &self.addr, topic]);
        if keyed {
            command.arg("--keyed");
        }
        let mut child = command.stdin(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for message in messages {
            writeln!(stdin, "{message}").unwrap();
        }
        drop(stdin);
        assert!(
            child.wait().unwrap().success(),
            "could not produce to {topic}"
        );
    }

    /// The offsets `group` has committed for `topic`, by partition.
    pub fn committed(&self, topic: &str, group: &str) -> BTreeMap<i32, i64> {
        let what = format!("the offsets of {group}");
        output_lines(&["committed", &self.addr, topic, group], &what)
            .iter()
            .map(|line| {
                let (partition, offset) = line.split_once(' ').unwrap();
                (partition.parse().unwrap(), offset.parse().unwrap())
            })
            .collect()
    }

    /// Commits offset 0 for every partition of `topic` in `group`, which
    /// must have no member (as `kafka-consumer-groups --reset-offsets
    /// --to-earliest` does).
    pub fn rewind(&self, topic: &str, group: &str) {
        output_lines(
            &["rewind", &self.addr, topic, group],
            &format!("rewinding {group}"),
        );
    }

    /// Every message value of `topic`, read with the independent client.
    pub fn consume(&self, topic: &str) -> Vec<String> {
        output_lines(&["consume", &self.addr, topic], topic)
    }
}

/// The lines the client prints for `args`; fails saying it could not read
/// `what`.
fn output_lines(args: &[&str], what: &str) -> Vec<String> {
    let out = client(args).output().unwrap();
    assert!(
        out.status.success(),
        "could not read {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Server::Tansu(child) = &mut self.server {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
