//! `photosync status USER|PHOTO`: everything photosync knows about one
//! person or one photo, in one place: the ledger record(s), the photo blob,
//! the user's current Microsoft 365 photo, the thumbnails, the backups, and
//! what the next Reconcile will do with it. Reads only.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;

use super::UsageError;
use crate::config::Settings;
use crate::store::{StoreError, Stores};
use crate::sync::decide::{Action, Context, Seen, Source, next_action};
use crate::sync::ledger::{Ledger, Record, Status, Versioned};
use crate::sync::{PhotoName, Targets, backup};

/// Prints what is known about `what` (a photo name in the photos container,
/// or a user's UPN or matching key). Unknown to photosync: a usage error.
pub async fn run(settings: &Settings, what: &str) -> anyhow::Result<()> {
    let stores = super::storage::stores(settings)?;
    let ledger = Ledger::new(stores.state.clone());
    let records = matching_records(&ledger, what).await?;
    if records.is_empty() {
        return Err(UsageError(format!(
            "photosync has no record of `{what}`: give a photo's name as it is in the \
             photos container (`hr/alice@contoso.com.jpg`) or a user's sign-in name; \
             a photo dropped just now is recorded once it has been processed"
        ))
        .into());
    }
    let targets = Targets::from_settings(settings)?;
    let ctx = Context {
        now: Utc::now(),
        source: Source::Schedule,
        graph_live: targets.graph_live(),
        sharepoint: targets.sharepoint.is_some(),
        enforce: settings.reconcile.enforce,
        force: false,
        granted_since: None,
    };
    let mut users = Vec::new();
    for record in &records {
        crate::say!("photo {}", record.photo);
        photo_lines(&stores, record, &ctx).await?;
        if !users.contains(&record.thumbnail_folder()) {
            users.push(record.thumbnail_folder());
        }
    }
    for folder in users {
        let user = records
            .iter()
            .find(|r| r.thumbnail_folder() == folder)
            .and_then(|r| r.user.clone());
        crate::say!("user {folder}");
        match (&targets.graph, &user) {
            (None, _) => crate::say!("  Microsoft 365 photo: not read (no Graph credentials)"),
            (Some(_), None) => crate::say!("  Microsoft 365 photo: no user matched yet"),
            (Some(graph), Some(user)) => match graph.photo_info(&user.id).await {
                Ok(Some(info)) => crate::say!(
                    "  Microsoft 365 photo: {}x{}, media ETag {}{}",
                    info.width,
                    info.height,
                    info.media_etag.as_deref().unwrap_or("(none)"),
                    drift(&records, &folder, info.media_etag.as_deref())
                ),
                Ok(None) => crate::say!("  Microsoft 365 photo: none"),
                Err(e) => crate::say!("  Microsoft 365 photo: cannot read it: {e} ({})", e.code()),
            },
        }
        let sizes = thumbnails(&stores, &folder).await?;
        if sizes.is_empty() {
            crate::say!("  thumbnails: none in {}", stores.thumbnails.location());
        } else {
            crate::say!(
                "  thumbnails: {} ({}) under {folder}/ in {}",
                sizes.len(),
                sizes.join(", "),
                stores.thumbnails.location()
            );
        }
        let backups = backup::list(&stores.state, &folder)
            .await
            .context("cannot list the backups")?;
        match backups.last() {
            None => crate::say!("  backups: none"),
            Some(newest) => crate::say!(
                "  backups: {} (newest {}; `photosync backups {folder}`)",
                backups.len(),
                newest.at
            ),
        }
    }
    Ok(())
}

/// The record of the photo named `what`, or every record whose user or
/// key is `what` (one listing of the ledger, through its index).
async fn matching_records(ledger: &Ledger, what: &str) -> anyhow::Result<Vec<Record>> {
    if let Ok(name) = PhotoName::parse(what)
        && let Some(Versioned { record, .. }) =
            ledger.get(&name).await.context("cannot read the ledger")?
    {
        return Ok(vec![record]);
    }
    let wanted = what.trim().to_lowercase();
    let scan = ledger.scan().await.context("cannot read the ledger")?;
    let mut found: Vec<Record> = scan
        .records
        .into_iter()
        .map(|v| v.record)
        .filter(|r| r.key == wanted || r.thumbnail_folder() == wanted)
        .collect();
    found.sort_by(|a, b| a.photo.cmp(&b.photo));
    Ok(found)
}

async fn photo_lines(stores: &Stores, record: &Record, ctx: &Context) -> anyhow::Result<()> {
    let user = record.user.as_ref().map_or_else(
        || "no user matched".to_owned(),
        |u| format!("for {} (id {})", u.upn, u.id),
    );
    crate::say!(
        "  ledger: {} since {}, {user}, {} attempt(s)",
        record.status.as_str(),
        when(record.updated),
        record.attempts
    );
    if let Some(problem) = &record.problem {
        crate::say!(
            "  problem: {} — {} ({})",
            problem.code,
            problem.message,
            problem.code.advice()
        );
    }
    let blob = match stores.photos.head(&record.photo).await {
        Ok(blob) => Some(blob),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(anyhow::Error::new(e).context("cannot read the photo's properties")),
    };
    match &blob {
        Some(blob) => crate::say!(
            "  blob: {} bytes, changed {} in {}",
            blob.size,
            when(blob.last_modified),
            stores.photos.location()
        ),
        None => crate::say!("  blob: gone from {}", stores.photos.location()),
    }
    let next = match &blob {
        // The listing's view, as the Reconcile sees it (the mapping file is
        // not read here: a mapping change shows once the run reads it).
        Some(blob) => describe(next_action(
            Some(record),
            &Seen {
                etag: blob.etag.as_ref(),
                sha256: None,
                key: &record.key,
                focus: record.focus,
            },
            ctx,
        )),
        None if record.status == Status::Removed => "nothing (removed)".to_owned(),
        None => "mark it removed, through the deletion guard".to_owned(),
    };
    crate::say!("  next Reconcile: {next}");
    Ok(())
}

fn describe(action: Action) -> String {
    match action {
        Action::Sync(why) => format!("sync it ({})", why.as_str()),
        Action::SharePointOnly => "send it to SharePoint only".to_owned(),
        Action::CheckDrift => {
            "compare the Microsoft 365 photo with photosync's (PHOTOSYNC_ENFORCE)".to_owned()
        }
        Action::Reinstate => "reinstate its record (the same photo is back)".to_owned(),
        Action::Skip(skip) => format!("nothing: {}", skip.describe()),
    }
}

/// Whether the photo in Microsoft 365 is the one photosync last set.
fn drift(records: &[Record], folder: &str, now: Option<&str>) -> &'static str {
    let set = records
        .iter()
        .filter(|r| r.thumbnail_folder() == folder)
        .find_map(|r| r.graph_etag.as_deref());
    match (set, now) {
        (Some(set), Some(now)) if set == now => " (the photo photosync set)",
        (Some(_), _) => " (changed elsewhere since photosync set it)",
        (None, _) => "",
    }
}

async fn thumbnails(stores: &Stores, folder: &str) -> anyhow::Result<Vec<String>> {
    let mut sizes: Vec<(u32, String)> = stores
        .thumbnails
        .list_blobs(Some(folder))
        .map_ok(|b| b.name)
        .try_filter_map(|name| async move {
            let file = name.rsplit('/').next().unwrap_or_default().to_owned();
            let size = file.split('x').next().and_then(|n| n.parse().ok());
            Ok(size.map(|n| (n, file.trim_end_matches(".jpg").to_owned())))
        })
        .try_collect()
        .await
        .context("cannot list the thumbnails")?;
    sizes.sort();
    Ok(sizes.into_iter().map(|(_, name)| name).collect())
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
