//! The ledger: one JSON record per photo in the state container, at
//! `ledger/{photo name}.json`, saying what happened to it.
//!
//! Writes are conditional on the record's ETag, so two invocations racing on
//! one photo cannot both win: the loser gets a conflict, re-reads and stops.
//! A record that cannot be read costs that one photo, never the run.

pub mod index;
mod record;

use bytes::Bytes;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};

use super::PhotoName;
use crate::store::{BlobProperties, ETag, Store, StoreError, WriteMode};
#[cfg(test)]
pub(crate) use record::sample;
pub use record::{
    Problem, Record, Status, TargetState, UserEntry, UserRef, retry_delay, thumbnail_folder,
};

/// Folder of the records inside the state container.
pub const PREFIX: &str = "ledger/";
/// Folder of the per-user entries: which photo is each user's current one.
pub const USERS_PREFIX: &str = "users/";
/// Records whose plain key would be too long live here, under a hash.
const LONG_PREFIX: &str = "ledger/~long/";
/// Longest key segment kept as is: file systems allow 255 bytes per name,
/// and local writes add a temporary suffix.
const MAX_SEGMENT: usize = 200;
/// Longest key kept as is (Azure allows 1,024 characters per blob name).
const MAX_KEY: usize = 1000;

/// A record with the ETag to update it against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The record.
    pub record: Record,
    /// Its blob's ETag in the state container.
    pub etag: ETag,
}

/// A ledger record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt {
    /// Its blob in the state container.
    pub key: String,
    /// The photo it is for, when the key says so.
    pub photo: Option<String>,
    /// Why it cannot be read.
    pub reason: String,
}

/// Every record of the ledger, and those that could not be read.
#[derive(Debug, Default)]
pub struct Scan {
    /// The readable records, each boxed: moving 100,000 of them between
    /// collections then moves pointers, not 500-byte records.
    pub records: Vec<Box<Versioned>>,
    /// The unreadable ones (one report row each; the run goes on).
    pub corrupt: Vec<Corrupt>,
    /// Whether the index missed something (records read one by one, or
    /// entries the ledger no longer has): [`Ledger::save_index`] is due.
    pub index_stale: bool,
    /// How many records were read one by one (not found in the index as listed).
    pub read_individually: usize,
}

/// Reads and writes records.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// The state container.
    store: Store,
}

/// Another writer got there first.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger record of `{0}` changed meanwhile")]
    Conflict(String),
    #[error("the ledger record of `{photo}` is unreadable: {reason}")]
    Corrupt { photo: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Ledger {
    /// A ledger in `store` (the state container).
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Where `photo`'s record lives: `ledger/{photo}.json`, or for a name
    /// too long for that (a file system's 255-byte names, Azure's 1,024),
    /// `ledger/~long/{sha256 of the name}.json` (the record holds the name).
    pub fn key(photo: &PhotoName) -> String {
        let plain = format!("{PREFIX}{}.json", photo.as_str());
        let longest = plain.split('/').map(str::len).max().unwrap_or(0);
        if plain.len() <= MAX_KEY && longest <= MAX_SEGMENT {
            plain
        } else {
            format!(
                "{LONG_PREFIX}{}.json",
                crate::sync::sha256_hex(photo.as_str().as_bytes())
            )
        }
    }

    /// The record of `photo`, if any.
    pub async fn get(&self, photo: &PhotoName) -> Result<Option<Versioned>, LedgerError> {
        self.read(&Self::key(photo)).await
    }

    async fn read(&self, key: &str) -> Result<Option<Versioned>, LedgerError> {
        let blob = match self.store.get(key).await {
            Ok(blob) => blob,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let record = serde_json::from_slice(&blob.bytes).map_err(|e| LedgerError::Corrupt {
            photo: photo_of_key(key).unwrap_or_else(|| key.to_owned()),
            reason: e.to_string(),
        })?;
        let etag = blob.info.etag.ok_or_else(|| LedgerError::Corrupt {
            photo: key.to_owned(),
            reason: "storage gave the record no ETag".to_owned(),
        })?;
        Ok(Some(Versioned { record, etag }))
    }

    /// Every record: one listing of the ledger, then each record from the
    /// [`index`] when the listing shows the version the index holds, else
    /// one small GET (32 at a time). Unreadable records are listed apart
    /// instead of failing the scan. Only a storage failure (listing or
    /// reading) is an error.
    pub async fn scan(&self) -> Result<Scan, LedgerError> {
        let listed: Vec<(String, Option<ETag>)> = self
            .store
            .list_blobs(Some(PREFIX.trim_end_matches('/')))
            .try_filter(|b| futures::future::ready(b.name.ends_with(".json")))
            .map_ok(|b| (b.name, b.etag))
            .try_collect()
            .await?;
        let mut indexed = index::load(&self.store).await?;
        let mut scan = Scan::default();
        let mut to_read = Vec::new();
        for (key, etag) in listed {
            match indexed.remove(&key) {
                Some(v) if etag.as_ref() == Some(&v.etag) => scan.records.push(v),
                _ => to_read.push(key),
            }
        }
        // Entries left over: records deleted since the index was written.
        scan.index_stale = !to_read.is_empty() || !indexed.is_empty();
        scan.read_individually = to_read.len();
        drop(indexed);
        let read: Vec<(String, Result<Option<Versioned>, LedgerError>)> =
            futures::stream::iter(to_read)
                .map(|key| async move {
                    let result = self.read(&key).await;
                    (key, result)
                })
                .buffer_unordered(32)
                .collect()
                .await;
        for (key, result) in read {
            match result {
                Ok(Some(v)) => scan.records.push(Box::new(v)),
                Ok(None) => {}
                Err(LedgerError::Corrupt { reason, .. }) => scan.corrupt.push(Corrupt {
                    photo: photo_of_key(&key),
                    key,
                    reason,
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(scan)
    }

    /// Replaces the [`index`] with `records` (each with the ETag it was read
    /// or written at). A failure costs only reads on the next scan.
    pub async fn save_index<'a>(
        &self,
        records: impl Iterator<Item = &'a Versioned> + Send,
    ) -> Result<(), LedgerError> {
        Ok(index::save(&self.store, records).await?)
    }

    /// Asks for `photo` to be processed again on the next run, whatever its
    /// state; returns whether it had a record.
    pub async fn request_retry(&self, photo: &PhotoName) -> Result<bool, LedgerError> {
        let Some(mut current) = self.get(photo).await? else {
            return Ok(false);
        };
        current.record.status = Status::Retrying;
        current.record.next_attempt = Some(Utc::now());
        current.record.lease_until = None;
        current.record.updated = Utc::now();
        current.record.detail = Some("retry requested by an admin".to_owned());
        self.put(&current.record, Some(&current.etag)).await?;
        Ok(true)
    }

    /// Deletes an unreadable record (so its photo is processed as new).
    pub async fn forget(&self, key: &str) -> Result<(), LedgerError> {
        Ok(self.store.delete(key).await?)
    }

    /// The entry of the user whose photos are filed under `folder`, with its ETag.
    pub async fn user(&self, folder: &str) -> Result<Option<(UserEntry, ETag)>, LedgerError> {
        let key = format!("{USERS_PREFIX}{folder}.json");
        match self.store.get(&key).await {
            Ok(blob) => {
                let entry =
                    serde_json::from_slice(&blob.bytes).map_err(|e| LedgerError::Corrupt {
                        photo: key.clone(),
                        reason: e.to_string(),
                    })?;
                let etag = blob.info.etag.ok_or_else(|| LedgerError::Corrupt {
                    photo: key.clone(),
                    reason: "storage gave the entry no ETag".to_owned(),
                })?;
                Ok(Some((entry, etag)))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the entry of the user filed under `folder` (their current
    /// photo is gone and no other is there).
    pub async fn forget_user(&self, folder: &str) -> Result<(), LedgerError> {
        Ok(self
            .store
            .delete(&format!("{USERS_PREFIX}{folder}.json"))
            .await?)
    }

    /// Writes a user entry conditionally, like [`Ledger::put`].
    pub async fn put_user(
        &self,
        folder: &str,
        entry: &UserEntry,
        expected: Option<&ETag>,
    ) -> Result<(), LedgerError> {
        let key = format!("{USERS_PREFIX}{folder}.json");
        self.write(
            &key,
            serde_json::to_vec_pretty(entry).expect("serialises"),
            expected,
        )
        .await
        .map(|_| ())
    }

    /// Writes `record`: creates it when `expected` is `None`, else replaces the
    /// version with that ETag. Returns the new ETag.
    pub async fn put(&self, record: &Record, expected: Option<&ETag>) -> Result<ETag, LedgerError> {
        let photo = PhotoName::parse(&record.photo).map_err(|e| LedgerError::Corrupt {
            photo: record.photo.clone(),
            reason: e.to_string(),
        })?;
        let json = serde_json::to_vec_pretty(record).expect("records serialise");
        self.write(&Self::key(&photo), json, expected).await
    }

    async fn write(
        &self,
        key: &str,
        json: Vec<u8>,
        expected: Option<&ETag>,
    ) -> Result<ETag, LedgerError> {
        let properties = BlobProperties {
            content_type: Some("application/json".to_owned()),
            ..BlobProperties::default()
        };
        let mode = match expected {
            None => WriteMode::Create,
            Some(etag) => WriteMode::IfMatch(etag.clone()),
        };
        match self
            .store
            .put(key, Bytes::from(json), &properties, mode)
            .await
        {
            Ok(info) => info.etag.ok_or_else(|| LedgerError::Corrupt {
                photo: key.to_owned(),
                reason: "storage gave the written record no ETag".to_owned(),
            }),
            Err(StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }) => {
                Err(LedgerError::Conflict(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The photo a plain key names (`ledger/{photo}.json`); `None` for hashed keys.
fn photo_of_key(key: &str) -> Option<String> {
    if key.starts_with(LONG_PREFIX) {
        return None;
    }
    key.strip_prefix(PREFIX)?
        .strip_suffix(".json")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(photo: &str) -> Record {
        sample(photo, Status::Retrying)
    }

    #[tokio::test]
    async fn records_round_trip_and_racing_writers_conflict() {
        let ledger = Ledger::new(Store::memory());
        let name = PhotoName::parse("hr/alice@contoso.com.jpg").unwrap();
        assert!(ledger.get(&name).await.unwrap().is_none());

        let first = record(name.as_str());
        let etag = ledger.put(&first, None).await.unwrap();
        // A second creator loses.
        assert!(matches!(
            ledger.put(&first, None).await,
            Err(LedgerError::Conflict(_))
        ));
        let read = ledger.get(&name).await.unwrap().unwrap();
        assert_eq!(read.record, first);
        assert_eq!(read.etag, etag);

        let mut synced = first.clone();
        synced.status = Status::Synced;
        let newer = ledger.put(&synced, Some(&etag)).await.unwrap();
        // A writer holding the old version loses.
        assert!(matches!(
            ledger.put(&first, Some(&etag)).await,
            Err(LedgerError::Conflict(_))
        ));
        let read = ledger.get(&name).await.unwrap().unwrap();
        assert_eq!(read.record.status, Status::Synced);
        assert_eq!(read.etag, newer);
    }

    #[tokio::test]
    async fn an_unreadable_record_costs_one_entry_not_the_scan() {
        let store = Store::memory();
        let ledger = Ledger::new(store.clone());
        let good = record("alice@contoso.com.jpg");
        ledger.put(&good, None).await.unwrap();
        store
            .put(
                "ledger/bob@contoso.com.jpg.json",
                Bytes::from_static(b"{not json"),
                &BlobProperties::default(),
                WriteMode::Overwrite,
            )
            .await
            .unwrap();
        let scan = ledger.scan().await.unwrap();
        assert_eq!(scan.records.len(), 1);
        assert_eq!(scan.records[0].record, good);
        assert_eq!(scan.corrupt.len(), 1);
        assert_eq!(
            scan.corrupt[0].photo.as_deref(),
            Some("bob@contoso.com.jpg")
        );
    }

    #[tokio::test]
    async fn a_name_too_long_for_a_file_system_still_gets_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(Store::local(dir.path()).unwrap());
        let long = format!("hr/{}@contoso.com.jpg", "x".repeat(240));
        let name = PhotoName::parse(&long).unwrap();
        assert!(Ledger::key(&name).starts_with("ledger/~long/"));
        ledger.put(&record(&long), None).await.unwrap();
        let read = ledger.get(&name).await.unwrap().expect("found again");
        assert_eq!(read.record.photo, long);
        let scan = ledger.scan().await.unwrap();
        assert_eq!(scan.records.len(), 1);
        assert!(scan.corrupt.is_empty());
    }
}
