//! Creating containers. `object_store` works inside a container but cannot
//! create one, so this signs the single Create Container call itself
//! (Shared Key, as documented for the Blob service REST API).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use url::Url;

use super::{Location, StoreError};

/// Blob service REST version used for the call.
const API_VERSION: &str = "2021-08-06";

/// Creates the container if missing; an existing container is success.
pub(super) async fn ensure(location: &Location) -> Result<(), StoreError> {
    match location {
        Location::Memory => Ok(()),
        Location::Folder(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::Unavailable {
                    name: dir.display().to_string(),
                    source: anyhow::Error::new(e).context("cannot create the folder"),
                })
        }
        Location::Azure {
            endpoint,
            account,
            container,
            key: Some(key),
        } => create(endpoint, account, container, key).await,
        Location::Azure { container, .. } => Err(StoreError::Configuration {
            message: format!(
                "container `{container}` can only be created with an account-key connection; \
                 with a managed identity or SAS the deployment template creates it"
            ),
        }),
    }
}

async fn create(
    endpoint: &Url,
    account: &str,
    container: &str,
    key: &SecretString,
) -> Result<(), StoreError> {
    let unavailable = |source: anyhow::Error| StoreError::Unavailable {
        name: container.to_owned(),
        source,
    };
    let mut url = endpoint.clone();
    url.path_segments_mut()
        .map_err(|()| StoreError::Configuration {
            message: format!("blob endpoint {endpoint} cannot carry a path"),
        })?
        .pop_if_empty()
        .push(container);
    url.set_query(Some("restype=container"));

    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n/{account}{}\nrestype:container",
        url.path()
    );
    let signature = sign(key, &string_to_sign).ok_or_else(|| StoreError::Configuration {
        message: "the account key is not valid base64".to_owned(),
    })?;

    let response = reqwest::Client::new()
        .put(url)
        .header("x-ms-date", date)
        .header("x-ms-version", API_VERSION)
        .header("Content-Length", "0")
        .header("Authorization", format!("SharedKey {account}:{signature}"))
        .send()
        .await
        .map_err(|e| unavailable(anyhow::Error::new(e).context("cannot reach the blob service")))?;

    let status = response.status();
    if status.is_success() || status == reqwest::StatusCode::CONFLICT {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let code = error_code(&body).unwrap_or("no error code");
    let message = format!("creating container `{container}` failed: HTTP {status} ({code})");
    if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::UNAUTHORIZED {
        Err(StoreError::Configuration { message })
    } else {
        Err(unavailable(anyhow::anyhow!(message)))
    }
}

/// HMAC-SHA256 of the string to sign with the decoded account key, base64-encoded.
fn sign(key: &SecretString, string_to_sign: &str) -> Option<String> {
    let key = STANDARD.decode(key.expose_secret()).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(string_to_sign.as_bytes());
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

/// `<Code>ContainerBeingDeleted</Code>` → `ContainerBeingDeleted`.
fn error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(&body[start..end])
}
