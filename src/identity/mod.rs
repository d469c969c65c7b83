//! Access tokens from Entra ID for the app: client secret, certificate
//! (signed assertion) or the Functions managed identity. Cached per resource,
//! refreshed before expiry, and refreshed once more when a service says 401.

mod assertion;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

pub use assertion::AssertionSigner;

use crate::resilience::{RetryPolicy, Step, retry_after};

/// Tokens are renewed when they have less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How the app proves who it is.
#[derive(Clone)]
pub enum Credentials {
    /// App registration with a client secret.
    ClientSecret {
        /// Directory (tenant) id or domain.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// The secret; never logged.
        secret: SecretString,
    },
    /// App registration with a certificate (required for SharePoint app-only).
    Certificate {
        /// Directory (tenant) id or domain.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// PEM file with the certificate and its private key.
        path: PathBuf,
    },
    /// The Function App's managed identity (no secret to manage).
    ManagedIdentity {
        /// `IDENTITY_ENDPOINT`, set by the platform.
        endpoint: Url,
        /// `IDENTITY_HEADER`, set by the platform; proves the call comes from the app.
        header: SecretString,
        /// Client id of a user-assigned identity; `None` for system-assigned.
        client_id: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Credentials {
    /// Short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientSecret { .. } => "client secret",
            Self::Certificate { .. } => "certificate",
            Self::ManagedIdentity { .. } => "managed identity",
        }
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("Entra ID refused the app's credentials ({kind}): {detail}")]
    InvalidCredentials { kind: &'static str, detail: String },
    #[error("the {kind} credential is not usable: {detail}")]
    Configuration { kind: &'static str, detail: String },
    #[error("no token from the identity endpoint ({kind}): {detail}")]
    Unavailable { kind: &'static str, detail: String },
}

impl IdentityError {
    /// Stable code for reports.
    pub fn code(&self) -> crate::problem::ProblemCode {
        use crate::problem::ProblemCode;
        match self {
            Self::InvalidCredentials { .. } | Self::Configuration { .. } => {
                ProblemCode::InvalidCredentials
            }
            Self::Unavailable { .. } => ProblemCode::IdentityUnavailable,
        }
    }

    /// Whether waiting can help.
    pub fn is_transient(&self) -> bool {
        self.code().is_transient()
    }
}

/// A bearer token for one resource.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0.expose_secret())
    }

    fn same_as(&self, other: &AccessToken) -> bool {
        self.0.expose_secret() == other.0.expose_secret()
    }
}

struct Cached {
    token: AccessToken,
    expires_at: Instant,
}

/// Issues and caches tokens for any number of resources.
pub struct TokenProvider {
    /// How to authenticate.
    credentials: Credentials,
    /// Entra authority base, e.g. `https://login.microsoftonline.com`.
    authority: Url,
    /// Shared HTTP client.
    http: reqwest::Client,
    /// Parsed certificate for the certificate credential.
    signer: Option<AssertionSigner>,
    /// Tokens by resource. One lock: concurrent callers wait for one fetch.
    cache: Mutex<HashMap<String, Cached>>,
    /// Persistence against a struggling token endpoint.
    retry: RetryPolicy,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenProvider({})", self.credentials.kind())
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    /// Client-credential answers: seconds from now.
    expires_in: Option<serde_json::Value>,
    /// Managed-identity answers: epoch seconds (often as a string).
    expires_on: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct TokenErrorAnswer {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenProvider {
    /// Prepares the credential (reads and parses a certificate now, so a bad one
    /// is a start-up error).
    pub fn new(
        credentials: Credentials,
        authority: Url,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Self, IdentityError> {
        let signer = match &credentials {
            Credentials::Certificate { path, .. } => {
                Some(AssertionSigner::from_pem_file(path).map_err(|detail| {
                    IdentityError::Configuration {
                        kind: "certificate",
                        detail,
                    }
                })?)
            }
            _ => None,
        };
        Ok(Self {
            credentials,
            authority,
            http,
            signer,
            cache: Mutex::new(HashMap::new()),
            retry,
        })
    }

    /// The credential in use.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A valid token for `resource` (e.g. `https://graph.microsoft.com`).
    pub async fn token(&self, resource: &str) -> Result<AccessToken, IdentityError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.get(resource)
            && cached.expires_at > Instant::now() + REFRESH_MARGIN
        {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = self.fetch(resource).await?;
        cache.insert(
            resource.to_owned(),
            Cached {
                token: token.clone(),
                expires_at: Instant::now() + lifetime,
            },
        );
        Ok(token)
    }

    /// After a service answered 401: the first time for a call (`refreshed`
    /// remembers), forgets `token` so the next attempt fetches a fresh one, and
    /// says a retry is worth it; the second time, says it is not.
    pub async fn refresh_once(
        &self,
        resource: &str,
        token: &AccessToken,
        refreshed: &std::sync::atomic::AtomicBool,
    ) -> bool {
        if refreshed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        self.invalidate(resource, token).await;
        true
    }

    /// Forgets `token`, so the next call fetches anew.
    async fn invalidate(&self, resource: &str, token: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.get(resource).is_some_and(|c| c.token.same_as(token)) {
            cache.remove(resource);
        }
    }

    async fn fetch(&self, resource: &str) -> Result<(AccessToken, Duration), IdentityError> {
        let kind = self.credentials.kind();
        self.retry
            .run(
                |attempt| self.fetch_once(resource, attempt),
                |e| IdentityError::Unavailable {
                    kind,
                    detail: e.detail,
                },
            )
            .await
    }

    async fn fetch_once(
        &self,
        resource: &str,
        attempt: u32,
    ) -> Step<(AccessToken, Duration), IdentityError> {
        let kind = self.credentials.kind();
        let started = Instant::now();
        let request = match self.request(resource) {
            Ok(request) => request,
            Err(e) => return Step::Fail(e),
        };
        let (advice, detail) = match request.send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!(
                    credential = kind,
                    resource,
                    attempt,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "token issued"
                );
                return match parse_token(response, kind).await {
                    Ok(token) => Step::Done(token),
                    Err(e) => Step::Fail(e),
                };
            }
            Ok(response) => {
                let status = response.status();
                let advice = retry_after(response.headers());
                let body: TokenErrorAnswer = response.json().await.unwrap_or_default();
                let detail = describe(status, &body);
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return Step::Fail(IdentityError::InvalidCredentials { kind, detail });
                }
                (advice, detail)
            }
            Err(e) => (
                None,
                format!("cannot reach the endpoint: {}", e.without_url()),
            ),
        };
        tracing::warn!(
            credential = kind,
            resource,
            attempt,
            detail,
            "token request failed"
        );
        Step::Retry {
            advice,
            throttled: false,
            detail,
        }
    }

    fn request(&self, resource: &str) -> Result<reqwest::RequestBuilder, IdentityError> {
        let scope = format!("{}/.default", resource.trim_end_matches('/'));
        let token_url = |tenant: &str| {
            format!(
                "{}/{tenant}/oauth2/v2.0/token",
                self.authority.as_str().trim_end_matches('/')
            )
        };
        Ok(match &self.credentials {
            Credentials::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => self.http.post(token_url(tenant_id)).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("scope", &scope),
                ("client_secret", secret.expose_secret()),
            ]),
            Credentials::Certificate {
                tenant_id,
                client_id,
                ..
            } => {
                let url = token_url(tenant_id);
                let signer = self.signer.as_ref().expect("parsed in new()");
                let assertion = signer.sign(client_id, &url).map_err(|detail| {
                    IdentityError::Configuration {
                        kind: "certificate",
                        detail,
                    }
                })?;
                self.http.post(url).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("scope", &scope),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ])
            }
            Credentials::ManagedIdentity {
                endpoint,
                header,
                client_id,
            } => {
                let mut query = vec![
                    ("resource", resource.trim_end_matches('/')),
                    ("api-version", "2019-08-01"),
                ];
                if let Some(id) = client_id {
                    query.push(("client_id", id));
                }
                self.http
                    .get(endpoint.clone())
                    .query(&query)
                    .header("X-IDENTITY-HEADER", header.expose_secret())
            }
        })
    }
}

async fn parse_token(
    response: reqwest::Response,
    kind: &'static str,
) -> Result<(AccessToken, Duration), IdentityError> {
    let answer: TokenAnswer = response
        .json()
        .await
        .map_err(|e| IdentityError::Unavailable {
            kind,
            detail: format!("unreadable token answer: {}", e.without_url()),
        })?;
    let number = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let lifetime = if let Some(secs) = answer.expires_in.as_ref().and_then(number) {
        secs
    } else if let Some(epoch) = answer.expires_on.as_ref().and_then(number) {
        epoch - chrono::Utc::now().timestamp()
    } else {
        return Err(IdentityError::Unavailable {
            kind,
            detail: "the token answer has no expiry".to_owned(),
        });
    };
    Ok((
        AccessToken(answer.access_token),
        Duration::from_secs(u64::try_from(lifetime).unwrap_or(0)),
    ))
}

/// `invalid_client (AADSTS7000215: Invalid client secret provided.)` — first line only:
/// Entra appends trace ids and timestamps.
fn describe(status: reqwest::StatusCode, body: &TokenErrorAnswer) -> String {
    let description = body.error_description.lines().next().unwrap_or_default();
    let description: String = description.chars().take(300).collect();
    match (body.error.is_empty(), description.is_empty()) {
        (true, _) => format!("HTTP {status}"),
        (false, true) => format!("HTTP {status} {}", body.error),
        (false, false) => format!("HTTP {status} {} ({description})", body.error),
    }
}
