//! "What to do with this photo", decided in one place.
//!
//! The blob trigger, the Reconcile timer and local mode all call
//! [`next_action`] with what the ledger says ([`Record`]) and what they
//! observe now ([`Seen`]); it is pure, so every combination is a table row in
//! the tests below. Reconcile calls it with the listing alone (no download);
//! the flow calls it again once it has the bytes.

use chrono::{DateTime, Utc};

use super::ledger::{Record, Status};
use super::mapping::Focus;
use crate::problem::ProblemCode;
use crate::store::ETag;

/// What is known about the photo right now.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The blob's version, when known (listing, GET; the host may send none).
    pub etag: Option<&'a ETag>,
    /// SHA-256 of its bytes, once read.
    pub sha256: Option<&'a str>,
    /// The matching key (file name or mapping row).
    pub key: &'a str,
    /// The crop focus a mapping row or the blob's metadata asks for.
    pub focus: Option<Focus>,
}

/// Who is asking, and what the world is like.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The time to judge leases and retry schedules by.
    pub now: DateTime<Utc>,
    /// A delivery of this photo (trigger, host retry) or a scheduled pass.
    pub source: Source,
    /// Credentials are configured and writes are allowed.
    pub graph_live: bool,
    /// The SharePoint target is on.
    pub sharepoint: bool,
    /// `PHOTOSYNC_ENFORCE`: check synced photos for changes made elsewhere.
    pub enforce: bool,
    /// Set the profile photo again whatever the ledger says (drift restore).
    pub force: bool,
    /// Since when the app's Graph permissions are known complete (a
    /// Reconcile's check): photos that failed with `permission-denied`
    /// before it are tried again, once. `None`: not known.
    pub granted_since: Option<DateTime<Utc>>,
}

/// Why [`next_action`] was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The host delivered this photo (new blob, change, or the host's retry):
    /// act now, retry schedules do not apply.
    Delivery,
    /// A Reconcile pass over the container: act only when due.
    Schedule,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Render and publish it.
    Sync(Why),
    /// Microsoft Graph has these bytes; only SharePoint still needs them.
    SharePointOnly,
    /// It is synced: compare Graph's photo with ours (`PHOTOSYNC_ENFORCE`).
    CheckDrift,
    /// Its removal was held and the same bytes are back: the record returns
    /// to what it was, nothing is uploaded (the profile photo never left).
    Reinstate,
    /// Nothing to do.
    Skip(Skip),
}

/// Why a photo is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Never seen before.
    New,
    /// Other bytes (or, from a listing, another version) than recorded.
    Changed,
    /// The mapping assigns it to someone else, or moves its focus.
    Reassigned,
    /// A transient failure's retry is due (or the host redelivered it).
    Retry,
    /// A claim ran out without finishing (a crashed or timed-out worker).
    Abandoned,
    /// It ran dry before; credentials are configured now.
    CredentialsConfigured,
    /// Its blob was gone and is back.
    Reappeared,
    /// Asked to set it again whatever the ledger says.
    Forced,
    /// It failed for want of a Graph permission that has been granted since.
    PermissionGranted,
}

/// Why nothing is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Synced from these bytes already.
    Unchanged,
    /// Failed with this problem; waits for a change or `photosync retry`.
    Failed(Option<ProblemCode>),
    /// Not a photo.
    Ignored,
    /// Another photo of the same user is newer.
    Superseded,
    /// Another invocation is working on it.
    InProgress,
    /// A retry is scheduled for later.
    NotDue,
    /// Ran dry, and still no credentials.
    DryRun,
}

impl Why {
    /// A few words for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Changed => "changed",
            Self::Reassigned => "mapping changed",
            Self::Retry => "retry due",
            Self::Abandoned => "claim ran out",
            Self::CredentialsConfigured => "credentials configured",
            Self::Reappeared => "reappeared",
            Self::Forced => "forced",
            Self::PermissionGranted => "permission granted since it failed",
        }
    }
}

impl Skip {
    /// A few words for logs and the host.
    pub fn describe(self) -> String {
        match self {
            Self::Unchanged => "unchanged".to_owned(),
            Self::Failed(Some(code)) => format!("unchanged since it failed ({code})"),
            Self::Failed(None) => "unchanged since it failed".to_owned(),
            Self::Ignored => "unchanged (not a photo)".to_owned(),
            Self::Superseded => "unchanged (a newer photo of the same user wins)".to_owned(),
            Self::InProgress => "another invocation is syncing it".to_owned(),
            Self::NotDue => "retry not due yet".to_owned(),
            Self::DryRun => "unchanged (dry run)".to_owned(),
        }
    }
}

/// Whether the photo's content differs from the record's: by hash when both
/// are known, else by version; unknown counts as changed (read it to know).
fn content_changed(record: &Record, seen: &Seen<'_>) -> bool {
    match (seen.sha256, seen.etag, record.etag.as_ref()) {
        (Some(sha), _, _) => sha != record.sha256,
        (None, Some(seen), Some(recorded)) => seen != recorded,
        _ => true,
    }
}

/// The one decision table.
pub fn next_action(record: Option<&Record>, seen: &Seen<'_>, ctx: &Context) -> Action {
    let Some(record) = record else {
        return Action::Sync(Why::New);
    };
    let changed = content_changed(record, seen);
    // A live claim on these bytes is honoured; new bytes take over (their
    // claim is conditional on the record, so the old worker's write loses).
    if record.is_leased(ctx.now) && !(changed && seen.sha256.is_some()) {
        return Action::Skip(Skip::InProgress);
    }
    if ctx.force {
        return Action::Sync(Why::Forced);
    }
    if changed {
        return Action::Sync(Why::Changed);
    }
    if record.key != seen.key || record.focus != seen.focus {
        return Action::Sync(Why::Reassigned);
    }
    let due = |at: Option<DateTime<Utc>>| {
        ctx.source == Source::Delivery || at.is_none_or(|at| at <= ctx.now)
    };
    match record.status {
        Status::Synced | Status::Restored => {
            let sharepoint_due = ctx.sharepoint
                && record.sharepoint_pending()
                && due(record.sharepoint.as_ref().and_then(|t| t.next_attempt));
            if sharepoint_due {
                Action::SharePointOnly
            } else if ctx.enforce && ctx.graph_live && ctx.source == Source::Schedule {
                Action::CheckDrift
            } else {
                Action::Skip(Skip::Unchanged)
            }
        }
        Status::Failed
            if record
                .problem
                .as_ref()
                .is_some_and(|p| p.code == ProblemCode::PermissionDenied)
                && ctx
                    .granted_since
                    .is_some_and(|since| record.updated < since) =>
        {
            Action::Sync(Why::PermissionGranted)
        }
        Status::Failed => Action::Skip(Skip::Failed(record.problem.as_ref().map(|p| p.code))),
        Status::Ignored => Action::Skip(Skip::Ignored),
        Status::Superseded => Action::Skip(Skip::Superseded),
        Status::Retrying if due(record.next_attempt) => Action::Sync(Why::Retry),
        Status::Retrying => Action::Skip(Skip::NotDue),
        // Not leased any more (checked above): its worker is gone.
        Status::Syncing => Action::Sync(Why::Abandoned),
        Status::DryRun if ctx.graph_live => Action::Sync(Why::CredentialsConfigured),
        Status::DryRun => Action::Skip(Skip::DryRun),
        Status::RemovalHeld if record.held_from.is_some() => Action::Reinstate,
        Status::Removed | Status::RemovalHeld => Action::Sync(Why::Reappeared),
    }
}

#[cfg(test)]
mod tests;
