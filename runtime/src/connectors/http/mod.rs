//! `type: http`: a source that takes rows pushed over HTTP (apps and
//! devices posting events, no broker in front). `POST` a body of JSON lines,
//! a JSON array, CSV or an Arrow IPC stream to one of its `paths`; each
//! request becomes one or more batches, all or nothing. With `ack: durable`
//! (the default) the answer comes once every sink has durably written the
//! request's rows (the executor commits the source's position, see
//! [`Source::commit`]), so a client that got 200 knows its rows are safe;
//! `ack: received` answers once the rows are in the source's bounded queue.
//! The server is in [`server`], the bodies in [`body`].

mod server;

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use indexmap::IndexMap;
use serde::Deserialize;
use tokio::sync::oneshot;

use super::{
    BadRecord, ConnectorConfig, ConnectorError, Dataset, Source, SourceConnector, config_error,
    declared_schema,
};
use crate::plugin::Poll;
use server::{Counts, Intake, Pushed, Shared};

/// When a client is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ack {
    /// Once every sink has durably written the request's rows.
    #[default]
    Durable,
    /// Once the rows are in the source's queue (lost if the process dies
    /// before the sinks wrote them).
    Received,
}

/// A token: given in the file (say `${INGEST_TOKEN}`) or read from one.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    /// The token itself.
    Value(String),
    /// A file holding it (surrounding white space ignored).
    File {
        /// The file, relative to the pipeline file's folder.
        file: PathBuf,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Value(_) => f.write_str("<token>"),
            Secret::File { file } => write!(f, "<token in {}>", file.display()),
        }
    }
}

/// Config of `type: http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen: `HOST:PORT` (`0.0.0.0:PORT` for every interface).
    pub address: String,
    /// The paths that take `POST`s.
    #[serde(default = "root_path")]
    pub paths: Vec<String>,
    /// Columns and their types (bodies are decoded to them).
    pub schema: IndexMap<String, String>,
    /// When a client is answered.
    #[serde(default)]
    pub ack: Ack,
    /// Largest body taken (after gzip is unpacked), in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Rows per batch: a larger request becomes several batches.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Requests waiting for the pipeline, at most; past that, 503.
    #[serde(default = "default_queue")]
    pub queue_requests: usize,
    /// Bodies read and decoded at once, at most; past that, 503.
    #[serde(default = "default_concurrent")]
    pub concurrent_requests: usize,
    /// With `ack: durable`: how long a request waits for its rows to be
    /// durable before it is answered 503 (send again).
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// The one bearer token clients must send.
    pub token: Option<Secret>,
    /// A bearer token per tenant, for several tenants pushing to one
    /// source.
    #[serde(default)]
    pub tenants: IndexMap<String, Secret>,
    /// A text column naming the tenant whose token sent each row.
    pub tenant_column: Option<String>,
    /// A text column naming the path each row was posted to.
    pub path_column: Option<String>,
    /// The tokens, read when the config is checked.
    #[serde(skip)]
    tokens: Tokens,
}

/// Tokens and the tenants they name, never printed.
#[derive(Clone, Default)]
struct Tokens(Vec<(Option<String>, String)>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} tokens>", self.0.len())
    }
}

fn root_path() -> Vec<String> {
    vec!["/".into()]
}
fn default_max_body_bytes() -> usize {
    16 << 20
}
fn default_batch_rows() -> usize {
    8192
}
fn default_queue() -> usize {
    64
}
fn default_concurrent() -> usize {
    8
}
fn default_ack_timeout_ms() -> u64 {
    30_000
}

/// The token `secret` holds, for field `field`.
fn read_secret(secret: &Secret, base_dir: &Path, field: &str) -> Result<String, ConnectorError> {
    let token = match secret {
        Secret::Value(token) => token.trim().to_string(),
        Secret::File { file } => {
            let path = base_dir.join(file);
            std::fs::read_to_string(&path)
                .map_err(|e| config_error(field, &format!("cannot read {}: {e}", path.display())))?
                .trim()
                .to_string()
        }
    };
    match token.len() {
        0 => Err(config_error(field, "the token is empty")),
        1..16 => Err(config_error(
            field,
            "a token must be at least 16 characters",
        )),
        _ => Ok(token),
    }
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, base_dir: &Path) -> Result<(), ConnectorError> {
        if self.schema.is_empty() {
            return Err(config_error(
                "schema",
                "declare the columns the bodies hold",
            ));
        }
        if self.paths.is_empty() {
            return Err(config_error(
                "paths",
                "give at least one path, such as /events",
            ));
        }
        for (i, path) in self.paths.iter().enumerate() {
            if !path.starts_with('/') || path.contains(['{', '}', '*', '?', '#']) {
                let message = format!("{path:?} is not a plain path starting with /");
                return Err(config_error(&format!("paths[{i}]"), &message));
            }
        }
        let limits = [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("batch_rows", self.batch_rows as u64),
            ("queue_requests", self.queue_requests as u64),
            ("concurrent_requests", self.concurrent_requests as u64),
            ("ack_timeout_ms", self.ack_timeout_ms),
        ];
        if let Some((field, _)) = limits.iter().find(|(_, value)| *value == 0) {
            return Err(config_error(field, "must be at least 1"));
        }
        let mut tokens = Vec::new();
        match (&self.token, self.tenants.is_empty()) {
            (Some(_), false) => {
                let message = "give `token` or `tenants`, not both";
                return Err(config_error("tenants", message));
            }
            (Some(token), true) => tokens.push((None, read_secret(token, base_dir, "token")?)),
            (None, _) => {
                for (tenant, secret) in &self.tenants {
                    let token = read_secret(secret, base_dir, &format!("tenants.{tenant}"))?;
                    tokens.push((Some(tenant.clone()), token));
                }
            }
        }
        if let Some(((a, _), (b, _))) = tokens
            .iter()
            .enumerate()
            .flat_map(|(i, a)| tokens[i + 1..].iter().map(move |b| (a, b)))
            .find(|((_, x), (_, y))| x == y)
        {
            let [a, b] = [a, b].map(|t| t.as_deref().unwrap_or_default());
            let message = format!("tenants {a:?} and {b:?} have the same token");
            return Err(config_error("tenants", &message));
        }
        if self.tenant_column.is_some() && self.tenants.is_empty() {
            return Err(config_error("tenant_column", "needs `tenants`"));
        }
        for (field, column) in [
            ("tenant_column", &self.tenant_column),
            ("path_column", &self.path_column),
        ] {
            if let Some(column) = column
                && self.schema.contains_key(column)
            {
                let message = format!("{column:?} is already a column of the schema");
                return Err(config_error(field, &message));
            }
        }
        if self.tenant_column.is_some() && self.tenant_column == self.path_column {
            return Err(config_error(
                "path_column",
                "is the same column as tenant_column",
            ));
        }
        self.tokens = Tokens(tokens);
        Ok(())
    }
}

impl SourceConnector for Config {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        let mut schema = declared_schema(&self.schema)?;
        for column in [&self.tenant_column, &self.path_column]
            .into_iter()
            .flatten()
        {
            schema = super::payload::with_text_column(&schema, column);
        }
        Ok(schema)
    }

    fn continues(&self) -> bool {
        // A run takes what clients push while it runs: its sinks add to
        // what earlier runs wrote.
        true
    }

    fn datasets(&self) -> Vec<Dataset> {
        self.paths
            .iter()
            .map(|path| Dataset {
                namespace: format!("http://{}", self.address),
                name: path.clone(),
            })
            .collect()
    }

    fn open(
        &self,
        schema: &SchemaRef,
        _position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(HttpSource::start(self, schema.clone())?))
    }
}

/// A running `type: http` source: the server's runtime, and the requests
/// taken whose rows are not durable yet.
pub struct HttpSource {
    requests: crossbeam_channel::Receiver<Pushed>,
    /// The batches taken and not sent on yet, each with the number of the
    /// request it ends (0: none; a request may span several batches).
    sending: VecDeque<(RecordBatch, u64)>,
    /// The source's schema, and rows a batch holds at most.
    schema: SchemaRef,
    batch_rows: usize,
    /// Requests numbered so far.
    numbered: u64,
    /// The last request all of whose batches were sent on.
    sent: u64,
    /// Requests waiting to be told their rows are durable, by number.
    waiting: BTreeMap<u64, oneshot::Sender<()>>,
    counts: Arc<Counts>,
    intake: Arc<Intake>,
    /// Stops the server (taken when the source is dropped).
    stop: Option<(oneshot::Sender<()>, tokio::runtime::Runtime)>,
}

impl Drop for HttpSource {
    fn drop(&mut self) {
        // Requests still waiting are answered 503 (send again) as their
        // senders go; the server gets a moment to write those answers.
        self.waiting.clear();
        if let Some((stop, runtime)) = self.stop.take() {
            let _ = stop.send(());
            runtime.shutdown_timeout(Duration::from_millis(500));
        }
    }
}

impl HttpSource {
    fn start(config: &Config, output: SchemaRef) -> Result<Self, ConnectorError> {
        let unavailable = |message: String| ConnectorError::Upstream(message);
        let address = config
            .address
            .to_socket_addrs()
            .ok()
            .and_then(|mut all| all.next())
            .ok_or_else(|| {
                config_error("address", &format!("{:?} is not HOST:PORT", config.address))
            })?;
        let listener = std::net::TcpListener::bind(address)
            .map_err(|e| unavailable(format!("cannot listen on {address}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| unavailable(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| unavailable(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("weir-http")
            .enable_all()
            .build()
            .map_err(|e| unavailable(format!("cannot start the HTTP server's runtime: {e}")))?;
        let (queue, requests) = crossbeam_channel::bounded(config.queue_requests);
        let counts = Arc::new(Counts::default());
        let intake = Arc::new(Intake::default());
        let shared = Arc::new(Shared {
            schema: declared_schema(&config.schema)?,
            output: output.clone(),
            tokens: config.tokens.0.clone(),
            config: config.clone(),
            queue,
            decoding: tokio::sync::Semaphore::new(config.concurrent_requests),
            counts: counts.clone(),
            intake: intake.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::app(shared);
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(|e| unavailable(e.to_string()))?
        };
        runtime.spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "the HTTP source's server failed");
            }
        });
        tracing::info!(address = %bound, paths = ?config.paths, ack = ?config.ack, "http source listening");
        Ok(Self {
            requests,
            sending: VecDeque::new(),
            schema: output,
            batch_rows: config.batch_rows,
            numbered: 0,
            sent: 0,
            waiting: BTreeMap::new(),
            counts,
            intake,
            stop: Some((stop, runtime)),
        })
    }
}

impl HttpSource {
    /// Numbers `pushed` and queues its batches to be sent on.
    fn take(&mut self, pushed: Pushed) {
        self.numbered += 1;
        if let Some(durable) = pushed.durable {
            self.waiting.insert(self.numbered, durable);
        }
        let count = pushed.batches.len();
        for (i, batch) in pushed.batches.into_iter().enumerate() {
            let ends = if i + 1 == count { self.numbered } else { 0 };
            self.sending.push_back((batch, ends));
        }
    }

    fn sending_rows(&self) -> usize {
        self.sending.iter().map(|(b, _)| b.num_rows()).sum()
    }
}

/// How long the executor waits before it polls again when no request is
/// queued (a wait, not busy time).
const POLL_WAIT: Duration = Duration::from_millis(1);

impl Source for HttpSource {
    fn next_batch(&mut self, _bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        if self.sending.is_empty() {
            let Ok(pushed) = self.requests.try_recv() else {
                return Ok(match self.intake.is_closed() {
                    true => Poll::Done,
                    false => Poll::Wait(POLL_WAIT),
                });
            };
            self.take(pushed);
            // Small requests queued behind it go on in one batch with it:
            // a batch per request costs every node downstream.
            let mut rows = self.sending_rows();
            while rows < self.batch_rows {
                let Ok(pushed) = self.requests.try_recv() else {
                    break;
                };
                rows += pushed
                    .batches
                    .iter()
                    .map(RecordBatch::num_rows)
                    .sum::<usize>();
                self.take(pushed);
            }
            if self.sending.len() > 1 && rows <= self.batch_rows {
                let last = self.sending.back().map_or(0, |(_, ends)| *ends);
                let batches: Vec<RecordBatch> = self.sending.drain(..).map(|(b, _)| b).collect();
                let joined =
                    arrow::compute::concat_batches(&self.schema, &batches).map_err(|e| {
                        ConnectorError::Upstream(format!("http: cannot join requests: {e}"))
                    })?;
                self.sending.push_back((joined, last));
            }
        }
        let (batch, ends) = self.sending.pop_front().expect("a request has rows");
        if ends > 0 {
            self.sent = ends;
        }
        Ok(Poll::Batch(batch))
    }

    fn position(&self) -> Option<serde_json::Value> {
        Some(self.sent.into())
    }

    fn stop_taking(&mut self) -> bool {
        // New requests are answered 503; those queued are sent on (and,
        // with `ack: durable`, answered once written).
        self.intake.close();
        true
    }

    fn commit(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        let durable = position.as_u64().unwrap_or_default();
        let later = self.waiting.split_off(&(durable + 1));
        for (_, client) in std::mem::replace(&mut self.waiting, later) {
            // A client that went away is not told.
            let _ = client.send(());
        }
        Ok(())
    }

    fn report(&self) -> Option<String> {
        let c = &self.counts;
        Some(format!(
            "{} requests taken ({} rows); refused: {} bad bodies, {} while saturated, {} without a valid token",
            c.taken.load(Ordering::Relaxed),
            c.rows.load(Ordering::Relaxed),
            c.bad.load(Ordering::Relaxed),
            c.busy.load(Ordering::Relaxed),
            c.unauthorized.load(Ordering::Relaxed),
        ))
    }
}
