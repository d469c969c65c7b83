//! The SharePoint step of the flow: after Microsoft Graph has the photo, write
//! SharePoint's own copy; a failure there is recorded and retried on its own,
//! never by uploading to Graph again.

use chrono::Utc;
use tokio::time::Instant;

use super::failure::Failure;
use super::{Content, Flow, PhotoOutcome};
use crate::pipeline::Rendition;
use crate::problem::{Problem, ProblemCode};
use crate::sharepoint::ProfilePictures;
use crate::sync::PhotoName;
use crate::sync::ledger::{Status, TargetState, Versioned, retry_delay};

impl Flow {
    /// Writes SharePoint's pictures for `upn`; `None` when the target is off.
    pub(super) async fn write_sharepoint(
        &self,
        upn: &str,
        rendition: &Rendition,
        attempts: u32,
    ) -> Option<TargetState> {
        let sharepoint = self.targets.sharepoint.as_ref()?;
        let [small, medium, large] = self.plan.sharepoint_pictures(rendition)?;
        let now = Utc::now();
        let result = sharepoint
            .set_pictures(
                upn,
                ProfilePictures {
                    small,
                    medium,
                    large,
                },
            )
            .await;
        Some(match result {
            Ok(()) => TargetState {
                status: Status::Synced,
                problem: None,
                updated: now,
                next_attempt: None,
            },
            Err(e) => {
                let transient = e.is_transient();
                TargetState {
                    status: if transient {
                        Status::Retrying
                    } else {
                        Status::Failed
                    },
                    problem: Some(Problem::new(e.code(), &e)),
                    updated: now,
                    next_attempt: transient.then(|| now + retry_delay(attempts)),
                }
            }
        })
    }

    /// Graph already has these bytes; only SharePoint needs them.
    pub(super) async fn sharepoint_only(
        &self,
        name: &PhotoName,
        content: Content,
        current: Versioned,
        started: Instant,
    ) -> PhotoOutcome {
        let mut record = current.record;
        let Some(user) = record.user.clone() else {
            let failure = Failure::new(
                ProblemCode::InternalError,
                "the record of a synced photo has no user",
            );
            return PhotoOutcome::unrecorded(name, failure);
        };
        let rendition = match self.render(name, content.bytes, record.focus).await {
            Ok(super::publish::Rendered::Image(rendition)) => rendition,
            Ok(super::publish::Rendered::NotAPhoto(reason)) => {
                let failure = Failure::new(ProblemCode::UnsupportedFormat, reason);
                return PhotoOutcome::unrecorded(name, failure);
            }
            Err(failure) => return PhotoOutcome::unrecorded(name, failure),
        };
        record.attempts += 1;
        record.sharepoint = self
            .write_sharepoint(&user.upn, &rendition, record.attempts)
            .await;
        record.updated = Utc::now();
        self.write(record, Some(current.etag), started).await
    }
}
