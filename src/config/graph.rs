//! Settings of the Microsoft Graph target and the app identity.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{Env, SettingsError, bounded};
use crate::graph::{GraphSettings, MatchBy};
use crate::identity::Credentials;
use crate::resilience::RetryPolicy;

/// Reads the Graph settings. Credentials: a certificate wins over a secret,
/// both win over the platform's managed identity, and a tenant id alone
/// (`PHOTOSYNC_TENANT_ID`, no client id) means "as me": the admin's Azure CLI
/// sign-in for that tenant; none at all means dry run.
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
    let concurrency: usize = bounded(env, "PHOTOSYNC_GRAPH_CONCURRENCY", 4, 1..=64)?;
    let max_concurrency: usize = bounded(env, "PHOTOSYNC_GRAPH_MAX_CONCURRENCY", 16, 1..=64)?;
    if concurrency > max_concurrency {
        return Err(SettingsError::new(
            "PHOTOSYNC_GRAPH_CONCURRENCY",
            format!(
                "{concurrency} is above PHOTOSYNC_GRAPH_MAX_CONCURRENCY ({max_concurrency}); \
                 the start cannot exceed the most"
            ),
        ));
    }
    let max_attempts: u32 = bounded(
        env,
        "PHOTOSYNC_GRAPH_MAX_ATTEMPTS",
        defaults.max_attempts,
        1..=20,
    )?;
    let max_wait: u64 = bounded(
        env,
        "PHOTOSYNC_GRAPH_MAX_WAIT_SECS",
        defaults.max_wait.as_secs(),
        0..=3600,
    )?;
    let timeout: u64 = bounded(env, "PHOTOSYNC_GRAPH_TIMEOUT_SECS", 60, 1..=600)?;
    Ok(GraphSettings {
        credentials: credentials(env)?,
        authority_url: service_url(
            env,
            "PHOTOSYNC_AUTHORITY_URL",
            "https://login.microsoftonline.com",
        )?,
        graph_url: service_url(env, "PHOTOSYNC_GRAPH_URL", "https://graph.microsoft.com")?,
        match_by,
        concurrency,
        max_concurrency,
        dry_run: env.flag("PHOTOSYNC_DRY_RUN", false)?,
        timeout: Duration::from_secs(timeout),
        retry: RetryPolicy {
            max_attempts,
            max_wait: Duration::from_secs(max_wait),
            ..defaults
        },
    })
}

/// The URL of a Microsoft service (authority, Graph, a SharePoint host):
/// `https`, or plain `http` only on loopback (the test fakes, a local proxy).
/// Anything else would send secrets and tokens in clear text.
pub(super) fn service_url(env: &Env, name: &str, default: &str) -> Result<Url, SettingsError> {
    let raw = env.get(name).unwrap_or(default);
    parse_service_url(name, raw)
}

/// [`service_url`] for a value already read.
pub(super) fn parse_service_url(name: &str, raw: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(raw)
        .ok()
        .filter(|u| u.host_str().is_some())
        .ok_or_else(|| SettingsError::new(name, format!("`{raw}` is not an https URL")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(SettingsError::new(
            name,
            format!(
                "`{raw}` uses plain http; use https (http is accepted for loopback hosts only)"
            ),
        )),
        other => Err(SettingsError::new(
            name,
            format!("`{raw}`: the `{other}` scheme is not supported; use https"),
        )),
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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
        // The platform's local token service: plain http on a host-local
        // address (App Service documents `http://127.0.0.1:41741/MSI/token/`,
        // Linux workers use link-local `http://169.254.x.x:8081/msi/token`),
        // so only the scheme is checked: never `file:` or anything else.
        let endpoint = Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
            .ok_or_else(|| {
                SettingsError::new(
                    "IDENTITY_ENDPOINT",
                    format!("`{endpoint}` is not an http(s) URL (the platform sets it; unset it to use another credential)"),
                )
            })?;
        return Ok(Some(Credentials::ManagedIdentity {
            endpoint,
            header: SecretString::from(header),
            client_id: env.get("PHOTOSYNC_CLIENT_ID").map(str::to_owned),
        }));
    }
    // A tenant but no app: the admin signs in as themselves (`az login
    // --tenant T`); a client id without a secret or certificate stays dry,
    // as an app registration half configured should not borrow a person's.
    if let (Some(tenant), None) = (
        env.get("PHOTOSYNC_TENANT_ID"),
        env.get("PHOTOSYNC_CLIENT_ID"),
    ) {
        return Ok(Some(Credentials::AzureCli {
            tenant_id: Some(tenant.to_owned()),
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    fn refused(vars: &[(&str, &str)]) -> String {
        Settings::from_vars(vars.iter().map(|(k, v)| (*k, v.to_string())))
            .expect_err("refused")
            .setting
    }

    #[test]
    fn out_of_range_and_unsafe_values_name_their_setting() {
        let cases: &[(&str, &str)] = &[
            ("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "0"),
            ("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "601"),
            ("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "0"),
            ("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "21"),
            ("PHOTOSYNC_GRAPH_MAX_WAIT_SECS", "3601"),
            ("PHOTOSYNC_GRAPH_CONCURRENCY", "65"),
            ("PHOTOSYNC_GRAPH_CONCURRENCY", "17"),
            ("PHOTOSYNC_GRAPH_MAX_CONCURRENCY", "0"),
            ("PHOTOSYNC_GRAPH_MAX_CONCURRENCY", "65"),
            ("PHOTOSYNC_AUTHORITY_URL", "http://login.example"),
            ("PHOTOSYNC_AUTHORITY_URL", "ftp://login.example"),
            ("PHOTOSYNC_GRAPH_URL", "http://graph.example.com"),
            ("PHOTOSYNC_GRAPH_URL", "http://10.0.0.5"),
        ];
        for (name, value) in cases {
            assert_eq!(refused(&[(name, value)]), *name, "{name}={value}");
        }
        let e = refused(&[
            ("IDENTITY_ENDPOINT", "file:///etc/passwd"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert_eq!(e, "IDENTITY_ENDPOINT");
    }

    #[test]
    fn loopback_http_is_accepted() {
        for url in [
            "http://127.0.0.1:8123",
            "http://localhost:9",
            "http://[::1]:4000",
            "https://login.microsoftonline.us",
        ] {
            let s = Settings::from_vars([("PHOTOSYNC_AUTHORITY_URL", url)]).unwrap();
            assert_eq!(s.graph.authority_url.as_str().trim_end_matches('/'), url);
        }
        let s = Settings::from_vars([
            ("IDENTITY_ENDPOINT", "http://169.254.129.3:8081/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ])
        .unwrap();
        assert!(s.graph.credentials.is_some());
    }
}
