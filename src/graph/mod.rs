//! The Microsoft Graph adapter: finds users and sets, reads and removes their
//! profile photos, for the app identity configured in settings.
//!
//! Photo writes go to `/users/{id}/photo/$value`; Graph stores them in Exchange
//! for mailbox users and in Entra ID for the rest.

mod access;
mod error;
pub mod pace;
mod request;
mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

pub use access::{PhotoPolicy, REQUIRED_PERMISSIONS, grant_hint};
pub use error::{GraphError, MAX_PHOTO_BYTES};
pub use users::{MatchBy, User};

use crate::identity::{Credentials, TokenProvider};
use crate::resilience::RetryPolicy;
use request::Call;
use users::segment;

/// Graph settings, as read by `config`.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// App identity; `None` means no credentials: the target runs dry.
    pub credentials: Option<Credentials>,
    /// Entra authority (`PHOTOSYNC_AUTHORITY_URL`), for national clouds and tests.
    pub authority_url: Url,
    /// Graph base (`PHOTOSYNC_GRAPH_URL`); also the token resource.
    pub graph_url: Url,
    /// Which attribute photo keys are matched with.
    pub match_by: MatchBy,
    /// Photo requests in flight across the process at the start
    /// (`PHOTOSYNC_GRAPH_CONCURRENCY`); the pacer adapts it to 429s.
    pub concurrency: usize,
    /// The most the pacer grows to (`PHOTOSYNC_GRAPH_MAX_CONCURRENCY`).
    pub max_concurrency: usize,
    /// Resolve users but never write (`PHOTOSYNC_DRY_RUN`).
    pub dry_run: bool,
    /// Total timeout of one request (`PHOTOSYNC_GRAPH_TIMEOUT_SECS`), for
    /// Entra, Graph and SharePoint alike; the HTTP client carries it.
    pub timeout: Duration,
    /// Retry bounds for throttling and outages.
    pub retry: RetryPolicy,
}

/// What the client needs at call time.
#[derive(Debug, Clone)]
struct Options {
    /// Graph base URL without trailing slash.
    base_url: String,
    /// Token resource (the Graph base URL).
    resource: String,
    /// Matching attribute.
    match_by: MatchBy,
    /// Never write.
    dry_run: bool,
    /// Retry bounds.
    retry: RetryPolicy,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Graph accepted it.
    Done,
    /// Dry run: nothing was sent.
    DryRun,
}

/// Metadata of a user's current photo.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhotoInfo {
    /// Size label, e.g. `648x648`.
    #[serde(default)]
    pub id: Option<String>,
    /// Width in pixels.
    #[serde(default)]
    pub width: u32,
    /// Height in pixels.
    #[serde(default)]
    pub height: u32,
    /// Changes whenever the photo changes; drift detection compares it.
    #[serde(rename = "@odata.mediaEtag", default)]
    pub media_etag: Option<String>,
    /// The photo's media type (`image/jpeg`).
    #[serde(rename = "@odata.mediaContentType", default)]
    pub content_type: Option<String>,
}

/// The Graph client; share one per process (it holds the token cache, the
/// user cache and the photo-call pacer).
pub struct GraphClient {
    /// Call-time options.
    options: Options,
    /// HTTP client with pooled connections, no redirects, bounded timeouts.
    http: reqwest::Client,
    /// Tokens for the Graph resource.
    tokens: Arc<TokenProvider>,
    /// Paces photo calls: one per user, an adaptive window overall.
    pacer: pace::Pacer,
    /// User lookups by key.
    users: Mutex<HashMap<String, users::CachedLookup>>,
    /// The tenant's photo update policy, checked once.
    policy: OnceCell<Result<(), ()>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GraphClient({}, {:?})",
            self.options.base_url, self.tokens
        )
    }
}

impl GraphClient {
    /// A client for `settings` with its own token provider, or `None` when no
    /// credentials are configured. `http` should come from
    /// [`crate::resilience::http_client`].
    pub fn from_settings(
        settings: &GraphSettings,
        http: reqwest::Client,
    ) -> Result<Option<Self>, GraphError> {
        let Some(credentials) = settings.credentials.clone() else {
            return Ok(None);
        };
        let tokens = TokenProvider::new(
            credentials,
            settings.authority_url.clone(),
            http.clone(),
            settings.retry.clone(),
        )?;
        Ok(Some(Self::new(settings, http, Arc::new(tokens))))
    }

    /// A client using an existing token provider (shared with other adapters).
    pub fn new(
        settings: &GraphSettings,
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
    ) -> Self {
        let base_url = settings.graph_url.as_str().trim_end_matches('/').to_owned();
        Self {
            options: Options {
                resource: base_url.clone(),
                base_url,
                match_by: settings.match_by,
                dry_run: settings.dry_run,
                retry: settings.retry.clone(),
            },
            http,
            tokens,
            pacer: pace::Pacer::new(settings.concurrency, settings.max_concurrency),
            users: Mutex::new(HashMap::new()),
            policy: OnceCell::new(),
        }
    }

    /// The token provider, for other adapters of the same app (SharePoint).
    pub fn tokens(&self) -> Arc<TokenProvider> {
        Arc::clone(&self.tokens)
    }

    /// Where the photo-call pacer stands (logs, benchmarks).
    pub fn pace(&self) -> pace::Pace {
        self.pacer.pace()
    }

    /// Whether writes are suppressed.
    pub fn is_dry_run(&self) -> bool {
        self.options.dry_run
    }

    /// Sets `user_id`'s profile photo to `jpeg`.
    pub async fn set_photo(&self, user_id: &str, jpeg: Bytes) -> Result<Written, GraphError> {
        if jpeg.len() > MAX_PHOTO_BYTES {
            return Err(GraphError::PhotoTooLarge { bytes: jpeg.len() });
        }
        if self.options.dry_run {
            return Ok(Written::DryRun);
        }
        self.check_policy().await?;
        let reply = self
            .call(photo_call(
                Method::PUT,
                user_id,
                "/$value",
                Some((jpeg, "image/jpeg")),
            ))
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(GraphError::UserNotFound {
                attribute: "id",
                key: user_id.to_owned(),
            });
        }
        Ok(Written::Done)
    }

    /// The user's current photo metadata; `None` when there is no photo: a 404
    /// (`ImageNotFound`), or the 1x1 placeholder Graph's "Get profilePhoto"
    /// page documents for users without one
    /// (learn.microsoft.com/graph/api/profilephoto-get) — drift checks treat
    /// both as "our photo is gone".
    pub async fn photo_info(&self, user_id: &str) -> Result<Option<PhotoInfo>, GraphError> {
        let reply = self
            .call(photo_call(Method::GET, user_id, "", None))
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let info: PhotoInfo =
            serde_json::from_slice(&reply.body).map_err(|e| GraphError::Unavailable {
                detail: format!("unreadable photo metadata: {e}"),
            })?;
        Ok((info.width > 1 || info.height > 1).then_some(info))
    }

    /// The media ETag of the photo Graph holds now (recorded after an
    /// upload, to tell later whether someone replaced it); `None` when it
    /// cannot be read, which later comparisons treat as "maybe not ours".
    pub async fn media_etag(&self, user_id: &str) -> Option<String> {
        self.photo_info(user_id)
            .await
            .ok()
            .flatten()
            .and_then(|info| info.media_etag)
    }

    /// The user's current photo with its metadata, to back it up; `None`
    /// when there is none. `GET /users/{id}/photo/$value` answers the binary
    /// data, or 404 when no photo exists
    /// (learn.microsoft.com/en-us/graph/api/profilephoto-get); the metadata
    /// is read first, so the 1x1 placeholder also counts as none.
    pub async fn photo(&self, user_id: &str) -> Result<Option<(PhotoInfo, Bytes)>, GraphError> {
        let Some(info) = self.photo_info(user_id).await? else {
            return Ok(None);
        };
        let reply = self
            .call(photo_call(Method::GET, user_id, "/$value", None))
            .await?;
        if reply.status == StatusCode::NOT_FOUND || reply.body.is_empty() {
            return Ok(None);
        }
        Ok(Some((info, reply.body)))
    }

    /// Removes the user's photo; removing a missing photo is success.
    pub async fn delete_photo(&self, user_id: &str) -> Result<Written, GraphError> {
        if self.options.dry_run {
            return Ok(Written::DryRun);
        }
        self.call(photo_call(Method::DELETE, user_id, "/$value", None))
            .await?;
        Ok(Written::Done)
    }
}

/// A call on `/v1.0/users/{id}/photo{suffix}`: paced.
fn photo_call(
    method: Method,
    user_id: &str,
    suffix: &str,
    body: Option<(Bytes, &'static str)>,
) -> Call {
    Call {
        method,
        path: format!("/v1.0/users/{}/photo{suffix}", segment(user_id)),
        query: Vec::new(),
        body,
        permission: "ProfilePhoto.ReadWrite.All",
        photo_of: Some(user_id.to_owned()),
    }
}
