//! The HTTP server of a `type: http` source (axum, on a tokio runtime of
//! its own): checks the token, takes a body no larger than the limit,
//! decodes it off the async threads, and hands the rows to the source
//! through a bounded queue; answers at once (`ack: received`) or once the
//! source says the rows are durable (`ack: durable`). A full queue, or too
//! many bodies being decoded at once, is answered 503 with `Retry-After`:
//! memory stays bounded whatever the clients send.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use super::{Ack, Config};
use crate::connectors::payload::{self as body, BodyFormat, Refused};

/// Longest a request waits for its turn to be read and decoded.
const DECODE_WAIT: Duration = Duration::from_secs(2);

/// Seconds a refused client is told to wait before it sends again.
const RETRY_AFTER_SECONDS: &str = "1";

/// One request's rows on their way to the source.
pub struct Pushed {
    /// The rows, in batches.
    pub batches: Vec<RecordBatch>,
    /// Told once the rows are durable (`ack: durable`).
    pub durable: Option<oneshot::Sender<()>>,
}

/// What a request counted for the source's report.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests whose rows were taken.
    pub taken: AtomicU64,
    /// Rows taken.
    pub rows: AtomicU64,
    /// Requests refused for their body (400, 413, 415).
    pub bad: AtomicU64,
    /// Requests refused while the pipeline was saturated (503).
    pub busy: AtomicU64,
    /// Requests without a valid token (401).
    pub unauthorized: AtomicU64,
}

/// The way into the source's queue, closed when the run stops.
#[derive(Debug, Default)]
pub struct Intake {
    /// No request is taken any more: the run is stopping.
    closed: std::sync::atomic::AtomicBool,
    /// Requests between the check of `closed` and their place in the
    /// queue.
    entering: std::sync::atomic::AtomicUsize,
}

impl Intake {
    /// Closes the intake; once this returns, nothing more enters the queue.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        while self.entering.load(Ordering::SeqCst) > 0 {
            std::thread::yield_now();
        }
    }

    /// Whether it was closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// What the request handlers share.
pub struct Shared {
    /// The declared schema: what bodies decode to.
    pub schema: SchemaRef,
    /// The source's schema: the declared one with the tenant and path
    /// columns, if asked.
    pub output: SchemaRef,
    /// Each token and the tenant it names (`None`: the one `token`).
    pub tokens: Vec<(Option<String>, String)>,
    /// The source's config.
    pub config: Config,
    /// The bounded queue to the source.
    pub queue: crossbeam_channel::Sender<Pushed>,
    /// Bodies being read and decoded now, at most.
    pub decoding: tokio::sync::Semaphore,
    /// What was taken and refused.
    pub counts: Arc<Counts>,
    /// Closed when the run stops.
    pub intake: Arc<Intake>,
}

/// A refused request: its status, a message, and whether to say when to
/// come back.
fn answer(status: StatusCode, message: &str) -> Response {
    let body = axum::Json(json!({"error": message}));
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            (status, [("retry-after", RETRY_AFTER_SECONDS)], body).into_response()
        }
        StatusCode::UNAUTHORIZED => {
            (status, [("www-authenticate", "Bearer")], body).into_response()
        }
        _ => (status, body).into_response(),
    }
}

/// The tenant the request's bearer token names; `Ok(None)` when the
/// source asks for no token; `Err`: the answer to a request without a
/// valid one.
#[allow(clippy::result_large_err)] // answered at once, never passed on
fn tenant(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, Response> {
    if shared.tokens.is_empty() {
        return Ok(None);
    }
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(given) = given else {
        shared.counts.unauthorized.fetch_add(1, Ordering::Relaxed);
        return Err(answer(
            StatusCode::UNAUTHORIZED,
            "send a bearer token: Authorization: Bearer <token>",
        ));
    };
    // Compared in constant time, every token tried: the answer's timing
    // tells nothing about how much of a token was right, or which.
    let mut found = None;
    for (tenant, token) in &shared.tokens {
        if bool::from(token.as_bytes().ct_eq(given.as_bytes())) {
            found = Some(tenant.clone());
        }
    }
    found.ok_or_else(|| {
        shared.counts.unauthorized.fetch_add(1, Ordering::Relaxed);
        answer(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not one this source takes",
        )
    })
}

/// `POST` on one of the source's paths.
pub async fn push(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let tenant = match tenant(&shared, &headers) {
        Ok(tenant) => tenant,
        Err(refused) => return refused,
    };
    // A burst of requests waits its turn (its body still unread, costing
    // nothing here); one that waits too long is refused.
    let Ok(Ok(permit)) = tokio::time::timeout(DECODE_WAIT, shared.decoding.acquire()).await else {
        shared.counts.busy.fetch_add(1, Ordering::Relaxed);
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests at once; retry later",
        );
    };
    let refused = |r: Refused| {
        shared.counts.bad.fetch_add(1, Ordering::Relaxed);
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
        answer(status, &r.message)
    };
    let format = match BodyFormat::from_content_type(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
    ) {
        Ok(format) => format,
        Err(r) => return refused(r),
    };
    let limit = shared.config.max_body_bytes;
    let too_large = || Refused {
        status: 413,
        message: format!("the body is larger than max_body_bytes ({limit} bytes)"),
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return refused(too_large());
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return refused(too_large());
    };
    let gzipped = match headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            let message = format!("Content-Encoding {other:?} is not taken: send gzip or none");
            return refused(Refused {
                status: 415,
                message,
            });
        }
    };
    let decoding = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = match gzipped {
                true => body::gunzip(&bytes, limit)?,
                false => bytes,
            };
            body::decode(format, bytes, &shared.schema, shared.config.batch_rows)
        })
    };
    let batches = match decoding.await {
        Ok(Ok(batches)) => batches,
        Ok(Err(r)) => return refused(r),
        Err(_) => {
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "decoding the body failed",
            );
        }
    };
    let batches: Vec<RecordBatch> = batches
        .iter()
        .map(|batch| with_columns(&shared, batch, tenant.as_deref(), uri.path()))
        .collect();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return (StatusCode::OK, axum::Json(json!({"rows": 0}))).into_response();
    }
    let (durable, answered) = match shared.config.ack {
        Ack::Durable => {
            let (sender, receiver) = oneshot::channel();
            (Some(sender), Some(receiver))
        }
        Ack::Received => (None, None),
    };
    shared.intake.entering.fetch_add(1, Ordering::SeqCst);
    let sent = match shared.intake.closed.load(Ordering::SeqCst) {
        true => Err(crossbeam_channel::TrySendError::Disconnected(Pushed {
            batches,
            durable,
        })),
        false => shared.queue.try_send(Pushed { batches, durable }),
    };
    shared.intake.entering.fetch_sub(1, Ordering::SeqCst);
    match sent {
        Ok(()) => {}
        Err(crossbeam_channel::TrySendError::Full(_)) => {
            shared.counts.busy.fetch_add(1, Ordering::Relaxed);
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the pipeline is saturated; retry later",
            );
        }
        Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the pipeline is stopping; retry later",
            );
        }
    }
    drop(permit);
    shared.counts.taken.fetch_add(1, Ordering::Relaxed);
    shared.counts.rows.fetch_add(rows as u64, Ordering::Relaxed);
    let Some(answered) = answered else {
        return (
            StatusCode::OK,
            axum::Json(json!({"rows": rows, "ack": "received"})),
        )
            .into_response();
    };
    let timeout = Duration::from_millis(shared.config.ack_timeout_ms);
    match tokio::time::timeout(timeout, answered).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            axum::Json(json!({"rows": rows, "ack": "durable"})),
        )
            .into_response(),
        Ok(Err(_)) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the pipeline stopped before these rows were durable; send them again",
        ),
        Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "these rows were not durable after ack_timeout_ms ({} ms); send them again (they may then arrive twice)",
                shared.config.ack_timeout_ms
            ),
        ),
    }
}

/// `batch` with the tenant and path columns the source adds, if asked.
fn with_columns(
    shared: &Shared,
    batch: &RecordBatch,
    tenant: Option<&str>,
    path: &str,
) -> RecordBatch {
    let mut columns = batch.columns().to_vec();
    if shared.config.tenant_column.is_some() {
        columns.push(body::text_column(
            tenant.unwrap_or_default(),
            batch.num_rows(),
        ));
    }
    if shared.config.path_column.is_some() {
        columns.push(body::text_column(path, batch.num_rows()));
    }
    RecordBatch::try_new(shared.output.clone(), columns)
        .expect("the output schema has the added columns")
}

/// The app: `POST` on each path.
pub fn app(shared: Arc<Shared>) -> axum::Router {
    let mut app = axum::Router::new();
    for path in &shared.config.paths {
        app = app.route(path, axum::routing::post(push));
    }
    app.with_state(shared)
}
