//! "Sync this photo": bytes → decision → claim → rendition → user →
//! thumbnails → Microsoft 365 → ledger. One code path for the blob trigger,
//! the timer and local mode.
//!
//! Order matters: thumbnails are written before the profile upload, so a
//! Graph failure never loses them; the ledger is written last, so a crash
//! anywhere leaves a claim that runs out and a state the next run completes.
//! Each step returns a value ([`publish::Published`] or a [`Failure`]); the
//! record is built from it in one place ([`settle`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

mod failure;
mod lease;
mod mapping_file;
mod newest;
mod publish;
mod settle;
mod sharepoint;

pub(crate) use failure::Failure;

use super::Targets;
use super::decide::{self, Action, Context, Seen, Skip, Source};
use super::ledger::{Ledger, LedgerError, Status, Versioned};
use super::mapping::{self, Focus, Mappings};
use super::plan::RenditionPlan;
use super::{PhotoName, sha256_hex_blocking};
use crate::config::Settings;
use crate::memory::{Held, Memory};
use crate::problem::{Problem, ProblemCode};
use crate::renderer::Renderer;
use crate::store::{ETag, StoreError, Stores};

/// Blob metadata key an admin (or the web page) sets to place the crop.
pub const FOCUS_METADATA: &str = "photosync_focus";

/// One photo to sync, from whichever trigger.
#[derive(Debug, Clone)]
pub struct PhotoJob {
    /// Validated blob name.
    pub name: PhotoName,
    /// What the host delivered with the trigger, if anything.
    pub delivered: Option<Delivery>,
    /// Size known before reading (listing, trigger), so an oversized photo
    /// is refused unread.
    pub length: Option<u64>,
    /// A delivery acts now; a scheduled pass only when due.
    pub source: Source,
    /// Set the profile photo again even if the ledger says it is set (drift).
    pub force: bool,
    /// The photo's ledger record as the caller has just read it.
    pub known: Known,
}

/// What the caller of [`Flow::sync_photo`] knows of the photo's record.
/// A record read earlier is as good as a fresh read: every write against it
/// is conditional on its ETag, so a record changed since makes the claim a
/// conflict (the photo is left to whoever changed it), never a lost update.
#[derive(Debug, Clone, Default)]
pub enum Known {
    /// Nothing: the flow reads the record.
    #[default]
    Unread,
    /// Read by a Reconcile run's ledger scan: there is none.
    Absent,
    /// Read by a Reconcile run's ledger scan.
    Record(Box<Versioned>),
}

/// The bytes and properties the host sent with a trigger.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The blob's bytes.
    pub bytes: Bytes,
    /// Its version, when the host gave one (storage extension 5.x does not).
    pub etag: Option<ETag>,
    /// Its last write time.
    pub last_modified: Option<DateTime<Utc>>,
    /// Its user metadata (for the crop focus).
    pub metadata: BTreeMap<String, String>,
}

/// The bytes being synced, with the version they belong to.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    /// The bytes.
    pub bytes: Bytes,
    /// Their SHA-256 (hex).
    pub sha256: String,
    /// The blob version they are; `None` only when storage gave none.
    pub etag: Option<ETag>,
    /// The blob's last write time (newest photo of a user wins).
    pub last_modified: Option<DateTime<Utc>>,
    /// The crop focus from the blob's metadata.
    pub focus: Option<Focus>,
    /// The share of the process's memory the bytes hold, given back with
    /// the last clone (`None` for bytes a transport accounts for).
    pub held: Option<Arc<Held>>,
}

/// What became of one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoOutcome {
    /// Ledger status, or `None` when nothing was recorded (unchanged, or
    /// another invocation owns it).
    pub status: Option<Status>,
    /// The problem, if any.
    pub problem: Option<Problem>,
    /// Set when trying again can help: why, for the host's log.
    pub retry: Option<String>,
    /// One line for the host log: `alice.jpg → alice@contoso.com synced in 412 ms`.
    pub summary: String,
    /// The record as this flow last wrote it, so a Reconcile run's report
    /// need not read it back; `None` when it wrote none (or lost a race).
    pub written: Option<Box<Versioned>>,
    /// The thumbnail a report shows, as this flow wrote it.
    pub small: Option<Bytes>,
}

impl PhotoOutcome {
    /// Nothing to do (or nothing this invocation may do).
    fn skipped(name: &PhotoName, skip: Skip) -> Self {
        Self {
            status: None,
            problem: None,
            retry: None,
            summary: format!("{name}: {}", skip.describe()),
            written: None,
            small: None,
        }
    }

    /// Stopped before anything could be recorded.
    fn unrecorded(name: &PhotoName, failure: Failure) -> Self {
        let problem = failure.problem;
        Self {
            status: None,
            retry: problem.is_transient().then(|| problem.to_string()),
            summary: format!("{name}: {problem}"),
            problem: Some(problem),
            written: None,
            small: None,
        }
    }
}

/// The per-photo flow and its collaborators. Private: [`super::Engine`] is
/// the public face.
#[derive(Debug)]
pub(crate) struct Flow {
    /// Settings (containers, limits, reconcile options).
    settings: Arc<Settings>,
    /// Photos, thumbnails and state containers.
    stores: Stores,
    /// Ledger in the state container.
    ledger: Ledger,
    /// Microsoft 365 targets; Graph `None` runs dry.
    targets: Targets,
    /// The `mapping.csv` files, read by name.
    mappings: Mappings,
    /// What one decode renders and where each size goes.
    plan: RenditionPlan,
    /// Renders within the process's budgets; its memory account also holds
    /// the photo bytes read (`PHOTOSYNC_MEMORY_MB`, `PHOTOSYNC_MAX_DECODE_MB`).
    renderer: Renderer,
    /// How long a claim holds unrenewed (`PHOTOSYNC_LEASE_SECS`; several
    /// instances in Azure, a crashed one's claim runs out); zero for a
    /// single local process, whose claims no other worker can hold.
    lease: Duration,
    /// Since when the Graph permissions are known complete, as the last
    /// Reconcile's check found (`None` before one ran): the flow's second
    /// decision must agree with the run's first. A `std` mutex held only to
    /// copy the value.
    granted_since: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl Flow {
    pub(crate) fn new(settings: Arc<Settings>, stores: Stores, targets: Targets) -> Self {
        let plan = RenditionPlan::new(
            &settings.render,
            targets.sharepoint.as_ref().map(|s| s.sizes()),
        );
        let renderer = Renderer::new(Memory::new(settings.memory.held, settings.memory.decode));
        Self {
            lease: settings.reconcile.lease,
            ledger: Ledger::new(stores.state.clone()),
            settings,
            stores,
            targets,
            mappings: Mappings::default(),
            plan,
            renderer,
            granted_since: std::sync::Mutex::new(None),
        }
    }

    /// For a single local process: claims left by an interrupted run are
    /// not honoured (no other worker can hold them).
    pub(crate) fn without_lease(mut self) -> Self {
        self.lease = Duration::ZERO;
        self
    }

    /// The process's render budgets, shared with the transports.
    pub(crate) fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn stores(&self) -> &Stores {
        &self.stores
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Records what a Reconcile's grant check found.
    pub(crate) fn set_granted_since(&self, since: Option<DateTime<Utc>>) {
        *self.granted_since.lock().unwrap_or_else(|e| e.into_inner()) = since;
    }

    pub(crate) fn targets(&self) -> &Targets {
        &self.targets
    }

    pub(crate) fn mappings(&self) -> &Mappings {
        &self.mappings
    }

    /// The decision context for `source` at this moment.
    pub(crate) fn context(&self, source: Source, force: bool) -> Context {
        Context {
            now: Utc::now(),
            source,
            graph_live: self.targets.graph_live(),
            sharepoint: self.targets.sharepoint.is_some(),
            enforce: self.settings.reconcile.enforce,
            force,
            granted_since: *self.granted_since.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Syncs one photo; never panics on bad input, always says what happened.
    pub(crate) async fn sync_photo(&self, job: PhotoJob) -> PhotoOutcome {
        let started = Instant::now();
        let name = job.name.clone();
        let outcome = self.run(job, started).await;
        match &outcome.status {
            Some(status) => tracing::info!(
                photo = %name,
                status = %status,
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
        let content = match self.fetch(&job).await {
            Ok(Some(content)) => content,
            Ok(None) => {
                return PhotoOutcome {
                    status: None,
                    problem: None,
                    retry: None,
                    summary: format!("{name}: deleted before it could be read"),
                    written: None,
                    small: None,
                };
            }
            Err((failure, etag)) => return self.unreadable(&job, etag, failure, started).await,
        };
        let is_mapping = mapping::is_mapping(&name);
        let assignment = if is_mapping {
            None
        } else {
            match self.mappings.assignment(&self.stores.photos, &name).await {
                Ok(assignment) => assignment,
                Err(e) => return PhotoOutcome::unrecorded(&name, e.into()),
            }
        };
        let key = assignment
            .as_ref()
            .map_or_else(|| name.key(), |a| a.user.clone());
        let focus = content
            .focus
            .or_else(|| assignment.as_ref().and_then(|a| a.focus));
        let existing = match self.existing(&name, &job).await {
            Ok(existing) => existing,
            Err(failure) => return PhotoOutcome::unrecorded(&name, failure),
        };
        let seen = Seen {
            etag: content.etag.as_ref(),
            sha256: Some(&content.sha256),
            key: &key,
            focus,
        };
        let ctx = self.context(job.source, job.force);
        match decide::next_action(existing.as_ref().map(|v| &v.record), &seen, &ctx) {
            Action::Skip(skip) => {
                self.note_version(existing.as_ref(), &content).await;
                PhotoOutcome::skipped(&name, skip)
            }
            Action::Reinstate => {
                let current = existing.expect("only a record can be held");
                self.reinstate(&name, current, content.etag.clone()).await
            }
            // Drift is the timer's check; a delivery of the same bytes has nothing to do.
            Action::CheckDrift => PhotoOutcome::skipped(&name, Skip::Unchanged),
            Action::SharePointOnly => {
                let current = existing.expect("only a record can be pending");
                self.sharepoint_only(&name, content, current, started).await
            }
            Action::Sync(_) if is_mapping => {
                self.mapping_file(&name, content, existing, started).await
            }
            Action::Sync(why) => {
                tracing::debug!(photo = %name, why = why.as_str(), "syncing");
                self.claim_and_publish(&job, content, key, focus, existing, started)
                    .await
            }
        }
    }

    /// The photo's record. An unreadable one, on a delivery of the photo,
    /// is dropped so the photo is processed as new; on a schedule it stays
    /// (the report lists it) until an admin acts.
    async fn existing(
        &self,
        name: &PhotoName,
        job: &PhotoJob,
    ) -> Result<Option<Versioned>, Failure> {
        match &job.known {
            Known::Unread => {}
            Known::Absent => return Ok(None),
            Known::Record(v) => return Ok(Some(v.as_ref().clone())),
        }
        match self.ledger.get(name).await {
            Ok(existing) => Ok(existing),
            Err(LedgerError::Corrupt { reason, .. }) if job.source == Source::Delivery => {
                tracing::warn!(photo = %name, "replacing an unreadable ledger record: {reason}");
                self.ledger.forget(&Ledger::key(name)).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Claims the photo (a conditional write only one invocation wins), then
    /// publishes it and settles the record.
    async fn claim_and_publish(
        &self,
        job: &PhotoJob,
        content: Content,
        key: String,
        focus: Option<Focus>,
        existing: Option<Versioned>,
        started: Instant,
    ) -> PhotoOutcome {
        let name = &job.name;
        let previous = existing.as_ref().map(|v| &v.record);
        let record = settle::base_record(name, &content, &key, focus, previous);
        let claimed = settle::claimed(&record, self.lease);
        let claim = match self
            .ledger
            .put(&claimed, existing.as_ref().map(|v| &v.etag))
            .await
        {
            Ok(etag) => etag,
            Err(LedgerError::Conflict(_)) => return PhotoOutcome::skipped(name, Skip::InProgress),
            Err(e) => return PhotoOutcome::unrecorded(name, e.into()),
        };
        let first = existing.is_none();
        let (result, claim) = self
            .renewing(
                &claimed,
                claim,
                self.publish(job, &content, &key, &record, first),
            )
            .await;
        self.settle(record, Some(claim), result, started).await
    }

    /// The photo's bytes and version: what the host delivered when it said
    /// which version that is, else one GET (bytes, version and metadata in
    /// one answer, so they belong together). Oversized photos are refused
    /// before reading. `Ok(None)`: the blob is gone. The error carries the
    /// version when known, so the failure can be recorded against it.
    async fn fetch(&self, job: &PhotoJob) -> Result<Option<Content>, (Failure, Option<ETag>)> {
        let limit = self.settings.render.max_bytes;
        let too_large = |size: u64| {
            Failure::new(
                ProblemCode::ImageTooLarge,
                format!("the file is {size} bytes; PHOTOSYNC_MAX_BYTES is {limit}"),
            )
        };
        if let Some(delivery) = job.delivered.as_ref().filter(|d| d.etag.is_some()) {
            let size = delivery.bytes.len() as u64;
            if size > limit {
                return Err((too_large(size), delivery.etag.clone()));
            }
            return Ok(Some(
                Content::of(
                    delivery.bytes.clone(),
                    delivery.etag.clone(),
                    delivery.last_modified,
                    &delivery.metadata,
                )
                .await,
            ));
        }
        let known = job
            .length
            .or_else(|| job.delivered.as_ref().map(|d| d.bytes.len() as u64));
        if let Some(size) = known.filter(|s| *s > limit) {
            // Learn the version cheaply, so the failure is recorded against it.
            let etag = self
                .stores
                .photos
                .head(job.name.as_str())
                .await
                .ok()
                .and_then(|b| b.etag);
            return Err((too_large(size), etag));
        }
        // The bytes are in memory from the first byte read until the photo
        // is done: their share of the process's memory is taken first.
        let held = self.renderer.memory().hold(known.unwrap_or(limit)).await;
        match self
            .stores
            .photos
            .get_limited(job.name.as_str(), limit)
            .await
        {
            Ok(blob) => {
                let mut content = Content::of(
                    blob.bytes,
                    blob.info.etag,
                    Some(blob.info.last_modified),
                    &blob.properties.metadata,
                )
                .await;
                content.held = Some(Arc::new(held.keep(content.bytes.len() as u64)));
                Ok(Some(content))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(StoreError::TooLarge { size, .. }) => Err((too_large(size), None)),
            Err(e) => Err((e.into(), None)),
        }
    }

    /// Same bytes under a new blob version (re-uploaded as is): remember the
    /// version so the timer does not download the blob again next time.
    async fn note_version(&self, current: Option<&Versioned>, content: &Content) {
        let Some(current) = current else { return };
        if content.etag.is_none()
            || current.record.etag == content.etag
            || current.record.sha256 != content.sha256
        {
            return;
        }
        let mut record = current.record.clone();
        record.etag = content.etag.clone();
        if let Err(e) = self.ledger.put(&record, Some(&current.etag)).await {
            tracing::debug!(photo = %record.photo, "version not refreshed: {e}");
        }
    }
}

impl Content {
    /// Hashes the bytes (off the runtime: a 50 MB photo takes a while).
    async fn of(
        bytes: Bytes,
        etag: Option<ETag>,
        last_modified: Option<DateTime<Utc>>,
        metadata: &BTreeMap<String, String>,
    ) -> Self {
        Self {
            sha256: sha256_hex_blocking(bytes.clone()).await,
            bytes,
            etag,
            last_modified,
            focus: metadata.get(FOCUS_METADATA).and_then(|f| Focus::parse(f)),
            held: None,
        }
    }
}
