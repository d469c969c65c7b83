//! One upload through the page, from arrival to delivery into the photos
//! container (or rejection), stored as JSON in the state container.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::PortalError;
use crate::store::{BlobProperties, ETag, Store, StoreError, WriteMode};

/// Folder of the records in the state container.
const RECORDS: &str = "web/submissions/";
/// Folder of the photos awaiting approval in the state container.
const PENDING: &str = "web/pending/";

/// Where an upload stands on the page's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubmissionState {
    /// Waiting for an approver; the bytes are in the pending area.
    Pending,
    /// An approver refused it; `reason` says why.
    Rejected,
    /// Written into the photos container; the ledger tells the rest.
    Delivered,
}

/// The point the crop should centre on: the pipeline's own type, stored as
/// blob metadata `photosync_focus` (its `Display`, `x,y`).
pub use crate::pipeline::Focus;

/// One upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Random id, unique per upload.
    pub id: String,
    /// Whom the photo is for: the key the flow matches (a UPN by default).
    pub key: String,
    /// Its name in the photos container once delivered: `web/{key}.{ext}`.
    pub photo: String,
    /// Who uploaded it (UPN), for the audit and the approver.
    pub uploaded_by: String,
    /// Their object id, which cannot be renamed.
    pub uploaded_by_id: String,
    /// When it arrived.
    pub uploaded_at: DateTime<Utc>,
    /// The file's name on the uploader's computer (display only, never a path).
    pub file_name: String,
    /// Byte count.
    pub size: u64,
    /// SHA-256 of the bytes, to tell this upload's ledger record from older ones.
    pub sha256: String,
    /// Format the pipeline recognised (`jpeg`, `png`, …).
    pub format: String,
    /// Where the uploader put the focus point, if they moved it.
    pub focus: Option<Focus>,
    /// Where it stands.
    pub state: SubmissionState,
    /// The approver who decided, if any.
    pub decided_by: Option<String>,
    /// When they decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected, for the employee.
    pub reason: Option<String>,
}

impl Submission {
    /// The opaque reference the page holds: `{key}/{id}`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.key, self.id)
    }

    fn record_name(key: &str, id: &str) -> String {
        format!("{RECORDS}{key}/{id}.json")
    }

    /// Where its bytes wait for approval.
    pub fn pending_name(&self) -> String {
        format!("{PENDING}{}/{}.photo", self.key, self.id)
    }
}

/// A reference the page sent back, checked before it names a blob.
pub fn parse_reference(raw: &str) -> Option<(String, String)> {
    let (key, id) = raw.rsplit_once('/')?;
    let id_ok = uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id);
    (id_ok && super::upload::valid_key(key).is_ok()).then(|| (key.to_owned(), id.to_owned()))
}

/// A record with the ETag to update it against.
pub struct Stored {
    /// The record.
    pub submission: Submission,
    /// Its blob's ETag.
    pub etag: ETag,
}

/// Reads one record.
pub async fn get(state: &Store, key: &str, id: &str) -> Result<Option<Stored>, PortalError> {
    match state.get(&Submission::record_name(key, id)).await {
        Ok(blob) => {
            let submission = serde_json::from_slice(&blob.bytes).map_err(|e| {
                PortalError::Unavailable(format!("submission {key}/{id} is unreadable: {e}"))
            })?;
            let etag = blob.info.etag.ok_or_else(|| {
                PortalError::Unavailable(format!("submission {key}/{id} has no ETag"))
            })?;
            Ok(Some(Stored { submission, etag }))
        }
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes a record: creates it when `expected` is `None`, else replaces the
/// version with that ETag (two approvers deciding at once: one wins).
pub async fn put(
    state: &Store,
    submission: &Submission,
    expected: Option<&ETag>,
) -> Result<(), PortalError> {
    let json = serde_json::to_vec_pretty(submission).expect("serialises");
    let properties = BlobProperties {
        content_type: Some("application/json".to_owned()),
        ..BlobProperties::default()
    };
    let mode = expected.map_or(WriteMode::Create, |e| WriteMode::IfMatch(e.clone()));
    let name = Submission::record_name(&submission.key, &submission.id);
    match state.put(&name, Bytes::from(json), &properties, mode).await {
        Ok(_) => Ok(()),
        Err(StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }) => Err(
            PortalError::Conflict("someone else decided about this photo meanwhile".to_owned()),
        ),
        Err(e) => Err(e.into()),
    }
}

/// The records of one person's photos, most recently changed first, at most
/// `limit` (the listing's dates pick them, so only those are read).
pub async fn for_key(state: &Store, key: &str, limit: usize) -> Result<Vec<Stored>, PortalError> {
    let prefix = format!("{RECORDS}{key}");
    let mut listed: Vec<(String, DateTime<Utc>)> = state
        .list_blobs(Some(&prefix))
        .map_ok(|b| (b.name, b.last_modified))
        .try_collect()
        .await?;
    listed.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    let mut found = Vec::new();
    for (name, _) in listed.into_iter().take(limit) {
        let Some(id) = name
            .strip_prefix(&format!("{prefix}/"))
            .and_then(|rest| rest.strip_suffix(".json"))
        else {
            continue;
        };
        if let Some(stored) = get(state, key, id).await? {
            found.push(stored);
        }
    }
    found.sort_by_key(|stored| std::cmp::Reverse(stored.submission.uploaded_at));
    Ok(found)
}

/// Every photo awaiting approval, as `(key, id)` from the pending area's names.
pub async fn pending_references(state: &Store) -> Result<Vec<(String, String)>, PortalError> {
    let names: Vec<String> = state
        .list_blobs(Some(PENDING.trim_end_matches('/')))
        .map_ok(|b| b.name)
        .try_collect()
        .await?;
    Ok(names
        .iter()
        .filter_map(|n| n.strip_prefix(PENDING)?.strip_suffix(".photo"))
        .filter_map(parse_reference)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_is_two_fractions() {
        assert_eq!(Focus::parse("0.5,0.25"), Some(Focus { x: 0.5, y: 0.25 }));
        assert_eq!(Focus::parse(" 1 , 0 ").unwrap().to_string(), "1,0");
        for bad in [
            "",
            "0.5",
            "1.5,0.2",
            "-0.1,0.2",
            "NaN,0.5",
            "a,b",
            "0.1,0.2,0.3",
        ] {
            assert_eq!(Focus::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn references_name_a_key_and_a_uuid_only() {
        let id = "7f0c2b9e-7a51-4d2f-9d55-0b0b4b7a8c11";
        assert_eq!(
            parse_reference(&format!("alice@contoso.com/{id}")),
            Some(("alice@contoso.com".to_owned(), id.to_owned()))
        );
        for bad in [
            format!("../{id}"),
            format!("a/b/{id}"),
            "alice@contoso.com/not-a-uuid".to_owned(),
            format!("/{id}"),
            format!("alice/{}", id.to_uppercase()),
        ] {
            assert_eq!(parse_reference(&bad), None, "{bad:?}");
        }
    }
}
