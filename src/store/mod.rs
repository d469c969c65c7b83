//! Object storage behind one small API: Azure Blob (real or Azurite), a local
//! folder, or memory — all through `object_store`.
//!
//! The rest of the code names containers and blobs; it never sees
//! `object_store` paths, URLs or credentials. Errors carry stable codes and a
//! transient/permanent classification so callers can decide to retry.

mod azure_list;
mod backend;
mod container;
mod etag;
mod local;
mod local_walk;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMode, PutOptions, PutPayload, UpdateVersion,
};

use crate::config::{Containers, StorageSettings};
use crate::problem::ProblemCode;
pub use backend::Location;
pub use etag::ETag;

/// One container (or, locally, one folder).
#[derive(Clone)]
pub struct Store {
    /// The `object_store` doing the I/O.
    inner: Arc<dyn ObjectStore>,
    /// Present for the local filesystem, which lacks attributes and ETag-conditional
    /// writes natively; it supplies both.
    local: Option<Arc<local::LocalExtras>>,
    /// How this store lists: `object_store` refuses some names Azure and
    /// file systems allow, so Azure and folders are listed by our own code.
    lister: Lister,
    /// Where this is, for messages and container creation.
    location: Location,
}

/// The listing strategy of a [`Store`].
#[derive(Clone)]
enum Lister {
    /// `object_store`'s own listing (memory: every name was validated on write).
    ObjectStore,
    /// The List Blobs REST call.
    Azure(azure_list::AzureLister),
    /// A walk of the folder that stays inside it.
    Folder(Arc<local_walk::Walk>),
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A blob, under whatever name the service allowed.
    Blob(BlobInfo),
    /// Something that is there but cannot be read as a blob (a file name
    /// that is not UTF-8, a link out of the folder, an unreadable folder).
    Unusable {
        /// The name as well as it can be shown (may hold odd characters:
        /// escape it before printing).
        name: String,
        /// Why it cannot be used, for the report.
        reason: String,
    },
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

    /// Three empty containers in process memory (tests, benchmarks).
    pub fn memory() -> Self {
        Self {
            photos: Store::memory(),
            thumbnails: Store::memory(),
            state: Store::memory(),
        }
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
    pub etag: Option<ETag>,
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
    IfMatch(ETag),
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
    #[error("blob `{name}` is {size} bytes, more than this read allows")]
    TooLarge { name: String, size: u64 },
    #[error("blob name `{name}` is not usable: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("storage is not configured correctly: {message}")]
    Configuration { message: String },
    /// The credential behind the storage sign-in (today the Azure CLI's)
    /// gave no token. Its own message says what to do; it is not repeated
    /// here because reports print the whole chain.
    #[error("cannot sign in to storage")]
    SignIn {
        #[source]
        source: crate::identity::IdentityError,
    },
    #[error("storage request for `{name}` failed")]
    Unavailable {
        name: String,
        #[source]
        source: anyhow::Error,
    },
}

impl StoreError {
    /// The problem code for reports and the ledger. `AlreadyExists` and
    /// `PreconditionFailed` are races the callers resolve (they never reach
    /// a report); they count as a passing storage problem.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::NotFound { .. } => ProblemCode::BlobNotFound,
            Self::AccessDenied { .. } => ProblemCode::StorageAccessDenied,
            Self::InvalidName { .. } => ProblemCode::InvalidName,
            Self::Configuration { .. } => ProblemCode::StorageConfiguration,
            Self::TooLarge { .. } => ProblemCode::ImageTooLarge,
            Self::SignIn { source } => source.code(),
            Self::AlreadyExists { .. }
            | Self::PreconditionFailed { .. }
            | Self::Unavailable { .. } => ProblemCode::StorageUnavailable,
        }
    }

    /// Whether trying again later can succeed without a person changing
    /// anything. A lost race (`AlreadyExists`, `PreconditionFailed`) is not:
    /// the caller re-reads and decides; repeating the same write loses again.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            Self::AlreadyExists { .. } | Self::PreconditionFailed { .. }
        ) && self.code().is_transient()
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
            // Our own credential provider's failure, which object_store
            // hands back inside `Generic` (see `backend::AzureCliStorage`).
            object_store::Error::Generic { store, source }
                if source.is::<crate::identity::IdentityError>() =>
            {
                match source.downcast::<crate::identity::IdentityError>() {
                    Ok(identity) => Self::SignIn { source: *identity },
                    Err(source) => Self::Unavailable {
                        name,
                        source: object_store::Error::Generic { store, source }.into(),
                    },
                }
            }
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
        let opened = backend::azure(storage, container)?;
        Ok(Self {
            inner: opened.store.clone(),
            local: None,
            lister: Lister::Azure(azure_list::AzureLister::new(
                opened.store,
                opened.container_url,
                opened.account,
            )),
            location: opened.location,
        })
    }

    /// A folder on disk standing in for a container (local mode's outputs).
    /// Created if missing.
    pub fn local(dir: impl Into<std::path::PathBuf>) -> Result<Self, StoreError> {
        Self::local_excluding(dir, &[])
    }

    /// A folder on disk whose listing leaves out `excluded` folders (an
    /// output folder placed inside the input folder is never read as input).
    pub fn local_excluding(
        dir: impl Into<std::path::PathBuf>,
        excluded: &[std::path::PathBuf],
    ) -> Result<Self, StoreError> {
        let dir = dir.into();
        let (inner, extras) = local::open(&dir)?;
        let root = extras.root().to_path_buf();
        let mut skip: Vec<std::path::PathBuf> = excluded
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        skip.push(root.join(local::SIDECAR_DIR));
        Ok(Self {
            inner,
            local: Some(Arc::new(extras)),
            lister: Lister::Folder(Arc::new(local_walk::Walk {
                root,
                excluded: skip,
            })),
            location: Location::Folder(dir),
        })
    }

    /// An in-memory container, for unit tests of code built on the store.
    pub fn memory() -> Self {
        Self {
            inner: Arc::new(object_store::memory::InMemory::new()),
            local: None,
            lister: Lister::ObjectStore,
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

    /// Reads a whole blob with its properties and version, in one request.
    pub async fn get(&self, name: &str) -> Result<Blob, StoreError> {
        self.get_opts(name, GetOptions::default(), None)
            .await
            .map(|b| b.expect("an unconditional read always answers"))
    }

    /// Like [`Store::get`], refusing (`TooLarge`, before the body is read)
    /// a blob over `max_bytes`.
    pub async fn get_limited(&self, name: &str, max_bytes: u64) -> Result<Blob, StoreError> {
        self.get_opts(name, GetOptions::default(), Some(max_bytes))
            .await
            .map(|b| b.expect("an unconditional read always answers"))
    }

    /// Reads a blob unless it still has version `etag` (`None`: unchanged).
    /// Re-reading a small file that rarely changes then costs no transfer.
    pub async fn get_if_changed(
        &self,
        name: &str,
        etag: &ETag,
        max_bytes: Option<u64>,
    ) -> Result<Option<Blob>, StoreError> {
        let options = GetOptions {
            if_none_match: Some(etag.raw().to_owned()),
            ..GetOptions::default()
        };
        self.get_opts(name, options, max_bytes).await
    }

    async fn get_opts(
        &self,
        name: &str,
        options: GetOptions,
        max_bytes: Option<u64>,
    ) -> Result<Option<Blob>, StoreError> {
        let path = path(name)?;
        let result = match self.inner.get_opts(&path, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotModified { .. }) => return Ok(None),
            Err(e) => return Err(StoreError::from_object_store(name, e)),
        };
        if let Some(max) = max_bytes
            && result.meta.size > max
        {
            return Err(StoreError::TooLarge {
                name: name.to_owned(),
                size: result.meta.size,
            });
        }
        let info = info(&result.meta);
        let mut properties = from_attributes(&result.attributes);
        let bytes = result
            .bytes()
            .await
            .map_err(|e| StoreError::from_object_store(name, e))?;
        if let Some(local) = &self.local {
            properties = local.read_properties(name).await?;
        }
        Ok(Some(Blob {
            info,
            bytes,
            properties,
        }))
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
                    e_tag: Some(etag.raw().to_owned()),
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
            etag: result.e_tag.as_deref().and_then(ETag::new),
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

    /// Lists everything under `prefix` (all when `None`), page by page as
    /// the service returns them, so huge containers never sit in memory at
    /// once. Every name the service allows comes through; entries that
    /// cannot be read at all are [`Listed::Unusable`]. An `Err` item means
    /// the listing itself failed (the service is down, the container is gone).
    pub fn list(&self, prefix: Option<&str>) -> BoxStream<'static, Result<Listed, StoreError>> {
        match &self.lister {
            Lister::Azure(lister) => lister
                .list(prefix.map(str::to_owned))
                .map_ok(Listed::Blob)
                .boxed(),
            Lister::Folder(walk) => {
                let walk = Arc::clone(walk);
                let prefix = prefix.map(str::to_owned);
                futures::stream::once(async move {
                    tokio::task::spawn_blocking(move || walk.run(prefix.as_deref()))
                        .await
                        .map_err(|e| StoreError::Unavailable {
                            name: "(listing)".to_owned(),
                            source: anyhow::Error::new(e).context("the folder walk stopped"),
                        })
                })
                .map_ok(|entries| futures::stream::iter(entries.into_iter().map(Ok)))
                .try_flatten()
                .boxed()
            }
            Lister::ObjectStore => {
                let prefix_path = match prefix.map(path).transpose() {
                    Ok(p) => p,
                    Err(e) => return futures::stream::once(async { Err(e) }).boxed(),
                };
                self.inner
                    .list(prefix_path.as_ref())
                    .map_err(|e| StoreError::from_object_store("(listing)", e))
                    .map_ok(|meta| Listed::Blob(info(&meta)))
                    .boxed()
            }
        }
    }

    /// The blobs under `prefix`, leaving out unusable entries (for listings
    /// of photosync's own state, where such an entry is nobody's photo).
    pub fn list_blobs(
        &self,
        prefix: Option<&str>,
    ) -> BoxStream<'static, Result<BlobInfo, StoreError>> {
        self.list(prefix)
            .try_filter_map(|entry| async move {
                Ok(match entry {
                    Listed::Blob(blob) => Some(blob),
                    Listed::Unusable { name, reason } => {
                        tracing::debug!(name = %name.escape_debug(), reason, "unusable entry left out");
                        None
                    }
                })
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
        etag: meta.e_tag.as_deref().and_then(ETag::new),
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
