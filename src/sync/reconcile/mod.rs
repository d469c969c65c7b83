//! The Reconcile run: the safety net behind the blob trigger and the bulk
//! engine. Lists the photos container page by page, decides per photo from the
//! ledger without downloading unchanged blobs, syncs what is new, changed or
//! due for a retry with bounded concurrency inside a time budget, marks
//! deleted photos `removed`, and writes the report.

pub mod report;
pub mod targets;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use tokio::time::Instant;

use super::PhotoName;
use super::flow::{Flow, PhotoJob};
use super::ledger::{self, Record, Status, Versioned};
use super::mapping::{self, Mapping};
use crate::config::ReconcileSettings;
use crate::store::{BlobInfo, StoreError};

/// Why a photo is worked on, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sync it, for this reason.
    Sync(&'static str),
    /// Nothing to do.
    Skip,
}

/// Decides from the listing and the ledger alone (no download).
pub fn decide(
    blob: &BlobInfo,
    record: Option<&Record>,
    key: &str,
    graph_live: bool,
    now: chrono::DateTime<Utc>,
) -> Decision {
    let Some(record) = record else {
        return Decision::Sync("new");
    };
    if record.lease_until.is_some_and(|until| until > now) {
        return Decision::Skip;
    }
    if record.etag != blob.etag {
        return Decision::Sync("changed");
    }
    if record.key != key {
        return Decision::Sync("mapping changed");
    }
    match record.status {
        Status::Retrying if record.next_attempt.is_none_or(|at| at <= now) => {
            Decision::Sync("retry due")
        }
        Status::DryRun if graph_live => Decision::Sync("credentials configured"),
        Status::Removed => Decision::Sync("reappeared"),
        _ if record.sharepoint_pending()
            && record
                .sharepoint
                .as_ref()
                .and_then(|t| t.next_attempt)
                .is_none_or(|at| at <= now) =>
        {
            Decision::Sync("SharePoint retry due")
        }
        _ => Decision::Skip,
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Photos listed.
    pub examined: usize,
    /// Photos synced (or attempted) in this run.
    pub worked: usize,
    /// Photos that needed work but were left for the next run (time budget).
    pub left: usize,
    /// Ledger entries newly marked `removed`.
    pub removed: usize,
    /// Names refused as unsafe (`invalid-name`).
    pub invalid_names: Vec<String>,
    /// Records by status after the run.
    pub counts: Vec<(String, usize)>,
    /// How long it took.
    pub elapsed: Duration,
}

impl RunSummary {
    /// The line for the timer's `Logs` and the terminal.
    pub fn line(&self) -> String {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        format!(
            "reconcile: {} photos examined, {} worked on, {} left for the next run, {} removed in {} ms; ledger: {}",
            self.examined,
            self.worked,
            self.left,
            self.removed,
            self.elapsed.as_millis(),
            if counts.is_empty() {
                "empty".to_owned()
            } else {
                counts.join(", ")
            }
        )
    }
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// One more photo listed.
    Examined,
    /// One more photo worked on.
    Worked,
}

/// Every ledger record, by photo name.
async fn load_ledger(flow: &Flow) -> Result<HashMap<String, Versioned>, StoreError> {
    let all = flow.ledger.all().await.map_err(|e| match e {
        ledger::LedgerError::Store(e) => e,
        other => StoreError::Configuration {
            message: other.to_string(),
        },
    })?;
    Ok(all
        .into_iter()
        .map(|v| (v.record.photo.clone(), v))
        .collect())
}

/// One run. Storage failures of the listing abort it (the next tick retries);
/// failures of single photos are recorded on them.
pub async fn run(
    flow: &Flow,
    settings: &ReconcileSettings,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<RunSummary, StoreError> {
    let started = Instant::now();
    flow.mappings.invalidate().await;
    if let Some(graph) = &flow.graph {
        graph.forget_users().await;
    }
    let mapping: std::sync::Arc<Mapping> = flow.mappings.get(&flow.stores.photos).await?;
    let records = load_ledger(flow).await?;
    let graph_live = flow.graph.as_ref().is_some_and(|g| !g.is_dry_run());
    let now = Utc::now();

    let mut summary = RunSummary::default();
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    // Listing order is by name: stable, so what is left runs first next time
    // only if still due, and nothing starves.
    let mut listing = flow.stores.photos.list(None);
    while let Some(blob) = listing.try_next().await? {
        summary.examined += 1;
        progress(Progress::Examined);
        let name = match PhotoName::parse(&blob.name) {
            Ok(name) => name,
            Err(e) => {
                tracing::warn!(photo = %blob.name, code = e.code(), "unsafe blob name: {e}");
                summary.invalid_names.push(blob.name.clone());
                continue;
            }
        };
        seen.insert(blob.name.clone());
        let key = if mapping::is_mapping(&name) {
            name.key()
        } else {
            mapping
                .user_for(&name)
                .map_or_else(|| name.key(), str::to_owned)
        };
        let record = records.get(name.as_str()).map(|v| &v.record);
        let job = PhotoJob {
            name,
            bytes: None,
            etag: blob.etag.clone(),
            length: Some(blob.size),
            last_modified: Some(blob.last_modified),
            force: false,
        };
        match (decide(&blob, record, &key, graph_live, now), record) {
            (Decision::Sync(reason), _) => {
                tracing::debug!(photo = %job.name, reason, "to sync");
                jobs.push(Work::Sync(job));
            }
            (Decision::Skip, Some(record))
                if settings.enforce && graph_live && record.status.is_current() =>
            {
                if let Some(user) = &record.user {
                    jobs.push(Work::CheckDrift {
                        job,
                        user_id: user.id.clone(),
                        expected: record.graph_etag.clone(),
                    });
                }
            }
            (Decision::Skip, _) => {}
        }
    }

    let budget = settings.budget;
    // None: left for the next run; Some(true): worked on; Some(false): only checked.
    let outcomes: Vec<(String, Option<bool>)> = futures::stream::iter(jobs)
        .map(|job| async move {
            let photo = job.photo().to_owned();
            let over = started.elapsed() >= budget || stop.load(Ordering::Relaxed);
            (photo, work(flow, job, over, progress).await)
        })
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    summary.worked = outcomes.iter().filter(|(_, o)| *o == Some(true)).count();
    summary.left = outcomes.iter().filter(|(_, o)| o.is_none()).count();

    let mut removed = Vec::new();
    for (photo, versioned) in &records {
        if !seen.contains(photo)
            && versioned.record.status != Status::Removed
            && mark_removed(flow, versioned, settings.delete_removed).await
        {
            summary.removed += 1;
            removed.push(photo.clone());
        }
    }

    // Only what this run touched changed: re-read those, keep the rest.
    let mut after = records;
    let touched = outcomes
        .iter()
        .filter(|(_, o)| *o == Some(true))
        .map(|(photo, _)| photo.clone())
        .chain(removed);
    for photo in touched {
        let Ok(name) = PhotoName::parse(&photo) else {
            continue;
        };
        match flow.ledger.get(&name).await {
            Ok(Some(v)) => {
                after.insert(photo, v);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(photo, "cannot re-read the record for the report: {e}"),
        }
    }
    let mut rows: Vec<&Record> = after.values().map(|v| &v.record).collect();
    rows.sort_by(|a, b| a.photo.cmp(&b.photo));
    summary.counts = report::counts(&rows);
    summary.elapsed = started.elapsed();
    report::write(flow, &rows, &summary).await?;
    Ok(summary)
}

/// Does one piece of work; `None` when the budget is spent or a stop was asked.
async fn work(
    flow: &Flow,
    job: Work,
    over: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Option<bool> {
    if over {
        return None;
    }
    match job {
        Work::Sync(job) => {
            flow.sync_photo(job).await;
        }
        Work::CheckDrift {
            mut job,
            user_id,
            expected,
        } => {
            if !drifted(flow, &user_id, expected.as_deref()).await {
                return Some(false);
            }
            tracing::info!(photo = %job.name, "the profile photo was changed elsewhere; restoring ours");
            job.force = true;
            flow.sync_photo(job).await;
        }
    }
    progress(Progress::Worked);
    Some(true)
}

/// Work for one photo.
enum Work {
    /// Sync it.
    Sync(PhotoJob),
    /// It is synced: check Graph still has our photo (`PHOTOSYNC_ENFORCE`).
    CheckDrift {
        /// The job to run if it drifted.
        job: PhotoJob,
        /// Whose photo.
        user_id: String,
        /// Graph's media ETag after our upload.
        expected: Option<String>,
    },
}

impl Work {
    fn photo(&self) -> &str {
        match self {
            Self::Sync(job) | Self::CheckDrift { job, .. } => job.name.as_str(),
        }
    }
}

/// Whether the user's photo is no longer the one we set. An unreadable
/// answer is not drift (the next run looks again).
async fn drifted(flow: &Flow, user_id: &str, expected: Option<&str>) -> bool {
    let Some(graph) = &flow.graph else {
        return false;
    };
    match graph.photo_info(user_id).await {
        Ok(Some(info)) => info.media_etag.as_deref() != expected,
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(user_id, code = e.code(), "drift check failed: {e}");
            false
        }
    }
}

/// The photo blob is gone: record it, and with `PHOTOSYNC_DELETE_REMOVED`
/// remove the profile photo if this was the user's current photo.
async fn mark_removed(flow: &Flow, versioned: &Versioned, delete_photo: bool) -> bool {
    let mut record = versioned.record.clone();
    let was_current = match &record.user {
        Some(user) => flow
            .ledger
            .user(&user.upn.to_lowercase())
            .await
            .ok()
            .flatten()
            .is_some_and(|(entry, _)| entry.photo == record.photo),
        None => false,
    };
    record.status = Status::Removed;
    record.lease_until = None;
    record.next_attempt = None;
    record.updated = Utc::now();
    record.detail = Some("the photo blob was deleted".to_owned());
    if delete_photo
        && was_current
        && versioned.record.status.is_current()
        && let (Some(graph), Some(user)) = (&flow.graph, &record.user)
    {
        match graph.delete_photo(&user.id).await {
            Ok(_) => {
                record.detail =
                    Some("the photo blob was deleted; profile photo removed".to_owned());
            }
            Err(e) => {
                record.problem = Some(ledger::Problem {
                    code: e.code().to_owned(),
                    message: format!("removing the profile photo failed: {e}"),
                });
            }
        }
    }
    match flow.ledger.put(&record, Some(&versioned.etag)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(photo = %record.photo, "cannot mark removed: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests;
