//! The Reconcile run: the safety net behind the blob trigger and the bulk
//! engine. Lists the photos container once, decides per photo from the
//! listing and the ledger without downloading unchanged blobs
//! ([`next_action`]), syncs what is new, changed or due with bounded
//! concurrency inside a time budget, marks deleted photos `removed`, and
//! writes the report. Every blob name comes through the listing; one that
//! cannot be used is one report row.

mod grant;
mod guard;
mod removal;
pub mod report;
mod summary;
pub mod targets;
mod work;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;

use futures::TryStreamExt;
use tokio::time::Instant;

use super::PhotoName;
use super::decide::{Action, Seen, Source, next_action};
use super::flow::{Flow, Known, PhotoJob};
use super::ledger::{LedgerError, Record, Versioned};
use super::mapping;
use super::photo_name::escaped;
use crate::problem::ProblemCode;
use crate::store::{BlobInfo, ETag, Listed, StoreError};
pub use summary::{Attention, Progress, RunSummary, Unusable};
use work::Work;

/// The Reconcile run and what it keeps between runs.
#[derive(Debug, Default)]
pub(crate) struct Reconciler {
    /// Writes the reports; keeps their embedded thumbnails between runs.
    report: report::ReportWriter,
}

/// The photos container as listed: the usable photos and the rest.
#[derive(Debug, Default)]
struct Listing {
    /// Photos with usable names, in listing order.
    photos: Vec<(PhotoName, BlobInfo)>,
    /// Everything that is there but cannot be a photo.
    unusable: Vec<Unusable>,
}

impl Reconciler {
    /// One run. A failed listing (storage down, container gone) aborts it
    /// (the next tick retries); everything about single photos is recorded
    /// on them.
    pub(crate) async fn run(
        &self,
        flow: &Flow,
        progress: &(dyn Fn(Progress) + Sync),
        stop: &AtomicBool,
    ) -> Result<RunSummary, StoreError> {
        let started = Instant::now();
        let settings = &flow.settings().reconcile;
        let mut grant = grant::Verdict::default();
        if let Some(graph) = &flow.targets().graph {
            // A new run sees the directory as it is now (new hires).
            graph.forget_users().await;
            if !graph.is_dry_run() {
                grant = grant::check(graph, &flow.stores().state).await;
            }
        }
        flow.set_granted_since(grant.granted_since);
        let listing = list(flow, progress).await?;
        let mapping_blobs: Vec<(PhotoName, Option<ETag>)> = listing
            .photos
            .iter()
            .filter(|(name, _)| mapping::is_mapping(name))
            .map(|(name, blob)| (name.clone(), blob.etag.clone()))
            .collect();
        let mapping_files = flow
            .mappings()
            .load_listed(&flow.stores().photos, &mapping_blobs)
            .await?;
        let scan = flow.ledger().scan().await.map_err(ledger_failure)?;
        let index_stale = scan.index_stale;
        tracing::debug!(
            records = scan.records.len(),
            read = scan.read_individually,
            "ledger scanned"
        );
        let corrupt: HashSet<String> = scan
            .corrupt
            .iter()
            .filter_map(|c| c.photo.clone())
            .collect();
        let records: HashMap<String, Box<Versioned>> = scan
            .records
            .into_iter()
            .map(|v| (v.record.photo.clone(), v))
            .collect();

        let ctx = flow.context(Source::Schedule, false);
        let mut jobs = Vec::new();
        for (name, blob) in &listing.photos {
            if corrupt.contains(name.as_str()) {
                continue; // Reported as `ledger-corrupt`; waits for an admin.
            }
            let record = records.get(name.as_str()).map(|v| &v.record);
            let (key, focus) = assignment(flow, name, record);
            let seen = Seen {
                etag: blob.etag.as_ref(),
                sha256: None,
                key: &key,
                focus,
            };
            let action = next_action(record, &seen, &ctx);
            if let Action::Skip(_) = action {
                // Most photos of a run: no job, so no copy of their record.
                continue;
            }
            let job = PhotoJob {
                name: name.clone(),
                delivered: None,
                length: Some(blob.size),
                source: Source::Schedule,
                force: false,
                // The scan just read it: the flow need not read it again.
                known: records
                    .get(name.as_str())
                    .map_or(Known::Absent, |v| Known::Record(v.clone())),
            };
            match action {
                Action::Sync(why) => {
                    tracing::debug!(photo = %name, why = why.as_str(), "to sync");
                    jobs.push(Work::Sync {
                        job,
                        key,
                        last_modified: blob.last_modified,
                    });
                }
                Action::SharePointOnly => jobs.push(Work::Sync {
                    job,
                    key,
                    last_modified: blob.last_modified,
                }),
                Action::CheckDrift => {
                    if let Some(user) = record.and_then(|r| r.user.as_ref()) {
                        jobs.push(Work::CheckDrift {
                            job,
                            user_id: user.id.clone(),
                            expected: record.and_then(|r| r.graph_etag.clone()),
                        });
                    }
                }
                Action::Reinstate => {
                    if let Some(current) = records.get(name.as_str()) {
                        jobs.push(Work::Reinstate {
                            job,
                            current: current.clone(),
                        });
                    }
                }
                Action::Skip(_) => {}
            }
        }

        let written = report::Written::default();
        let mut outcomes =
            work::run_all(flow, jobs, settings, started, progress, stop, &written).await;

        let listed: HashSet<&str> = listing.photos.iter().map(|(n, _)| n.as_str()).collect();
        let removals = removal::remove_all(flow, &records, &listed, settings).await;
        // A removed photo's user has an older photo: it is current again, now.
        let promoted: Vec<Work> = removals
            .promoted
            .iter()
            .map(|name| Work::Sync {
                job: PhotoJob {
                    name: name.clone(),
                    delivered: None,
                    length: None,
                    source: Source::Schedule,
                    force: false,
                    // Removals just rewrote records: read afresh.
                    known: Known::Unread,
                },
                key: name.key(),
                last_modified: chrono::DateTime::<chrono::Utc>::MIN_UTC,
            })
            .collect();
        if !promoted.is_empty() {
            outcomes.extend(
                work::run_all(flow, promoted, settings, started, progress, stop, &written).await,
            );
        }
        let mut summary = RunSummary {
            examined: listing.photos.len() + listing.unusable.len(),
            worked: outcomes.iter().filter(|o| o.done == Some(true)).count(),
            left: outcomes.iter().filter(|o| o.done.is_none()).count(),
            unusable: listing.unusable,
            corrupt: scan.corrupt,
            removed: removals.removed.len(),
            held: removals.held.len(),
            mapping_notes: mapping_notes(&mapping_files, &listing.photos),
            ..RunSummary::default()
        };
        // The listing is done with: at 100,000 photos it is tens of MB the
        // report needs room for.
        drop(listed);
        drop(listing.photos);
        crate::memory::release_free_pages();

        // Only what this run touched changed: take the records its work
        // wrote, re-read the others it touched, keep the rest.
        let mut after = records;
        let mut touched: Vec<String> = removals.removed.into_iter().chain(removals.held).collect();
        let mut index_due = index_stale || !touched.is_empty();
        let small = written.into_map();
        for worked in outcomes.into_iter().filter(|o| o.done == Some(true)) {
            index_due = true;
            match worked.written {
                Some(v) => {
                    after.insert(worked.photo, v);
                }
                None => touched.push(worked.photo),
            }
        }
        for photo in touched {
            let Ok(name) = PhotoName::parse(&photo) else {
                continue;
            };
            match flow.ledger().get(&name).await {
                Ok(Some(v)) => {
                    after.insert(photo, Box::new(v));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(photo, "cannot re-read the record for the report: {e}"),
            }
        }
        if index_due {
            // The next run reads the ledger from it; a failure costs reads, not photos.
            if let Err(e) = flow.ledger().save_index(after.values().map(|v| &**v)).await {
                tracing::warn!("cannot write the ledger index: {e}");
            }
        }
        crate::memory::release_free_pages();
        let mut rows: Vec<&Record> = after.values().map(|v| &v.record).collect();
        rows.sort_by(|a, b| a.photo.cmp(&b.photo));
        summary.counts = summary::counts(&rows);
        summary.attention = summary::Attention::of(&rows);
        summary.failures = crate::notify::by_code(
            rows.iter()
                .filter(|r| r.status.needs_attention())
                .filter_map(|r| r.problem.as_ref().map(|p| p.code.as_str()))
                .chain(
                    summary
                        .unusable
                        .iter()
                        .map(|_| ProblemCode::InvalidName.as_str()),
                )
                .chain(
                    summary
                        .corrupt
                        .iter()
                        .map(|_| ProblemCode::LedgerCorrupt.as_str()),
                ),
        );
        summary.elapsed = started.elapsed();
        summary.dry_run = !flow.targets().graph_live();
        summary.grant_missing = grant.missing;
        summary.source = flow.stores().photos.location().to_string();
        self.report.write(flow, &rows, &summary, small).await?;
        if let Some(webhook) = &settings.notify
            && crate::notify::worth_telling(&summary)
        {
            crate::notify::send(webhook, &summary).await;
        }
        Ok(summary)
    }
}

/// Lists the photos container into memory (names and versions only: about
/// a hundred bytes a photo), sorting out the names photosync cannot use.
async fn list(flow: &Flow, progress: &(dyn Fn(Progress) + Sync)) -> Result<Listing, StoreError> {
    let mut listing = Listing::default();
    let mut entries = flow.stores().photos.list(None);
    while let Some(entry) = entries.try_next().await? {
        progress(Progress::Examined);
        match entry {
            Listed::Blob(blob) => match PhotoName::parse(&blob.name) {
                Ok(name) => listing.photos.push((name, blob)),
                Err(e) => {
                    let shown = escaped(&blob.name);
                    tracing::warn!(photo = %shown, code = %e.code(), "unusable blob name: {e}");
                    listing.unusable.push(Unusable {
                        name: shown,
                        reason: e.to_string(),
                    });
                }
            },
            Listed::Unusable { name, reason } => {
                let shown = escaped(&name);
                tracing::warn!(photo = %shown, "unusable entry: {reason}");
                listing.unusable.push(Unusable {
                    name: shown,
                    reason,
                });
            }
        }
    }
    Ok(listing)
}

/// The key and focus a photo has now, from the mapping files already loaded.
/// The listing does not carry blob metadata: a focus set there is the
/// record's until the blob changes (which changes its version, and the flow
/// reads it again).
fn assignment(
    flow: &Flow,
    name: &PhotoName,
    record: Option<&Record>,
) -> (String, Option<mapping::Focus>) {
    if mapping::is_mapping(name) {
        return (name.key(), None);
    }
    match flow.mappings().assignment_cached(name) {
        Some(a) => {
            let focus = a.focus.or_else(|| record.and_then(|r| r.focus));
            (a.user, focus)
        }
        None => (name.key(), record.and_then(|r| r.focus)),
    }
}

/// What the report says about each mapping file: rows naming no photo.
fn mapping_notes(
    files: &[std::sync::Arc<mapping::MappingFile>],
    photos: &[(PhotoName, BlobInfo)],
) -> BTreeMap<String, String> {
    let mut notes = BTreeMap::new();
    for file in files {
        let missing = file.rows_without_photo(photos.iter().map(|(n, _)| n));
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(|m| escaped(m)).collect();
            let more = missing.len().saturating_sub(shown.len());
            let mut note = format!(
                "{} row(s) name files that are not there: {}",
                missing.len(),
                shown.join(", ")
            );
            if more > 0 {
                note.push_str(&format!(" and {more} more"));
            }
            notes.insert(file.name.clone(), note);
        }
    }
    notes
}

fn ledger_failure(e: LedgerError) -> StoreError {
    match e {
        LedgerError::Store(e) => e,
        other => StoreError::Configuration {
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
