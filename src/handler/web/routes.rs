//! The handlers: sign-in and CSRF first, then one portal call, then JSON
//! (or the page). Refusals are logged with their reason, never with headers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::WebState;
use super::assets::{self, refusal_page};
use super::auth::{self, Refusal};
use super::csrf;
use crate::portal::{Actor, PortalError, ReportQuery, Upload};

/// The values of `name` in a query string, decoded.
fn query_values(query: Option<&str>, name: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query_values(query, name).into_iter().next()
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn refused(refusal: &Refusal) -> Response {
    tracing::warn!(
        code = refusal.code,
        status = refusal.status.as_u16(),
        "web request refused: {}",
        refusal.message
    );
    json_error(refusal.status, refusal.code, &refusal.message)
}

fn failed(error: &PortalError) -> Response {
    let status = match error {
        PortalError::Forbidden(_) => StatusCode::FORBIDDEN,
        PortalError::NotFound(_) => StatusCode::NOT_FOUND,
        PortalError::Invalid {
            code: "image-too-large",
            ..
        } => StatusCode::PAYLOAD_TOO_LARGE,
        PortalError::Invalid { .. } => StatusCode::BAD_REQUEST,
        PortalError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        PortalError::Conflict(_) => StatusCode::CONFLICT,
        PortalError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    if status.is_server_error() {
        tracing::error!(code = error.code(), "web request failed: {error}");
    } else {
        tracing::info!(code = error.code(), "web request not carried out: {error}");
    }
    let mut response = json_error(status, error.code(), &error.to_string());
    if let PortalError::TooMany { retry_after, .. } = error {
        let seconds = retry_after.as_secs().max(1).to_string();
        if let Ok(value) = HeaderValue::from_str(&seconds) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// The answer to a portal call: JSON with `status`, or the error's answer.
fn reply<T: Serialize>(status: StatusCode, result: Result<T, PortalError>) -> Response {
    match result {
        Ok(value) => (status, Json(value)).into_response(),
        Err(e) => failed(&e),
    }
}

/// Extractor: the signed-in person; refuses with the reason otherwise.
pub struct SignedIn(pub Actor);

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        auth::authenticate(&parts.headers, &state.settings)
            .map(SignedIn)
            .map_err(|r| refused(&r))
    }
}

/// Extractor: signed in, and the request came from the page itself (CSRF).
pub struct FromPage(pub Actor);

impl FromRequestParts<WebState> for FromPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        let SignedIn(actor) = SignedIn::from_request_parts(parts, state).await?;
        csrf::check(&parts.headers, &state.settings).map_err(|r| refused(&r))?;
        Ok(Self(actor))
    }
}

/// Extractor: the uploaded file, refused with a clear 413 when over the limit
/// (from `Content-Length` before reading, or while reading).
pub struct Photo(pub Bytes);

impl FromRequest<WebState> for Photo {
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let limit = state.settings.max_upload_bytes;
        let too_large = |size: String| {
            json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "image-too-large",
                &format!(
                    "the file is {size}; uploads may be at most {limit} bytes (PHOTOSYNC_WEB_MAX_UPLOAD_BYTES)"
                ),
            )
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(size) = declared.filter(|s| *s > limit) {
            return Err(too_large(format!("{size} bytes")));
        }
        Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => too_large("too large".to_owned()),
                status => json_error(status, "invalid-request", &e.body_text()),
            })
    }
}

/// `GET /api/photos`: the page, or a page saying why not.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let actor = match auth::authenticate(&headers, &state.settings) {
        Ok(actor) => actor,
        Err(refusal) => {
            tracing::warn!(code = refusal.code, "web page refused: {}", refusal.message);
            return refusal_page(refusal.status, &refusal);
        }
    };
    if let Err(e) = state.portal.admit(&actor) {
        tracing::info!(code = %e.code(), "web page refused: {e}");
        let refusal = Refusal {
            status: StatusCode::FORBIDDEN,
            code: e.code(),
            message: e.to_string(),
        };
        return refusal_page(StatusCode::FORBIDDEN, &refusal);
    }
    Html(assets::INDEX_HTML).into_response()
}

/// `GET /api/photos/status[?ref=…]`: who I am, what the page may offer, and
/// my photos (plus, for uploaders, the ones referenced).
pub async fn status(
    State(state): State<WebState>,
    SignedIn(actor): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let references = query_values(query.as_deref(), "ref");
    let rows = state.portal.status(&actor, &references).await;
    reply(
        StatusCode::OK,
        rows.map(|rows| {
            json!({
                "me": {"upn": actor.upn, "name": actor.name,
                       "uploader": actor.roles.uploader, "approver": actor.roles.approver},
                "options": state.portal.options(),
                "rows": rows,
            })
        }),
    )
}

/// `POST /api/photos/preview` (the file as the body): the square the pipeline cuts.
pub async fn preview(
    State(state): State<WebState>,
    FromPage(actor): FromPage,
    Photo(bytes): Photo,
) -> Response {
    reply(StatusCode::OK, state.portal.preview(&actor, bytes).await)
}

/// `POST /api/photos/upload?for=KEY&focus=X,Y&name=FILE` (the file as the body).
pub async fn upload(
    State(state): State<WebState>,
    FromPage(actor): FromPage,
    RawQuery(query): RawQuery,
    Photo(bytes): Photo,
) -> Response {
    let query = query.as_deref();
    let upload = Upload {
        bytes,
        for_key: query_value(query, "for"),
        file_name: query_value(query, "name").unwrap_or_default(),
        focus: query_value(query, "focus"),
    };
    reply(
        StatusCode::CREATED,
        state.portal.upload(&actor, upload).await,
    )
}

/// `GET /api/photos/report?search=…&status=…`: the latest report, filtered.
pub async fn report(
    State(state): State<WebState>,
    SignedIn(actor): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let query = ReportQuery {
        search: query_value(query.as_deref(), "search").unwrap_or_default(),
        status: query_value(query.as_deref(), "status").unwrap_or_default(),
    };
    reply(StatusCode::OK, state.portal.report(&actor, &query).await)
}

/// `GET /api/photos/review`: photos waiting for approval.
pub async fn pending(State(state): State<WebState>, SignedIn(actor): SignedIn) -> Response {
    let rows = state.portal.pending(&actor).await;
    reply(StatusCode::OK, rows.map(|rows| json!({"rows": rows})))
}

/// `GET /api/photos/review/photo?ref=…`: a pending photo, for the approver.
pub async fn pending_photo(
    State(state): State<WebState>,
    SignedIn(actor): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let reference = query_value(query.as_deref(), "ref").unwrap_or_default();
    match state.portal.pending_photo(&actor, &reference).await {
        Ok(photo) => {
            let content_type = HeaderValue::from_str(&photo.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let private = HeaderValue::from_static("private, no-store");
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, private),
                ],
                photo.bytes,
            )
                .into_response()
        }
        Err(e) => failed(&e),
    }
}

/// `POST /api/photos/review/approve?ref=…`.
pub async fn approve(
    State(state): State<WebState>,
    FromPage(actor): FromPage,
    RawQuery(query): RawQuery,
) -> Response {
    let reference = query_value(query.as_deref(), "ref").unwrap_or_default();
    reply(
        StatusCode::OK,
        state.portal.approve(&actor, &reference).await,
    )
}

/// `POST /api/photos/review/reject?ref=…` with `{"reason": "…"}`.
pub async fn reject(
    State(state): State<WebState>,
    FromPage(actor): FromPage,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let reference = query_value(query.as_deref(), "ref").unwrap_or_default();
    let reason = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default();
    reply(
        StatusCode::OK,
        state.portal.reject(&actor, &reference, &reason).await,
    )
}
