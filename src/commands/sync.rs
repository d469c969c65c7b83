//! `photosync sync DIR`: the same engine over a plain folder — DIR is the
//! photos container; OUT holds `thumbnails/` and the state (ledger, reports)
//! in the same layout as in Azure. Incremental, and Ctrl-C loses nothing.
//!
//! OUT belongs to one DIR: a marker file ([`SOURCE_MARKER`]) records which,
//! and another DIR is refused, since its run would find every photo of the
//! first one gone. The default OUT is named after DIR, so sibling folders
//! never share one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use super::UsageError;
use crate::config::Settings;
use crate::store::{Store, Stores};
use crate::sync::ledger::Status;
use crate::sync::reconcile::RunSummary;

/// What `photosync sync` was asked to do.
#[derive(Debug, Clone)]
pub struct LocalSync {
    /// The folder of photos (read only).
    pub dir: PathBuf,
    /// Where thumbnails, ledger and reports go; default [`default_out`].
    pub out: Option<PathBuf>,
}

/// The file in OUT naming the DIR it belongs to (its canonical path).
pub const SOURCE_MARKER: &str = ".photosync-source";

/// `DIR/../photosync-out-{name of DIR}`: unique per folder, since siblings
/// have different names; `./photosync-out` for a folder without a parent.
pub fn default_out(dir: &Path) -> PathBuf {
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => {
            parent.join(format!("photosync-out-{}", name.to_string_lossy()))
        }
        _ => PathBuf::from("photosync-out"),
    }
}

/// Binds OUT to DIR (both canonical): the first run writes the marker, later
/// runs check it. An OUT without a marker (from an older version) is adopted.
fn bind(out: &Path, dir: &Path) -> anyhow::Result<()> {
    let marker = out.join(SOURCE_MARKER);
    match std::fs::read_to_string(&marker) {
        Ok(text) => {
            let recorded = PathBuf::from(text.trim_end_matches(['\r', '\n']));
            if recorded == dir {
                return Ok(());
            }
            Err(UsageError(format!(
                "{out} holds the thumbnails and ledger of {recorded}, not of {dir}: syncing \
                 {dir} into it would find every photo of {recorded} gone. Use another output \
                 folder (leave out --out for {default}, or name a new one), or delete {out} to \
                 start it over for {dir}. If {recorded} was moved to {dir}, write the new path \
                 into {marker}.",
                out = out.display(),
                recorded = recorded.display(),
                dir = dir.display(),
                default = default_out(dir).display(),
                marker = marker.display(),
            ))
            .into())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            std::fs::write(&marker, format!("{}\n", dir.display()))
                .with_context(|| format!("cannot write {}", marker.display()))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", marker.display()))),
    }
}

/// `photosync sync DIR [--out OUT]` as a person would type it again.
fn command_line(dir: &Path, out: Option<&Path>) -> String {
    let quoted = |p: &Path| {
        let text = p.display().to_string();
        if text.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
            format!("'{}'", text.replace('\'', r"'\''"))
        } else {
            text
        }
    };
    let mut line = format!("photosync sync {}", quoted(dir));
    if let Some(out) = out {
        line.push_str(&format!(" --out {}", quoted(out)));
    }
    line
}

/// Runs once; returns the summary and how many photos failed.
pub async fn run(mut settings: Settings, job: &LocalSync) -> anyhow::Result<(RunSummary, usize)> {
    if !job.dir.is_dir() {
        return Err(UsageError(format!("{} is not a folder", job.dir.display())).into());
    }
    let dir = job
        .dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", job.dir.display()))?;
    let out = job.out.clone().unwrap_or_else(|| default_out(&job.dir));
    if job.out.is_none() {
        let legacy = dir.parent().map(|p| p.join("photosync-out"));
        if let Some(legacy) = legacy.filter(|l| l.is_dir() && !out.exists()) {
            eprintln!(
                "note: {} is an older version's default output, shared by sibling folders; this \
                 run writes to {}. To go on with the old one for this folder, pass --out {}.",
                legacy.display(),
                out.display(),
                legacy.display()
            );
        }
    }
    bind(&out, &dir)?;
    settings.reconcile.confirm_with = command_line(&job.dir, job.out.as_deref());
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

    // The run's own list: reading the ledger back would hold a second copy
    // of every record (100 MB at 100,000 photos). It names the first few;
    // the counts are of every record.
    let (failures, held): (Vec<_>, Vec<_>) = summary
        .attention
        .iter()
        .partition(|a| a.status == Status::Failed);
    let (failed_count, held_count) = (
        summary.count(Status::Failed),
        summary.count(Status::RemovalHeld),
    );

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
        for photo in &failures {
            let (code, message) = photo
                .problem
                .as_ref()
                .map_or(("", ""), |p| (p.code.as_str(), p.message.as_str()));
            crate::say!("  {}  {code}: {message}", photo.photo);
        }
        if failed_count > failures.len() {
            crate::say!(
                "  … and {} more: the report lists every one",
                failed_count - failures.len()
            );
        }
    }
    if let Some(first) = held.first() {
        let message = first.problem.as_ref().map_or("", |p| p.message.as_str());
        println!("\nremoval held ({held_count} photos): {message}");
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
    let failed = failed_count + held_count + summary.unusable.len() + summary.corrupt.len();
    Ok((summary, failed))
}
