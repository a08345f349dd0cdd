//! The admin HTTP API (axum, off unless `weir run --admin ADDR`):
//!
//! - `GET /health`: `ok` while the process runs;
//! - `GET /metrics`: Prometheus text format (prometheus-client), per node:
//!   rows, bytes and batches in and out, dead letters, skipped and filtered
//!   rows, instance restarts, hot reloads, busy time, a histogram of call
//!   durations and the plugin's memory in use; per source that knows it, its
//!   lag (bytes of input not read yet); the plugin's own counters and gauges
//!   (`weir_plugin_metric_total` and `weir_plugin_metric_value`, labelled with
//!   the metric's name, at most [`MAX_METRICS`](crate::plugin::MAX_METRICS)
//!   of each per node);
//! - `GET /pipelines` and `GET /pipelines/{p}`: the pipelines, their nodes,
//!   schemas, plugin digests and live counters, as JSON;
//! - `POST /pipelines/{p}/nodes/{n}/reload`: hot-reloads a transform, from
//!   its own plugin file or from `{"path": "..."}` (optionally with
//!   `"config"`); answers the swap or why it was refused;
//! - the live view (see [`live`]): the page at `/`, `GET /events`, and
//!   `GET /pipelines/{p}/nodes/{n}/tap`.
//!
//! Pipelines appear once their graph is built: each starts on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

mod live;
mod text_format;

use crate::connectors::Lag;
use crate::exec::{CALL_BUCKETS, NodeStats, Reloader, Replacement};
use crate::graph::{Graph, load_plugin, schema_line};
use crate::plugin::PluginEngine;

/// The pipelines the API shows, shared with `weir run`, which adds each
/// once its graph is built.
#[derive(Clone, Default)]
pub struct Pipelines {
    shown: Arc<RwLock<Vec<Arc<PipelineView>>>>,
    scrapes: Arc<std::sync::atomic::AtomicU64>,
}

impl Pipelines {
    /// Shows `view` from now on.
    pub fn add(&self, view: PipelineView) {
        self.shown
            .write()
            .expect("pipelines lock")
            .push(Arc::new(view));
    }

    /// How many `/metrics` scrapes have been answered.
    pub fn scrapes(&self) -> u64 {
        self.scrapes.load(Ordering::SeqCst)
    }

    /// The pipelines shown now.
    fn list(&self) -> Vec<Arc<PipelineView>> {
        self.shown.read().expect("pipelines lock").clone()
    }
}

/// One pipeline as the API shows it.
pub struct PipelineView {
    /// The pipeline's name (its file's stem).
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// Folder that relative plugin paths are resolved against.
    pub base_dir: std::path::PathBuf,
    /// Nodes in graph order: name, kind, plugin path and digest (if a
    /// plugin), output schema (if any).
    pub nodes: Vec<NodeView>,
    /// The live counters, one per node.
    pub stats: Vec<Arc<NodeStats>>,
    /// Reloads its transforms.
    pub reloader: Reloader,
}

/// One node as the API shows it.
pub struct NodeView {
    /// The node's name.
    pub name: String,
    /// `source`, `transform` or `sink`.
    pub kind: &'static str,
    /// The plugin file and its digest at start, for plugin nodes.
    pub plugin: Option<(String, String)>,
    /// The schema it produces, as `name: type, ...`.
    pub output_schema: Option<String>,
    /// The nodes it reads from.
    pub inputs: Vec<String>,
}

impl PipelineView {
    /// The view of `graph`, counting into `stats` and reloading through
    /// `reloader`.
    pub fn new(graph: &Graph, stats: Vec<Arc<NodeStats>>, reloader: Reloader) -> Self {
        let nodes = graph
            .nodes
            .iter()
            .map(|n| NodeView {
                name: n.name.clone(),
                kind: n.kind().name(),
                plugin: n
                    .implementation
                    .plugin()
                    .map(|p| (p.name().to_string(), p.digest().to_string())),
                output_schema: n.output_schema.as_deref().map(schema_line),
                inputs: n
                    .inputs
                    .iter()
                    .map(|&i| graph.nodes[i].name.clone())
                    .collect(),
            })
            .collect();
        Self {
            name: graph.pipeline.name.clone(),
            tenant: graph.pipeline.tenant.name.clone(),
            base_dir: graph.pipeline.base_dir.clone(),
            nodes,
            stats,
            reloader,
        }
    }

    fn counters(&self, node: usize) -> Value {
        let stats = &self.stats[node];
        let counters = COUNTERS.iter().map(|c| {
            (
                c.key.to_string(),
                json!((c.counter)(stats).load(Ordering::Relaxed)),
            )
        });
        Value::Object(counters.collect())
    }

    fn json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({
                    "name": n.name, "kind": n.kind,
                    "plugin": n.plugin.as_ref().map(|(path, digest)| {
                        // After a hot reload, the digest running now.
                        let swapped = self.stats[i].swapped_digest.lock().expect("digest lock").clone();
                        json!({"path": path, "digest": swapped.unwrap_or_else(|| digest.clone())})
                    }),
                    "output_schema": n.output_schema,
                    "counters": self.counters(i),
                    "memory_bytes": n.plugin.is_some().then(|| self.stats[i].memory_bytes.load(Ordering::Relaxed)),
                    "lag_bytes": self.stats[i].lag.lock().expect("lag lock").map(|Lag::Bytes(bytes)| bytes),
                    "inputs": n.inputs,
                    "queue": {
                        "waiting": self.stats[i].queue.waiting.load(Ordering::Relaxed),
                        "capacity": self.stats[i].queue.capacity.load(Ordering::Relaxed),
                    },
                    "recent_dead_letters": self.stats[i].recent_dead_letters.list(),
                })
            })
            .collect();
        json!({"name": self.name, "tenant": self.tenant, "nodes": nodes})
    }
}

/// A per-node counter, as `/pipelines` (`key`) and `/metrics`
/// (`weir_node_<key>_total`; a `_nanoseconds` key is shown in seconds,
/// Prometheus's base unit: `weir_node_busy_seconds_total`) show it.
struct Counter {
    key: &'static str,
    help: &'static str,
    counter: fn(&NodeStats) -> &AtomicU64,
}

/// Every per-node counter the API shows.
const COUNTERS: [Counter; 12] = [
    Counter {
        key: "rows_in",
        help: "Rows a node received.",
        counter: |s| &s.rows_in,
    },
    Counter {
        key: "rows_out",
        help: "Rows a node sent on (sinks: wrote).",
        counter: |s| &s.rows_out,
    },
    Counter {
        key: "batches_in",
        help: "Batches a node received.",
        counter: |s| &s.batches_in,
    },
    Counter {
        key: "batches_out",
        help: "Batches a node sent on (sinks: wrote).",
        counter: |s| &s.batches_out,
    },
    Counter {
        key: "bytes_in",
        help: "Arrow buffer bytes of the batches a node received.",
        counter: |s| &s.bytes_in,
    },
    Counter {
        key: "bytes_out",
        help: "Arrow buffer bytes of the batches a node sent on (sinks: wrote).",
        counter: |s| &s.bytes_out,
    },
    Counter {
        key: "dead_letters",
        help: "Rows or records a node sent to its dead letters.",
        counter: |s| &s.dead_letters,
    },
    Counter {
        key: "skipped",
        help: "Rows or records a node dropped on error (on_error: skip).",
        counter: |s| &s.skipped,
    },
    Counter {
        key: "filtered",
        help: "Rows a selecting transform left out.",
        counter: |s| &s.filtered,
    },
    Counter {
        key: "restarts",
        help: "Plugin instances re-created after a trap or contract breach.",
        counter: |s| &s.restarts,
    },
    Counter {
        key: "reloads",
        help: "Hot reloads that swapped the node's plugin.",
        counter: |s| &s.reloads,
    },
    Counter {
        key: "busy_nanoseconds",
        help: "Time a node spent working.",
        counter: |s| &s.busy_nanos,
    },
];

/// What the server shares between requests.
struct Admin {
    pipelines: Pipelines,
    engine: PluginEngine,
    registry: Registry,
}

/// One node as the metrics show it.
#[derive(Debug)]
struct MeteredNode {
    pipeline: String,
    node: String,
    /// Whether it runs a plugin (and so has memory in use).
    plugin: bool,
    stats: Arc<NodeStats>,
}

impl MeteredNode {
    fn labels(&self) -> [(&str, &str); 2] {
        [("pipeline", &self.pipeline), ("node", &self.node)]
    }

    fn labels_with_metric<'a>(&'a self, metric: &'a str) -> [(&'a str, &'a str); 3] {
        let [pipeline, node] = self.labels();
        [pipeline, node, ("metric", metric)]
    }
}

/// The per-node counters and gauges of every pipeline, read at each scrape.
struct NodeCollector {
    pipelines: Pipelines,
}

impl std::fmt::Debug for NodeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeCollector")
    }
}

impl NodeCollector {
    /// Every node of the pipelines shown now.
    fn nodes(&self) -> Vec<MeteredNode> {
        self.pipelines
            .list()
            .iter()
            .flat_map(|p| {
                p.nodes.iter().zip(&p.stats).map(|(n, stats)| MeteredNode {
                    pipeline: p.name.clone(),
                    node: n.name.clone(),
                    plugin: n.plugin.is_some(),
                    stats: stats.clone(),
                })
            })
            .collect()
    }

    /// The plugins' own counters and gauges, each labelled with its name.
    fn encode_plugin_metrics(
        nodes: &[MeteredNode],
        encoder: &mut DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let metrics: Vec<_> = nodes
            .iter()
            .map(|n| {
                n.stats
                    .plugin_metrics
                    .lock()
                    .expect("plugin metrics lock")
                    .clone()
            })
            .collect();
        let mut family = encoder.encode_descriptor(
            "weir_plugin_metric",
            "A counter the node's plugin reports (counter-add), by name.",
            None,
            MetricType::Counter,
        )?;
        for (node, metrics) in nodes.iter().zip(&metrics) {
            for (name, value) in &metrics.counters {
                let labels = node.labels_with_metric(name);
                ConstCounter::new(*value).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "weir_plugin_metric_value",
            "A gauge the node's plugin reports (gauge-set), by name.",
            None,
            MetricType::Gauge,
        )?;
        for (node, metrics) in nodes.iter().zip(&metrics) {
            for (name, value) in &metrics.gauges {
                let labels = node.labels_with_metric(name);
                ConstGauge::new(*value).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "weir_plugin_metric_updates_refused",
            "Plugin metric updates dropped: a new name past the per-node cap, or too long a name.",
            None,
            MetricType::Counter,
        )?;
        for (node, metrics) in nodes.iter().zip(&metrics).filter(|(n, _)| n.plugin) {
            ConstCounter::new(metrics.refused).encode(family.encode_family(&node.labels())?)?;
        }
        Ok(())
    }
}

impl Collector for NodeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let nodes = self.nodes();
        Self::encode_plugin_metrics(&nodes, &mut encoder)?;
        for counter in &COUNTERS {
            let seconds = counter.key.strip_suffix("_nanoseconds");
            let name = match seconds {
                Some(stem) => format!("weir_node_{stem}_seconds"),
                None => format!("weir_node_{}", counter.key),
            };
            let mut family =
                encoder.encode_descriptor(&name, counter.help, None, MetricType::Counter)?;
            for node in &nodes {
                let value = (counter.counter)(&node.stats).load(Ordering::Relaxed);
                let node_labels = node.labels();
                let labels = family.encode_family(&node_labels)?;
                match seconds {
                    Some(_) => ConstCounter::new(value as f64 / 1e9).encode(labels)?,
                    None => ConstCounter::new(value).encode(labels)?,
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "weir_node_memory_bytes",
            "Linear memory the node's plugin instances hold now.",
            None,
            MetricType::Gauge,
        )?;
        for node in nodes.iter().filter(|n| n.plugin) {
            let bytes = node.stats.memory_bytes.load(Ordering::Relaxed);
            ConstGauge::new(bytes).encode(family.encode_family(&node.labels())?)?;
        }
        let mut family = encoder.encode_descriptor(
            "weir_source_lag_bytes",
            "Bytes of input a source has not read yet (file sources).",
            None,
            MetricType::Gauge,
        )?;
        for node in &nodes {
            if let Some(Lag::Bytes(bytes)) = *node.stats.lag.lock().expect("lag lock") {
                ConstGauge::new(bytes).encode(family.encode_family(&node.labels())?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "weir_node_call_seconds",
            "Durations of calls into a node's plugin or connector.",
            None,
            MetricType::Histogram,
        )?;
        for node in &nodes {
            // prometheus-client sums the buckets up itself: counts per bucket.
            let counts: Vec<u64> = node
                .stats
                .calls
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect();
            // prometheus-client writes `le="+Inf"` for f64::MAX only.
            let bounds = CALL_BUCKETS.iter().copied().chain([f64::MAX]);
            let buckets: Vec<(f64, u64)> = bounds.zip(counts.iter().copied()).collect();
            let count: u64 = counts.iter().sum();
            let sum = node.stats.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            family
                .encode_family(&node.labels())?
                .encode_histogram::<Vec<(String, String)>>(sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pipelines: Pipelines,
    engine: PluginEngine,
) -> std::io::Result<()> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(NodeCollector {
        pipelines: pipelines.clone(),
    }));
    let admin = Arc::new(Admin {
        pipelines,
        engine,
        registry,
    });
    let app = axum::Router::new()
        .route("/", get(index))
        .route("/assets/live.js", get(live::script))
        .route("/assets/live.css", get(live::style))
        .route("/events", get(live::events))
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/pipelines", get(pipelines_json))
        .route("/pipelines/{pipeline}", get(pipeline_json))
        .route("/pipelines/{pipeline}/nodes/{node}/reload", post(reload))
        .route("/pipelines/{pipeline}/nodes/{node}/tap", get(live::tap))
        .with_state(admin);
    axum::serve(listener, app).await
}

async fn metrics(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &admin.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    admin.pipelines.scrapes.fetch_add(1, Ordering::SeqCst);
    let accept = headers.get("accept").and_then(|v| v.to_str().ok());
    match text_format::wants_openmetrics(accept) {
        true => (
            [("content-type", text_format::OPENMETRICS_CONTENT_TYPE)],
            text,
        )
            .into_response(),
        false => (
            [("content-type", text_format::CONTENT_TYPE)],
            text_format::from_openmetrics(&text),
        )
            .into_response(),
    }
}

/// `GET /`: to a browser, the live view; otherwise what this API serves,
/// and the pipelines running, so a tool that finds the port knows where to
/// go.
async fn index(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if live::wants_page(&headers) {
        return live::page();
    }
    let names: Vec<String> = admin
        .pipelines
        .list()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    Json(json!({
        "service": "weir admin API",
        "version": env!("CARGO_PKG_VERSION"),
        "pipelines": names,
        "endpoints": {
            "GET /health": "ok while the process runs",
            "GET /metrics": "Prometheus metrics of every node (text format, or OpenMetrics when asked)",
            "GET /pipelines": "every pipeline with its nodes, schemas and counts",
            "GET /pipelines/{pipeline}": "one pipeline",
            "POST /pipelines/{pipeline}/nodes/{node}/reload": "hot-reload a transform's plugin",
            "GET /pipelines/{pipeline}/nodes/{node}/tap": "a sample of a node's output rows as JSON lines (?rows_per_second=10&limit=)",
            "GET /events": "the pipelines once a second, as server-sent events",
            "GET / (Accept: text/html)": "the live view of the running graph",
        },
    }))
    .into_response()
}

async fn pipelines_json(State(admin): State<Arc<Admin>>) -> Json<Value> {
    Json(Value::Array(
        admin.pipelines.list().iter().map(|p| p.json()).collect(),
    ))
}

/// A failed request: its status and a message, answered as
/// `{"error": message}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn find(admin: &Admin, pipeline: &str) -> Result<Arc<PipelineView>, ApiError> {
    let missing = || {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no pipeline named {pipeline:?}"),
        )
    };
    admin
        .pipelines
        .list()
        .into_iter()
        .find(|p| p.name == pipeline)
        .ok_or_else(missing)
}

async fn pipeline_json(State(admin): State<Arc<Admin>>, Path(pipeline): Path<String>) -> Response {
    match find(&admin, &pipeline) {
        Ok(view) => Json(view.json()).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The body of a reload request.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadBody {
    /// A plugin reference (path or name, optionally `@sha256:...`); default:
    /// the node's plugin file as it is now.
    path: Option<String>,
    /// The config to open it with; default: the node's.
    config: Option<Value>,
}

async fn reload(
    State(admin): State<Arc<Admin>>,
    Path((pipeline, node)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    // No body: reload the node's own plugin file with its config.
    let body: ReloadBody = match body.is_empty() {
        true => ReloadBody::default(),
        false => match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(error) => {
                let message = format!("the body is not a reload request: {error}");
                return ApiError(StatusCode::BAD_REQUEST, message).into_response();
            }
        },
    };
    let admin = admin.clone();
    // Compiling and waiting for the swap block: off the async threads.
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let view = find(&admin, &pipeline)?;
        let own = view
            .nodes
            .iter()
            .find(|n| n.name == node)
            .and_then(|n| n.plugin.as_ref().map(|(path, _)| path.clone()));
        let Some(reference) = body.path.or(own) else {
            let message = format!("no plugin node named {node:?} in {pipeline:?}");
            return Err(ApiError(StatusCode::NOT_FOUND, message));
        };
        let refused = |message: String| ApiError(StatusCode::UNPROCESSABLE_ENTITY, message);
        let plugin = load_plugin(&reference, &view.base_dir, &admin.engine)
            .map_err(|e| refused(e.with_causes()))?;
        let replacement = Replacement {
            plugin,
            config: body.config.map(|c| c.to_string()),
            limits: None,
        };
        let swapped = view
            .reloader
            .reload(&node, replacement)
            .map_err(|e| refused(crate::plugin::with_causes(&e)))?;
        Ok(json!({
            "old_digest": swapped.old_digest,
            "new_digest": swapped.new_digest,
            "pause_ms": swapped.pause.as_secs_f64() * 1e3,
        }))
    })
    .await;
    match answer {
        Ok(Ok(swapped)) => Json(swapped).into_response(),
        Ok(Err(error)) => error.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
