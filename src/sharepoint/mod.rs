//! The SharePoint Online target: SharePoint keeps its own copy of each profile
//! photo (three JPEGs in the My Site host's `User Photos/Profile Pictures`
//! library plus profile properties) and refreshes it from Exchange only when
//! a user views their own profile. Writing it directly skips the wait.
//!
//! App-only SharePoint access needs a certificate or a managed identity:
//! SharePoint refuses tokens obtained with a client secret.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::graph::GraphSettings;
use crate::identity::{Credentials, IdentityError, TokenProvider};
use crate::resilience::{RetryPolicy, Step, retry_after, retry_step};

/// The library folder SharePoint reads profile pictures from.
const FOLDER: &str = "/User Photos/Profile Pictures";

/// SharePoint settings, as read by `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePointSettings {
    /// My Site host (`PHOTOSYNC_SHAREPOINT_MYSITE_URL`), e.g. `https://contoso-my.sharepoint.com`.
    pub mysite_url: Url,
    /// Admin host (`PHOTOSYNC_SHAREPOINT_ADMIN_URL`), default the matching `-admin` host.
    pub admin_url: Url,
    /// Token resource (`PHOTOSYNC_SHAREPOINT_RESOURCE`), default the tenant root
    /// `https://contoso.sharepoint.com`.
    pub resource: String,
    /// Edge of the large picture (`PHOTOSYNC_SHAREPOINT_LARGE_SIZE`, default 200).
    pub large_size: u32,
    /// Pause between users (`PHOTOSYNC_SHAREPOINT_PACING_MS`), so SharePoint
    /// does not treat a bulk run as abuse.
    pub pacing: Duration,
}

/// A SharePoint failure with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SharePointError {
    #[error(
        "SharePoint refuses app-only tokens obtained with a client secret: configure \
         PHOTOSYNC_CLIENT_CERTIFICATE_PATH (or use the managed identity) for the SharePoint target"
    )]
    NeedsCertificate,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(
        "SharePoint refused the app: grant it SharePoint `User.ReadWrite.All` (and Sites access to the My Site host) ({detail})"
    )]
    PermissionDenied { detail: String },
    #[error("SharePoint is throttling the app; gave up after {attempts} attempts")]
    Throttled { attempts: u32 },
    #[error("SharePoint is unavailable: {detail}")]
    Unavailable { detail: String },
    #[error("SharePoint rejected the call: HTTP {status}: {detail}")]
    Rejected { status: u16, detail: String },
}

impl SharePointError {
    /// Stable code for reports and the ledger.
    pub fn code(&self) -> crate::problem::ProblemCode {
        use crate::problem::ProblemCode;
        match self {
            Self::NeedsCertificate => ProblemCode::SharepointNeedsCertificate,
            Self::Identity(e) => e.code(),
            Self::PermissionDenied { .. } => ProblemCode::SharepointPermissionDenied,
            Self::Throttled { .. } => ProblemCode::SharepointThrottled,
            Self::Unavailable { .. } => ProblemCode::SharepointUnavailable,
            Self::Rejected { .. } => ProblemCode::SharepointRejected,
        }
    }

    /// Whether retrying later can succeed.
    pub fn is_transient(&self) -> bool {
        self.code().is_transient()
    }
}

/// `o'brien@contoso.co.uk` → `o'brien_contoso_co_uk`, SharePoint's file-name form.
pub fn account_file_stem(upn: &str) -> String {
    upn.to_lowercase().replace(['@', '.'], "_")
}

/// The claims account name SharePoint's people manager expects.
pub fn claims_account(upn: &str) -> String {
    format!("i:0#.f|membership|{}", upn.to_lowercase())
}

/// The three pictures SharePoint shows, smallest first.
#[derive(Debug, Clone)]
pub struct ProfilePictures {
    /// 48x48 (`_SThumb`).
    pub small: Bytes,
    /// 72x72 (`_MThumb`), the one `PictureURL` points at.
    pub medium: Bytes,
    /// `large_size` square (`_LThumb`).
    pub large: Bytes,
}

/// Writes profile pictures and properties; share one per process.
pub struct SharePointClient {
    /// Settings.
    settings: SharePointSettings,
    /// HTTP client.
    http: reqwest::Client,
    /// Tokens for the SharePoint resource.
    tokens: Arc<TokenProvider>,
    /// Throttling and outage bounds.
    retry: RetryPolicy,
    /// Per-request timeout.
    timeout: Duration,
    /// Earliest start of the next user's writes (pacing).
    next_user: Mutex<Instant>,
}

impl std::fmt::Debug for SharePointClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharePointClient({})", self.settings.mysite_url)
    }
}

impl SharePointClient {
    /// A client when the target is configured (`None` when it is not, or when
    /// there are no credentials at all: then everything runs dry).
    pub fn from_settings(
        settings: Option<&SharePointSettings>,
        graph: &GraphSettings,
        http: reqwest::Client,
    ) -> Result<Option<Self>, SharePointError> {
        let (Some(settings), Some(credentials)) = (settings, &graph.credentials) else {
            return Ok(None);
        };
        if matches!(credentials, Credentials::ClientSecret { .. }) {
            return Err(SharePointError::NeedsCertificate);
        }
        let tokens = TokenProvider::new(
            credentials.clone(),
            graph.authority_url.clone(),
            http.clone(),
            graph.retry.clone(),
        )?;
        Ok(Some(Self {
            settings: settings.clone(),
            http,
            tokens: Arc::new(tokens),
            retry: graph.retry.clone(),
            timeout: graph.timeout,
            next_user: Mutex::new(Instant::now()),
        }))
    }

    /// The picture sizes to render: small, medium, large.
    pub fn sizes(&self) -> [u32; 3] {
        [48, 72, self.settings.large_size]
    }

    /// Uploads the three pictures (overwriting) and points the profile at them.
    pub async fn set_pictures(
        &self,
        upn: &str,
        pictures: ProfilePictures,
    ) -> Result<(), SharePointError> {
        self.pace().await;
        let stem = account_file_stem(upn);
        for (suffix, bytes) in [
            ("SThumb", pictures.small),
            ("MThumb", pictures.medium),
            ("LThumb", pictures.large),
        ] {
            let file = format!("{stem}_{suffix}.jpg");
            let url = format!(
                "{}/_api/web/GetFolderByServerRelativeUrl('{}')/Files/add(url='{}',overwrite=true)",
                base(&self.settings.mysite_url),
                odata(FOLDER),
                odata(&file)
            );
            self.post(&url, bytes, "image/jpeg").await?;
        }
        let picture_url = format!(
            "{}{}/{stem}_MThumb.jpg",
            base(&self.settings.mysite_url),
            FOLDER.replace(' ', "%20")
        );
        let timestamp = chrono::Utc::now().timestamp().to_string();
        for (name, value) in [
            ("PictureURL", picture_url.as_str()),
            ("SPS-PicturePlaceholderState", "0"),
            ("SPS-PictureExchangeSyncState", "0"),
            ("SPS-PictureTimestamp", timestamp.as_str()),
        ] {
            let body = serde_json::json!({
                "accountName": claims_account(upn),
                "propertyName": name,
                "propertyValue": value,
            });
            let url = format!(
                "{}/_api/SP.UserProfiles.PeopleManager/SetSingleValueProfileProperty",
                base(&self.settings.admin_url)
            );
            self.post(
                &url,
                Bytes::from(body.to_string()),
                "application/json;odata=verbose",
            )
            .await?;
        }
        Ok(())
    }

    /// Waits until this user's turn, then books the next slot.
    async fn pace(&self) {
        let start = {
            let mut next = self.next_user.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + self.settings.pacing;
            start
        };
        tokio::time::sleep_until(start).await;
    }

    async fn post(
        &self,
        url: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), SharePointError> {
        let refreshed = AtomicBool::new(false);
        self.retry
            .run(
                |attempt| self.attempt(url, &body, content_type, attempt, &refreshed),
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
        url: &str,
        body: &Bytes,
        content_type: &str,
        attempt: u32,
        refreshed: &AtomicBool,
    ) -> Step<(), SharePointError> {
        let token = match self.tokens.token(&self.settings.resource).await {
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
            .timeout(self.timeout)
            .body(body.clone())
            .send()
            .await;
        let path = url.split("/_api/").nth(1).unwrap_or(url);
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let detail = format!("{}", e.without_url());
                tracing::warn!(path, attempt, error = %detail, "sharepoint call failed");
                return Step::Retry {
                    advice: None,
                    throttled: false,
                    detail,
                };
            }
        };
        let status = response.status();
        tracing::info!(
            path,
            status = status.as_u16(),
            attempt,
            duration_ms = started.elapsed().as_millis() as u64,
            "sharepoint call"
        );
        let advice = retry_after(response.headers());
        let text: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        if status.is_success() {
            return Step::Done(());
        }
        if status == StatusCode::UNAUTHORIZED
            && self
                .tokens
                .refresh_once(&self.settings.resource, &token, refreshed)
                .await
        {
            return Step::Retry {
                advice: Some(Duration::ZERO),
                throttled: false,
                detail: text,
            };
        }
        if let Some(retry) = retry_step(status, advice, &text) {
            return retry;
        }
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Step::Fail(SharePointError::PermissionDenied { detail: text })
            }
            s => Step::Fail(SharePointError::Rejected {
                status: s.as_u16(),
                detail: text,
            }),
        }
    }
}

fn base(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// An OData string literal's content, percent-encoded for the URL path:
/// quotes doubled, spaces and other specials escaped.
fn odata(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/')
        .remove(b'\'');
    percent_encoding::utf8_percent_encode(&text.replace('\'', "''"), SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_and_literals() {
        assert_eq!(
            account_file_stem("O'Brien@Contoso.co.uk"),
            "o'brien_contoso_co_uk"
        );
        assert_eq!(
            claims_account("Alice@contoso.com"),
            "i:0#.f|membership|alice@contoso.com"
        );
        assert_eq!(
            odata("o'brien_contoso_co_uk_SThumb.jpg"),
            "o''brien_contoso_co_uk_SThumb.jpg"
        );
        assert_eq!(odata(FOLDER), "/User%20Photos/Profile%20Pictures");
    }
}
