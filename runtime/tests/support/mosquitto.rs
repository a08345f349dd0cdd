//! A Mosquitto broker (Debian's `mosquitto`, installed by
//! `scripts/setup.sh --tests`) on a free port of 127.0.0.1, for one test,
//! and its `mosquitto_pub` client.
#![allow(dead_code)] // each test file uses what it needs

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker, stopped when dropped.
pub struct Mosquitto {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts a broker that keeps every message queued for a client that
    /// is away (no cap: the tests count every one), with up to 10,000 QoS 1
    /// messages in flight to a client (the source acknowledges only once
    /// the sinks wrote; Mosquitto's default of 20 would let it take 20 per
    /// checkpoint).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::support::free_port();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 10000\nmax_queued_messages 0\npersistence false\n"
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (scripts/setup.sh --tests installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// `mosquitto_pub -l` publishing each of `lines` as one QoS 1 message
    /// to `topic`; returns once the broker acknowledged every one. (Its
    /// standard input is held open until then: Mosquitto 2.0.11's
    /// `mosquitto_pub -l` drops the messages still queued when its input
    /// ends.)
    pub fn publish_lines(&self, topic: &str, lines: Vec<String>) {
        use std::io::{BufRead, Write};
        let count = lines.len();
        // Line by line: its debug lines (the PUBACKs counted) would
        // otherwise stay buffered until it exits.
        let mut publisher = Command::new("stdbuf")
            .args(["-oL", "mosquitto_pub", "-d", "-M", "1000", "-l"])
            .args(self.qos1_to(topic))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_pub (scripts/setup.sh --tests installs mosquitto-clients)");
        let mut input = publisher.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for line in lines {
                writeln!(input, "{line}").unwrap();
            }
            input
        });
        let mut acknowledged = 0;
        for line in std::io::BufReader::new(publisher.stdout.take().unwrap()).lines() {
            if line.unwrap().contains("received PUBACK") {
                acknowledged += 1;
                if acknowledged == count {
                    break;
                }
            }
        }
        drop(writer.join().unwrap());
        assert_eq!(acknowledged, count, "mosquitto_pub ended early");
        publisher.wait().unwrap();
    }

    /// `mosquitto_pub`'s arguments for QoS 1 messages to `topic` of this
    /// broker.
    fn qos1_to(&self, topic: &str) -> [String; 8] {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
        ]
        .map(String::from)
    }

    /// Publishes `message` to `topic` at QoS 1 and waits for the broker to
    /// take it.
    pub fn publish(&self, topic: &str, message: &str) {
        let out = Command::new("mosquitto_pub")
            .args(self.qos1_to(topic))
            .args(["-m", message])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
