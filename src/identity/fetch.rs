//! One token fetch: the request each credential kind makes, the retry loop
//! around it, and reading the answer.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::{AccessToken, AssertionSigner, Credentials, IdentityError};
use crate::resilience::{RetryPolicy, Step, refused_redirect, retry_after};

/// What a fetch needs; shared by the provider and its flights.
pub(super) struct Fetcher {
    /// How to authenticate.
    pub(super) credentials: Credentials,
    /// Entra authority base, e.g. `https://login.microsoftonline.com`.
    authority: Url,
    /// HTTP client: no redirects, bounded timeouts.
    http: reqwest::Client,
    /// Parsed certificate for the certificate credential.
    signer: Option<AssertionSigner>,
    /// Persistence against a struggling token endpoint.
    retry: RetryPolicy,
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

impl Fetcher {
    pub(super) fn new(
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
            retry,
        })
    }

    /// A token for `resource` and its lifetime, retrying throttling and outages.
    pub(super) async fn fetch(
        &self,
        resource: &str,
    ) -> Result<(AccessToken, Duration), IdentityError> {
        if let Credentials::AzureCli { tenant_id } = &self.credentials {
            return super::azure_cli::token(resource, tenant_id.as_deref()).await;
        }
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
                // Never re-sent elsewhere: the form carries the secret.
                if let Some(detail) = refused_redirect(status, response.headers()) {
                    tracing::error!(
                        credential = kind,
                        resource,
                        detail,
                        "token request redirected"
                    );
                    return Step::Fail(IdentityError::Redirected { kind, detail });
                }
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
            Credentials::AzureCli { .. } => {
                return Err(IdentityError::Configuration {
                    kind: super::azure_cli::KIND,
                    detail: "the Azure CLI credential calls `az`, not a token endpoint".to_owned(),
                });
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
