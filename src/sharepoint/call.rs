//! One SharePoint POST with everything around it: the host's own token,
//! retries on throttling and outages, one log line per attempt, and the
//! classification of what came back.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::time::Instant;

use super::error::{describe, is_missing_profile};
use super::{SharePointClient, SharePointError};
use crate::resilience::{Step, refused_redirect, retry_after, retry_step};

/// One POST to make.
pub(super) struct Post<'a> {
    /// Token resource: the origin of the host `url` is on.
    pub resource: &'a str,
    /// Full URL.
    pub url: String,
    /// Body and its content type.
    pub body: Bytes,
    pub content_type: &'static str,
    /// Whose picture or profile (named in a missing-profile error).
    pub upn: &'a str,
}

impl SharePointClient {
    /// Makes `post`, retrying throttling and outages within the bounds.
    pub(super) async fn post(&self, post: Post<'_>) -> Result<(), SharePointError> {
        let refreshed = AtomicBool::new(false);
        self.retry
            .run(
                |attempt| self.attempt(&post, attempt, &refreshed),
                |e| {
                    if e.throttled {
                        SharePointError::Throttled {
                            attempts: e.attempts,
                        }
                    } else {
                        SharePointError::Unavailable { detail: e.detail }
                    }
                },
            )
            .await
    }

    async fn attempt(
        &self,
        post: &Post<'_>,
        attempt: u32,
        refreshed: &AtomicBool,
    ) -> Step<(), SharePointError> {
        let Post {
            resource,
            url,
            body,
            content_type,
            upn,
        } = post;
        let (resource, url, content_type) = (*resource, url.as_str(), *content_type);
        let token = match self.tokens.token(resource).await {
            Ok(token) => token,
            Err(e) => return Step::Fail(e.into()),
        };
        let started = Instant::now();
        let result = self
            .http
            .post(url)
            .header("Authorization", token.bearer())
            .header("Accept", "application/json;odata=nometadata")
            .header("Content-Type", content_type)
            .body(body.clone())
            .send()
            .await;
        let path = url.split("/_api/").nth(1).unwrap_or(url);
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let detail = format!("{}", e.without_url());
                tracing::warn!(host = resource, path, attempt, error = %detail, "sharepoint call failed");
                return Step::Retry {
                    advice: None,
                    throttled: false,
                    detail,
                };
            }
        };
        let status = response.status();
        tracing::info!(
            host = resource,
            path,
            status = status.as_u16(),
            attempt,
            duration_ms = started.elapsed().as_millis() as u64,
            "sharepoint call"
        );
        if status.is_success() {
            return Step::Done(());
        }
        if let Some(detail) = refused_redirect(status, response.headers()) {
            return Step::Fail(SharePointError::Redirected { detail });
        }
        let advice = retry_after(response.headers());
        // 401s say why in a header: `3000003;reason="Invalid audience Uri '…'"`.
        let diagnostics = response
            .headers()
            .get("x-ms-diagnostics")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let mut reason = describe(&text);
        if let Some(diagnostics) = diagnostics {
            reason.push_str(&format!(
                " ({})",
                diagnostics.chars().take(200).collect::<String>()
            ));
        }
        let detail = format!("HTTP {}: {reason}", status.as_u16());
        if status == StatusCode::UNAUTHORIZED
            && self.tokens.refresh_once(resource, &token, refreshed)
        {
            return Step::Retry {
                advice: Some(Duration::ZERO),
                throttled: false,
                detail,
            };
        }
        // Before the 5xx retry: a missing profile answers 500 and never heals by waiting.
        if is_missing_profile(status, &text) {
            return Step::Fail(SharePointError::ProfileMissing {
                account: upn.to_lowercase(),
            });
        }
        if let Some(retry) = retry_step(status, advice, &reason) {
            return retry;
        }
        Step::Fail(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SharePointError::AccessDenied {
                host: resource.to_owned(),
                detail,
            },
            StatusCode::NOT_FOUND if url.contains("/GetFolderByServerRelativeUrl(") => {
                SharePointError::LibraryMissing {
                    path: self.settings.library_path.clone(),
                }
            }
            s => SharePointError::Rejected {
                status: s.as_u16(),
                detail,
            },
        })
    }
}
