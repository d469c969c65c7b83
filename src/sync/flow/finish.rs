//! The end of the flow: the final ledger write (against the claim), the
//! retry schedule, and the one-line summary for the host log.

use chrono::Utc;
use tokio::time::Instant;

use super::failure::Failure;
use super::{Flow, PhotoOutcome};
use crate::sync::PhotoName;
use crate::sync::ledger::{Problem, Record, Status};

impl Flow {
    /// Writes the final record (against the claim) and builds the outcome.
    pub(super) async fn finish(
        &self,
        mut record: Record,
        claim: Option<String>,
        result: Result<Status, Failure>,
        started: Instant,
    ) -> PhotoOutcome {
        let elapsed = started.elapsed().as_millis();
        let name = record.photo.clone();
        let (transient, problem) = match result {
            Ok(status) => {
                record.status = status;
                if status.is_current() {
                    record.synced_at = Some(Utc::now());
                }
                (false, None)
            }
            Err(failure) => {
                record.status = if failure.ignored {
                    Status::Ignored
                } else if failure.transient {
                    Status::Retrying
                } else {
                    Status::Failed
                };
                let problem = (!failure.ignored).then_some(failure.problem.clone());
                if failure.ignored {
                    record.detail = Some(format!("not a photo ({})", failure.problem.message));
                }
                (failure.transient, problem)
            }
        };
        record.problem = problem.clone();
        record.lease_until = None;
        record.next_attempt = (record.status == Status::Retrying)
            .then(|| Utc::now() + crate::sync::ledger::retry_delay(record.attempts));
        record.updated = Utc::now();

        let expected = match claim {
            Some(etag) => Some(etag),
            // No claim was made (the bytes could not even be read): update
            // whatever is there, or create.
            None => match PhotoName::parse(&name) {
                Ok(n) => self.ledger.get(&n).await.ok().flatten().map(|v| v.etag),
                Err(_) => None,
            },
        };
        // SharePoint still to do: the host retries (only SharePoint is redone).
        let mut transient = transient || record.sharepoint_pending();
        if let Err(e) = self.ledger.put(&record, expected.as_deref()).await {
            tracing::warn!(photo = %name, "cannot write the ledger record: {e}");
            transient = true;
        }

        let who = record
            .user
            .as_ref()
            .map_or_else(|| record.key.clone(), |u| u.upn.clone());
        let status = serde_json::to_value(record.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let sharepoint = record
            .sharepoint
            .as_ref()
            .and_then(|t| t.problem.as_ref())
            .map_or_else(String::new, |p| {
                format!(" (SharePoint {}: {})", p.code, p.message)
            });
        let summary = match &problem {
            None => format!("{name} → {who} {status} in {elapsed} ms{sharepoint}"),
            Some(p) => format!(
                "{name} → {who} {status} in {elapsed} ms: {}: {}",
                p.code, p.message
            ),
        };
        PhotoOutcome {
            status: Some(record.status),
            problem,
            transient,
            summary,
        }
    }
}

/// Why nothing needs doing, if so.
pub(super) fn skip_reason(record: &Record, sha256: &str, key: &str) -> Option<String> {
    let same = record.sha256 == sha256 && record.key == key;
    match record.status {
        Status::Synced | Status::Restored if same => return Some("unchanged".to_owned()),
        Status::Failed if same => {
            let code = record.problem.as_ref().map_or("", |p| p.code.as_str());
            return Some(format!("unchanged since it failed ({code})"));
        }
        Status::Ignored if same => {
            let why = record.detail.as_deref().unwrap_or("ignored");
            return Some(format!("unchanged ({why})"));
        }
        _ => {}
    }
    if same && record.lease_until.is_some_and(|until| until > Utc::now()) {
        return Some("another invocation is syncing it".to_owned());
    }
    None
}

pub(super) fn transient_outcome(name: &PhotoName, error: impl std::fmt::Display) -> PhotoOutcome {
    tracing::warn!(photo = %name, "ledger unavailable: {error:#}");
    PhotoOutcome {
        status: None,
        problem: Some(Problem {
            code: "storage-unavailable".to_owned(),
            message: error.to_string(),
        }),
        transient: true,
        summary: format!("{name}: ledger unavailable: {error}"),
    }
}
