//! The use case: a photo arrives (blob trigger), or the timer asks to catch up.
//!
//! The transport (`handler`) turns host invocations into these events and
//! answers with the [`Outcome`]; it never talks to storage or Microsoft 365
//! itself. One per-photo flow ([`Flow`]) serves the blob trigger, the
//! Reconcile timer and local mode.

mod flow;
pub mod ledger;
pub mod mapping;
pub mod photo_name;
pub mod reconcile;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::graph::GraphClient;
use crate::store::Stores;
pub use flow::{Flow, PhotoJob, PhotoOutcome, sha256_hex};
use ledger::Ledger;
pub use photo_name::{NameError, PhotoName};

/// A blob-trigger delivery: one photo was created or changed.
#[derive(Debug, Clone)]
pub struct PhotoEvent {
    /// Blob name inside the photos container, as the host reported it (unvalidated).
    pub name: String,
    /// The blob's bytes when the host sent them; `None` means read the blob.
    pub bytes: Option<Bytes>,
    /// The blob's ETag at trigger time, to tie the ledger to a version.
    pub etag: Option<String>,
    /// Size the host reported, checked before the bytes are used.
    pub length: Option<u64>,
    /// Content type as uploaded (informational: formats are sniffed from bytes).
    pub content_type: Option<String>,
    /// Last write time the host reported.
    pub last_modified: Option<DateTime<Utc>>,
}

/// A timer tick.
#[derive(Debug, Clone, Default)]
pub struct TimerTick {
    /// The host missed the scheduled time (the app was stopped or busy).
    pub is_past_due: bool,
    /// When the previous tick ran, if the host keeps schedule status.
    pub last: Option<DateTime<Utc>>,
    /// When the next tick is due, if known.
    pub next: Option<DateTime<Utc>>,
}

/// What happened, for the host's log and the invocation's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Lines for the host log (`Logs` in the answer).
    pub logs: Vec<String>,
    /// Set when the work failed for a reason that may pass; the host should retry.
    pub transient_failure: Option<String>,
}

impl Outcome {
    fn log(mut self, line: impl Into<String>) -> Self {
        let line = line.into();
        tracing::info!("{line}");
        self.logs.push(line);
        self
    }
}

/// Where profile photos go.
#[derive(Debug, Default)]
pub struct Targets {
    /// Microsoft Graph (Entra ID / Exchange); `None` runs dry.
    pub graph: Option<Arc<GraphClient>>,
    /// SharePoint Online's own copy; `None` when not configured.
    pub sharepoint: Option<Arc<crate::sharepoint::SharePointClient>>,
}

impl Targets {
    /// The targets `settings` configure; configuration problems are errors
    /// here, at start-up, not once per photo. One HTTP client (no redirects,
    /// bounded timeouts) and one token provider serve both targets.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let http = crate::resilience::http_client(settings.graph.timeout)
            .map_err(|e| anyhow::anyhow!(e))?;
        let graph = GraphClient::from_settings(&settings.graph, http.clone())
            .context("the Microsoft Graph settings are not usable")?;
        let sharepoint = crate::sharepoint::SharePointClient::new(
            settings.sharepoint.as_ref(),
            &settings.graph,
            http,
            graph.as_ref().map(GraphClient::tokens),
        )
        .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
        Ok(Self {
            graph: graph.map(Arc::new),
            sharepoint: sharepoint.map(Arc::new),
        })
    }
}

/// Runs the use cases; cheap to clone, shared by all requests.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Validated settings.
    settings: Arc<Settings>,
    /// The per-photo flow.
    flow: Flow,
}

impl Engine {
    /// An engine over these containers and this Graph target (`None`: dry run).
    pub fn new(settings: Arc<Settings>, stores: Stores, targets: Targets) -> Self {
        let Targets { graph, sharepoint } = targets;
        let flow = Flow {
            settings: Arc::clone(&settings),
            ledger: Ledger::new(stores.state.clone()),
            stores,
            graph,
            sharepoint,
            mappings: Arc::default(),
            report_thumbnails: Arc::default(),
            lease: flow::LEASE,
            render_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        };
        Self { settings, flow }
    }

    /// A photo arrived.
    pub async fn photo_uploaded(&self, event: PhotoEvent) -> Outcome {
        let name = match PhotoName::parse(&event.name) {
            Ok(name) => name,
            Err(e) => {
                let line = format!("refused photo {:?}: {} ({e})", event.name, e.code());
                tracing::warn!(code = e.code(), "{line}");
                return Outcome {
                    logs: vec![line],
                    transient_failure: None,
                };
            }
        };
        let outcome = self
            .flow
            .sync_photo(PhotoJob {
                name,
                bytes: event.bytes,
                etag: event.etag,
                length: event.length,
                last_modified: event.last_modified,
                force: false,
            })
            .await;
        Outcome {
            transient_failure: outcome.transient.then(|| {
                outcome
                    .problem
                    .as_ref()
                    .map_or_else(String::new, |p| p.code.clone())
            }),
            logs: vec![outcome.summary],
        }
    }

    /// The timer fired: reconcile, write the report, log the summary.
    pub async fn reconcile(&self, tick: TimerTick) -> Outcome {
        // The schedule status tells an admin reading the log whether ticks were missed.
        tracing::info!(
            past_due = tick.is_past_due,
            previous = ?tick.last,
            next = ?tick.next,
            "reconcile tick"
        );
        let never = std::sync::atomic::AtomicBool::new(false);
        match reconcile::run(&self.flow, &self.settings.reconcile, &|_| {}, &never).await {
            Ok(summary) => Outcome::default().log(summary.line()),
            Err(e) => {
                let line = format!("reconcile failed: {} ({e:#})", e.code());
                tracing::error!(code = e.code(), "{line}");
                Outcome {
                    logs: vec![line],
                    transient_failure: Some(e.code().to_owned()),
                }
            }
        }
    }

    /// For a single process over a local folder: claims left by an interrupted
    /// run are not honoured (no other worker can hold them).
    pub fn single_process(mut self) -> Self {
        self.flow.lease = std::time::Duration::ZERO;
        self
    }

    /// The per-photo flow (for commands that drive it directly).
    pub fn flow(&self) -> &Flow {
        &self.flow
    }
}
