//! Photos whose blobs are gone. The guard ([`guard::verdict`]) decides first;
//! then each photo whose removal would take something away is either held
//! (`removal-held`: nothing touched, the record says how to confirm) or
//! removed: the record marked, its thumbnails deleted, with
//! `PHOTOSYNC_DELETE_REMOVED` the profile photo too, and the user's next
//! newest photo made current again.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use futures::TryStreamExt;

use super::guard::{self, Verdict};
use crate::config::ReconcileSettings;
use crate::problem::{Problem, ProblemCode};
use crate::store::{ETag, StoreError};
use crate::sync::PhotoName;
use crate::sync::flow::Flow;
use crate::sync::ledger::{Record, Status, UserEntry, Versioned};

/// What became of the photos whose blobs are gone.
#[derive(Debug, Default)]
pub(super) struct Removals {
    /// Photos newly marked `removed`.
    pub removed: Vec<String>,
    /// Photos the guard held (`removal-held`).
    pub held: Vec<String>,
    /// Older photos of a removed photo's user, current again: to sync now.
    pub promoted: Vec<PhotoName>,
}

/// Whether removing this record takes something away: a profile photo
/// photosync set, or thumbnails (a dry run's too). The guard counts these.
fn at_stake(record: &Record) -> bool {
    record.profile_photo_set() || matches!(record.status, Status::DryRun | Status::RemovalHeld)
}

/// Every record whose blob is not `listed` (and not yet `removed`), through
/// the guard; `records` are all of the ledger's.
pub(super) async fn remove_all(
    flow: &Flow,
    records: &HashMap<String, Box<Versioned>>,
    listed: &HashSet<&str>,
    settings: &ReconcileSettings,
) -> Removals {
    let mut gone: Vec<&Versioned> = records
        .values()
        .filter(|v| !listed.contains(v.record.photo.as_str()))
        .filter(|v| v.record.status != Status::Removed)
        .map(|v| &**v)
        .collect();
    gone.sort_by(|a, b| a.record.photo.cmp(&b.record.photo));
    let stake = gone.iter().filter(|v| at_stake(&v.record)).count();
    let verdict = guard::verdict(
        stake,
        listed.len(),
        settings.removal_limit,
        settings.allow_removals,
    );
    let mut out = Removals::default();
    for versioned in gone {
        match &verdict {
            Verdict::Hold(held) if at_stake(&versioned.record) => {
                let message = held.message(&settings.confirm_with);
                if hold(flow, versioned, &message).await {
                    out.held.push(versioned.record.photo.clone());
                }
            }
            _ => {
                if let Some(promoted) =
                    mark_removed(flow, versioned, settings.delete_removed, records, listed).await
                {
                    out.removed.push(versioned.record.photo.clone());
                    out.promoted.extend(promoted);
                }
            }
        }
    }
    if let Verdict::Hold(held) = &verdict {
        tracing::warn!(
            held = held.count(),
            code = %ProblemCode::RemovalHeld,
            "{}",
            held.message(&settings.confirm_with)
        );
    }
    out
}

/// Holds one removal: nothing is touched but the record, which says why and
/// how to confirm. Returns whether the record is held.
async fn hold(flow: &Flow, versioned: &Versioned, message: &str) -> bool {
    let current = &versioned.record;
    if current.status == Status::RemovalHeld
        && current
            .problem
            .as_ref()
            .is_some_and(|p| p.message == message)
    {
        return true;
    }
    let mut record = current.clone();
    if record.status != Status::RemovalHeld {
        record.held_from = Some(record.status);
    }
    record.status = Status::RemovalHeld;
    record.problem = Some(Problem::new(ProblemCode::RemovalHeld, message));
    record.detail = Some("the photo blob was deleted".to_owned());
    record.lease_until = None;
    record.next_attempt = None;
    record.updated = Utc::now();
    match flow.ledger().put(&record, Some(&versioned.etag)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(photo = %record.photo, "cannot hold the removal: {e}");
            false
        }
    }
}

/// The photo blob is gone: record it; if this was the user's current photo,
/// delete its thumbnails, with `PHOTOSYNC_DELETE_REMOVED` the profile photo,
/// and make the user's next newest photo current. `None`: not marked (the
/// record changed meanwhile; the next run looks again); else the photo to
/// sync now, if any.
async fn mark_removed(
    flow: &Flow,
    versioned: &Versioned,
    delete_photo: bool,
    records: &HashMap<String, Box<Versioned>>,
    listed: &HashSet<&str>,
) -> Option<Option<PhotoName>> {
    let mut record = versioned.record.clone();
    let folder = record.thumbnail_folder();
    let entry = flow.ledger().user(&folder).await.ok().flatten();
    let was_current = entry
        .as_ref()
        .is_some_and(|(entry, _)| entry.photo == record.photo);
    let mut said = vec!["the photo blob was deleted".to_owned()];
    record.status = Status::Removed;
    record.held_from = None;
    record.problem = None;
    record.lease_until = None;
    record.next_attempt = None;
    record.updated = Utc::now();
    if was_current {
        match delete_thumbnails(flow, &folder).await {
            Ok(0) => {}
            Ok(n) => said.push(format!("{n} thumbnail(s) deleted")),
            Err(e) => {
                tracing::warn!(photo = %record.photo, "cannot delete the thumbnails: {e}");
                said.push(format!("the thumbnails could not be deleted: {e}"));
            }
        }
    }
    if delete_photo
        && was_current
        && versioned.record.profile_photo_set()
        && let (Some(graph), Some(user)) = (&flow.targets().graph, &record.user)
    {
        match graph.delete_photo(&user.id).await {
            Ok(_) => said.push("profile photo removed".to_owned()),
            Err(e) => {
                record.problem = Some(Problem::new(
                    e.code(),
                    format!("removing the profile photo failed: {e}"),
                ));
            }
        }
    }
    record.detail = Some(said.join("; "));
    if let Err(e) = flow.ledger().put(&record, Some(&versioned.etag)).await {
        tracing::warn!(photo = %record.photo, "cannot mark removed: {e}");
        return None;
    }
    let Some((_, entry_etag)) = entry.filter(|_| was_current) else {
        return Some(None);
    };
    Some(promote_next(flow, &record, &folder, &entry_etag, records, listed).await)
}

/// The user's newest photo still there (a superseded one) becomes current:
/// the user's entry names it and its record is due, so this run syncs it.
/// Without one, the entry goes, so a later photo is never measured against
/// a deleted one.
async fn promote_next(
    flow: &Flow,
    removed: &Record,
    folder: &str,
    entry_etag: &ETag,
    records: &HashMap<String, Box<Versioned>>,
    listed: &HashSet<&str>,
) -> Option<PhotoName> {
    let next = records
        .values()
        .filter(|v| v.record.status == Status::Superseded)
        .filter(|v| listed.contains(v.record.photo.as_str()))
        .filter(|v| v.record.thumbnail_folder() == folder)
        .max_by(|a, b| {
            (a.record.last_modified, &a.record.photo)
                .cmp(&(b.record.last_modified, &b.record.photo))
        });
    let Some(next) = next else {
        if let Err(e) = flow.ledger().forget_user(folder).await {
            tracing::warn!(folder, "cannot clear the user's current photo: {e}");
        }
        return None;
    };
    let name = PhotoName::parse(&next.record.photo).ok()?;
    let entry = UserEntry {
        photo: next.record.photo.clone(),
        last_modified: next.record.last_modified,
    };
    if let Err(e) = flow
        .ledger()
        .put_user(folder, &entry, Some(entry_etag))
        .await
    {
        // Another photo of the user was decided meanwhile: it stands.
        tracing::info!(folder, "the user's current photo changed meanwhile: {e}");
        return None;
    }
    let mut record = next.record.clone();
    record.status = Status::Retrying;
    record.next_attempt = Some(Utc::now());
    record.detail = Some(format!(
        "current again: the newer {} was deleted",
        removed.photo
    ));
    record.updated = Utc::now();
    match flow.ledger().put(&record, Some(&next.etag)).await {
        Ok(_) => Some(name),
        Err(e) => {
            tracing::warn!(photo = %record.photo, "cannot make the photo current again: {e}");
            None
        }
    }
}

/// Deletes every thumbnail filed under `folder`; returns how many.
async fn delete_thumbnails(flow: &Flow, folder: &str) -> Result<usize, StoreError> {
    let thumbnails = &flow.stores().thumbnails;
    let inside = format!("{folder}/");
    // The listing prefix is a plain string in Azure: `alice@x.com` also
    // matches `alice@x.com.au/…`, hence the filter on the folder itself.
    let names: Vec<String> = thumbnails
        .list_blobs(Some(folder))
        .map_ok(|b| b.name)
        .try_filter(|name| futures::future::ready(name.starts_with(&inside)))
        .try_collect()
        .await?;
    for name in &names {
        thumbnails.delete(name).await?;
    }
    Ok(names.len())
}
