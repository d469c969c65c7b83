//! Uploads: the crop preview, and the upload itself — checked like the
//! pipeline checks every photo, then delivered into the photos container
//! (or parked for approval).

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;

use super::audit::{self, Entry};
use super::status::StatusRow;
use super::submission::{self, Focus, Submission, SubmissionState};
use super::{Actor, Portal, PortalError};
use crate::pipeline::{self, Format, Inspection};
use crate::renderer::RenderError;
use crate::store::{BlobProperties, WriteMode};
use crate::sync::{PhotoName, sha256_hex};

/// Folder of the page's photos in the photos container.
pub const PHOTO_FOLDER: &str = "web/";
/// Longest key accepted (UPNs are at most 113 characters).
const MAX_KEY: usize = 256;
/// Blob metadata names on delivered photos (Azure allows C# identifiers).
/// The flow reads the crop focus from this blob metadata key.
pub use crate::sync::FOCUS_METADATA;
const UPLOADED_BY_METADATA: &str = "photosync_uploaded_by";
const SUBMISSION_METADATA: &str = "photosync_submission";

/// One upload as the transport received it.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file's bytes.
    pub bytes: Bytes,
    /// Whom it is for, if the request said; employees may only name themselves.
    pub for_key: Option<String>,
    /// The file's name on the uploader's computer (display only).
    pub file_name: String,
    /// The focus point they set, if any (`x,y` fractions, unparsed).
    pub focus: Option<String>,
}

/// The square the pipeline will cut, as the page draws it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Preview {
    /// Recognised format (`jpeg`, `png`, …).
    pub format: &'static str,
    /// Displayed width (after EXIF orientation), as a browser shows the file.
    pub width: u32,
    /// Displayed height.
    pub height: u32,
    /// Left edge of the square, in displayed pixels.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Edge length.
    pub side: u32,
}

/// A key the flow can match: one file-name segment, as people type it.
pub fn valid_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(format!("a name of 1 to {MAX_KEY} characters"));
    }
    if key.chars().any(|c| c.is_control() || c == '/' || c == '\\') || key.trim() != key {
        return Err("no slashes, control characters or surrounding spaces".to_owned());
    }
    if key == "." || key == ".." {
        return Err("not `.` or `..`".to_owned());
    }
    Ok(())
}

/// Metadata values travel as HTTP headers: keep them ASCII.
fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

impl Portal {
    /// The pipeline's checks and square, header only, off the async runtime.
    async fn inspect(&self, bytes: Bytes) -> Result<Inspection, PortalError> {
        let options = self.settings.render.clone();
        tokio::task::spawn_blocking(move || pipeline::inspect(&bytes, &options))
            .await
            .map_err(|e| PortalError::Unavailable(format!("inspection stopped: {e}")))?
            .map_err(PortalError::from)
    }

    fn check_size(&self, len: usize) -> Result<(), PortalError> {
        let limit = self.settings.web.max_upload_bytes;
        if len as u64 > limit {
            return Err(PortalError::Invalid {
                code: "image-too-large",
                message: format!(
                    "the file is {len} bytes; uploads may be at most {limit} bytes (PHOTOSYNC_WEB_MAX_UPLOAD_BYTES)"
                ),
            });
        }
        if len == 0 {
            return Err(PortalError::Invalid {
                code: "corrupt-image",
                message: "the file is empty".to_owned(),
            });
        }
        Ok(())
    }

    /// Where the square of this photo will be, for the page's preview.
    pub async fn preview(&self, actor: &Actor, bytes: Bytes) -> Result<Preview, PortalError> {
        self.admit(actor)?;
        self.previews
            .check(&actor.id, Instant::now())
            .map_err(|retry_after| PortalError::TooMany {
                limit: self.previews.limit(),
                retry_after,
            })?;
        self.check_size(bytes.len())?;
        // The square `render` cuts (face-centred by default) comes from a
        // real render of the smallest size: the page and the sync agree.
        let mut options = self.settings.render.clone();
        options.sizes = vec![options.min_size.max(16)];
        // The body is already in memory (the transport read it); it is
        // counted while the preview renders.
        let _held = self.renderer.memory().hold(bytes.len() as u64).await;
        let rendition = match self.renderer.render(bytes, options).await {
            Ok(rendition) => rendition,
            Err(RenderError::Refused(e)) => return Err(PortalError::from(e)),
            Err(RenderError::Stopped(why)) => {
                return Err(PortalError::Unavailable(format!("preview stopped: {why}")));
            }
        };
        Ok(Preview {
            format: rendition.format.name(),
            width: rendition.width,
            height: rendition.height,
            x: rendition.square.x,
            y: rendition.square.y,
            side: rendition.square.side,
        })
    }

    /// Whom this upload is for: anyone for an uploader (the request says),
    /// only themselves for everyone else (the sign-in says).
    async fn target(&self, actor: &Actor, asked: Option<&str>) -> Result<String, PortalError> {
        if actor.roles.uploader {
            let key = asked.map(str::trim).unwrap_or_default().to_lowercase();
            return match valid_key(&key) {
                Ok(()) => Ok(key),
                Err(rule) => Err(PortalError::Invalid {
                    code: "invalid-name",
                    message: format!("say whom the photo is for: {rule}"),
                }),
            };
        }
        let own = self.own_key(actor);
        if !self.settings.web.self_service {
            return Err(PortalError::Forbidden(format!(
                "{} may not upload photos: ask an administrator for the {} role",
                actor.upn,
                super::UPLOADER_ROLE
            )));
        }
        if let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty())
            && asked.to_lowercase() != own
        {
            let detail =
                format!("asked to upload for {asked}; employees may upload only their own photo");
            let mut entry = Entry::new("refused", actor, asked);
            entry.detail = Some(&detail);
            audit::record(&self.stores.state, &entry).await;
            return Err(PortalError::Forbidden(format!(
                "you may upload only your own photo (signed in as {}), not one for {asked}",
                actor.upn
            )));
        }
        valid_key(&own).map_err(|rule| {
            PortalError::Forbidden(format!("your sign-in name cannot name a photo ({rule})"))
        })?;
        Ok(own)
    }

    /// Checks and stores one upload; returns its first status row.
    pub async fn upload(&self, actor: &Actor, upload: Upload) -> Result<StatusRow, PortalError> {
        self.admit(actor)?;
        let key = self.target(actor, upload.for_key.as_deref()).await?;
        self.uploads
            .check(&actor.id, Instant::now())
            .map_err(|retry_after| PortalError::TooMany {
                limit: self.uploads.limit(),
                retry_after,
            })?;
        self.check_size(upload.bytes.len())?;
        let focus = match upload
            .focus
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            None => None,
            Some(raw) => Some(Focus::parse(raw).ok_or_else(|| PortalError::Invalid {
                code: "invalid-focus",
                message: format!("focus `{raw}` must be two fractions `x,y` between 0 and 1"),
            })?),
        };
        let inspection = self.inspect(upload.bytes.clone()).await?;
        let hashed = upload.bytes.clone();
        let sha256 = tokio::task::spawn_blocking(move || sha256_hex(&hashed))
            .await
            .map_err(|e| PortalError::Unavailable(format!("hashing stopped: {e}")))?;
        let photo = format!("{PHOTO_FOLDER}{key}.{}", inspection.format.extension());
        PhotoName::parse(&photo).map_err(|e| PortalError::Invalid {
            code: "invalid-name",
            message: format!("`{key}` cannot name a photo: {e}"),
        })?;
        let self_service = !actor.roles.uploader;
        let mut submission = Submission {
            id: uuid::Uuid::new_v4().to_string(),
            key: key.clone(),
            photo,
            uploaded_by: actor.upn.clone(),
            uploaded_by_id: actor.id.clone(),
            uploaded_at: Utc::now(),
            file_name: upload.file_name.chars().take(256).collect(),
            size: upload.bytes.len() as u64,
            sha256,
            format: inspection.format.name().to_owned(),
            focus,
            state: SubmissionState::Delivered,
            decided_by: None,
            decided_at: None,
            reason: None,
        };
        let action = if self_service && self.settings.web.approval {
            submission.state = SubmissionState::Pending;
            let properties = BlobProperties {
                content_type: Some(content_type(inspection.format).to_owned()),
                ..BlobProperties::default()
            };
            self.stores
                .state
                .put(
                    &submission.pending_name(),
                    upload.bytes,
                    &properties,
                    WriteMode::Overwrite,
                )
                .await?;
            "submitted"
        } else {
            self.deliver(&submission, upload.bytes).await?;
            "uploaded"
        };
        submission::put(&self.stores.state, &submission, None).await?;
        let mut entry = Entry::new(action, actor, &key);
        entry.photo = Some(&submission.photo);
        entry.submission = Some(&submission.id);
        let waiting = "waiting for approval";
        if submission.state == SubmissionState::Pending {
            entry.detail = Some(waiting);
        }
        audit::record(&self.stores.state, &entry).await;
        Ok(super::status::row(&submission, None))
    }

    /// Writes the photo into the photos container with the app's identity;
    /// the blob trigger takes it from there.
    pub(super) async fn deliver(
        &self,
        submission: &Submission,
        bytes: Bytes,
    ) -> Result<(), PortalError> {
        let mut metadata = BTreeMap::new();
        if let Some(focus) = submission.focus {
            metadata.insert(FOCUS_METADATA.to_owned(), focus.to_string());
        }
        metadata.insert(
            UPLOADED_BY_METADATA.to_owned(),
            header_safe(&submission.uploaded_by),
        );
        metadata.insert(SUBMISSION_METADATA.to_owned(), submission.id.clone());
        let format = match submission.format.as_str() {
            "png" => Format::Png,
            "gif" => Format::Gif,
            "webp" => Format::WebP,
            "bmp" => Format::Bmp,
            "tiff" => Format::Tiff,
            _ => Format::Jpeg,
        };
        let properties = BlobProperties {
            content_type: Some(content_type(format).to_owned()),
            cache_control: None,
            metadata,
        };
        self.stores
            .photos
            .put(&submission.photo, bytes, &properties, WriteMode::Overwrite)
            .await?;
        Ok(())
    }
}

/// The MIME type of a recognised format.
pub fn content_type(format: Format) -> &'static str {
    format.mime_type()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_plain_segment() {
        assert!(valid_key("alice@contoso.com").is_ok());
        assert!(valid_key("o'brien@contoso.co.uk").is_ok());
        assert!(valid_key("100234").is_ok());
        let long = "a".repeat(MAX_KEY + 1);
        for bad in [
            "",
            "a/b",
            "a\\b",
            "..",
            ".",
            " alice",
            "al\nice",
            long.as_str(),
        ] {
            assert!(valid_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_stays_ascii() {
        assert_eq!(header_safe("zoë@contoso.com"), "zo?@contoso.com");
    }
}
