//! The end of the flow: the record built from what happened (in one place,
//! [`settled`]), written against the claim, and the outcome for the host.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::failure::Failure;
use super::publish::Published;
use super::{Content, Flow, PhotoJob, PhotoOutcome};
use crate::store::ETag;
use crate::sync::PhotoName;
use crate::sync::ledger::Versioned;
use crate::sync::ledger::{LedgerError, Record, Status, retry_delay};
use crate::sync::mapping::Focus;

/// The record for `content` before anything is known of the outcome.
pub(super) fn base_record(
    name: &PhotoName,
    content: &Content,
    key: &str,
    focus: Option<Focus>,
    previous: Option<&Record>,
) -> Record {
    let now = Utc::now();
    let same_bytes = previous.is_some_and(|r| r.sha256 == content.sha256);
    Record {
        photo: name.as_str().to_owned(),
        etag: content.etag.clone(),
        sha256: content.sha256.clone(),
        size: content.bytes.len() as u64,
        last_modified: content.last_modified,
        key: key.to_owned(),
        focus,
        user: previous.and_then(|r| r.user.clone()),
        status: Status::Syncing,
        problem: None,
        detail: None,
        warnings: Vec::new(),
        // Attempts count tries at these bytes; new bytes start over.
        attempts: if same_bytes {
            previous.map_or(0, |r| r.attempts)
        } else {
            0
        } + 1,
        first_seen: previous.map_or(now, |r| r.first_seen),
        updated: now,
        synced_at: previous.and_then(|r| r.synced_at),
        lease_until: None,
        next_attempt: None,
        graph_etag: previous.and_then(|r| r.graph_etag.clone()),
        sharepoint: previous.and_then(|r| r.sharepoint.clone()),
        held_from: None,
    }
}

/// The claim: the record marked as being worked on until the lease ends.
pub(super) fn claimed(record: &Record, lease: std::time::Duration) -> Record {
    let mut claim = record.clone();
    claim.status = Status::Syncing;
    claim.lease_until =
        Some(Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX));
    claim
}

/// The record after the outcome: the one place a status, problem and
/// retry schedule are set.
pub(super) fn settled(
    mut record: Record,
    result: Result<Published, Failure>,
    now: DateTime<Utc>,
) -> Record {
    record.problem = None;
    record.warnings.clear();
    match result {
        Ok(Published::Done {
            status,
            user,
            detail,
            graph_etag,
            sharepoint,
            warnings,
            small: _,
        }) => {
            record.status = status;
            record.warnings = warnings;
            record.user = user;
            record.detail = detail;
            if status.is_current() {
                record.synced_at = Some(now);
                record.graph_etag = graph_etag;
            }
            if sharepoint.is_some() {
                record.sharepoint = sharepoint;
            }
        }
        Ok(Published::Superseded { user, by }) => {
            record.status = Status::Superseded;
            record.user = user;
            record.detail = Some(format!(
                "superseded by {by}, a newer photo of the same user"
            ));
        }
        Ok(Published::NotAPhoto { reason }) => {
            record.status = Status::Ignored;
            record.detail = Some(format!("not a photo ({reason})"));
        }
        Err(failure) => {
            record.status = if failure.is_transient() {
                Status::Retrying
            } else {
                Status::Failed
            };
            if failure.user.is_some() {
                record.user = failure.user;
            }
            record.problem = Some(failure.problem);
        }
    }
    record.lease_until = None;
    record.next_attempt =
        (record.status == Status::Retrying).then(|| now + retry_delay(record.attempts));
    record.updated = now;
    record
}

impl Flow {
    /// Builds the final record, writes it against the claim and says what
    /// happened.
    pub(super) async fn settle(
        &self,
        record: Record,
        claim: Option<ETag>,
        result: Result<Published, Failure>,
        started: Instant,
    ) -> PhotoOutcome {
        let small = match &result {
            Ok(Published::Done { small, .. }) => small.clone(),
            _ => None,
        };
        let mut outcome = self
            .write(settled(record, result, Utc::now()), claim, started)
            .await;
        outcome.small = small;
        outcome
    }

    /// Writes a finished record against `claim` and says what happened.
    pub(super) async fn write(
        &self,
        record: Record,
        claim: Option<ETag>,
        started: Instant,
    ) -> PhotoOutcome {
        let written = self.ledger.put(&record, claim.as_ref()).await;
        let mut outcome = outcome(&record, started);
        match written {
            Ok(etag) => outcome.written = Some(Box::new(Versioned { record, etag })),
            Err(LedgerError::Conflict(_)) => {
                // Someone took the record over: newer bytes win, ours is stale.
                let name = PhotoName::parse(&record.photo).expect("records hold valid names");
                let newer = self
                    .ledger
                    .get(&name)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|v| v.record.sha256 != record.sha256);
                if newer {
                    outcome.status = None;
                    outcome.retry = None;
                    outcome.summary = format!(
                        "{}: a newer version arrived meanwhile; it is synced instead",
                        record.photo
                    );
                } else {
                    outcome.retry = Some("the ledger record changed meanwhile".to_owned());
                }
            }
            Err(e) => {
                tracing::warn!(photo = %record.photo, "cannot write the ledger record: {e}");
                outcome.retry = Some(format!("cannot write the ledger record: {e}"));
            }
        }
        outcome
    }

    /// The photo could not even be read (too large, storage down): record a
    /// permanent problem against the version it had, retry a passing one.
    pub(super) async fn unreadable(
        &self,
        job: &PhotoJob,
        etag: Option<ETag>,
        failure: Failure,
        started: Instant,
    ) -> PhotoOutcome {
        let name = &job.name;
        if failure.is_transient() {
            return PhotoOutcome::unrecorded(name, failure);
        }
        let existing = match self.ledger.get(name).await {
            Ok(existing) => existing,
            Err(e) => return PhotoOutcome::unrecorded(name, e.into()),
        };
        let content = Content {
            bytes: bytes::Bytes::new(),
            sha256: String::new(),
            etag,
            last_modified: job.delivered.as_ref().and_then(|d| d.last_modified),
            focus: None,
            held: None,
        };
        let mut record = base_record(
            name,
            &content,
            &name.key(),
            None,
            existing.as_ref().map(|v| &v.record),
        );
        record.size = job.length.unwrap_or(0);
        let claim = existing.map(|v| v.etag);
        self.settle(record, claim, Err(failure), started).await
    }
}

/// The outcome for the host: status, problem, whether to retry and why.
fn outcome(record: &Record, started: Instant) -> PhotoOutcome {
    let elapsed = started.elapsed().as_millis();
    let sharepoint = record
        .sharepoint
        .as_ref()
        .and_then(|t| t.problem.as_ref().map(|p| (t.status, p)));
    let retry = match (&record.problem, sharepoint) {
        (Some(p), _) if record.status == Status::Retrying => Some(p.to_string()),
        (_, Some((Status::Retrying, p))) => Some(format!("SharePoint {p}")),
        _ => None,
    };
    let mut summary = format!(
        "{} → {} {} in {elapsed} ms",
        record.photo,
        record.who(),
        record.status
    );
    if let Some(p) = &record.problem {
        summary.push_str(&format!(": {p}"));
    } else if let Some((_, p)) = sharepoint {
        summary.push_str(&format!(" (SharePoint {p})"));
    }
    PhotoOutcome {
        status: Some(record.status),
        problem: record.problem.clone(),
        retry,
        summary,
        written: None,
        small: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Problem, ProblemCode};
    use crate::sync::ledger::{TargetState, UserRef, sample};

    fn user() -> UserRef {
        UserRef {
            id: "id-1".into(),
            upn: "alice@contoso.com".into(),
            account_enabled: true,
        }
    }

    #[test]
    fn every_outcome_becomes_one_record_shape() {
        let now = Utc::now();
        let base = sample("alice@contoso.com.jpg", Status::Syncing);

        let done = settled(
            base.clone(),
            Ok(Published::Done {
                status: Status::Synced,
                user: Some(user()),
                detail: None,
                graph_etag: Some("\"g1\"".into()),
                sharepoint: None,
                warnings: vec![ProblemCode::NoFaceFound],
                small: None,
            }),
            now,
        );
        assert_eq!(
            (done.status, done.synced_at, done.problem.clone()),
            (Status::Synced, Some(now), None)
        );
        assert_eq!(done.graph_etag.as_deref(), Some("\"g1\""));
        assert_eq!(
            done.warnings,
            [ProblemCode::NoFaceFound],
            "a warning, not a problem"
        );

        let superseded = settled(
            base.clone(),
            Ok(Published::Superseded {
                user: Some(user()),
                by: "b.jpg".into(),
            }),
            now,
        );
        assert_eq!(superseded.status, Status::Superseded);
        assert!(superseded.detail.unwrap().contains("b.jpg"));

        let ignored = settled(
            base.clone(),
            Ok(Published::NotAPhoto {
                reason: "text".into(),
            }),
            now,
        );
        assert_eq!(ignored.status, Status::Ignored);

        let transient = settled(
            base.clone(),
            Err(Failure::new(ProblemCode::GraphUnavailable, "503").for_user(Some(&user()))),
            now,
        );
        assert_eq!(transient.status, Status::Retrying);
        assert_eq!(
            transient.next_attempt,
            Some(now + retry_delay(transient.attempts))
        );
        assert_eq!(
            transient.user,
            Some(user()),
            "the report still says whose photo it is"
        );

        let permanent = settled(
            base,
            Err(Failure::new(ProblemCode::CorruptImage, "bad")),
            now,
        );
        assert_eq!(permanent.status, Status::Failed);
        assert_eq!(permanent.next_attempt, None);
        assert_eq!(permanent.lease_until, None);
    }

    #[test]
    fn a_sharepoint_failure_on_a_synced_photo_is_retried_with_its_reason() {
        let mut record = sample("alice@contoso.com.jpg", Status::Synced);
        record.user = Some(user());
        record.sharepoint = Some(TargetState {
            status: Status::Retrying,
            problem: Some(Problem::new(ProblemCode::SharepointUnavailable, "HTTP 503")),
            updated: Utc::now(),
            next_attempt: None,
        });
        let outcome = outcome(&record, Instant::now());
        assert_eq!(outcome.status, Some(Status::Synced));
        assert_eq!(
            outcome.retry.as_deref(),
            Some("SharePoint sharepoint-unavailable: HTTP 503"),
            "the host's log says why it retries"
        );
        assert!(
            outcome
                .summary
                .contains("(SharePoint sharepoint-unavailable: HTTP 503)")
        );
    }
}
