//! Approval of self-service photos: the approver sees what waits, looks at
//! it, and approves (the photo goes into the photos container and syncs) or
//! rejects with a reason the employee reads.

use bytes::Bytes;
use chrono::Utc;

use super::audit::{self, Entry};
use super::status::StatusRow;
use super::submission::{self, Stored, SubmissionState};
use super::{APPROVER_ROLE, Actor, Portal, PortalError};
use crate::store::StoreError;

/// Longest rejection reason kept.
const MAX_REASON: usize = 500;
/// At most this many pending photos are listed at once.
const LIST_LIMIT: usize = 200;

/// A pending photo's bytes, for the approver's eyes.
#[derive(Debug, Clone)]
pub struct PendingPhoto {
    /// The file.
    pub bytes: Bytes,
    /// Its MIME type, from the format the pipeline recognised.
    pub content_type: String,
}

impl Portal {
    fn approver(&self, actor: &Actor) -> Result<(), PortalError> {
        if actor.roles.approver {
            Ok(())
        } else {
            Err(PortalError::Forbidden(format!(
                "approving photos needs the {APPROVER_ROLE} role"
            )))
        }
    }

    async fn pending_submission(&self, reference: &str) -> Result<Stored, PortalError> {
        let not_found =
            || PortalError::NotFound(format!("no photo `{reference}` waits for approval"));
        let (key, id) = submission::parse_reference(reference).ok_or_else(not_found)?;
        submission::get(&self.stores.state, &key, &id)
            .await?
            .filter(|s| s.submission.state == SubmissionState::Pending)
            .ok_or_else(not_found)
    }

    /// Every photo waiting for approval, oldest first.
    pub async fn pending(&self, actor: &Actor) -> Result<Vec<StatusRow>, PortalError> {
        self.approver(actor)?;
        let mut rows = Vec::new();
        for (key, id) in submission::pending_references(&self.stores.state).await? {
            if let Some(stored) = submission::get(&self.stores.state, &key, &id).await?
                && stored.submission.state == SubmissionState::Pending
            {
                rows.push(super::status::row(&stored.submission, None));
            }
            if rows.len() >= LIST_LIMIT {
                break;
            }
        }
        rows.sort_by(|a, b| a.uploaded_at.cmp(&b.uploaded_at));
        Ok(rows)
    }

    /// The bytes of a pending photo.
    pub async fn pending_photo(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> Result<PendingPhoto, PortalError> {
        self.approver(actor)?;
        let stored = self.pending_submission(reference).await?;
        let blob = match self
            .stores
            .state
            .get(&stored.submission.pending_name())
            .await
        {
            Ok(blob) => blob,
            Err(StoreError::NotFound { .. }) => {
                return Err(PortalError::NotFound(format!(
                    "the photo of `{reference}` is gone"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(PendingPhoto {
            bytes: blob.bytes,
            content_type: blob
                .properties
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        })
    }

    /// Approves: the photo goes into the photos container and syncs.
    pub async fn approve(&self, actor: &Actor, reference: &str) -> Result<StatusRow, PortalError> {
        self.approver(actor)?;
        let stored = self.pending_submission(reference).await?;
        if stored.submission.uploaded_by_id == actor.id {
            return Err(PortalError::Forbidden(
                "you cannot approve your own photo: another approver must".to_owned(),
            ));
        }
        let photo = self.pending_photo(actor, reference).await?;
        // Claim the decision first: of two approvers at once, one wins.
        let mut decided = stored.submission.clone();
        decided.state = SubmissionState::Delivered;
        decided.decided_by = Some(actor.upn.clone());
        decided.decided_at = Some(Utc::now());
        submission::put(&self.stores.state, &decided, Some(&stored.etag)).await?;
        if let Err(e) = self.deliver(&decided, photo.bytes).await {
            // Put it back so it can be approved again.
            if let Some(now) =
                submission::get(&self.stores.state, &decided.key, &decided.id).await?
            {
                let _ =
                    submission::put(&self.stores.state, &stored.submission, Some(&now.etag)).await;
            }
            return Err(e);
        }
        self.stores
            .state
            .delete(&stored.submission.pending_name())
            .await?;
        let mut entry = Entry::new("approved", actor, &decided.key);
        entry.photo = Some(&decided.photo);
        entry.submission = Some(&decided.id);
        let by = format!("uploaded by {}", decided.uploaded_by);
        entry.detail = Some(&by);
        audit::record(&self.stores.state, &entry).await;
        Ok(super::status::row(&decided, None))
    }

    /// Rejects with a reason the employee will read.
    pub async fn reject(
        &self,
        actor: &Actor,
        reference: &str,
        reason: &str,
    ) -> Result<StatusRow, PortalError> {
        self.approver(actor)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(PortalError::Invalid {
                code: "invalid-reason",
                message: format!("say why, in 1 to {MAX_REASON} characters: the employee reads it"),
            });
        }
        let stored = self.pending_submission(reference).await?;
        let mut decided = stored.submission.clone();
        decided.state = SubmissionState::Rejected;
        decided.reason = Some(reason.to_owned());
        decided.decided_by = Some(actor.upn.clone());
        decided.decided_at = Some(Utc::now());
        submission::put(&self.stores.state, &decided, Some(&stored.etag)).await?;
        self.stores
            .state
            .delete(&stored.submission.pending_name())
            .await?;
        let mut entry = Entry::new("rejected", actor, &decided.key);
        entry.submission = Some(&decided.id);
        entry.detail = Some(reason);
        audit::record(&self.stores.state, &entry).await;
        Ok(super::status::row(&decided, None))
    }
}
