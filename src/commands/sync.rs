//! `photosync sync DIR`: the same engine over a plain folder — DIR is the
//! photos container; OUT holds `thumbnails/` and the state (ledger, reports)
//! in the same layout as in Azure. Incremental, and Ctrl-C loses nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use super::UsageError;
use crate::config::Settings;
use crate::store::{Store, Stores};
use crate::sync::ledger::{Ledger, Status};
use crate::sync::reconcile::RunSummary;

/// What `photosync sync` was asked to do.
#[derive(Debug, Clone)]
pub struct LocalSync {
    /// The folder of photos (read only).
    pub dir: PathBuf,
    /// Where thumbnails, ledger and reports go; default `DIR/../photosync-out`.
    pub out: Option<PathBuf>,
}

/// `DIR/../photosync-out`, or `./photosync-out` for a folder without a parent.
pub fn default_out(dir: &Path) -> PathBuf {
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    absolute.parent().map_or_else(
        || PathBuf::from("photosync-out"),
        |p| p.join("photosync-out"),
    )
}

/// Runs once; returns the summary and how many photos failed.
pub async fn run(mut settings: Settings, job: &LocalSync) -> anyhow::Result<(RunSummary, usize)> {
    if !job.dir.is_dir() {
        return Err(UsageError(format!("{} is not a folder", job.dir.display())).into());
    }
    let out = job.out.clone().unwrap_or_else(|| default_out(&job.dir));
    let stores = Stores {
        // An OUT inside DIR is output, never input.
        photos: Store::local_excluding(&job.dir, std::slice::from_ref(&out))
            .context("cannot open the photos folder")?,
        thumbnails: Store::local(out.join(&settings.containers.thumbnails))
            .context("cannot create the thumbnails folder")?,
        state: Store::local(out.join(&settings.containers.state))
            .context("cannot create the state folder")?,
    };
    // A laptop run has no host timeout to respect.
    settings.reconcile.budget = Duration::from_secs(365 * 24 * 3600);
    let state_dir = out.join(&settings.containers.state);
    let thumbnails_dir = settings.containers.thumbnails.clone();
    let engine = super::reconcile::engine(settings, stores.clone())?.single_process();
    let summary = super::reconcile::run_engine(&engine).await?;

    let scan = Ledger::new(stores.state.clone())
        .scan()
        .await
        .context("cannot read the ledger back")?;
    let mut failures: Vec<_> = scan
        .records
        .iter()
        .map(|v| &v.record)
        .filter(|r| r.status == Status::Failed)
        .collect();
    failures.sort_by(|a, b| a.photo.cmp(&b.photo));

    crate::say!(
        "\n{} files in {} ({} processed this run)",
        summary.examined,
        job.dir.display(),
        summary.worked
    );
    for (status, count) in &summary.counts {
        crate::say!("  {status:<10} {count:>6}");
    }
    if summary.left > 0 {
        crate::say!(
            "  {:<10} {:>6}  (stopped early: run again to finish)",
            "left",
            summary.left
        );
    }
    if !failures.is_empty() {
        crate::say!("\nfailed:");
        for record in &failures {
            let (code, message) = record
                .problem
                .as_ref()
                .map_or(("", ""), |p| (p.code.as_str(), p.message.as_str()));
            crate::say!("  {}  {code}: {message}", record.photo);
        }
    }
    for unusable in &summary.unusable {
        crate::say!("  {}  invalid-name: {}", unusable.name, unusable.reason);
    }
    for corrupt in &summary.corrupt {
        crate::say!("  {}  ledger-corrupt: {}", corrupt.key, corrupt.reason);
    }
    crate::say!(
        "\nthumbnails: {}\nreport:     {}",
        out.join(&thumbnails_dir).display(),
        state_dir.join("reports").join("latest.html").display()
    );
    let failed = failures.len() + summary.unusable.len() + summary.corrupt.len();
    Ok((summary, failed))
}
