//! What the local filesystem lacks natively: blob properties and
//! ETag-conditional writes.
//!
//! Properties live in a hidden sidecar tree (`.photosync-properties/`) next to
//! the files, so thumbnails stay plain JPEGs a person can open. Conditional
//! writes are serialised by a lock: local mode is one process, so a lock in the
//! process is enough to make check-then-write atomic.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::sync::Mutex;

use super::{BlobInfo, BlobProperties, StoreError, WriteMode};

/// Folder (relative to the store's root) holding property sidecars.
pub(super) const SIDECAR_DIR: &str = ".photosync-properties";

/// Local-filesystem additions to a [`super::Store`].
pub(super) struct LocalExtras {
    /// The store's root folder.
    root: PathBuf,
    /// Makes "compare ETag, then write" atomic within the process.
    write_lock: Mutex<()>,
}

/// Opens (and creates) `dir` as a store.
pub(super) fn open(dir: &FsPath) -> Result<(Arc<dyn ObjectStore>, LocalExtras), StoreError> {
    let failed = |source: anyhow::Error| StoreError::Unavailable {
        name: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| failed(anyhow::Error::new(e).context("cannot create the folder")))?;
    let root = dir
        .canonicalize()
        .map_err(|e| failed(anyhow::Error::new(e).context("cannot resolve the folder")))?;
    let fs = LocalFileSystem::new_with_prefix(&root)
        .map_err(|e| failed(anyhow::Error::new(e).context("cannot open the folder")))?;
    Ok((
        Arc::new(fs),
        LocalExtras {
            root,
            write_lock: Mutex::new(()),
        },
    ))
}

impl LocalExtras {
    /// The store's root folder (canonical).
    pub(super) fn root(&self) -> &FsPath {
        &self.root
    }

    fn sidecar(&self, name: &str) -> PathBuf {
        self.root.join(SIDECAR_DIR).join(format!("{name}.json"))
    }

    pub(super) async fn put(
        &self,
        fs: &Arc<dyn ObjectStore>,
        name: &str,
        path: &Path,
        bytes: Bytes,
        properties: &BlobProperties,
        mode: WriteMode,
    ) -> Result<BlobInfo, StoreError> {
        let map = |e| StoreError::from_object_store(name, e);
        let _guard = self.write_lock.lock().await;
        let put_mode = match mode {
            WriteMode::Overwrite => PutMode::Overwrite,
            WriteMode::Create => PutMode::Create,
            WriteMode::IfMatch(expected) => {
                let current = fs.head(path).await.map_err(map)?;
                if current.e_tag.as_deref().and_then(super::ETag::new) != Some(expected) {
                    return Err(StoreError::PreconditionFailed {
                        name: name.to_owned(),
                    });
                }
                PutMode::Overwrite
            }
        };
        let options = PutOptions {
            mode: put_mode,
            ..Default::default()
        };
        fs.put_opts(path, PutPayload::from_bytes(bytes), options)
            .await
            .map_err(map)?;
        self.write_properties(name, properties).await?;
        Ok(super::info(&fs.head(path).await.map_err(map)?))
    }

    pub(super) async fn read_properties(&self, name: &str) -> Result<BlobProperties, StoreError> {
        match tokio::fs::read(self.sidecar(name)).await {
            Ok(json) => serde_json::from_slice(&json).map_err(|e| self.failed(name, e.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BlobProperties::default()),
            Err(e) => Err(self.failed(name, e.into())),
        }
    }

    async fn write_properties(
        &self,
        name: &str,
        properties: &BlobProperties,
    ) -> Result<(), StoreError> {
        if *properties == BlobProperties::default() {
            return self.delete_properties(name).await;
        }
        let sidecar = self.sidecar(name);
        if let Some(parent) = sidecar.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| self.failed(name, e.into()))?;
        }
        let json = serde_json::to_vec(properties).map_err(|e| self.failed(name, e.into()))?;
        tokio::fs::write(&sidecar, json)
            .await
            .map_err(|e| self.failed(name, e.into()))
    }

    pub(super) async fn delete_properties(&self, name: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.sidecar(name)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.failed(name, e.into())),
        }
    }

    fn failed(&self, name: &str, source: anyhow::Error) -> StoreError {
        StoreError::Unavailable {
            name: name.to_owned(),
            source: source.context("cannot access the properties sidecar"),
        }
    }
}
