//! One Graph call with everything around it: token, pacer slot,
//! timeout, retries on throttling and outages, one log line per attempt, and
//! classification of what came back.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use super::pace::Answer;
use super::{GraphClient, GraphError};
use crate::identity::IdentityError;
use crate::resilience::{Step, refused_redirect, retry_after, retry_step};

/// A request to make.
pub(super) struct Call {
    /// HTTP method.
    pub method: Method,
    /// Path below the Graph base, encoded, e.g. `/v1.0/users/a%40b.com`.
    pub path: String,
    /// Query parameters (`$filter`, `$select`, …).
    pub query: Vec<(&'static str, String)>,
    /// Body and its content type.
    pub body: Option<(Bytes, &'static str)>,
    /// The application permission this call needs, named in 403 messages.
    pub permission: &'static str,
    /// The user of a photo call: photo calls go through the pacer (one per
    /// user, an adaptive window overall).
    pub photo_of: Option<String>,
}

/// A successful (2xx) or 404 answer; callers decide what 404 means.
pub(super) struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl GraphClient {
    pub(super) async fn call(&self, call: Call) -> Result<Reply, GraphError> {
        let refreshed = AtomicBool::new(false);
        self.options
            .retry
            .run(
                |attempt| self.attempt(&call, attempt, &refreshed),
                |e| {
                    if e.throttled {
                        GraphError::Throttled {
                            attempts: e.attempts,
                            waited: e.waited,
                        }
                    } else {
                        GraphError::Unavailable { detail: e.detail }
                    }
                },
            )
            .await
    }

    async fn attempt(
        &self,
        call: &Call,
        attempt: u32,
        refreshed: &AtomicBool,
    ) -> Step<Reply, GraphError> {
        let token = match self.tokens.token(&self.options.resource).await {
            Ok(token) => token,
            Err(e) => return Step::Fail(e.into()),
        };
        let url = format!("{}{}", self.options.base_url, call.path);
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .http
            .request(call.method.clone(), &url)
            .header("Authorization", token.bearer())
            .header("client-request-id", &client_request_id);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some((body, content_type)) = &call.body {
            request = request
                .header("Content-Type", *content_type)
                .body(body.clone());
        }

        let slot = match &call.photo_of {
            Some(user) => Some(self.pacer.slot(user).await),
            None => None,
        };
        let started = Instant::now();
        let result = request.send().await;
        let duration_ms = started.elapsed().as_millis() as u64;

        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let detail = format!("{} {}: {}", call.method, call.path, e.without_url());
                tracing::warn!(method = %call.method, path = call.path, attempt, duration_ms,
                    client_request_id, error = %detail, "graph call failed");
                return Step::Retry {
                    advice: None,
                    throttled: false,
                    detail,
                };
            }
        };
        let status = response.status();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        tracing::info!(method = %call.method, path = call.path, status = status.as_u16(), attempt,
            duration_ms, request_id, client_request_id, "graph call");
        if let Some(detail) = refused_redirect(status, response.headers()) {
            return Step::Fail(GraphError::Redirected { detail });
        }
        let advice = retry_after(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        if let Some(slot) = slot {
            slot.answered(if status == StatusCode::TOO_MANY_REQUESTS {
                Answer::Throttled(advice)
            } else {
                Answer::Served
            });
        }

        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Step::Done(Reply { status, body });
        }
        let error: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let detail = format!("{}: {}", error.error.code, first_line(&error.error.message));
        // The token expired or was revoked early: fetch a new one, once.
        if status == StatusCode::UNAUTHORIZED
            && self
                .tokens
                .refresh_once(&self.options.resource, &token, refreshed)
        {
            return Step::Retry {
                advice: Some(Duration::ZERO),
                throttled: false,
                detail,
            };
        }
        if let Some(retry) = retry_step(status, advice, &detail) {
            return retry;
        }
        match status {
            StatusCode::UNAUTHORIZED => {
                Step::Fail(GraphError::Identity(IdentityError::InvalidCredentials {
                    kind: self.tokens.credentials().kind(),
                    detail: format!("Microsoft Graph refused a fresh token ({detail})"),
                }))
            }
            StatusCode::FORBIDDEN => Step::Fail(GraphError::PermissionDenied {
                permission: call.permission,
                detail,
            }),
            StatusCode::PAYLOAD_TOO_LARGE => Step::Fail(GraphError::PhotoTooLarge {
                bytes: call.body.as_ref().map_or(0, |(b, _)| b.len()),
            }),
            s => Step::Fail(GraphError::Rejected {
                status: s.as_u16(),
                code: error.error.code,
                message: first_line(&error.error.message),
            }),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}
