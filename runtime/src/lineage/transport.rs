//! Where lineage events go: appended to a file of JSON lines, and POSTed
//! to an OpenLineage HTTP endpoint by a thread of its own, with retries,
//! so a slow or absent endpoint never holds the pipeline up.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::spec::LineageSpec;

/// Tries per event before it is given up (logged).
const TRIES: u32 = 4;
/// The wait before the first retry; doubled for each next.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the end of a run waits for its last events to be delivered.
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// The transports of one run.
pub struct Transport {
    file: Option<PathBuf>,
    http: Option<(Sender<String>, JoinHandle<()>)>,
}

impl Transport {
    /// The transports `spec` names.
    pub fn new(spec: &LineageSpec) -> Self {
        let http = spec.url.as_ref().map(|url| {
            let endpoint = format!("{}/api/v1/lineage", url.trim_end_matches('/'));
            let api_key = spec.api_key.clone();
            let (sender, events) = std::sync::mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("weir-lineage".into())
                .spawn(move || post_all(&endpoint, api_key.as_deref(), events))
                .expect("spawn the lineage thread");
            (sender, thread)
        });
        Self {
            file: spec.file.clone(),
            http,
        }
    }

    /// Sends `event` (a JSON object) to every transport; a failure is
    /// logged, never returned.
    pub fn send(&self, event: &serde_json::Value) {
        let line = event.to_string();
        if let Some(file) = &self.file
            && let Err(error) = append(file, &line)
        {
            tracing::warn!(file = %file.display(), %error, "cannot write the lineage event");
        }
        if let Some((sender, _)) = &self.http {
            let _ = sender.send(line);
        }
    }

    /// Waits (a bounded time) for the HTTP thread to deliver what it holds.
    pub fn close(self) {
        let Some((sender, thread)) = self.http else {
            return;
        };
        drop(sender);
        let deadline = Instant::now() + DRAIN_WAIT;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!("lineage events not delivered yet are given up");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = thread.join();
    }
}

fn append(file: &PathBuf, line: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    out.write_all(format!("{line}\n").as_bytes())
}

/// POSTs every event of `events` to `endpoint`, in order, each retried with
/// a growing backoff.
fn post_all(endpoint: &str, api_key: Option<&str>, events: Receiver<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    for event in events {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=TRIES {
            let mut request = agent
                .post(endpoint)
                .header("Content-Type", "application/json");
            if let Some(key) = api_key {
                request = request.header("Authorization", &format!("Bearer {key}"));
            }
            let why = match request.send(event.as_str()) {
                Ok(response) if response.status().is_success() => break,
                Ok(response) => format!("HTTP {}", response.status()),
                Err(error) => error.to_string(),
            };
            if attempt == TRIES {
                tracing::warn!(%endpoint, error = %why, tries = TRIES, "lineage event given up");
                break;
            }
            tracing::debug!(%endpoint, error = %why, attempt, "lineage event not delivered; retrying");
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }
}
