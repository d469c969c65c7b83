//! `photosync reconcile`: one Reconcile run from a terminal, against the
//! configured storage, with a progress bar (or plain lines when piped).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::graph::GraphClient;
use crate::store::Stores;
use crate::sync::Engine;
use crate::sync::reconcile::{self, Progress, RunSummary};

/// Builds the engine as the handler does and runs once.
pub async fn run(settings: Settings) -> anyhow::Result<RunSummary> {
    let stores = Stores::open(&settings.storage, &settings.containers)
        .context("the storage settings are not usable")?;
    let graph = GraphClient::from_settings(&settings.graph, reqwest::Client::new())
        .context("the Microsoft Graph settings are not usable")?;
    if graph.is_none() {
        eprintln!("no Microsoft Graph credentials: running dry (thumbnails and report only)");
    }
    let reconcile_settings = settings.reconcile.clone();
    let engine = Engine::new(Arc::new(settings), stores, graph.map(Arc::new));

    let examined = AtomicUsize::new(0);
    let worked = AtomicUsize::new(0);
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg} ({per_sec})")
                .expect("valid template"),
        );
        bar
    });
    let progress = |event: Progress| {
        let (e, w) = match event {
            Progress::Examined => (
                examined.fetch_add(1, Ordering::Relaxed) + 1,
                worked.load(Ordering::Relaxed),
            ),
            Progress::Worked => (
                examined.load(Ordering::Relaxed),
                worked.fetch_add(1, Ordering::Relaxed) + 1,
            ),
        };
        match &bar {
            Some(bar) => {
                bar.set_message(format!("{e} photos examined, {w} synced"));
                if event == Progress::Worked {
                    bar.inc(1);
                }
            }
            None if event == Progress::Worked && w % 100 == 0 => {
                println!("reconcile: {e} photos examined, {w} synced");
            }
            None => {}
        }
    };
    let summary = reconcile::run(engine.flow(), &reconcile_settings, &progress)
        .await
        .context("the reconcile run stopped")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("{}", summary.line());
    Ok(summary)
}
