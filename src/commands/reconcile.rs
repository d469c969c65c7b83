//! `photosync reconcile`: one Reconcile run from a terminal, against the
//! configured storage, with a progress bar (or plain lines when piped;
//! see [`super::progress`]).
//! Ctrl-C stops taking new photos; those in flight finish, nothing is lost.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

use super::progress::Meter;
use crate::config::Settings;
use crate::store::Stores;
use crate::sync::reconcile::{Progress, RunSummary};
use crate::sync::{Engine, Targets};

/// Builds the engine as the handler does and runs once.
pub async fn run(settings: Settings) -> anyhow::Result<RunSummary> {
    let stores = super::storage::stores(&settings)?;
    let engine = engine(settings, stores)?;
    let summary = run_engine(&engine).await?;
    crate::say!("{}", summary.line());
    Ok(summary)
}

/// The engine over `stores`, saying once when it runs dry.
pub fn engine(settings: Settings, stores: Stores) -> anyhow::Result<Engine> {
    let targets = Targets::from_settings(&settings)?;
    if targets.graph.is_none() {
        eprintln!(
            "no Microsoft Graph credentials: running dry (thumbnails and report only, no profile photo is changed)"
        );
    }
    Ok(Engine::new(Arc::new(settings), stores, targets))
}

/// One run with progress output and Ctrl-C handling.
pub async fn run_engine(engine: &Engine) -> anyhow::Result<RunSummary> {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping after the photos in flight (Ctrl-C again to quit at once)");
                stop.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        }
    });

    let meter = Meter::new(std::io::stdout().is_terminal());
    let progress = |event: Progress| meter.record(event);
    let result = engine.run_reconcile(&progress, &stop).await;
    watcher.abort();
    meter.finish();
    result.context("the reconcile run stopped")
}
