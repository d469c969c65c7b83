//! Publishing a claimed photo: render, match the user, settle which of the
//! user's photos is current, write the thumbnails, then Microsoft Graph and
//! SharePoint. Returns what happened as a value; the record is built from it
//! elsewhere ([`super::settle`]).

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::failure::Failure;
use super::{Content, Flow, PhotoJob};
use crate::graph::Written;
use crate::pipeline::{PipelineError, Rendition};
use crate::problem::ProblemCode;
use crate::renderer::RenderError;
use crate::store::{BlobProperties, WriteMode};
use crate::sync::PhotoName;
use crate::sync::ledger::{Record, Status, TargetState, UserRef};

/// Thumbnails change only when the photo does; let apps and CDNs cache them.
const THUMBNAIL_CACHE_CONTROL: &str = "public, max-age=3600";
/// File extensions people use for photos: a file with one of these that is
/// not a readable image is a failure; anything else that is not an image is
/// ignored (the mapping file, `Thumbs.db`, notes).
const IMAGE_EXTENSIONS: [&str; 11] = [
    "jpg", "jpeg", "jfif", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif",
];

/// What publishing came to, when nothing failed.
#[derive(Debug)]
pub(super) enum Published {
    /// Rendered and (unless dry) set as the profile photo.
    Done {
        /// `synced`, `restored` or `dry-run`.
        status: Status,
        /// The matched user (none without credentials).
        user: Option<UserRef>,
        /// Worth telling (a disabled account).
        detail: Option<String>,
        /// Graph's media ETag after the upload (`PHOTOSYNC_ENFORCE`).
        graph_etag: Option<String>,
        /// SharePoint's outcome, when that target is on.
        sharepoint: Option<TargetState>,
        /// What the rendition says a person should check (face warnings).
        warnings: Vec<ProblemCode>,
        /// The thumbnail a report shows (as written), so it is not read back.
        small: Option<Bytes>,
    },
    /// A newer photo of the same user is current; this one is not uploaded.
    Superseded {
        /// The matched user.
        user: Option<UserRef>,
        /// The newer photo.
        by: String,
    },
    /// Not an image and not named like one.
    NotAPhoto {
        /// What the bytes were taken for.
        reason: String,
    },
}

/// A rendition, or the finding that the file is no photo at all.
pub(super) enum Rendered {
    Image(Rendition),
    NotAPhoto(String),
}

impl Flow {
    pub(super) async fn publish(
        &self,
        job: &PhotoJob,
        content: &Content,
        key: &str,
        record: &Record,
        first: bool,
    ) -> Result<Published, Failure> {
        let name = &job.name;
        let rendition = match self
            .render(name, content.bytes.clone(), record.focus)
            .await?
        {
            Rendered::Image(rendition) => rendition,
            Rendered::NotAPhoto(reason) => return Ok(Published::NotAPhoto { reason }),
        };
        let user = match &self.targets.graph {
            Some(graph) => Some(UserRef::from(graph.find_user(key).await?)),
            None => None,
        };
        let for_user = |f: Failure| f.for_user(user.as_ref());
        let folder = crate::sync::ledger::thumbnail_folder(user.as_ref(), key);
        let last_modified = self.last_modified(name, content.last_modified).await;
        if let Some(by) = self
            .newest_wins(&folder, name, last_modified, first)
            .await
            .map_err(for_user)?
        {
            return Ok(Published::Superseded { user, by });
        }
        self.write_thumbnails(&folder, &rendition)
            .await
            .map_err(for_user)?;

        let detail = user
            .as_ref()
            .filter(|u| !u.account_enabled)
            .map(|_| "the account is disabled".to_owned());
        let warnings: Vec<ProblemCode> = rendition.warnings.iter().map(|w| w.code()).collect();
        let small = self.plan.report_thumbnail(&rendition);
        let (Some(graph), Some(account)) = (&self.targets.graph, &user) else {
            return Ok(Published::Done {
                status: Status::DryRun,
                user,
                detail,
                graph_etag: None,
                sharepoint: None,
                warnings,
                small,
            });
        };
        // A photo photosync did not set is copied before it is replaced:
        // before its first upload for the user, when someone changed it (a
        // drift restore), and when the photo Graph holds is not the one
        // photosync last wrote (set by hand since). No copy, no upload.
        if !graph.is_dry_run() {
            let first = record.synced_at.is_none();
            let by_hand = !first
                && !job.force
                && set_by_someone_else(graph, &account.id, record.graph_etag.as_deref())
                    .await
                    .map_err(|e| for_user(crate::sync::backup::BackupError::from(e).into()))?;
            if first || job.force || by_hand {
                crate::sync::backup::take(
                    graph,
                    &self.stores.state,
                    &account.upn,
                    &account.id,
                    self.settings.reconcile.backup_keep,
                    !job.force && !by_hand,
                )
                .await
                .map_err(|e| for_user(e.into()))?;
            }
        }
        let master = self.plan.graph_master(&rendition).jpeg.clone();
        match graph
            .set_photo(&account.id, master)
            .await
            .map_err(|e| for_user(e.into()))?
        {
            Written::DryRun => Ok(Published::Done {
                status: Status::DryRun,
                user,
                detail,
                graph_etag: None,
                sharepoint: None,
                warnings,
                small,
            }),
            Written::Done => {
                let sharepoint = self
                    .write_sharepoint(&account.upn, &rendition, record.attempts)
                    .await;
                // What Graph holds now, to notice a change by someone else
                // later (drift under PHOTOSYNC_ENFORCE; a backup before the
                // next replacement otherwise).
                let graph_etag = graph.media_etag(&account.id).await;
                Ok(Published::Done {
                    status: if job.force {
                        Status::Restored
                    } else {
                        Status::Synced
                    },
                    user,
                    detail,
                    graph_etag,
                    sharepoint,
                    warnings,
                    small,
                })
            }
        }
    }

    /// The blob's last write time; a delivery without one asks storage.
    async fn last_modified(
        &self,
        name: &PhotoName,
        known: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        match known {
            Some(t) => Some(t),
            None => self
                .stores
                .photos
                .head(name.as_str())
                .await
                .ok()
                .map(|b| b.last_modified),
        }
    }

    /// Renders within the process's budgets ([`crate::renderer`]);
    /// `focus` (an admin's choice) overrides face detection.
    pub(super) async fn render(
        &self,
        name: &PhotoName,
        bytes: Bytes,
        focus: Option<crate::sync::mapping::Focus>,
    ) -> Result<Rendered, Failure> {
        let mut options = self.plan.options().clone();
        options.focus = focus;
        match self.renderer.render(bytes, options).await {
            Ok(rendition) => Ok(Rendered::Image(rendition)),
            Err(RenderError::Refused(e)) => refused(name, e),
            Err(RenderError::Stopped(why)) => Err(Failure::new(
                ProblemCode::InternalError,
                format!("rendering stopped: {why}"),
            )),
        }
    }

    async fn write_thumbnails(&self, folder: &str, rendition: &Rendition) -> Result<(), Failure> {
        let properties = BlobProperties {
            content_type: Some("image/jpeg".to_owned()),
            cache_control: Some(THUMBNAIL_CACHE_CONTROL.to_owned()),
            metadata: Default::default(),
        };
        // All sizes at once: they are independent blobs.
        let writes = self
            .plan
            .thumbnails(rendition)
            .into_iter()
            .map(|thumbnail| {
                let name = format!("{folder}/{0}x{0}.jpg", thumbnail.size);
                let bytes = thumbnail.jpeg.clone();
                let properties = &properties;
                async move {
                    self.stores
                        .thumbnails
                        .put(&name, bytes, properties, WriteMode::Overwrite)
                        .await
                }
            });
        for result in futures::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }
}

/// A pipeline refusal: a file that is not an image and not named like one
/// is "not a photo" (ignored), everything else a failure with its code.
fn refused(name: &PhotoName, error: PipelineError) -> Result<Rendered, Failure> {
    match error {
        PipelineError::UnsupportedFormat(reason) if !looks_like_a_photo(name) => {
            Ok(Rendered::NotAPhoto(reason))
        }
        e => Err(e.into()),
    }
}

/// Whether the file's extension says it is meant to be a photo.
fn looks_like_a_photo(name: &PhotoName) -> bool {
    name.file_name()
        .rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

impl From<crate::graph::User> for UserRef {
    fn from(user: crate::graph::User) -> Self {
        Self {
            id: user.id,
            upn: user.user_principal_name,
            account_enabled: user.account_enabled,
        }
    }
}

/// Whether `user_id`'s current photo may be one photosync did not write:
/// there is one, and its media ETag is not the one recorded after
/// photosync's last upload (or either is unknown: then a copy is the safe
/// side). No photo at all leaves nothing to keep.
async fn set_by_someone_else(
    graph: &crate::graph::GraphClient,
    user_id: &str,
    ours: Option<&str>,
) -> Result<bool, crate::graph::GraphError> {
    let Some(info) = graph.photo_info(user_id).await? else {
        return Ok(false);
    };
    Ok(match (info.media_etag.as_deref(), ours) {
        (Some(now), Some(ours)) => now != ours,
        _ => true,
    })
}
