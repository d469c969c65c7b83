//! The use case: a photo arrives (blob trigger), or the timer asks to catch up.
//!
//! The transport (`handler`) turns host invocations into these events and
//! answers with the [`Outcome`]; it never talks to storage or Microsoft 365
//! itself. [`Engine`] is the public face; behind it one per-photo flow serves
//! the blob trigger, the Reconcile timer and local mode, and every "what to
//! do with this photo" question is answered by [`decide::next_action`].

pub mod backup;
pub mod decide;
mod flow;
pub mod ledger;
pub mod mapping;
pub mod photo_name;
mod plan;
pub mod reconcile;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::graph::GraphClient;
use crate::store::{ETag, StoreError, Stores};
pub use decide::Source;
use flow::Flow;
pub use flow::{Delivery, FOCUS_METADATA, Known, PhotoJob, PhotoOutcome};
use ledger::Ledger;
pub use photo_name::{NameError, PhotoName};
pub use plan::RenditionPlan;
use reconcile::{Progress, Reconciler, RunSummary};

/// A blob-trigger delivery: one photo was created or changed.
#[derive(Debug, Clone)]
pub struct PhotoEvent {
    /// Blob name inside the photos container, as the host reported it (unvalidated).
    pub name: String,
    /// The blob's bytes when the host sent them; `None` means read the blob.
    pub bytes: Option<Bytes>,
    /// The blob's version at trigger time, when the host says (storage
    /// extension 5.x sends none: then it is read from storage with the bytes).
    pub etag: Option<ETag>,
    /// Size the host reported, checked before the bytes are used.
    pub length: Option<u64>,
    /// Last write time the host reported.
    pub last_modified: Option<DateTime<Utc>>,
    /// The blob's user metadata, as the host sent it.
    pub metadata: BTreeMap<String, String>,
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
    /// Set when the work failed for a reason that may pass: why. The host
    /// should retry.
    pub retry: Option<String>,
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
        use crate::config::ConfigurationError;
        let http = crate::resilience::http_client(settings.graph.timeout)
            .map_err(|e| anyhow::anyhow!(e))?;
        let graph = GraphClient::from_settings(&settings.graph, http.clone()).map_err(|e| {
            ConfigurationError(format!(
                "the Microsoft Graph settings are not usable: {e} ({})",
                e.code()
            ))
        })?;
        let sharepoint = crate::sharepoint::SharePointClient::new(
            settings.sharepoint.as_ref(),
            &settings.graph,
            http,
            graph.as_ref().map(GraphClient::tokens),
        )
        .map_err(|e| ConfigurationError(format!("{e} ({})", e.code())))?;
        Ok(Self {
            graph: graph.map(Arc::new),
            sharepoint: sharepoint.map(Arc::new),
        })
    }

    /// Whether profile photos are really written (credentials, not dry).
    pub fn graph_live(&self) -> bool {
        self.graph.as_ref().is_some_and(|g| !g.is_dry_run())
    }
}

/// Runs the use cases; cheap to clone, shared by all requests.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The per-photo flow.
    flow: Arc<Flow>,
    /// The Reconcile run and what it keeps between runs (the report's thumbnails).
    reconciler: Arc<Reconciler>,
}

impl Engine {
    /// An engine over these containers and targets (no Graph: dry run).
    pub fn new(settings: Arc<Settings>, stores: Stores, targets: Targets) -> Self {
        Self::from_flow(Flow::new(settings, stores, targets))
    }

    /// The process's render budgets, for the transports: they take their
    /// share of its memory for what they hold (invocation bodies, uploads)
    /// and render previews within it.
    pub fn renderer(&self) -> crate::renderer::Renderer {
        self.flow.renderer().clone()
    }

    fn from_flow(flow: Flow) -> Self {
        Self {
            flow: Arc::new(flow),
            reconciler: Arc::new(Reconciler::default()),
        }
    }

    /// For a single process over a local folder: claims left by an
    /// interrupted run are not honoured (no other worker can hold them).
    pub fn single_process(self) -> Self {
        let flow = Arc::try_unwrap(self.flow).expect("not yet shared");
        Self::from_flow(flow.without_lease())
    }

    /// A photo arrived.
    pub async fn photo_uploaded(&self, event: PhotoEvent) -> Outcome {
        let name = match PhotoName::parse(&event.name) {
            Ok(name) => name,
            Err(e) => {
                let shown = photo_name::escaped(&event.name);
                let line = format!("refused photo \"{shown}\": {} ({e})", e.code());
                tracing::warn!(code = %e.code(), "{line}");
                return Outcome {
                    logs: vec![line],
                    retry: None,
                };
            }
        };
        let delivered = event.bytes.map(|bytes| Delivery {
            bytes,
            etag: event.etag,
            last_modified: event.last_modified,
            metadata: event.metadata,
        });
        let outcome = self
            .flow
            .sync_photo(PhotoJob {
                name,
                delivered,
                length: event.length,
                source: Source::Delivery,
                force: false,
                known: Known::Unread,
            })
            .await;
        Outcome {
            logs: vec![outcome.summary],
            retry: outcome.retry,
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
        let never = AtomicBool::new(false);
        match self.run_reconcile(&|_| {}, &never).await {
            Ok(summary) => {
                let line = summary.line();
                tracing::info!("{line}");
                Outcome {
                    logs: vec![line],
                    retry: None,
                }
            }
            Err(e) => {
                let line = format!("reconcile failed: {} ({e:#})", e.code());
                tracing::error!(code = %e.code(), "{line}");
                Outcome {
                    logs: vec![line.clone()],
                    retry: Some(line),
                }
            }
        }
    }

    /// One Reconcile run, with progress events and a stop flag (the CLI's
    /// progress bar and Ctrl-C).
    pub async fn run_reconcile(
        &self,
        progress: &(dyn Fn(Progress) + Sync),
        stop: &AtomicBool,
    ) -> Result<RunSummary, StoreError> {
        self.reconciler.run(&self.flow, progress, stop).await
    }

    /// The ledger (for `photosync retry` and `status`).
    pub fn ledger(&self) -> &Ledger {
        self.flow.ledger()
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// [`sha256_hex`] off the async runtime for anything but small inputs (a
/// 50 MB photo takes a noticeable time, which would stall other requests).
pub async fn sha256_hex_blocking(bytes: Bytes) -> String {
    if bytes.len() <= 256 * 1024 {
        return sha256_hex(&bytes);
    }
    let copy = bytes.clone();
    match tokio::task::spawn_blocking(move || sha256_hex(&copy)).await {
        Ok(hex) => hex,
        // Only a runtime shutting down gets here; hash in place rather than fail.
        Err(_) => sha256_hex(&bytes),
    }
}
