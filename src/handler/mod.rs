//! The Functions transport: the HTTP server the host talks to.
//!
//! Routes host invocations to the [`Engine`] and turns its [`Outcome`] into the
//! answer the host expects; [`web`] serves the web page's HTTP functions.
//! Nothing here touches storage or Microsoft 365.

pub mod payload;
pub mod server;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::memory::{self, Held, Memory};
use crate::sync::{Engine, Outcome};
use payload::{InvocationResponse, PayloadError};

/// Folder name of the blob-trigger function (and so its route).
pub const PHOTO_UPLOADED: &str = "PhotoUploaded";
/// Folder name of the timer function.
pub const RECONCILE: &str = "Reconcile";
/// Binding names in the two `function.json` files.
const PHOTO_BINDING: &str = "photo";
const TIMER_BINDING: &str = "timer";
/// Header the host puts on every invocation.
const INVOCATION_ID: &str = "x-azure-functions-invocationid";

/// What every request needs.
#[derive(Clone)]
struct AppState {
    /// The use cases.
    engine: Engine,
    /// Photos container name, to turn a trigger `Uri` back into a blob name.
    photos_container: Arc<str>,
    /// The process's memory account: a body takes its share before it is read.
    memory: Memory,
    /// Largest invocation body accepted.
    max_body_bytes: usize,
}

/// Builds the router; `max_body_bytes` must allow a base64 photo.
pub fn router(engine: Engine, photos_container: &str, max_body_bytes: usize) -> Router {
    let state = AppState {
        memory: engine.renderer().memory().clone(),
        engine,
        photos_container: photos_container.into(),
        max_body_bytes,
    };
    Router::new()
        .route("/", get(ready))
        .route("/{function}", post(invoke))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(invocation_span))
        .with_state(state)
}

/// Serves on an already-bound listener, within `limits`, until `shutdown`
/// completes, then lets in-flight invocations finish.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: server::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, router, limits, shutdown).await
}

/// The host's readiness probe: any answer counts.
async fn ready() -> &'static str {
    "photosync ready\n"
}

async fn unknown_route() -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, "no such route\n".to_owned())
}

/// Puts the invocation id on every log line of the request.
pub(crate) async fn invocation_span(request: Request, next: Next) -> Response {
    let invocation_id = request
        .headers()
        .get(INVOCATION_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!(
        "invocation",
        invocation_id = %invocation_id,
        route = %request.uri().path()
    );
    next.run(request).instrument(span).await
}

async fn invoke(
    State(state): State<AppState>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let retry = headers
        .get("x-azure-functions-retrycount")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (body, held) = match receive(&state, &headers, body).await {
        Ok(received) => received,
        Err(refused) => return refused,
    };
    tracing::debug!(bytes = body.len(), retry, "invocation received");
    let outcome = if function.eq_ignore_ascii_case(PHOTO_UPLOADED) {
        photo_uploaded(&state, body, held).await
    } else if function.eq_ignore_ascii_case(RECONCILE) {
        drop(held);
        reconcile(&state, body).await
    } else if web::is_web_function(&function) {
        return web::not_forwarded(&function);
    } else {
        tracing::warn!(function, "the host invoked an unknown function");
        return (
            StatusCode::NOT_FOUND,
            format!("no function named `{function}`\n"),
        )
            .into_response();
    };
    let invocation = headers
        .get(INVOCATION_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    match outcome {
        Err(PayloadError(reason)) => {
            tracing::error!(reason, "malformed invocation body");
            failed_on_stderr(&function, invocation, 400, &reason);
            (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response()
        }
        Ok(outcome) => answer(&function, invocation, outcome),
    }
}

/// Reads the body once its share of the process's memory is free. The host
/// sends it chunked, without a length (`ToHttpRequestMessage` in the host's
/// `Workers/Http/HttpScriptInvocationContextExtensions.cs` posts an
/// `ObjectContent`, whose length is unknown), so an unknown length counts as
/// the largest body; the buffer is reserved at that size once (its pages
/// cost memory only as the body fills them) rather than grown by copies.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Held), Response> {
    use futures::StreamExt as _;
    let limit = state.max_body_bytes;
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the invocation body is over {limit} bytes (PHOTOSYNC_MAX_BYTES plus base64)\n"
            ),
        )
            .into_response()
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let expected = declared.unwrap_or(limit);
    let held = state.memory.hold(memory::parse_cost(expected as u64)).await;
    let mut buffer = bytes::BytesMut::with_capacity(expected);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("the invocation body could not be read: {e}\n"),
            )
                .into_response()
        })?;
        if buffer.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok((buffer.freeze(), held))
}

/// Parsing a body of up to ~70 MB (JSON, base64) is CPU work: off the runtime.
async fn parse_off_runtime<T: Send + 'static>(
    body: Bytes,
    read: impl FnOnce(&payload::InvocationRequest<'_>) -> Result<T, PayloadError> + Send + 'static,
) -> Result<T, PayloadError> {
    tokio::task::spawn_blocking(move || read(&payload::parse_request(&body)?))
        .await
        .map_err(|e| PayloadError(format!("reading the invocation body stopped: {e}")))?
}

async fn photo_uploaded(
    state: &AppState,
    body: Bytes,
    held: Held,
) -> Result<Outcome, PayloadError> {
    let container = Arc::clone(&state.photos_container);
    let event = parse_off_runtime(body, move |request| {
        payload::photo_event(request, PHOTO_BINDING, &container)
    })
    .await?;
    // The body is gone; what stays in memory is the photo it carried, if
    // the flow will use it (otherwise the flow reads, and accounts, itself).
    // Never held across the flow's own read: a task holds one share at most.
    let _held = match &event.bytes {
        Some(bytes) => Some(held.keep(bytes.len() as u64)),
        None => {
            drop(held);
            None
        }
    };
    Ok(state.engine.photo_uploaded(event).await)
}

async fn reconcile(state: &AppState, body: Bytes) -> Result<Outcome, PayloadError> {
    let tick =
        parse_off_runtime(body, |request| payload::timer_tick(request, TIMER_BINDING)).await?;
    Ok(state.engine.reconcile(tick).await)
}

/// A transient failure answers 500 so the host retries; everything else is 200,
/// with the outcome recorded for the admin rather than retried pointlessly.
fn answer(function: &str, invocation: &str, outcome: Outcome) -> Response {
    let mut logs = outcome.logs;
    let status = match outcome.retry {
        Some(reason) => {
            let line = format!("will be retried: {reason}");
            failed_on_stderr(function, invocation, 500, &line);
            logs.push(line);
            StatusCode::INTERNAL_SERVER_ERROR
        }
        None => StatusCode::OK,
    };
    (status, Json(InvocationResponse::with_logs(logs))).into_response()
}

/// The host drops the body of a non-2xx answer (`DefaultHttpWorkerService`
/// calls `EnsureSuccessStatusCode()` before reading it), so the reason goes
/// to stderr too, as one plain line: the host copies stderr lines into its
/// log, and "failed" makes it an error there (`ParseErrorMessageAndLog`).
fn failed_on_stderr(function: &str, invocation: &str, status: u16, reason: &str) {
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let invocation: String = invocation
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    eprintln!("photosync: {function} invocation {invocation} failed (HTTP {status}): {reason}");
}
