//! The SharePoint step of the flow: after Microsoft Graph has the photo, write
//! SharePoint's own copy; a failure there is recorded and retried on its own,
//! never by uploading to Graph again.

use bytes::Bytes;
use chrono::Utc;
use tokio::time::Instant;

use super::{Flow, PhotoJob, PhotoOutcome, transient_outcome};
use crate::pipeline::{RenderOptions, Rendition, Thumbnail};
use crate::sharepoint::ProfilePictures;
use crate::sync::ledger::{Problem, Record, Status, TargetState, Versioned, retry_delay};

impl Flow {
    /// The sizes to render: the configured ones plus SharePoint's three.
    pub(super) fn render_options(&self) -> RenderOptions {
        let mut options = self.settings.render.clone();
        if let Some(sharepoint) = &self.sharepoint {
            options.sizes.extend(sharepoint.sizes());
            options.sizes.sort_unstable();
            options.sizes.dedup();
        }
        options
    }

    /// The photo for Microsoft 365: the largest rendition of the configured
    /// sizes (SharePoint's extra sizes never count).
    pub(super) fn graph_master<'a>(&self, rendition: &'a Rendition) -> &'a Thumbnail {
        let limit = self
            .settings
            .render
            .sizes
            .iter()
            .copied()
            .max()
            .unwrap_or(u32::MAX);
        rendition
            .thumbnails
            .iter()
            .rev()
            .find(|t| t.size <= limit)
            .unwrap_or_else(|| rendition.master())
    }

    /// Whether a rendition belongs in the thumbnails container.
    pub(super) fn is_thumbnail(&self, size: u32, master: u32) -> bool {
        size == master || self.settings.render.sizes.contains(&size)
    }

    /// Writes SharePoint's pictures for `upn` and records the outcome.
    pub(super) async fn write_sharepoint(
        &self,
        upn: &str,
        rendition: &Rendition,
        record: &mut Record,
    ) {
        let Some(sharepoint) = &self.sharepoint else {
            return;
        };
        let [small, medium, large] = sharepoint.sizes().map(|size| {
            let picture = rendition
                .thumbnails
                .iter()
                .rev()
                .find(|t| t.size <= size)
                .unwrap_or(&rendition.thumbnails[0]);
            Bytes::from(picture.jpeg.clone())
        });
        let now = Utc::now();
        let attempts = record.attempts;
        record.sharepoint = Some(
            match sharepoint
                .set_pictures(
                    upn,
                    ProfilePictures {
                        small,
                        medium,
                        large,
                    },
                )
                .await
            {
                Ok(()) => TargetState {
                    status: Status::Synced,
                    problem: None,
                    updated: now,
                    next_attempt: None,
                },
                Err(e) => TargetState {
                    status: if e.is_transient() {
                        Status::Retrying
                    } else {
                        Status::Failed
                    },
                    problem: Some(Problem {
                        code: e.code().to_owned(),
                        message: e.to_string(),
                    }),
                    updated: now,
                    next_attempt: e.is_transient().then(|| now + retry_delay(attempts)),
                },
            },
        );
    }

    /// Graph already has these bytes; only SharePoint needs them.
    pub(super) async fn sharepoint_only(
        &self,
        job: &PhotoJob,
        bytes: Bytes,
        current: Versioned,
        started: Instant,
    ) -> PhotoOutcome {
        let mut record = current.record;
        let Some(user) = record.user.clone() else {
            return transient_outcome(&job.name, "the record has no user");
        };
        let rendition = match self.render(&job.name, bytes).await {
            Ok(rendition) => rendition,
            Err(failure) => return transient_outcome(&job.name, failure.problem.message),
        };
        record.attempts += 1;
        self.write_sharepoint(&user.upn, &rendition, &mut record)
            .await;
        let status = record.status;
        self.finish(record, Some(current.etag), Ok(status), started)
            .await
    }
}
