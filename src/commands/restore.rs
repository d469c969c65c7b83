//! `photosync backups USER` and `photosync restore USER [--at TIMESTAMP]`:
//! the profile photos photosync backed up before replacing them, and putting
//! one back. A restored photo stays: the user's ledger record is marked so
//! Reconcile does not replace it again until the source photo changes.

use anyhow::Context as _;
use chrono::Utc;

use super::UsageError;
use crate::config::Settings;
use crate::store::Store;
use crate::sync::backup;
use crate::sync::ledger::Ledger;
use crate::sync::{PhotoName, Targets};

fn state(settings: &Settings) -> anyhow::Result<Store> {
    super::storage::container(settings, &settings.containers.state)
}

/// Prints `upn`'s backups, oldest first; returns how many there are.
pub async fn list(settings: &Settings, upn: &str) -> anyhow::Result<usize> {
    let backups = backup::list(&state(settings)?, upn)
        .await
        .context("cannot list the backups")?;
    if backups.is_empty() {
        println!("no backups of {upn}: photosync never replaced a photo it had not set");
    }
    for b in &backups {
        println!("{}  {:>8} bytes  {}", b.at, b.size, b.name);
    }
    Ok(backups.len())
}

/// Puts `upn`'s backup `at` (the newest when `None`) back as their profile
/// photo; returns the backup's timestamp.
pub async fn restore(settings: &Settings, upn: &str, at: Option<&str>) -> anyhow::Result<String> {
    let state = state(settings)?;
    let targets = Targets::from_settings(settings)?;
    let Some(graph) = targets.graph.filter(|g| !g.is_dry_run()) else {
        return Err(UsageError(
            "restore needs Microsoft Graph credentials (and no PHOTOSYNC_DRY_RUN)".to_owned(),
        )
        .into());
    };
    let Some((chosen, bytes)) = backup::read(&state, upn, at)
        .await
        .context("cannot read the backups")?
    else {
        let known: Vec<String> = backup::list(&state, upn)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.at)
            .collect();
        return Err(UsageError(match (at, known.is_empty()) {
            (_, true) => format!("there is no backup of {upn} (`photosync backups {upn}`)"),
            (Some(at), false) => format!(
                "{upn} has no backup at {at}; there are: {}",
                known.join(", ")
            ),
            (None, false) => unreachable!("the newest exists"),
        })
        .into());
    };
    let user = graph.find_user(upn).await?;
    graph.set_photo(&user.id, bytes).await?;
    let etag = graph.media_etag(&user.id).await;
    keep(
        &Ledger::new(state),
        &user.user_principal_name,
        &chosen.at,
        etag,
    )
    .await?;
    println!(
        "restored the profile photo of {upn} from the backup of {}",
        chosen.at
    );
    Ok(chosen.at)
}

/// Marks the user's current photo record: Graph now holds the restored
/// photo (its media ETag, so `PHOTOSYNC_ENFORCE` sees no drift), and the
/// record stays as it is until its source photo changes.
async fn keep(ledger: &Ledger, upn: &str, at: &str, etag: Option<String>) -> anyhow::Result<()> {
    let folder = upn.to_lowercase();
    let Some((entry, _)) = ledger.user(&folder).await? else {
        return Ok(());
    };
    let name = PhotoName::parse(&entry.photo)?;
    let Some(mut current) = ledger.get(&name).await? else {
        return Ok(());
    };
    current.record.graph_etag = etag;
    current.record.updated = Utc::now();
    current.record.detail = Some(format!(
        "profile photo restored from the backup of {at}; kept until this photo changes"
    ));
    ledger
        .put(&current.record, Some(&current.etag))
        .await
        .context("the photo was restored, but its ledger record could not be marked")?;
    Ok(())
}
