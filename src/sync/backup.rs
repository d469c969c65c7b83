//! Backups of profile photos photosync did not set, taken before it replaces
//! them: `backup/{upn}/{timestamp}.jpg` in the state container, with Graph's
//! metadata (media type, size, media ETag) as blob metadata. `photosync
//! restore` puts one back; `photosync backups` lists them. Per user the
//! oldest (the photo from before photosync) and the newest
//! `PHOTOSYNC_BACKUP_KEEP` are kept.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::Utc;
use futures::TryStreamExt;

use crate::graph::GraphClient;
use crate::store::{BlobProperties, Store, StoreError, WriteMode};

/// Folder of the backups inside the state container.
pub const PREFIX: &str = "backup/";
/// In a user's folder: photosync looked before its first upload for them
/// (one HEAD tells, where a listing would cost a list call per upload).
const CHECKED: &str = "checked.json";

/// One stored backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Its blob in the state container.
    pub name: String,
    /// When it was taken (`20261202T031500.123Z`): what `--at` names.
    pub at: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The folder of `upn`'s backups (`backup/{upn}/`, lower case).
pub fn folder(upn: &str) -> String {
    format!("{PREFIX}{}/", upn.to_lowercase())
}

/// `upn`'s backups, oldest first.
pub async fn list(state: &Store, upn: &str) -> Result<Vec<Backup>, StoreError> {
    let inside = folder(upn);
    let mut found: Vec<Backup> = state
        .list_blobs(Some(inside.trim_end_matches('/')))
        .try_filter_map(|blob| {
            let at = blob
                .name
                .strip_prefix(&inside)
                .and_then(|rest| rest.strip_suffix(".jpg"))
                .filter(|at| !at.contains('/'))
                .map(str::to_owned);
            futures::future::ready(Ok(at.map(|at| Backup {
                name: blob.name,
                at,
                size: blob.size,
            })))
        })
        .try_collect()
        .await?;
    // Timestamps of one fixed width sort as text.
    found.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(found)
}

/// Why a backup could not be taken: the photo is then not replaced.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot read the current profile photo to back it up: {0}")]
    Graph(#[from] crate::graph::GraphError),
    #[error("cannot store the backup of the current profile photo: {0}")]
    Store(#[from] StoreError),
}

/// Backs up `user_id`'s current photo, if there is one; `first_only`: only
/// before photosync's first upload for `upn` (noted in `checked.json`,
/// whether or not there was a photo). Returns the backup's timestamp.
pub async fn take(
    graph: &GraphClient,
    state: &Store,
    upn: &str,
    user_id: &str,
    keep: usize,
    first_only: bool,
) -> Result<Option<String>, BackupError> {
    let checked = format!("{}{CHECKED}", folder(upn));
    if first_only {
        match state.head(&checked).await {
            Ok(_) => return Ok(None),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let at = Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let taken = match graph.photo(user_id).await? {
        Some((info, bytes)) => Some(store(state, upn, &at, &info, bytes, keep).await?),
        None => None,
    };
    let note = serde_json::json!({ "checked_at": at, "backup": taken });
    let properties = BlobProperties {
        content_type: Some("application/json".to_owned()),
        ..BlobProperties::default()
    };
    state
        .put(
            &checked,
            Bytes::from(note.to_string()),
            &properties,
            WriteMode::Overwrite,
        )
        .await?;
    Ok(taken)
}

/// Stores one backup and applies the retention; returns its timestamp.
async fn store(
    state: &Store,
    upn: &str,
    at: &str,
    info: &crate::graph::PhotoInfo,
    bytes: Bytes,
    keep: usize,
) -> Result<String, BackupError> {
    let mut metadata = BTreeMap::new();
    metadata.insert("width".to_owned(), info.width.to_string());
    metadata.insert("height".to_owned(), info.height.to_string());
    if let Some(etag) = &info.media_etag {
        // Metadata values are plain ASCII text; the quotes add nothing.
        metadata.insert("media_etag".to_owned(), ascii(etag.trim_matches('"')));
    }
    let properties = BlobProperties {
        content_type: Some(
            info.content_type
                .clone()
                .unwrap_or_else(|| "image/jpeg".to_owned()),
        ),
        cache_control: None,
        metadata,
    };
    let name = format!("{}{at}.jpg", folder(upn));
    state
        .put(&name, bytes, &properties, WriteMode::Create)
        .await?;
    prune(state, upn, keep).await?;
    tracing::info!(upn, at, "backed up the profile photo before replacing it");
    Ok(at.to_owned())
}

/// Keeps the oldest and the newest `keep` of `upn`'s backups.
pub async fn prune(state: &Store, upn: &str, keep: usize) -> Result<usize, StoreError> {
    let all = list(state, upn).await?;
    if all.len() <= keep + 1 {
        return Ok(0);
    }
    let doomed = &all[1..all.len() - keep];
    for backup in doomed {
        state.delete(&backup.name).await?;
    }
    Ok(doomed.len())
}

/// The backup `at` names (the newest when `None`), with its bytes.
pub async fn read(
    state: &Store,
    upn: &str,
    at: Option<&str>,
) -> Result<Option<(Backup, Bytes)>, StoreError> {
    let all = list(state, upn).await?;
    let chosen = match at {
        Some(at) => all.into_iter().find(|b| b.at == at),
        None => all.into_iter().next_back(),
    };
    let Some(backup) = chosen else {
        return Ok(None);
    };
    let blob = state.get(&backup.name).await?;
    Ok(Some((backup, blob.bytes)))
}

fn ascii(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(state: &Store, name: &str) {
        state
            .put(
                name,
                Bytes::from_static(b"jpeg"),
                &BlobProperties::default(),
                WriteMode::Overwrite,
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_oldest_and_the_newest_n_are_kept() {
        let state = Store::memory();
        for i in 0..6 {
            put(
                &state,
                &format!("backup/alice@contoso.com/2026120{i}T000000.000Z.jpg"),
            )
            .await;
        }
        put(
            &state,
            "backup/alice@contoso.com.au/20260101T000000.000Z.jpg",
        )
        .await;
        assert_eq!(prune(&state, "Alice@contoso.com", 2).await.unwrap(), 3);
        let left: Vec<String> = list(&state, "alice@contoso.com")
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.at)
            .collect();
        assert_eq!(
            left,
            [
                "20261200T000000.000Z",
                "20261204T000000.000Z",
                "20261205T000000.000Z"
            ]
        );
        assert_eq!(list(&state, "alice@contoso.com.au").await.unwrap().len(), 1);
        let (newest, _) = read(&state, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(newest.at, "20261205T000000.000Z");
        assert!(
            read(&state, "alice@contoso.com", Some("nope"))
                .await
                .unwrap()
                .is_none()
        );
    }
}
