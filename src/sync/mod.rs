//! The use case: a photo arrives (blob trigger), or the timer asks to catch up.
//!
//! The transport (`handler`) turns host invocations into these events and
//! answers with the [`Outcome`]; it never talks to storage or Microsoft 365
//! itself. Until the sync flow lands, the engine validates and logs.

pub mod photo_name;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::graph::GraphClient;
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

/// Runs the use cases; cheap to clone, shared by all requests.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Validated settings.
    settings: Arc<Settings>,
    /// The Microsoft 365 target; `None` without credentials (dry run).
    graph: Option<Arc<GraphClient>>,
}

impl Engine {
    /// An engine for these settings and this Graph target.
    pub fn new(settings: Arc<Settings>, graph: Option<Arc<GraphClient>>) -> Self {
        Self { settings, graph }
    }

    /// How profile photos would be written, for log lines.
    fn target(&self) -> &'static str {
        match &self.graph {
            None => "dry run (no Microsoft Graph credentials)",
            Some(graph) if graph.is_dry_run() => "dry run (PHOTOSYNC_DRY_RUN)",
            Some(_) => "Microsoft Graph",
        }
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
        let size = event
            .bytes
            .as_ref()
            .map(|b| b.len() as u64)
            .or(event.length);
        let limit = self.settings.render.max_bytes;
        if size.is_some_and(|s| s > limit) {
            let line = format!(
                "refused photo {name}: image-too-large ({} bytes; PHOTOSYNC_MAX_BYTES is {limit})",
                size.unwrap_or_default()
            );
            tracing::warn!(code = "image-too-large", "{line}");
            return Outcome::default().log(line);
        }
        let format = event
            .bytes
            .as_deref()
            .and_then(|b| image::guess_format(b).ok())
            .map_or_else(|| "unrecognised".to_owned(), |f| format!("{f:?}"));
        Outcome::default().log(format!(
            "received photo {name} for key {:?}: {} bytes, format {format}, etag {}; target: {}",
            name.key(),
            size.map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            event.etag.as_deref().unwrap_or("unknown"),
            self.target(),
        ))
    }

    /// The timer fired.
    pub async fn reconcile(&self, tick: TimerTick) -> Outcome {
        let last = tick.last.map_or_else(
            || "never (no schedule status)".to_owned(),
            |t| t.to_rfc3339(),
        );
        Outcome::default().log(format!(
            "reconcile tick: past due {}, previous run {last}, photos container `{}`",
            tick.is_past_due, self.settings.containers.photos
        ))
    }
}
