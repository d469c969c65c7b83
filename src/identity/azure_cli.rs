//! Tokens from the Azure CLI's sign-in, for an admin on a laptop: what
//! azure-identity's `AzureCliCredential` does, `az account get-access-token
//! --output json --resource R [--tenant T]`, run without a shell and
//! without blocking the runtime.
//!
//! The answer's shape is the one the Azure CLI documents
//! (MicrosoftDocs/azure-docs-cli, docs-ref-conceptual/includes/refresh-token.md):
//! `accessToken`, `expiresOn` (local time, `2023-10-31 21:59:10.000000`) and,
//! from Azure CLI 2.54, `expires_on` (POSIX seconds; preferred, since the
//! local time is ambiguous when daylight saving ends), `tokenType`, `tenant`.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::{AccessToken, IdentityError};

/// `kind` in messages.
pub(super) const KIND: &str = "Azure CLI";

/// The CLI can be slow (it may refresh its own token first), never forever.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct CliToken {
    #[serde(rename = "accessToken")]
    access_token: SecretString,
    /// POSIX seconds (Azure CLI ≥ 2.54).
    expires_on: Option<i64>,
    /// Local time, older CLIs.
    #[serde(rename = "expiresOn")]
    expires_on_local: Option<String>,
}

/// A token for `resource` (e.g. `https://storage.azure.com`) and its lifetime.
pub(super) async fn token(
    resource: &str,
    tenant: Option<&str>,
) -> Result<(AccessToken, Duration), IdentityError> {
    let resource = resource.trim_end_matches('/');
    let mut command = tokio::process::Command::new("az");
    command
        .args(["account", "get-access-token", "--output", "json"])
        .args(["--resource", resource])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(tenant) = tenant {
        command.args(["--tenant", tenant]);
    }
    let login = match tenant {
        Some(t) => format!("az login --tenant {t}"),
        None => "az login".to_owned(),
    };
    let output = match tokio::time::timeout(TIMEOUT, command.output()).await {
        Err(_) => {
            return Err(IdentityError::Unavailable {
                kind: KIND,
                detail: format!(
                    "`az account get-access-token` did not answer within {} s",
                    TIMEOUT.as_secs()
                ),
            });
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(IdentityError::Configuration {
                kind: KIND,
                detail: "`az` is not installed or not on PATH: install the Azure CLI \
                         (https://aka.ms/azure-cli) and run `az login`, or configure a \
                         connection string or app credentials instead"
                    .to_owned(),
            });
        }
        Ok(Err(e)) => {
            return Err(IdentityError::Unavailable {
                kind: KIND,
                detail: format!("cannot run `az`: {e}"),
            });
        }
        Ok(Ok(output)) => output,
    };
    if !output.status.success() {
        // The CLI's own message ("Please run 'az login' to setup account.");
        // it never contains a token.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said: String = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message")
            .chars()
            .take(300)
            .collect();
        return Err(IdentityError::InvalidCredentials {
            kind: KIND,
            detail: format!(
                "`az account get-access-token --resource {resource}` failed ({said}); run `{login}` as an account that may use it"
            ),
        });
    }
    let answer: CliToken =
        serde_json::from_slice(&output.stdout).map_err(|e| IdentityError::Unavailable {
            kind: KIND,
            detail: format!("unreadable answer from `az account get-access-token`: {e}"),
        })?;
    let expires = match (answer.expires_on, answer.expires_on_local.as_deref()) {
        (Some(epoch), _) => Some(epoch),
        (None, Some(local)) => local_epoch(local),
        (None, None) => None,
    }
    .ok_or_else(|| IdentityError::Unavailable {
        kind: KIND,
        detail: "the Azure CLI's token has no readable expiry".to_owned(),
    })?;
    let lifetime = expires - chrono::Utc::now().timestamp();
    Ok((
        AccessToken(answer.access_token),
        Duration::from_secs(u64::try_from(lifetime).unwrap_or(0)),
    ))
}

/// `2023-10-31 21:59:10.000000` in the machine's zone, as POSIX seconds.
fn local_epoch(text: &str) -> Option<i64> {
    use chrono::TimeZone as _;
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    // Ambiguous (the hour repeated when daylight saving ends): the earlier
    // reading, so the token is renewed early rather than used expired.
    chrono::Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_expiry_forms_of_the_documented_answer_are_read() {
        // The documented example output (see the module doc).
        let answer: CliToken = serde_json::from_str(
            r#"{"accessToken": "...", "expiresOn": "2023-10-31 21:59:10.000000",
                "expires_on": 1698760750, "subscription": "...", "tenant": "...",
                "tokenType": "Bearer"}"#,
        )
        .unwrap();
        assert_eq!(answer.expires_on, Some(1_698_760_750));
        assert!(local_epoch(answer.expires_on_local.as_deref().unwrap()).is_some());
        assert_eq!(local_epoch("not a time"), None);
    }
}
