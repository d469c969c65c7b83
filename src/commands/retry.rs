//! `photosync retry PHOTO... | --all-failed`: ask for photos to be processed
//! again on the next Reconcile run (after fixing what their error said).

use anyhow::Context as _;

use crate::config::Settings;
use crate::sync::PhotoName;
use crate::sync::ledger::{Ledger, LedgerError, Status};

/// Marks the named photos (or every `failed` one, at Graph or at SharePoint)
/// `retrying`, due now.
/// Returns how many were marked.
pub async fn run(
    settings: &Settings,
    photos: &[String],
    all_failed: bool,
) -> anyhow::Result<usize> {
    let state = super::storage::container(settings, &settings.containers.state)?;
    let ledger = Ledger::new(state);
    let mut names = Vec::new();
    for photo in photos {
        names.push(
            PhotoName::parse(photo)
                .with_context(|| format!("`{photo}` is not a usable photo name"))?,
        );
    }
    if all_failed {
        let scan = ledger.scan().await.context("cannot read the ledger")?;
        names.extend(
            scan.records
                .into_iter()
                // Also photos Graph has but SharePoint refused (its own state).
                .filter(|v| {
                    v.record.status == Status::Failed
                        || v.record
                            .sharepoint
                            .as_ref()
                            .is_some_and(|t| t.status == Status::Failed)
                })
                .filter_map(|v| PhotoName::parse(&v.record.photo).ok()),
        );
    }
    let mut marked = 0;
    for name in names {
        let asked = match ledger.request_retry(&name).await {
            // An unreadable record is dropped: the photo is then processed as new.
            Err(LedgerError::Corrupt { .. }) => {
                ledger
                    .forget(&Ledger::key(&name))
                    .await
                    .with_context(|| format!("cannot delete the unreadable record of {name}"))?;
                crate::say!(
                    "deleted the unreadable record of {name}: the next run processes it as new"
                );
                marked += 1;
                continue;
            }
            other => other.with_context(|| format!("cannot update the record of {name}"))?,
        };
        if asked {
            crate::say!("will retry: {name}");
            marked += 1;
        } else {
            crate::say!("no record for {name}: the next run processes it as new");
        }
    }
    crate::say!(
        "{marked} photo(s) marked; the next Reconcile run (or `photosync reconcile`) processes them"
    );
    Ok(marked)
}
