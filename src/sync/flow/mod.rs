//! "Sync this photo": bytes → rendition → user → thumbnails → Microsoft 365 →
//! ledger. One code path for the blob trigger, the timer and local mode.
//!
//! Order matters: thumbnails are written before the profile upload, so a Graph
//! failure never loses them; the ledger is written last, so a crash anywhere
//! leaves a state that a retry or the timer completes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

mod failure;
mod finish;
mod mapping_file;
mod newest;
mod sharepoint;

use failure::Failure;
use finish::{skip_reason, transient_outcome};

use super::PhotoName;
use super::ledger::{Ledger, LedgerError, Problem, Record, Status, UserRef, Versioned};
use super::mapping::{self, MappingCache};
use crate::config::Settings;
use crate::graph::{GraphClient, Written};
use crate::pipeline::{self, PipelineError, Rendition};
use crate::store::{BlobProperties, Stores, WriteMode};

/// How long a claim on a photo holds before another worker may take over
/// (several instances in Azure; a crashed one's claim simply runs out).
pub const LEASE: Duration = Duration::from_secs(600);
/// Thumbnails change only when the photo does; let apps and CDNs cache them.
const THUMBNAIL_CACHE_CONTROL: &str = "public, max-age=3600";
/// File extensions people use for photos: a file with one of these that is
/// not a readable image is a failure, anything else that is not an image is
/// ignored (the mapping file, `Thumbs.db`, notes).
const IMAGE_EXTENSIONS: [&str; 11] = [
    "jpg", "jpeg", "jfif", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif",
];

/// One photo to sync, from whichever trigger.
#[derive(Debug, Clone)]
pub struct PhotoJob {
    /// Validated blob name.
    pub name: PhotoName,
    /// Bytes when the trigger delivered them; otherwise read from the store.
    pub bytes: Option<Bytes>,
    /// Blob version at trigger time.
    pub etag: Option<String>,
    /// Blob size at trigger time (lets oversized photos be refused unread).
    pub length: Option<u64>,
    /// Blob last write time.
    pub last_modified: Option<DateTime<Utc>>,
    /// Set the profile photo again even if the bytes are unchanged (drift).
    pub force: bool,
}

/// What became of one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoOutcome {
    /// Ledger status, or `None` when nothing was recorded (unchanged, or
    /// another invocation owns it).
    pub status: Option<Status>,
    /// Problem code and message, if any.
    pub problem: Option<Problem>,
    /// Whether a retry can help (the host should retry).
    pub transient: bool,
    /// One line for the host log: `alice.jpg → alice@contoso.com synced in 412 ms`.
    pub summary: String,
}

/// The collaborators of the flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Settings (render options, containers).
    pub settings: Arc<Settings>,
    /// Photos, thumbnails and state containers.
    pub stores: Stores,
    /// Ledger in the state container.
    pub ledger: Ledger,
    /// Microsoft 365 target; `None` runs dry.
    pub graph: Option<Arc<GraphClient>>,
    /// SharePoint Online target; `None` when not configured.
    pub sharepoint: Option<Arc<crate::sharepoint::SharePointClient>>,
    /// The container's `mapping.csv` files.
    pub mappings: Arc<MappingCache>,
    /// One permit per core: rendering is CPU work, more at once only queues.
    pub render_slots: Arc<tokio::sync::Semaphore>,
    /// How long a claim holds: [`LEASE`] in Azure; zero for a single local
    /// process, whose claims no other worker can hold.
    pub lease: Duration,
    /// Small thumbnails already embedded in a report, by photo and hash, so
    /// later reports of a long-lived instance do not read them again.
    pub report_thumbnails: Arc<tokio::sync::Mutex<std::collections::HashMap<String, Bytes>>>,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Flow {
    /// Syncs one photo; never panics on bad input, always says what happened.
    pub async fn sync_photo(&self, job: PhotoJob) -> PhotoOutcome {
        let started = Instant::now();
        let name = job.name.clone();
        let outcome = self.run(job, started).await;
        match &outcome.status {
            Some(status) => tracing::info!(
                photo = %name,
                status = ?status,
                code = outcome.problem.as_ref().map(|p| p.code.as_str()),
                "{}",
                outcome.summary
            ),
            None => tracing::info!(photo = %name, "{}", outcome.summary),
        }
        outcome
    }

    async fn run(&self, job: PhotoJob, started: Instant) -> PhotoOutcome {
        let name = job.name.clone();
        let bytes = match self.bytes(&job).await {
            Ok(bytes) => bytes,
            Err(failure) => {
                let record = self.base_record(&job, "", 0, &name.key(), None);
                return self.finish(record, None, Err(failure), started).await;
            }
        };
        let sha256 = sha256_hex(&bytes);
        if mapping::is_mapping(&name) {
            return self.mapping_file(&job, &bytes, &sha256, started).await;
        }
        let key = match self.mappings.get(&self.stores.photos).await {
            Ok(mapping) => mapping
                .user_for(&name)
                .map_or_else(|| name.key(), str::to_owned),
            Err(e) => return transient_outcome(&name, e),
        };

        let existing = match self.ledger.get(&name).await {
            Ok(existing) => existing,
            Err(e) => return transient_outcome(&name, e),
        };
        if let Some(current) = &existing
            && !job.force
            && current.record.sharepoint_pending()
            && current.record.sha256 == sha256
            && current.record.key == key
            && self.sharepoint.is_some()
        {
            let current = current.clone();
            return self.sharepoint_only(&job, bytes, current, started).await;
        }
        if let Some(current) = &existing
            && !job.force
            && let Some(skip) = skip_reason(&current.record, &sha256, &key)
        {
            self.note_new_etag(current, job.etag.as_deref()).await;
            return PhotoOutcome {
                status: None,
                problem: None,
                transient: false,
                summary: format!("{name}: {skip}"),
            };
        }

        // Claim the photo: a conditional write that only one invocation wins.
        let mut record =
            self.base_record(&job, &sha256, bytes.len() as u64, &key, existing.as_ref());
        record.status = Status::Retrying;
        record.lease_until =
            Some(Utc::now() + chrono::Duration::from_std(self.lease).expect("fits"));
        let claim = match self
            .ledger
            .put(&record, existing.as_ref().map(|v| v.etag.as_str()))
            .await
        {
            Ok(etag) => etag,
            Err(LedgerError::Conflict(_)) => {
                return PhotoOutcome {
                    status: None,
                    problem: None,
                    transient: false,
                    summary: format!("{name}: another invocation is syncing it"),
                };
            }
            Err(e) => return transient_outcome(&name, e),
        };

        let result = self.render_and_sync(&job, bytes, &key, &mut record).await;
        self.finish(record, Some(claim), result, started).await
    }

    /// Same bytes under a new blob version (re-uploaded as is): remember the
    /// ETag so the timer does not download the blob again next time.
    async fn note_new_etag(&self, current: &Versioned, etag: Option<&str>) {
        if etag.is_none() || current.record.etag.as_deref() == etag {
            return;
        }
        let mut record = current.record.clone();
        record.etag = etag.map(str::to_owned);
        if let Err(e) = self.ledger.put(&record, Some(&current.etag)).await {
            tracing::debug!(photo = %record.photo, "ETag not refreshed: {e}");
        }
    }

    /// The photo's bytes, refusing oversized blobs before reading them.
    async fn bytes(&self, job: &PhotoJob) -> Result<Bytes, Failure> {
        let limit = self.settings.render.max_bytes;
        let too_large = |size: u64| {
            let e = PipelineError::ImageTooLarge(format!(
                "the file is {size} bytes; PHOTOSYNC_MAX_BYTES is {limit}"
            ));
            Failure::new(e.code(), e, false)
        };
        if let Some(bytes) = &job.bytes {
            return match bytes.len() as u64 {
                size if size > limit => Err(too_large(size)),
                _ => Ok(bytes.clone()),
            };
        }
        if let Some(size) = job.length.filter(|s| *s > limit) {
            return Err(too_large(size));
        }
        let blob = self.stores.photos.get(job.name.as_str()).await?;
        match blob.bytes.len() as u64 {
            size if size > limit => Err(too_large(size)),
            _ => Ok(blob.bytes),
        }
    }

    fn base_record(
        &self,
        job: &PhotoJob,
        sha256: &str,
        size: u64,
        key: &str,
        existing: Option<&Versioned>,
    ) -> Record {
        let now = Utc::now();
        let previous = existing.map(|v| &v.record);
        let same_bytes = previous.is_some_and(|r| r.sha256 == sha256);
        Record {
            photo: job.name.as_str().to_owned(),
            etag: job.etag.clone(),
            sha256: sha256.to_owned(),
            size,
            last_modified: job.last_modified,
            key: key.to_owned(),
            user: None,
            status: Status::Retrying,
            problem: None,
            detail: None,
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
        }
    }

    async fn render_and_sync(
        &self,
        job: &PhotoJob,
        bytes: Bytes,
        key: &str,
        record: &mut Record,
    ) -> Result<Status, Failure> {
        let name = &job.name;
        let rendition = self.render(name, bytes).await?;
        let user = match &self.graph {
            Some(graph) => Some(graph.find_user(key).await?),
            None => None,
        };
        record.user = user.as_ref().map(|u| UserRef {
            id: u.id.clone(),
            upn: u.user_principal_name.clone(),
            account_enabled: u.account_enabled,
        });
        if user.as_ref().is_some_and(|u| !u.account_enabled) {
            record.detail = Some("the account is disabled".to_owned());
        }
        // Thumbnails are filed by UPN; without credentials, by the key.
        let folder = user
            .as_ref()
            .map_or_else(|| key.to_owned(), |u| u.user_principal_name.to_lowercase());
        let last_modified = match job.last_modified {
            Some(t) => Some(t),
            None => self
                .stores
                .photos
                .head(name.as_str())
                .await
                .ok()
                .map(|b| b.last_modified),
        };
        if let Some(newer) = self.newest_wins(&folder, name, last_modified).await? {
            record.detail = Some(format!(
                "superseded by {newer}, a newer photo of the same user"
            ));
            return Ok(Status::Ignored);
        }
        self.write_thumbnails(&folder, &rendition).await?;

        let (Some(graph), Some(user)) = (&self.graph, &user) else {
            return Ok(Status::DryRun);
        };
        let master = Bytes::from(self.graph_master(&rendition).jpeg.clone());
        match graph.set_photo(&user.id, master).await? {
            Written::Done => {
                self.write_sharepoint(&user.user_principal_name, &rendition, record)
                    .await;
                if self.settings.reconcile.enforce {
                    // What Graph holds now, to notice a change by someone else later.
                    record.graph_etag = graph
                        .photo_info(&user.id)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|info| info.media_etag);
                }
                Ok(if job.force {
                    Status::Restored
                } else {
                    Status::Synced
                })
            }
            Written::DryRun => Ok(Status::DryRun),
        }
    }

    /// Renders on the blocking pool: it is CPU work.
    async fn render(&self, name: &PhotoName, bytes: Bytes) -> Result<Rendition, Failure> {
        let options = self.render_options();
        let _slot = self.render_slots.acquire().await.expect("never closed");
        let rendered = tokio::task::spawn_blocking(move || pipeline::render(&bytes, &options))
            .await
            .map_err(|e| Failure::new("internal-error", format!("rendering stopped: {e}"), true))?;
        rendered.map_err(|e| {
            let extension = name
                .file_name()
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_ascii_lowercase());
            let looks_like_a_photo = extension
                .as_deref()
                .is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext));
            let mut failure = Failure::new(e.code(), &e, false);
            failure.ignored =
                matches!(e, PipelineError::UnsupportedFormat(_)) && !looks_like_a_photo;
            failure
        })
    }

    async fn write_thumbnails(&self, folder: &str, rendition: &Rendition) -> Result<(), Failure> {
        let properties = BlobProperties {
            content_type: Some("image/jpeg".to_owned()),
            cache_control: Some(THUMBNAIL_CACHE_CONTROL.to_owned()),
            metadata: Default::default(),
        };
        // All sizes at once: they are independent blobs.
        let master = self.graph_master(rendition).size;
        let wanted = rendition
            .thumbnails
            .iter()
            .filter(|t| self.is_thumbnail(t.size, master));
        let writes = wanted.map(|thumbnail| {
            let name = format!("{folder}/{0}x{0}.jpg", thumbnail.size);
            let bytes = Bytes::from(thumbnail.jpeg.clone());
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
