//! The Reconcile run: the safety net behind the blob trigger and the bulk
//! engine. Lists the photos container page by page, decides per photo from the
//! ledger without downloading unchanged blobs, syncs what is new, changed or
//! due for a retry with bounded concurrency inside a time budget, marks
//! deleted photos `removed`, and writes the report.

pub mod report;

use std::collections::{HashMap, HashSet};
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

/// Reads every ledger record (in parallel: one small GET each).
async fn load_ledger(flow: &Flow) -> Result<HashMap<String, Versioned>, StoreError> {
    let names: Vec<String> = flow
        .stores
        .state
        .list(Some(ledger::PREFIX.trim_end_matches('/')))
        .map_ok(|b| b.name)
        .try_collect()
        .await?;
    let records = futures::stream::iter(names)
        .filter_map(|blob| async move {
            let photo = blob.strip_prefix(ledger::PREFIX)?.strip_suffix(".json")?;
            PhotoName::parse(photo).ok()
        })
        .map(|name| async move { flow.ledger.get(&name).await })
        .buffer_unordered(32)
        .try_filter_map(|v| async move { Ok(v) })
        .map_ok(|v| (v.record.photo.clone(), v))
        .try_collect::<HashMap<_, _>>()
        .await;
    records.map_err(|e| match e {
        ledger::LedgerError::Store(e) => e,
        other => StoreError::Configuration {
            message: other.to_string(),
        },
    })
}

/// One run. Storage failures of the listing abort it (the next tick retries);
/// failures of single photos are recorded on them.
pub async fn run(
    flow: &Flow,
    settings: &ReconcileSettings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunSummary, StoreError> {
    let started = Instant::now();
    flow.mappings.invalidate().await;
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
        if let Decision::Sync(reason) = decide(&blob, record, &key, graph_live, now) {
            tracing::debug!(photo = %name, reason, "to sync");
            jobs.push(PhotoJob {
                name,
                bytes: None,
                etag: blob.etag.clone(),
                length: Some(blob.size),
                last_modified: Some(blob.last_modified),
            });
        }
    }

    let budget = settings.budget;
    let outcomes: Vec<bool> = futures::stream::iter(jobs)
        .map(|job| async move {
            if started.elapsed() >= budget {
                return false;
            }
            flow.sync_photo(job).await;
            progress(Progress::Worked);
            true
        })
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    summary.worked = outcomes.iter().filter(|w| **w).count();
    summary.left = outcomes.len() - summary.worked;

    for (photo, versioned) in &records {
        if !seen.contains(photo)
            && versioned.record.status != Status::Removed
            && mark_removed(flow, versioned, settings.delete_removed).await
        {
            summary.removed += 1;
        }
    }

    let after = load_ledger(flow).await?;
    let mut rows: Vec<&Record> = after.values().map(|v| &v.record).collect();
    rows.sort_by(|a, b| a.photo.cmp(&b.photo));
    summary.counts = report::counts(&rows);
    summary.elapsed = started.elapsed();
    report::write(flow, &rows, &summary).await?;
    Ok(summary)
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
        && versioned.record.status == Status::Synced
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
