//! Object storage behind one small API: Azure Blob (real or Azurite), a local
//! folder, or memory — all through `object_store`.
//!
//! The rest of the code names containers and blobs; it never sees
//! `object_store` paths, URLs or credentials. Errors carry stable codes and a
//! transient/permanent classification so callers can decide to retry.

mod backend;
mod container;
mod local;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload, UpdateVersion,
};

use crate::config::{Containers, StorageSettings};
pub use backend::Location;

/// One container (or, locally, one folder).
#[derive(Clone)]
pub struct Store {
    /// The `object_store` doing the I/O.
    inner: Arc<dyn ObjectStore>,
    /// Present for the local filesystem, which lacks attributes and ETag-conditional
    /// writes natively; it supplies both.
    local: Option<Arc<local::LocalExtras>>,
    /// Where this is, for messages and container creation.
    location: Location,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.location)
    }
}

/// The three containers the product works with.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Photos people drop; read-only for photosync.
    pub photos: Store,
    /// Square JPEG thumbnails for other apps.
    pub thumbnails: Store,
    /// Ledger and reports.
    pub state: Store,
}

impl Stores {
    /// Opens the three configured containers on the configured storage account.
    pub fn open(storage: &StorageSettings, containers: &Containers) -> Result<Self, StoreError> {
        Ok(Self {
            photos: Store::open(storage, &containers.photos)?,
            thumbnails: Store::open(storage, &containers.thumbnails)?,
            state: Store::open(storage, &containers.state)?,
        })
    }

    /// Creates any missing container (development and first runs; in Azure the
    /// deployment template creates them).
    pub async fn ensure_containers(&self) -> Result<(), StoreError> {
        for store in [&self.photos, &self.thumbnails, &self.state] {
            store.ensure_container().await?;
        }
        Ok(())
    }
}

/// A blob's identity and version, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Name inside the container, `/`-separated virtual folders included.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Version tag; changes on every write (content or metadata).
    pub etag: Option<String>,
    /// Last write time.
    pub last_modified: DateTime<Utc>,
}

/// A blob with its content and properties.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Identity and version.
    pub info: BlobInfo,
    /// The content.
    pub bytes: Bytes,
    /// Content type and user metadata stored with the blob.
    pub properties: BlobProperties,
}

/// What is stored alongside a blob's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlobProperties {
    /// `Content-Type`, served to browsers and apps reading thumbnails.
    pub content_type: Option<String>,
    /// `Cache-Control`, so CDNs and browsers may cache thumbnails.
    pub cache_control: Option<String>,
    /// User metadata (`x-ms-meta-*`); names are lower-case ASCII identifiers.
    pub metadata: BTreeMap<String, String>,
}

/// How a write relates to what is already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace whatever is there.
    Overwrite,
    /// Only if nothing exists yet (fails with `already-exists`).
    Create,
    /// Only if the blob still has this ETag (fails with `precondition-failed`).
    IfMatch(String),
}

/// A storage failure with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob `{name}` does not exist")]
    NotFound { name: String },
    #[error("blob `{name}` already exists")]
    AlreadyExists { name: String },
    #[error("blob `{name}` was changed by someone else (ETag mismatch)")]
    PreconditionFailed { name: String },
    #[error("storage refused access to `{name}`: check the identity's role on the storage account")]
    AccessDenied {
        name: String,
        #[source]
        source: object_store::Error,
    },
    #[error("blob name `{name}` is not usable: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("storage is not configured correctly: {message}")]
    Configuration { message: String },
    #[error("storage request for `{name}` failed")]
    Unavailable {
        name: String,
        #[source]
        source: anyhow::Error,
    },
}

impl StoreError {
    /// Stable machine-readable code, used in reports and the ledger.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "blob-not-found",
            Self::AlreadyExists { .. } => "already-exists",
            Self::PreconditionFailed { .. } => "precondition-failed",
            Self::AccessDenied { .. } => "storage-access-denied",
            Self::InvalidName { .. } => "invalid-name",
            Self::Configuration { .. } => "storage-configuration",
            Self::Unavailable { .. } => "storage-unavailable",
        }
    }

    /// Whether trying again later can succeed without a person changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    fn from_object_store(name: &str, error: object_store::Error) -> Self {
        let name = name.to_owned();
        match error {
            object_store::Error::NotFound { .. } => Self::NotFound { name },
            object_store::Error::AlreadyExists { .. } => Self::AlreadyExists { name },
            object_store::Error::Precondition { .. } => Self::PreconditionFailed { name },
            e @ (object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }) => {
                Self::AccessDenied { name, source: e }
            }
            object_store::Error::InvalidPath { source } => Self::InvalidName {
                name,
                reason: source.to_string(),
            },
            other => Self::Unavailable {
                name,
                source: other.into(),
            },
        }
    }
}

impl Store {
    /// Opens `container` on the configured storage account.
    pub fn open(storage: &StorageSettings, container: &str) -> Result<Self, StoreError> {
        let (inner, location) = backend::azure(storage, container)?;
        Ok(Self {
            inner,
            local: None,
            location,
        })
    }

    /// A folder on disk standing in for a container (local mode). Created if missing.
    pub fn local(dir: impl Into<std::path::PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let (inner, extras) = local::open(&dir)?;
        Ok(Self {
            inner,
            local: Some(Arc::new(extras)),
            location: Location::Folder(dir),
        })
    }

    /// An in-memory container, for unit tests of code built on the store.
    pub fn memory() -> Self {
        Self {
            inner: Arc::new(object_store::memory::InMemory::new()),
            local: None,
            location: Location::Memory,
        }
    }

    /// Where this container is (no credentials).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Creates the container if it does not exist yet.
    pub async fn ensure_container(&self) -> Result<(), StoreError> {
        container::ensure(&self.location).await
    }

    /// Reads a whole blob with its properties.
    pub async fn get(&self, name: &str) -> Result<Blob, StoreError> {
        let path = path(name)?;
        let result = self
            .inner
            .get(&path)
            .await
            .map_err(|e| StoreError::from_object_store(name, e))?;
        let info = info(&result.meta);
        let mut properties = from_attributes(&result.attributes);
        let bytes = result
            .bytes()
            .await
            .map_err(|e| StoreError::from_object_store(name, e))?;
        if let Some(local) = &self.local {
            properties = local.read_properties(name).await?;
        }
        Ok(Blob {
            info,
            bytes,
            properties,
        })
    }

    /// Reads a blob's identity and version without its content.
    pub async fn head(&self, name: &str) -> Result<BlobInfo, StoreError> {
        let meta = self
            .inner
            .head(&path(name)?)
            .await
            .map_err(|e| StoreError::from_object_store(name, e))?;
        Ok(info(&meta))
    }

    /// Writes a blob; returns its new identity: the new ETag and size as the
    /// service reported them, and the local time of the write (no extra
    /// round trip to read the service's exact timestamp).
    pub async fn put(
        &self,
        name: &str,
        bytes: Bytes,
        properties: &BlobProperties,
        mode: WriteMode,
    ) -> Result<BlobInfo, StoreError> {
        let path = path(name)?;
        if let Some(local) = &self.local {
            return local
                .put(&self.inner, name, &path, bytes, properties, mode)
                .await;
        }
        let options = PutOptions {
            mode: match mode {
                WriteMode::Overwrite => PutMode::Overwrite,
                WriteMode::Create => PutMode::Create,
                WriteMode::IfMatch(etag) => PutMode::Update(UpdateVersion {
                    e_tag: Some(etag),
                    version: None,
                }),
            },
            attributes: to_attributes(properties),
            ..Default::default()
        };
        let size = bytes.len() as u64;
        let result = self
            .inner
            .put_opts(&path, PutPayload::from_bytes(bytes), options)
            .await
            .map_err(|e| StoreError::from_object_store(name, e))?;
        Ok(BlobInfo {
            name: name.to_owned(),
            size,
            etag: result.e_tag,
            last_modified: Utc::now(),
        })
    }

    /// Deletes a blob; deleting what is not there is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), StoreError> {
        match self.inner.delete(&path(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(StoreError::from_object_store(name, e)),
        }
        if let Some(local) = &self.local {
            local.delete_properties(name).await?;
        }
        Ok(())
    }

    /// Lists blobs under `prefix` (all when `None`), page by page as the service
    /// returns them, so huge containers never sit in memory at once.
    pub fn list(&self, prefix: Option<&str>) -> BoxStream<'static, Result<BlobInfo, StoreError>> {
        let prefix_path = match prefix.map(path).transpose() {
            Ok(p) => p,
            Err(e) => return futures::stream::once(async { Err(e) }).boxed(),
        };
        let hide_sidecars = self.local.is_some();
        self.inner
            .list(prefix_path.as_ref())
            .map_err(|e| StoreError::from_object_store("(listing)", e))
            .map_ok(|meta| info(&meta))
            .try_filter(move |blob| {
                futures::future::ready(!(hide_sidecars && local::is_sidecar(&blob.name)))
            })
            .boxed()
    }
}

/// Turns a blob name into an `object_store` path, refusing names that would be
/// reinterpreted (empty segments, `.`/`..`).
fn path(name: &str) -> Result<Path, StoreError> {
    Path::parse(name).map_err(|e| StoreError::InvalidName {
        name: name.to_owned(),
        reason: e.to_string(),
    })
}

fn info(meta: &ObjectMeta) -> BlobInfo {
    BlobInfo {
        name: meta.location.to_string(),
        size: meta.size,
        etag: meta.e_tag.clone(),
        last_modified: meta.last_modified,
    }
}

fn to_attributes(properties: &BlobProperties) -> Attributes {
    let mut attributes = Attributes::new();
    if let Some(ct) = &properties.content_type {
        attributes.insert(Attribute::ContentType, AttributeValue::from(ct.clone()));
    }
    if let Some(cc) = &properties.cache_control {
        attributes.insert(Attribute::CacheControl, AttributeValue::from(cc.clone()));
    }
    for (key, value) in &properties.metadata {
        attributes.insert(
            Attribute::Metadata(key.clone().into()),
            AttributeValue::from(value.clone()),
        );
    }
    attributes
}

fn from_attributes(attributes: &Attributes) -> BlobProperties {
    let mut properties = BlobProperties::default();
    for (attribute, value) in attributes {
        let value = value.as_ref().to_owned();
        match attribute {
            Attribute::ContentType => properties.content_type = Some(value),
            Attribute::CacheControl => properties.cache_control = Some(value),
            Attribute::Metadata(key) => {
                properties.metadata.insert(key.to_string(), value);
            }
            _ => {}
        }
    }
    properties
}
