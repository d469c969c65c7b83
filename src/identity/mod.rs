//! Access tokens from Entra ID for the app: client secret, certificate
//! (signed assertion) or the Functions managed identity, or, for an admin
//! on a laptop, their own Azure CLI sign-in. Cached per resource,
//! refreshed before expiry, and refreshed once more when a service says 401.
//!
//! One provider serves every adapter (Graph and each SharePoint host). Each
//! resource has its own slot; concurrent callers for one resource share one
//! fetch (single flight), and no lock is held while a fetch talks to the
//! endpoint or waits between its retries, so a struggling fetch for one
//! resource never blocks another.

mod assertion;
mod azure_cli;
pub mod claims;
mod fetch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use url::Url;

pub use assertion::AssertionSigner;
use fetch::Fetcher;

use crate::resilience::RetryPolicy;

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
    /// The admin's own Azure CLI sign-in (`az login`), on a laptop.
    AzureCli {
        /// `--tenant` for the CLI; `None` uses the CLI's current tenant.
        tenant_id: Option<String>,
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
            Self::AzureCli { .. } => azure_cli::KIND,
        }
    }

    /// Whether its tokens carry the app's own application permissions in
    /// `roles`. An admin's Azure CLI sign-in does not: its tokens carry the
    /// admin's delegated rights (`scp`) and say nothing of the app's grant.
    pub fn speaks_for_the_app(&self) -> bool {
        !matches!(self, Self::AzureCli { .. })
    }
}

/// Why no token could be had. `Clone`: every caller waiting on one fetch gets
/// its outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityError {
    #[error("Entra ID refused the app's credentials ({kind}): {detail}")]
    InvalidCredentials { kind: &'static str, detail: String },
    #[error("the {kind} credential is not usable: {detail}")]
    Configuration { kind: &'static str, detail: String },
    #[error("no token from the identity endpoint ({kind}): {detail}")]
    Unavailable { kind: &'static str, detail: String },
    #[error(
        "the token endpoint ({kind}) answered with a redirect: {detail}; check that \
         PHOTOSYNC_AUTHORITY_URL (or IDENTITY_ENDPOINT) points at the endpoint itself"
    )]
    Redirected { kind: &'static str, detail: String },
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
            Self::Redirected { .. } => ProblemCode::RedirectRefused,
        }
    }

    /// Whether waiting can help. A redirect is kept for a later retry (it may
    /// come from a passing proxy fault) but never followed.
    pub fn is_transient(&self) -> bool {
        self.code().is_transient()
    }
}

/// A bearer token for one resource.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl AccessToken {
    /// A token from text (tests of what tokens say).
    #[cfg(test)]
    pub(crate) fn new(token: String) -> Self {
        Self(SecretString::from(token))
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0.expose_secret())
    }

    /// The token itself, for a client that builds its own header.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn same_as(&self, other: &AccessToken) -> bool {
        self.0.expose_secret() == other.0.expose_secret()
    }
}

/// A token and when it stops being usable.
#[derive(Clone)]
struct Cached {
    /// The token.
    token: AccessToken,
    /// Its expiry on the runtime's clock.
    expires_at: Instant,
}

/// The one fetch in flight for a resource; every caller awaits a clone.
type Flight = Shared<BoxFuture<'static, Result<Cached, IdentityError>>>;

/// What a resource's slot holds.
enum Slot {
    /// A token (possibly near its expiry: checked on use).
    Ready(Cached),
    /// A fetch under way.
    Fetching(Flight),
}

/// Slots by resource. A `std` mutex: it is held only to read or replace an
/// entry, never across an `.await`.
type Slots = Arc<Mutex<HashMap<String, Slot>>>;

/// Issues and caches tokens for any number of resources.
pub struct TokenProvider {
    /// Talks to the token endpoint (shared with the flights it starts).
    fetcher: Arc<Fetcher>,
    /// Per resource: the token, or the fetch under way.
    slots: Slots,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenProvider({})", self.fetcher.credentials.kind())
    }
}

fn lock(slots: &Mutex<HashMap<String, Slot>>) -> MutexGuard<'_, HashMap<String, Slot>> {
    // A panic while holding the map cannot leave it half-updated (one insert
    // or remove), so a poisoned lock is still usable.
    slots.lock().unwrap_or_else(|e| e.into_inner())
}

impl TokenProvider {
    /// Tokens from the Azure CLI's sign-in (no endpoint of ours to call).
    pub fn azure_cli(tenant_id: Option<String>) -> Self {
        let unused = Url::parse("https://login.microsoftonline.com").expect("constant");
        Self::new(
            Credentials::AzureCli { tenant_id },
            unused,
            reqwest::Client::new(),
            RetryPolicy::default(),
        )
        .expect("the Azure CLI credential has nothing to prepare")
    }

    /// Prepares the credential (reads and parses a certificate now, so a bad one
    /// is a start-up error). `http` should come from
    /// [`crate::resilience::http_client`]: no redirects, bounded timeouts.
    pub fn new(
        credentials: Credentials,
        authority: Url,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Self, IdentityError> {
        Ok(Self {
            fetcher: Arc::new(Fetcher::new(credentials, authority, http, retry)?),
            slots: Arc::default(),
        })
    }

    /// The credential in use.
    pub fn credentials(&self) -> &Credentials {
        &self.fetcher.credentials
    }

    /// A valid token for `resource` (e.g. `https://graph.microsoft.com`).
    pub async fn token(&self, resource: &str) -> Result<AccessToken, IdentityError> {
        let flight = {
            let mut slots = lock(&self.slots);
            match slots.get(resource) {
                Some(Slot::Ready(cached))
                    if cached.expires_at > Instant::now() + REFRESH_MARGIN =>
                {
                    return Ok(cached.token.clone());
                }
                Some(Slot::Fetching(flight)) => flight.clone(),
                _ => {
                    let flight = self.start(resource);
                    slots.insert(resource.to_owned(), Slot::Fetching(flight.clone()));
                    flight
                }
            }
        };
        flight.await.map(|cached| cached.token)
    }

    /// A fetch for `resource` that, when done, leaves its result in the slot
    /// (a token) or empties it (an error: the next call tries again).
    fn start(&self, resource: &str) -> Flight {
        let fetcher = Arc::clone(&self.fetcher);
        let slots = Arc::clone(&self.slots);
        let resource = resource.to_owned();
        async move {
            let result = fetcher
                .fetch(&resource)
                .await
                .map(|(token, lifetime)| Cached {
                    token,
                    expires_at: Instant::now() + lifetime,
                });
            let mut slots = lock(&slots);
            match &result {
                Ok(cached) => {
                    slots.insert(resource, Slot::Ready(cached.clone()));
                }
                Err(_) => {
                    slots.remove(&resource);
                }
            }
            result
        }
        .boxed()
        .shared()
    }

    /// After a service answered 401: the first time for a call (`refreshed`
    /// remembers), forgets `token` so the next attempt fetches a fresh one, and
    /// says a retry is worth it; the second time, says it is not.
    pub fn refresh_once(
        &self,
        resource: &str,
        token: &AccessToken,
        refreshed: &AtomicBool,
    ) -> bool {
        if refreshed.swap(true, Ordering::Relaxed) {
            return false;
        }
        let mut slots = lock(&self.slots);
        if matches!(slots.get(resource), Some(Slot::Ready(c)) if c.token.same_as(token)) {
            slots.remove(resource);
        }
        true
    }
}
