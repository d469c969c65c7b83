//! The web page's transport: HTTP functions forwarded by the host, sign-in
//! from Easy Auth, CSRF checks, static assets, security headers.
//!
//! How requests arrive (azure-functions-host `DefaultHttpWorkerService`):
//! for a function whose only bindings are an `httpTrigger` in and an `http`
//! out, with `enableForwardingHttpRequest: true` in host.json, the host sends
//! the original request to the handler at its own path (`/api/photos/…`),
//! headers and query included, and returns the handler's answer as it is
//! (its client does not follow redirects). Without that setting it would POST
//! `/{FunctionName}` with the request as JSON instead; [`not_forwarded`]
//! answers that case with a clear error. Blob and timer functions are
//! unaffected: always `POST /{FunctionName}` with the invocation body.
//!
//! Nothing here touches storage: every use case is a [`Portal`] call.

mod assets;
pub mod auth;
pub mod csrf;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::WebSettings;
use crate::portal::Portal;

/// The web functions: folder name (= function name), route under `/api`,
/// and the committed `function.json` that `photosync package` ships.
pub const FUNCTIONS: [(&str, &str, &str); 7] = [
    (
        "PhotosPage",
        "photos",
        include_str!("../../../functions/PhotosPage/function.json"),
    ),
    (
        "PhotosAssets",
        "photos/assets/{file}",
        include_str!("../../../functions/PhotosAssets/function.json"),
    ),
    (
        "PhotosStatus",
        "photos/status",
        include_str!("../../../functions/PhotosStatus/function.json"),
    ),
    (
        "PhotosPreview",
        "photos/preview",
        include_str!("../../../functions/PhotosPreview/function.json"),
    ),
    (
        "PhotosUpload",
        "photos/upload",
        include_str!("../../../functions/PhotosUpload/function.json"),
    ),
    (
        "PhotosReport",
        "photos/report",
        include_str!("../../../functions/PhotosReport/function.json"),
    ),
    (
        "PhotosReview",
        "photos/review/{action?}",
        include_str!("../../../functions/PhotosReview/function.json"),
    ),
];

/// What every web request needs.
#[derive(Clone)]
struct WebState {
    /// The use cases.
    portal: Portal,
    /// Sign-in trust, origins, limits.
    settings: Arc<WebSettings>,
}

/// The web routes, at the paths the host forwards (`/api/photos…`).
pub fn router(portal: Portal, settings: &WebSettings) -> Router {
    let state = WebState {
        portal,
        settings: Arc::new(settings.clone()),
    };
    // Room for the largest upload; the handlers refuse oversized files with a
    // clear message first, from Content-Length.
    let body_limit = usize::try_from(settings.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/api/photos", get(routes::page))
        .route("/api/photos/", get(routes::page))
        .route("/api/photos/assets/{file}", get(assets::serve))
        .route("/api/photos/status", get(routes::status))
        .route("/api/photos/preview", post(routes::preview))
        .route("/api/photos/upload", post(routes::upload))
        .route("/api/photos/report", get(routes::report))
        .route("/api/photos/review", get(routes::pending))
        .route("/api/photos/review/photo", get(routes::pending_photo))
        .route("/api/photos/review/approve", post(routes::approve))
        .route("/api/photos/review/reject", post(routes::reject))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(super::invocation_span))
        .with_state(state)
}

/// The content security policy of every answer: only this app's own script,
/// styles and connections; images from the app and from files the person
/// picked (`blob:`); no frames, forms elsewhere or plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Whether `name` is one of the web functions (case-insensitive, as the host).
pub fn is_web_function(name: &str) -> bool {
    FUNCTIONS
        .iter()
        .any(|(f, _, _)| f.eq_ignore_ascii_case(name))
}

/// The host invoked a web function the default way (`POST /{FunctionName}`),
/// which happens only when host.json lacks `enableForwardingHttpRequest`:
/// answer its HTTP output binding (`Outputs.res`, the shape the host's
/// `HttpScriptInvocationResultExtensions` reads) with a 500 that says so.
pub fn not_forwarded(function: &str) -> Response {
    let reason = format!(
        "{function} was invoked without request forwarding: set \
         \"customHandler\": {{\"enableForwardingHttpRequest\": true}} in host.json"
    );
    tracing::error!(function, "{reason}");
    eprintln!("photosync: {reason}");
    let body = serde_json::json!({
        "Outputs": {"res": {"statusCode": 500, "headers": {"Content-Type": "text/plain"}, "body": reason}},
        "Logs": [reason],
        "ReturnValue": null
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Request headers from pairs, for the unit tests of the checks.
#[cfg(test)]
fn test_headers(pairs: &[(&str, &str)]) -> axum::http::HeaderMap {
    let mut map = axum::http::HeaderMap::new();
    for (k, v) in pairs {
        map.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    map
}
