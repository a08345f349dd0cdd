//! The live view: the page at `/` (its script and style embedded in the
//! binary), the event stream that keeps it current, and taps on a node's
//! output.
//!
//! - `GET /` to a browser (`Accept: text/html`): the page;
//! - `GET /events`: server-sent events, one `pipelines` event a second
//!   holding what `GET /pipelines` answers, with the time it was read;
//! - `GET /pipelines/{p}/nodes/{n}/tap?rows_per_second=R&limit=L`: a sample
//!   of the rows the node sends on (a sink: writes), as JSON lines, at most
//!   `R` a second (default 10, at most 1,000), ending after `L` rows or with
//!   the run. A reader that falls behind misses batches: it never slows the
//!   pipeline (see [`crate::exec::Tap`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Admin, ApiError, find};

/// The page, its script and its style.
const PAGE: &str = include_str!("live/index.html");
const SCRIPT: &str = include_str!("live/live.js");
const STYLE: &str = include_str!("live/live.css");

/// How often the event stream sends the pipelines.
const EVENT_EVERY: Duration = Duration::from_secs(1);

/// Rows a tap sends a second unless asked, and at most.
const TAP_RATE: u32 = 10;
const TAP_RATE_MAX: u32 = 1_000;

/// Whether a request to `/` comes from a browser.
pub(super) fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// `GET /` to a browser.
pub(super) fn page() -> Response {
    Html(PAGE).into_response()
}

/// `GET /assets/live.js`.
pub(super) async fn script() -> Response {
    ([("content-type", "text/javascript; charset=utf-8")], SCRIPT).into_response()
}

/// `GET /assets/live.css`.
pub(super) async fn style() -> Response {
    ([("content-type", "text/css; charset=utf-8")], STYLE).into_response()
}

/// `GET /events`: the pipelines, once a second, as server-sent events.
pub(super) async fn events(State(admin): State<Arc<Admin>>) -> Response {
    let ticks = tokio::time::interval(EVENT_EVERY);
    let stream = futures::stream::unfold((admin, ticks), |(admin, mut ticks)| async move {
        ticks.tick().await;
        let pipelines: Vec<Value> = admin.pipelines.list().iter().map(|p| p.json()).collect();
        let time_ms = chrono::Utc::now().timestamp_millis();
        let data = json!({"time_ms": time_ms, "pipelines": pipelines}).to_string();
        let event = Event::default().event("pipelines").data(data);
        Some((Ok::<_, Infallible>(event), (admin, ticks)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What a tap request may ask.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TapQuery {
    /// Rows a second at most.
    rows_per_second: Option<u32>,
    /// End after this many rows.
    limit: Option<u64>,
}

/// `GET /pipelines/{p}/nodes/{n}/tap`.
pub(super) async fn tap(
    State(admin): State<Arc<Admin>>,
    Path((pipeline, node)): Path<(String, String)>,
    query: Result<Query<TapQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => {
            let message = rejection.body_text();
            return ApiError(axum::http::StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    let view = match find(&admin, &pipeline) {
        Ok(view) => view,
        Err(error) => return error.into_response(),
    };
    let Some(index) = view.nodes.iter().position(|n| n.name == node) else {
        let message = format!("no node named {node:?} in {pipeline:?}");
        return ApiError(axum::http::StatusCode::NOT_FOUND, message).into_response();
    };
    let rate = query
        .rows_per_second
        .unwrap_or(TAP_RATE)
        .clamp(1, TAP_RATE_MAX);
    let reader = TapReader {
        batches: view.stats[index].tap.attach(),
        rate: f64::from(rate),
        allowance: f64::from(rate),
        refilled: Instant::now(),
        left: query.limit.unwrap_or(u64::MAX),
    };
    let chunks = futures::stream::unfold(reader, |mut reader| async move {
        let chunk = reader.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), reader))
    });
    (
        [("content-type", "application/x-ndjson")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// One tap reader: a token bucket of rows over the batches the node offers.
struct TapReader {
    batches: mpsc::Receiver<RecordBatch>,
    /// Rows a second.
    rate: f64,
    /// Rows it may send now.
    allowance: f64,
    refilled: Instant,
    /// Rows it may still send before it ends.
    left: u64,
}

impl TapReader {
    /// The next rows to send, as JSON lines; `None` when done.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        while self.left > 0 {
            let batch = self.batches.recv().await?;
            let now = Instant::now();
            let refill = now.duration_since(self.refilled).as_secs_f64() * self.rate;
            self.allowance = (self.allowance + refill).min(self.rate);
            self.refilled = now;
            let take = (self.allowance as u64)
                .min(self.left)
                .min(batch.num_rows() as u64);
            if take == 0 {
                continue;
            }
            self.allowance -= take as f64;
            self.left -= take;
            return Some(json_lines(&sample(&batch, take as usize)));
        }
        None
    }
}

/// `take` rows spread evenly over `batch`, so a sample is not always its
/// first rows.
fn sample(batch: &RecordBatch, take: usize) -> RecordBatch {
    if take >= batch.num_rows() {
        return batch.clone();
    }
    let step = batch.num_rows() / take;
    let indices = arrow::array::UInt32Array::from_iter_values((0..take).map(|i| (i * step) as u32));
    arrow::compute::take_record_batch(batch, &indices).unwrap_or_else(|_| batch.slice(0, take))
}

/// `batch` as JSON lines; a batch the JSON writer cannot render gives one
/// line saying why.
fn json_lines(batch: &RecordBatch) -> Bytes {
    let mut writer = crate::connectors::json_lines(Vec::new());
    let written = writer.write(batch).and_then(|()| writer.finish());
    match written {
        Ok(()) => Bytes::from(writer.into_inner()),
        Err(error) => {
            let line = json!({"tap_error": format!("cannot show these rows as JSON: {error}")});
            Bytes::from(line.to_string() + "\n")
        }
    }
}
