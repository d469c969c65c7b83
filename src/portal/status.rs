//! What the page shows per photo: uploaded → processing → synced / failed /
//! pending approval / rejected, from the submission and the ledger's record.

use chrono::Utc;
use serde::Serialize;

use super::submission::{Stored, Submission, SubmissionState};
use super::{Actor, Portal, PortalError};
use crate::sync::PhotoName;
use crate::sync::ledger::{Record, Status};
use crate::sync::reconcile::report::advice;

/// At most this many of a person's own uploads are shown.
const OWN_LIMIT: usize = 50;
/// At most this many references per status request (an uploader's batch).
pub const MAX_REFERENCES: usize = 200;

/// One photo's line on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// Opaque reference to ask about it again.
    pub reference: String,
    /// Whom it is for.
    pub key: String,
    /// Its name in the photos container.
    pub photo: String,
    /// The file name it was uploaded as.
    pub file_name: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When (RFC 3339).
    pub uploaded_at: String,
    /// `pending-approval`, `rejected`, `uploaded`, `processing`, `retrying`,
    /// `synced`, `failed`, `dry-run`, `ignored`, `removed`.
    pub state: &'static str,
    /// Whether the page should keep polling it.
    pub settled: bool,
    /// Problem code, when there is one.
    pub code: Option<String>,
    /// What happened, in a sentence (problem, detail or rejection reason).
    pub message: Option<String>,
    /// What to do about the problem (the report's advice).
    pub advice: Option<String>,
}

/// Where a delivered photo stands according to its ledger record; `None`
/// record, or one for other bytes, means the flow has not taken it up yet.
fn from_ledger(submission: &Submission, record: Option<&Record>) -> (&'static str, bool) {
    let Some(record) = record.filter(|r| r.sha256 == submission.sha256) else {
        return ("uploaded", false);
    };
    if record.is_leased(Utc::now()) {
        return ("processing", false);
    }
    match record.status {
        Status::Synced | Status::Restored => ("synced", true),
        Status::Failed => ("failed", true),
        Status::DryRun => ("dry-run", true),
        Status::Ignored => ("ignored", true),
        Status::Superseded => ("superseded", true),
        Status::Removed | Status::RemovalHeld => ("removed", true),
        // A claim that ran out: the next run takes it up.
        Status::Syncing => ("processing", false),
        Status::Retrying => ("retrying", false),
    }
}

/// The row of one submission, given its ledger record (for delivered ones).
pub fn row(submission: &Submission, record: Option<&Record>) -> StatusRow {
    let (state, settled, code, message) = match submission.state {
        SubmissionState::Pending => (
            "pending-approval",
            false,
            None,
            Some("an approver checks it before it is used".to_owned()),
        ),
        SubmissionState::Rejected => (
            "rejected",
            true,
            Some("rejected".to_owned()),
            Some(match (&submission.reason, &submission.decided_by) {
                (Some(reason), Some(by)) => format!("rejected by {by}: {reason}"),
                (Some(reason), None) => format!("rejected: {reason}"),
                _ => "rejected".to_owned(),
            }),
        ),
        SubmissionState::Delivered => {
            let (state, settled) = from_ledger(submission, record);
            let relevant = record.filter(|r| r.sha256 == submission.sha256);
            let code =
                relevant.and_then(|r| r.problem.as_ref().map(|p| p.code.as_str().to_owned()));
            let message = relevant
                .and_then(|r| {
                    r.problem
                        .as_ref()
                        .map(|p| p.message.clone())
                        .or_else(|| r.detail.clone())
                })
                .or_else(|| {
                    submission
                        .decided_by
                        .as_ref()
                        .map(|by| format!("approved by {by}"))
                });
            (state, settled, code, message)
        }
    };
    StatusRow {
        reference: submission.reference(),
        key: submission.key.clone(),
        photo: submission.photo.clone(),
        file_name: submission.file_name.clone(),
        uploaded_by: submission.uploaded_by.clone(),
        uploaded_at: submission.uploaded_at.to_rfc3339(),
        state,
        settled,
        advice: code.as_deref().map(|c| advice(c).to_owned()),
        code,
        message,
    }
}

impl Portal {
    /// The row of a stored submission, reading its ledger record when delivered.
    pub(super) async fn status_row(&self, stored: &Stored) -> Result<StatusRow, PortalError> {
        let submission = &stored.submission;
        if submission.state != SubmissionState::Delivered {
            return Ok(row(submission, None));
        }
        let record = match PhotoName::parse(&submission.photo) {
            Ok(name) => self.ledger.get(&name).await?.map(|v| v.record),
            Err(_) => None,
        };
        Ok(row(submission, record.as_ref()))
    }

    /// Status for `actor`: their own recent uploads, plus, for uploaders, the
    /// submissions named by `references` (everyone else's are not shown).
    pub async fn status(
        &self,
        actor: &Actor,
        references: &[String],
    ) -> Result<Vec<StatusRow>, PortalError> {
        self.admit(actor)?;
        if references.len() > MAX_REFERENCES {
            return Err(PortalError::Invalid {
                code: "too-many-references",
                message: format!("ask about at most {MAX_REFERENCES} photos at once"),
            });
        }
        let own = self.own_key(actor);
        let mut stored = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for reference in references {
            let Some((key, id)) = super::submission::parse_reference(reference) else {
                continue;
            };
            if !actor.roles.uploader && key != own {
                continue;
            }
            if let Some(found) = super::submission::get(&self.stores.state, &key, &id).await? {
                seen.insert(found.submission.id.clone());
                stored.push(found);
            }
        }
        for found in super::submission::for_key(&self.stores.state, &own, OWN_LIMIT).await? {
            if seen.insert(found.submission.id.clone()) {
                stored.push(found);
            }
        }
        let mut rows = Vec::with_capacity(stored.len());
        for found in &stored {
            rows.push(self.status_row(found).await?);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ledger::{Problem, sample};

    fn delivered() -> Submission {
        Submission {
            id: "7f0c2b9e-7a51-4d2f-9d55-0b0b4b7a8c11".into(),
            key: "alice@contoso.com".into(),
            photo: "web/alice@contoso.com.jpg".into(),
            uploaded_by: "alice@contoso.com".into(),
            uploaded_by_id: "oid-alice".into(),
            uploaded_at: Utc::now(),
            file_name: "me.jpg".into(),
            size: 10,
            sha256: "ab".repeat(32),
            format: "jpeg".into(),
            focus: None,
            state: SubmissionState::Delivered,
            decided_by: None,
            decided_at: None,
            reason: None,
        }
    }

    #[test]
    fn each_ledger_state_reads_as_the_page_shows_it() {
        let s = delivered();
        assert_eq!(row(&s, None).state, "uploaded");
        let mut other_bytes = sample(&s.photo, Status::Synced);
        other_bytes.sha256 = "cd".repeat(32);
        assert_eq!(row(&s, Some(&other_bytes)).state, "uploaded");

        let mut claimed = sample(&s.photo, Status::Retrying);
        claimed.lease_until = Some(Utc::now() + chrono::Duration::minutes(5));
        assert_eq!(row(&s, Some(&claimed)).state, "processing");
        claimed.lease_until = None;
        assert!(!row(&s, Some(&claimed)).settled);
        assert_eq!(row(&s, Some(&claimed)).state, "retrying");

        let synced = row(&s, Some(&sample(&s.photo, Status::Synced)));
        assert_eq!((synced.state, synced.settled), ("synced", true));

        let mut failed = sample(&s.photo, Status::Failed);
        failed.problem = Some(Problem {
            code: crate::problem::ProblemCode::UserNotFound,
            message: "no user has userPrincipalName `alice@contoso.com`".into(),
        });
        let failed = row(&s, Some(&failed));
        assert_eq!(failed.state, "failed");
        assert_eq!(failed.code.as_deref(), Some("user-not-found"));
        assert!(failed.advice.unwrap().contains("mapping.csv"));
    }

    #[test]
    fn pending_and_rejected_come_from_the_submission() {
        let mut s = delivered();
        s.state = SubmissionState::Pending;
        let pending = row(&s, Some(&sample(&s.photo, Status::Synced)));
        assert_eq!(
            (pending.state, pending.settled),
            ("pending-approval", false)
        );
        s.state = SubmissionState::Rejected;
        s.reason = Some("please use a photo without sunglasses".into());
        s.decided_by = Some("boss@contoso.com".into());
        let rejected = row(&s, None);
        assert_eq!(rejected.state, "rejected");
        assert_eq!(
            rejected.message.as_deref(),
            Some("rejected by boss@contoso.com: please use a photo without sunglasses")
        );
    }
}
