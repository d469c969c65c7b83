//! The app's Microsoft Graph grant, checked once per Reconcile run: a
//! missing permission is one report line (with the grant command in the
//! log) instead of a 403 per photo, and once the grant appears, the photos
//! that failed with `permission-denied` before it are tried again.
//!
//! What the run last saw is kept in `grant.json` in the state container,
//! so "before the grant" survives restarts and holds across instances: the
//! time is that of the first run that saw the permissions complete. It is
//! read every run (one GET) and written only when the verdict changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::graph::GraphClient;
use crate::problem::{Problem, ProblemCode};
use crate::store::{BlobProperties, Store, StoreError, WriteMode};

/// The blob in the state container (outside `ledger/`, `reports/`, `index/`).
const KEY: &str = "grant.json";

/// What the last run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    /// Required permissions the token lacked; empty when complete.
    missing: Vec<String>,
    /// Since when the permissions have been complete.
    granted_since: Option<DateTime<Utc>>,
}

/// This run's verdict.
#[derive(Debug, Clone, Default)]
pub(super) struct Verdict {
    /// Photos that failed with `permission-denied` before this are retried.
    pub granted_since: Option<DateTime<Utc>>,
    /// The missing grant, as the report's one line for it.
    pub missing: Option<Problem>,
}

/// Checks the token's roles and updates `grant.json`. Nothing is concluded
/// (the default verdict) when the token cannot be had (the photos' own
/// failures say why), does not list its roles, or is an admin's own.
pub(super) async fn check(graph: &GraphClient, state: &Store) -> Verdict {
    if !graph.tokens().credentials().speaks_for_the_app() {
        return Verdict::default();
    }
    let missing = match graph.missing_permissions().await {
        Ok(Some(missing)) => missing,
        Ok(None) => return Verdict::default(),
        Err(e) => {
            tracing::warn!(code = %e.code(), "cannot check the Graph permissions: {e}");
            return Verdict::default();
        }
    };
    let before = read(state).await;
    let now = if missing.is_empty() {
        Seen {
            missing: Vec::new(),
            granted_since: before
                .as_ref()
                .filter(|b| b.missing.is_empty())
                .and_then(|b| b.granted_since)
                .or_else(|| Some(Utc::now())),
        }
    } else {
        Seen {
            missing: missing.iter().map(|m| (*m).to_owned()).collect(),
            granted_since: None,
        }
    };
    if before.as_ref() != Some(&now) {
        write(state, &now).await;
    }
    let problem = (!missing.is_empty()).then(|| {
        let problem = Problem::new(
            ProblemCode::PermissionDenied,
            format!(
                "the app's Microsoft Graph token lacks {}: no profile photo can be changed \
                 until it is granted (`photosync doctor` prints the command)",
                missing.join(", ")
            ),
        );
        tracing::error!(
            code = %problem.code,
            "{}; {}",
            problem.message,
            crate::graph::grant_hint(graph.tokens().credentials(), &missing)
        );
        problem
    });
    Verdict {
        granted_since: now.granted_since,
        missing: problem,
    }
}

async fn read(state: &Store) -> Option<Seen> {
    match state.get(KEY).await {
        Ok(blob) => serde_json::from_slice(&blob.bytes).ok(),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => {
            tracing::warn!(code = %e.code(), "cannot read {KEY}: {e}");
            None
        }
    }
}

/// Last writer wins: every instance writes what it saw, and a stale
/// `granted_since` only retries a photo once more.
async fn write(state: &Store, seen: &Seen) {
    let bytes = serde_json::to_vec(seen).expect("plain data");
    let properties = BlobProperties {
        content_type: Some("application/json".to_owned()),
        ..BlobProperties::default()
    };
    if let Err(e) = state
        .put(KEY, bytes.into(), &properties, WriteMode::Overwrite)
        .await
    {
        tracing::warn!(code = %e.code(), "cannot write {KEY}: {e}");
    }
}
