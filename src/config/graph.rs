//! Settings of the Microsoft Graph target and the app identity.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{Env, SettingsError};
use crate::graph::{GraphSettings, MatchBy};
use crate::identity::Credentials;
use crate::resilience::RetryPolicy;

/// Reads the Graph settings. Credentials: a certificate wins over a secret,
/// and both win over the platform's managed identity; none at all means dry run.
pub(super) fn graph(env: &Env) -> Result<GraphSettings, SettingsError> {
    let defaults = RetryPolicy::default();
    let match_by = match env.get("PHOTOSYNC_MATCH_BY") {
        None => MatchBy::default(),
        Some(raw) => MatchBy::parse(raw).ok_or_else(|| {
            SettingsError::new(
                "PHOTOSYNC_MATCH_BY",
                format!("`{raw}` must be userPrincipalName, mail, employeeId, mailNickname or id"),
            )
        })?,
    };
    let concurrency: usize = env.parse("PHOTOSYNC_GRAPH_CONCURRENCY", 4)?;
    if !(1..=64).contains(&concurrency) {
        return Err(SettingsError::new(
            "PHOTOSYNC_GRAPH_CONCURRENCY",
            format!("`{concurrency}` must be between 1 and 64"),
        ));
    }
    let max_attempts: u32 = env.parse("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", defaults.max_attempts)?;
    if max_attempts == 0 {
        return Err(SettingsError::new(
            "PHOTOSYNC_GRAPH_MAX_ATTEMPTS",
            "must be at least 1",
        ));
    }
    Ok(GraphSettings {
        credentials: credentials(env)?,
        authority_url: url(
            env,
            "PHOTOSYNC_AUTHORITY_URL",
            "https://login.microsoftonline.com",
        )?,
        graph_url: url(env, "PHOTOSYNC_GRAPH_URL", "https://graph.microsoft.com")?,
        match_by,
        concurrency,
        dry_run: env.flag("PHOTOSYNC_DRY_RUN", false)?,
        timeout: Duration::from_secs(env.parse("PHOTOSYNC_GRAPH_TIMEOUT_SECS", 60)?),
        retry: RetryPolicy {
            max_attempts,
            max_wait: Duration::from_secs(
                env.parse("PHOTOSYNC_GRAPH_MAX_WAIT_SECS", defaults.max_wait.as_secs())?,
            ),
            ..defaults
        },
    })
}

fn url(env: &Env, name: &str, default: &str) -> Result<Url, SettingsError> {
    let raw = env.get(name).unwrap_or(default);
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
        .ok_or_else(|| SettingsError::new(name, format!("`{raw}` is not an http(s) URL")))
}

fn credentials(env: &Env) -> Result<Option<Credentials>, SettingsError> {
    let app = |kind: &str| -> Result<(String, String), SettingsError> {
        let required = |name: &str| {
            env.get(name)
                .map(str::to_owned)
                .ok_or_else(|| SettingsError::new(name, format!("is required with {kind}")))
        };
        Ok((
            required("PHOTOSYNC_TENANT_ID")?,
            required("PHOTOSYNC_CLIENT_ID")?,
        ))
    };
    if let Some(path) = env.get("PHOTOSYNC_CLIENT_CERTIFICATE_PATH") {
        let (tenant_id, client_id) = app("PHOTOSYNC_CLIENT_CERTIFICATE_PATH")?;
        return Ok(Some(Credentials::Certificate {
            tenant_id,
            client_id,
            path: PathBuf::from(path),
        }));
    }
    if let Some(secret) = env.get("PHOTOSYNC_CLIENT_SECRET") {
        let (tenant_id, client_id) = app("PHOTOSYNC_CLIENT_SECRET")?;
        return Ok(Some(Credentials::ClientSecret {
            tenant_id,
            client_id,
            secret: SecretString::from(secret),
        }));
    }
    if let (Some(endpoint), Some(header)) =
        (env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER"))
    {
        let endpoint = Url::parse(endpoint).map_err(|_| {
            SettingsError::new("IDENTITY_ENDPOINT", format!("`{endpoint}` is not a URL"))
        })?;
        return Ok(Some(Credentials::ManagedIdentity {
            endpoint,
            header: SecretString::from(header),
            client_id: env.get("PHOTOSYNC_CLIENT_ID").map(str::to_owned),
        }));
    }
    Ok(None)
}
