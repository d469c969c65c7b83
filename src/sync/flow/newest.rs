//! Several photos of one user: the most recently modified wins, decided
//! through a per-user entry in the state container with conditional writes.

use chrono::{DateTime, Utc};

use super::Flow;
use super::failure::Failure;
use crate::problem::ProblemCode;
use crate::sync::PhotoName;
use crate::sync::ledger::{LedgerError, Status, UserEntry};

impl Flow {
    /// Several photos of one user: the most recently modified wins. Returns the
    /// newer photo when this one lost; otherwise records this one as the
    /// user's current photo and marks the previous one superseded.
    /// `first`: the photo is new to the ledger, so the user most likely has
    /// no entry yet: create it without reading first (one request less per
    /// new photo; an existing entry makes the create a conflict, then read).
    pub(super) async fn newest_wins(
        &self,
        folder: &str,
        name: &PhotoName,
        last_modified: Option<DateTime<Utc>>,
        first: bool,
    ) -> Result<Option<String>, Failure> {
        let ours = UserEntry {
            photo: name.as_str().to_owned(),
            last_modified,
        };
        if first {
            match self.ledger.put_user(folder, &ours, None).await {
                Ok(()) => return Ok(None),
                Err(LedgerError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // A conflict means another photo of the user is being decided: re-read.
        for _ in 0..5 {
            let current = self.ledger.user(folder).await?;
            if let Some((entry, _)) = &current {
                if *entry == ours {
                    return Ok(None);
                }
                if entry.photo != ours.photo && entry.beats(&ours) {
                    return Ok(Some(entry.photo.clone()));
                }
            }
            let expected = current.as_ref().map(|(_, etag)| etag);
            match self.ledger.put_user(folder, &ours, expected).await {
                Ok(()) => {
                    if let Some((previous, _)) = current
                        && previous.photo != ours.photo
                    {
                        self.mark_superseded(&previous.photo, name).await;
                    }
                    return Ok(None);
                }
                Err(LedgerError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::new(
            ProblemCode::StorageUnavailable,
            format!("the entry of {folder} kept changing"),
        ))
    }

    /// Best effort: the older photo's record says it no longer counts.
    async fn mark_superseded(&self, older: &str, newer: &PhotoName) {
        let Ok(older_name) = PhotoName::parse(older) else {
            return;
        };
        let Ok(Some(mut current)) = self.ledger.get(&older_name).await else {
            return;
        };
        current.record.status = Status::Superseded;
        current.record.problem = None;
        current.record.detail = Some(format!(
            "superseded by {newer}, a newer photo of the same user"
        ));
        current.record.updated = Utc::now();
        if let Err(e) = self.ledger.put(&current.record, Some(&current.etag)).await {
            tracing::warn!(photo = older, "cannot mark the photo superseded: {e}");
        }
    }
}
