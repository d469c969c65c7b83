//! The ledger: one JSON record per photo in the state container, at
//! `ledger/{photo name}.json`, saying what happened to it.
//!
//! Writes are conditional on the record's ETag, so two invocations racing on
//! one photo cannot both win: the loser gets a conflict, re-reads and stops.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PhotoName;
use crate::store::{BlobProperties, Store, StoreError, WriteMode};

/// Folder of the records inside the state container.
pub const PREFIX: &str = "ledger/";
/// Folder of the per-user entries: which photo is each user's current one.
pub const USERS_PREFIX: &str = "users/";

/// Which photo is a user's current one: the most recently modified wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    /// Blob name of the winning photo.
    pub photo: String,
    /// Its last write time.
    pub last_modified: Option<DateTime<Utc>>,
}

impl UserEntry {
    /// Whether this photo beats `other` (newer; on a tie, the larger name, so
    /// every worker decides alike).
    pub fn beats(&self, other: &UserEntry) -> bool {
        (self.last_modified, &self.photo) > (other.last_modified, &other.photo)
    }
}

/// Where a photo stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The profile photo is set from exactly these bytes.
    Synced,
    /// A person must act (the error says what); not retried until the photo changes.
    Failed,
    /// A transient failure; retried by the host and then by the timer.
    Retrying,
    /// Rendered and matched, but nothing was written to Microsoft 365.
    DryRun,
    /// Not a photo (the mapping file, `Thumbs.db`, …), or superseded by a
    /// newer photo of the same user.
    Ignored,
    /// The blob is gone from the photos container.
    Removed,
    /// Someone changed the profile photo; ours was set again (`PHOTOSYNC_ENFORCE`).
    Restored,
}

impl Status {
    /// Whether the profile photo is set from this record's bytes.
    pub fn is_current(self) -> bool {
        matches!(self, Self::Synced | Self::Restored)
    }
}

/// The user a photo was matched with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// Entra object id.
    pub id: String,
    /// Sign-in name; thumbnails are filed under it.
    pub upn: String,
    /// Disabled accounts are synced too, but reports show them.
    pub account_enabled: bool,
}

/// Why a photo is not synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable code (`user-not-found`, `corrupt-image`, …).
    pub code: String,
    /// One line for a person.
    pub message: String,
}

/// One photo's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Blob name in the photos container.
    pub photo: String,
    /// The blob's ETag when it was processed.
    pub etag: Option<String>,
    /// SHA-256 of the bytes processed (hex); decides "unchanged".
    pub sha256: String,
    /// Size of those bytes.
    pub size: u64,
    /// The blob's last write time; the newest photo of a user wins.
    pub last_modified: Option<DateTime<Utc>>,
    /// The matching key used (file name or `mapping.csv` entry); a change re-syncs.
    pub key: String,
    /// The matched user, once known.
    pub user: Option<UserRef>,
    /// Where it stands.
    pub status: Status,
    /// What went wrong, for `failed` and `retrying`.
    pub problem: Option<Problem>,
    /// Anything else worth telling (e.g. "superseded by hr/alice.png").
    pub detail: Option<String>,
    /// Processing attempts for these bytes.
    pub attempts: u32,
    /// First time photosync saw this photo name.
    pub first_seen: DateTime<Utc>,
    /// Last change of this record.
    pub updated: DateTime<Utc>,
    /// When the profile photo was last set from it.
    pub synced_at: Option<DateTime<Utc>>,
    /// While set and in the future, an invocation is working on these bytes;
    /// others stop. A crashed worker's lease simply runs out.
    pub lease_until: Option<DateTime<Utc>>,
    /// For `retrying`: not before this time (exponential backoff, capped).
    #[serde(default)]
    pub next_attempt: Option<DateTime<Utc>>,
    /// Graph's `@odata.mediaEtag` right after our upload (with `PHOTOSYNC_ENFORCE`):
    /// a different one later means someone else changed the photo.
    #[serde(default)]
    pub graph_etag: Option<String>,
    /// SharePoint's copy of the photo, when that target is on: tracked on its
    /// own, so a SharePoint failure is retried without another Graph upload.
    #[serde(default)]
    pub sharepoint: Option<TargetState>,
}

/// The outcome of one additional target (SharePoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    /// `synced`, `retrying` or `failed`.
    pub status: Status,
    /// What went wrong, if anything.
    pub problem: Option<Problem>,
    /// When this target was last written or tried.
    pub updated: DateTime<Utc>,
    /// For `retrying`: not before this time.
    pub next_attempt: Option<DateTime<Utc>>,
}

impl Record {
    /// The profile photo is set but SharePoint still needs these bytes.
    pub fn sharepoint_pending(&self) -> bool {
        self.status.is_current()
            && self
                .sharepoint
                .as_ref()
                .is_some_and(|t| t.status == Status::Retrying)
    }
}

/// Delay before retry number `attempts + 1`: 5 minutes doubling per attempt,
/// capped at 6 hours, so a long outage costs few calls and nothing starves.
pub fn retry_delay(attempts: u32) -> chrono::Duration {
    let minutes = 5i64 << attempts.saturating_sub(1).min(7);
    chrono::Duration::minutes(minutes.min(6 * 60))
}

/// A record with the ETag to update it against.
#[derive(Debug, Clone)]
pub struct Versioned {
    /// The record.
    pub record: Record,
    /// Its blob's ETag in the state container.
    pub etag: String,
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

    fn key(photo: &PhotoName) -> String {
        format!("{PREFIX}{}.json", photo.as_str())
    }

    /// The record of `photo`, if any.
    pub async fn get(&self, photo: &PhotoName) -> Result<Option<Versioned>, LedgerError> {
        let blob = match self.store.get(&Self::key(photo)).await {
            Ok(blob) => blob,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let record = serde_json::from_slice(&blob.bytes).map_err(|e| LedgerError::Corrupt {
            photo: photo.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(Versioned {
            record,
            etag: blob.info.etag.unwrap_or_default(),
        }))
    }

    /// Every record (one small GET each, 32 at a time).
    pub async fn all(&self) -> Result<Vec<Versioned>, LedgerError> {
        use futures::{StreamExt, TryStreamExt};
        let names: Vec<String> = self
            .store
            .list(Some(PREFIX.trim_end_matches('/')))
            .map_ok(|b| b.name)
            .try_collect()
            .await?;
        futures::stream::iter(names)
            .filter_map(|blob| async move {
                let photo = blob.strip_prefix(PREFIX)?.strip_suffix(".json")?;
                PhotoName::parse(photo).ok()
            })
            .map(|name| async move { self.get(&name).await })
            .buffer_unordered(32)
            .try_filter_map(|v| async move { Ok(v) })
            .try_collect()
            .await
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

    /// The entry of the user whose photos are filed under `folder`, with its ETag.
    pub async fn user(&self, folder: &str) -> Result<Option<(UserEntry, String)>, LedgerError> {
        let key = format!("{USERS_PREFIX}{folder}.json");
        match self.store.get(&key).await {
            Ok(blob) => {
                let entry =
                    serde_json::from_slice(&blob.bytes).map_err(|e| LedgerError::Corrupt {
                        photo: key.clone(),
                        reason: e.to_string(),
                    })?;
                Ok(Some((entry, blob.info.etag.unwrap_or_default())))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a user entry conditionally, like [`Ledger::put`].
    pub async fn put_user(
        &self,
        folder: &str,
        entry: &UserEntry,
        expected: Option<&str>,
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
    pub async fn put(
        &self,
        record: &Record,
        expected: Option<&str>,
    ) -> Result<String, LedgerError> {
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
        expected: Option<&str>,
    ) -> Result<String, LedgerError> {
        let properties = BlobProperties {
            content_type: Some("application/json".to_owned()),
            ..BlobProperties::default()
        };
        let mode = match expected {
            None => WriteMode::Create,
            Some(etag) => WriteMode::IfMatch(etag.to_owned()),
        };
        match self
            .store
            .put(key, Bytes::from(json), &properties, mode)
            .await
        {
            Ok(info) => Ok(info.etag.unwrap_or_default()),
            Err(StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }) => {
                Err(LedgerError::Conflict(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A plausible record, for tests.
#[cfg(test)]
pub(crate) fn sample(photo: &str, status: Status) -> Record {
    let now = Utc::now();
    Record {
        photo: photo.to_owned(),
        etag: Some("\"0x1\"".into()),
        sha256: "ab".repeat(32),
        size: 10,
        last_modified: Some(now),
        key: "alice@contoso.com".into(),
        user: None,
        status,
        problem: None,
        detail: None,
        attempts: 1,
        first_seen: now,
        updated: now,
        synced_at: None,
        lease_until: None,
        next_attempt: None,
        graph_etag: None,
        sharepoint: None,
    }
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

    #[test]
    fn statuses_are_written_as_the_documented_words() {
        let words: Vec<String> = [
            Status::Synced,
            Status::Failed,
            Status::Retrying,
            Status::DryRun,
            Status::Ignored,
            Status::Removed,
            Status::Restored,
        ]
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
        assert_eq!(
            words,
            [
                "\"synced\"",
                "\"failed\"",
                "\"retrying\"",
                "\"dry-run\"",
                "\"ignored\"",
                "\"removed\"",
                "\"restored\""
            ]
        );
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let minutes: Vec<i64> = (1..=10).map(|a| retry_delay(a).num_minutes()).collect();
        assert_eq!(minutes, [5, 10, 20, 40, 80, 160, 320, 360, 360, 360]);
    }
}
