//! Builds the `object_store` for a configured Azure storage account.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::StoreError;
use crate::config::{BlobAuth, StorageKind, StorageSettings};

/// Where a [`super::Store`] keeps its blobs. Display never shows credentials.
#[derive(Clone)]
pub enum Location {
    /// An Azure Blob container (or Azurite).
    Azure {
        /// Blob service base URL.
        endpoint: Url,
        /// Storage account name.
        account: String,
        /// Container name.
        container: String,
        /// Account key when the connection has one: container creation signs with it.
        key: Option<SecretString>,
    },
    /// A folder on disk.
    Folder(PathBuf),
    /// Process memory (tests).
    Memory,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Azure {
                endpoint,
                container,
                ..
            } => write!(f, "container `{container}` at {endpoint}"),
            Self::Folder(dir) => write!(f, "folder {}", dir.display()),
            Self::Memory => f.write_str("memory"),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An opened Azure container.
pub(super) struct Opened {
    /// The `object_store` client.
    pub store: Arc<MicrosoftAzure>,
    /// The container's URL, for our own REST calls (listing).
    pub container_url: Url,
    /// Storage account name.
    pub account: String,
    /// Where it is, for messages.
    pub location: Location,
}

/// Opens `container` on the account `storage` describes.
pub(super) fn azure(storage: &StorageSettings, container: &str) -> Result<Opened, StoreError> {
    let builder = MicrosoftAzureBuilder::new().with_container_name(container);
    let (builder, endpoint, account, key) = match &storage.kind {
        StorageKind::ConnectionString(connection) => {
            let endpoint = connection.blob_endpoint.clone();
            let builder = builder
                .with_account(&connection.account)
                .with_endpoint(endpoint.as_str().trim_end_matches('/').to_owned())
                .with_allow_http(endpoint.scheme() == "http");
            let (builder, key) = match &connection.auth {
                BlobAuth::AccountKey(key) => (
                    builder.with_access_key(key.expose_secret()),
                    Some(key.clone()),
                ),
                BlobAuth::Sas(sas) => (
                    builder.with_sas_authorization(sas_pairs(sas.expose_secret())),
                    None,
                ),
            };
            (builder, endpoint, connection.account.clone(), key)
        }
        StorageKind::ManagedIdentity {
            blob_service_uri,
            account,
            client_id,
        } => {
            let mut builder = builder
                .with_account(account)
                .with_endpoint(blob_service_uri.as_str().trim_end_matches('/').to_owned())
                .with_credential_type("managed_identity");
            // App Service / Functions expose their identity endpoint here; without it
            // object_store falls back to the VM metadata endpoint.
            if let Ok(endpoint) = std::env::var("IDENTITY_ENDPOINT") {
                builder = builder.with_msi_endpoint(endpoint);
            }
            if let Some(id) = client_id {
                builder = builder.with_client_id(id);
            }
            (builder, blob_service_uri.clone(), account.clone(), None)
        }
        StorageKind::AzureCli {
            blob_service_uri,
            account,
        } => {
            // Plain http carries the token in clear: loopback only (a local
            // emulator or proxy), never across a network.
            let loopback = match blob_service_uri.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            let builder = builder
                .with_account(account)
                .with_endpoint(blob_service_uri.as_str().trim_end_matches('/').to_owned())
                .with_allow_http(blob_service_uri.scheme() == "http" && loopback)
                .with_credentials(Arc::new(AzureCliStorage::new()));
            (builder, blob_service_uri.clone(), account.clone(), None)
        }
        StorageKind::Unconfigured => {
            return Err(StoreError::Configuration {
                message: StorageSettings::unconfigured_help().to_owned(),
            });
        }
    };
    let store = builder.build().map_err(|e| StoreError::Configuration {
        message: format!(
            "cannot open container `{container}` from setting {}: {e}",
            storage.source
        ),
    })?;
    let mut container_url = endpoint.clone();
    container_url
        .path_segments_mut()
        .map_err(|()| StoreError::Configuration {
            message: format!("blob endpoint {endpoint} cannot carry a path"),
        })?
        .pop_if_empty()
        .push(container);
    Ok(Opened {
        store: Arc::new(store),
        container_url,
        account: account.clone(),
        location: Location::Azure {
            endpoint,
            account,
            container: container.to_owned(),
            key,
        },
    })
}

/// Storage tokens from the admin's Azure CLI sign-in, through the same
/// cached, single-flight provider as every other token (renewed before
/// expiry, the CLI run without blocking the runtime). `object_store`'s own
/// Azure CLI credential runs `az` synchronously on the runtime's thread.
#[derive(Debug)]
struct AzureCliStorage {
    tokens: crate::identity::TokenProvider,
}

/// The resource storage tokens are for
/// (learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory).
const STORAGE_RESOURCE: &str = "https://storage.azure.com";

impl AzureCliStorage {
    fn new() -> Self {
        Self {
            tokens: crate::identity::TokenProvider::azure_cli(None),
        }
    }
}

#[async_trait::async_trait]
impl object_store::CredentialProvider for AzureCliStorage {
    type Credential = object_store::azure::AzureCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<Self::Credential>> {
        let token = self.tokens.token(STORAGE_RESOURCE).await.map_err(|e| {
            object_store::Error::Generic {
                store: "MicrosoftAzure",
                source: Box::new(e),
            }
        })?;
        Ok(Arc::new(object_store::azure::AzureCredential::BearerToken(
            token.expose().to_owned(),
        )))
    }
}

/// `sv=…&sig=…` → pairs, percent-decoded as object_store expects.
fn sas_pairs(sas: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(sas.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
