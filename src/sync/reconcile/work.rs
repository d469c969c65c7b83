//! The work of a Reconcile run: syncing what the decision table chose, with
//! bounded concurrency inside the time budget, newest photo of a person
//! first; checking synced photos for drift; calling off held removals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::time::Instant;

use super::report::{self, Written};
use super::summary::Progress;
use crate::config::ReconcileSettings;
use crate::sync::flow::{Flow, PhotoJob, PhotoOutcome};
use crate::sync::ledger::Versioned;

/// Work for one photo.
pub(super) enum Work {
    /// Sync it.
    Sync {
        /// The job.
        job: PhotoJob,
        /// Its matching key: photos of one key are one person's.
        key: String,
        /// Its last write time: the newest of a person's photos goes first.
        last_modified: DateTime<Utc>,
    },
    /// It is synced: check Graph still has our photo (`PHOTOSYNC_ENFORCE`).
    CheckDrift {
        /// The job to run if it drifted.
        job: PhotoJob,
        /// Whose photo.
        user_id: String,
        /// Graph's media ETag after our upload.
        expected: Option<String>,
    },
    /// Its removal was held and it is back unchanged: restore the record.
    Reinstate {
        /// The job (for its name).
        job: PhotoJob,
        /// The held record (boxed: records are large, this variant is rare).
        current: Box<Versioned>,
    },
}

impl Work {
    fn photo(&self) -> &str {
        match self {
            Self::Sync { job, .. } | Self::CheckDrift { job, .. } | Self::Reinstate { job, .. } => {
                job.name.as_str()
            }
        }
    }
}

/// What became of one photo's work.
pub(super) struct Worked {
    /// The photo.
    pub photo: String,
    /// `Some(true)` worked on, `Some(false)` only checked, `None` left for
    /// the next run (budget spent or stop asked).
    pub done: Option<bool>,
    /// Its record as the work wrote it (the report needs no read-back;
    /// its report thumbnail goes to the run's [`Written`]).
    pub written: Option<Box<Versioned>>,
}

/// Runs everything: first the newest photo of each person (and the drift
/// checks), then the rest, which the flow then finds superseded without
/// uploading them. So a bulk drop of three photos of one person makes one
/// upload, of the newest.
pub(super) async fn run_all(
    flow: &Flow,
    jobs: Vec<Work>,
    settings: &ReconcileSettings,
    started: Instant,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
    thumbnails: &Written,
) -> Vec<Worked> {
    progress(Progress::Planned(jobs.len()));
    let budget = Budget {
        started,
        limit: settings.budget,
        stop,
        begun: AtomicBool::new(false),
    };
    let (first, second) = waves(jobs);
    let concurrency = settings.concurrency;
    let mut outcomes = wave(flow, first, concurrency, &budget, progress, thumbnails).await;
    outcomes.extend(wave(flow, second, concurrency, &budget, progress, thumbnails).await);
    outcomes
}

/// When a run stops starting work. The budget counts from the start of the
/// run, listing included, so on a slow instance listing alone can spend it:
/// the first photo starts anyway, so every run makes progress and a big
/// container is never stuck behind its own listing.
struct Budget<'a> {
    /// When the run started.
    started: Instant,
    /// `PHOTOSYNC_RECONCILE_BUDGET_SECS`.
    limit: Duration,
    /// Ctrl-C or shutdown: start nothing more, not even a first photo.
    stop: &'a AtomicBool,
    /// Whether a photo was started in this run.
    begun: AtomicBool,
}

impl Budget<'_> {
    /// Whether the next photo may start now.
    fn allows_another(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        let first = !self.begun.swap(true, Ordering::Relaxed);
        first || self.started.elapsed() < self.limit
    }
}

/// Splits off, per key, every photo but the newest.
fn waves(jobs: Vec<Work>) -> (Vec<Work>, Vec<Work>) {
    let mut newest: HashMap<String, (DateTime<Utc>, String)> = HashMap::new();
    for work in &jobs {
        if let Work::Sync {
            job,
            key,
            last_modified,
        } = work
        {
            let candidate = (*last_modified, job.name.as_str().to_owned());
            let best = newest
                .entry(key.clone())
                .or_insert_with(|| candidate.clone());
            if candidate > *best {
                *best = candidate;
            }
        }
    }
    jobs.into_iter().partition(|work| match work {
        Work::Sync { job, key, .. } => newest
            .get(key)
            .is_none_or(|(_, photo)| photo == job.name.as_str()),
        Work::CheckDrift { .. } | Work::Reinstate { .. } => true,
    })
}

async fn wave(
    flow: &Flow,
    jobs: Vec<Work>,
    concurrency: usize,
    budget: &Budget<'_>,
    progress: &(dyn Fn(Progress) + Sync),
    thumbnails: &Written,
) -> Vec<Worked> {
    // Listing order is by name: stable, so what is left runs first next time
    // only if still due, and nothing starves.
    futures::stream::iter(jobs)
        .map(|work| async move {
            let photo = work.photo().to_owned();
            let (done, outcome) = if budget.allows_another() {
                let (done, outcome) = one(flow, work).await;
                (Some(done), outcome)
            } else {
                (None, None)
            };
            let (written, small) = outcome.map_or((None, None), |o| (o.written, o.small));
            if let (Some(v), Some(jpeg)) = (&written, small) {
                thumbnails.keep(report::thumbnail_key(&v.record), jpeg);
            }
            // Every job that ran counts towards the bar's total, including a
            // drift check that found nothing to do.
            if done.is_some() {
                progress(Progress::Worked);
            }
            Worked {
                photo,
                done,
                written,
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// Does one piece of work; whether the photo was worked on, and how it went.
async fn one(flow: &Flow, work: Work) -> (bool, Option<PhotoOutcome>) {
    match work {
        Work::Sync { job, .. } => (true, Some(flow.sync_photo(job).await)),
        Work::CheckDrift {
            mut job,
            user_id,
            expected,
        } => {
            if !drifted(flow, &user_id, expected.as_deref()).await {
                return (false, None);
            }
            tracing::info!(photo = %job.name, "the profile photo was changed elsewhere; restoring ours");
            job.force = true;
            (true, Some(flow.sync_photo(job).await))
        }
        Work::Reinstate { job, current } => {
            let outcome = flow.reinstate(&job.name, *current, None).await;
            tracing::info!(photo = %job.name, "{}", outcome.summary);
            (true, Some(outcome))
        }
    }
}

/// Whether the user's photo is no longer the one we set. An unreadable
/// answer is not drift (the next run looks again).
async fn drifted(flow: &Flow, user_id: &str, expected: Option<&str>) -> bool {
    let Some(graph) = &flow.targets().graph else {
        return false;
    };
    match graph.photo_info(user_id).await {
        Ok(Some(info)) => info.media_etag.as_deref() != expected,
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(user_id, code = %e.code(), "drift check failed: {e}");
            false
        }
    }
}
