//! What the ledger says about one photo: its [`Record`], the [`Status`]
//! words reports use, and the per-user entry that decides which of several
//! photos of one person is current.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::problem::Problem;
use crate::store::ETag;
use crate::sync::mapping::Focus;

/// Where a photo stands. The words (`as_str`) are part of the reports'
/// contract and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The profile photo is set from exactly these bytes.
    Synced,
    /// A person must act (the error says what); not retried until the photo changes.
    Failed,
    /// A transient failure; retried by the host and then by the timer.
    Retrying,
    /// An invocation claimed it and is working on it (until `lease_until`;
    /// a crashed worker's claim runs out and the next run takes it over).
    Syncing,
    /// Rendered and matched, but nothing was written to Microsoft 365.
    DryRun,
    /// Not a photo (the mapping file, `Thumbs.db`, …).
    Ignored,
    /// Another photo of the same person is newer; this one is not uploaded.
    Superseded,
    /// The blob is gone from the photos container.
    Removed,
    /// The blob is gone, but removing the profile photo waits for an admin:
    /// more photos vanished at once than `PHOTOSYNC_REMOVAL_LIMIT` allows.
    RemovalHeld,
    /// Someone changed the profile photo; ours was set again (`PHOTOSYNC_ENFORCE`).
    Restored,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Status; 10] = [
        Status::Failed,
        Status::Retrying,
        Status::RemovalHeld,
        Status::Syncing,
        Status::Synced,
        Status::Restored,
        Status::DryRun,
        Status::Superseded,
        Status::Ignored,
        Status::Removed,
    ];

    /// The word in the ledger, reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
            Self::Syncing => "syncing",
            Self::DryRun => "dry-run",
            Self::Ignored => "ignored",
            Self::Superseded => "superseded",
            Self::Removed => "removed",
            Self::RemovalHeld => "removal-held",
            Self::Restored => "restored",
        }
    }

    /// Whether the profile photo is set from this record's bytes.
    pub fn is_current(self) -> bool {
        matches!(self, Self::Synced | Self::Restored)
    }

    /// Whether a person should look at it.
    pub fn needs_attention(self) -> bool {
        matches!(self, Self::Failed | Self::RemovalHeld)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user a photo was matched with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// Entra object id.
    pub id: String,
    /// Sign-in name; thumbnails are filed under it.
    pub upn: String,
    /// Disabled accounts are synced too, but reports show them.
    pub account_enabled: bool,
}

/// Where a photo's thumbnails are filed: under the user's UPN in lower
/// case, or, while no user is known (no credentials), under the matching key.
pub fn thumbnail_folder(user: Option<&UserRef>, key: &str) -> String {
    user.map_or_else(|| key.to_owned(), |u| u.upn.to_lowercase())
}

/// One photo's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Blob name in the photos container.
    pub photo: String,
    /// The blob's version when it was processed (normal form), so the
    /// timer can tell "unchanged" from the listing without a download.
    pub etag: Option<ETag>,
    /// SHA-256 of the bytes processed (hex); decides "unchanged".
    pub sha256: String,
    /// Size of those bytes.
    pub size: u64,
    /// The blob's last write time; the newest photo of a user wins.
    pub last_modified: Option<DateTime<Utc>>,
    /// The matching key used (file name or `mapping.csv` entry); a change re-syncs.
    pub key: String,
    /// The crop focus it was rendered with (`mapping.csv` or blob metadata);
    /// a change re-renders, like a change of key.
    #[serde(default)]
    pub focus: Option<Focus>,
    /// The matched user, once known.
    pub user: Option<UserRef>,
    /// Where it stands.
    pub status: Status,
    /// What went wrong, for `failed` and `retrying`.
    pub problem: Option<Problem>,
    /// Anything else worth telling (e.g. "superseded by hr/alice.png").
    pub detail: Option<String>,
    /// What a person should check although the photo is synced
    /// (`no-face-found`, `face-too-small`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::problem::ProblemCode>,
    /// Processing attempts for these bytes.
    pub attempts: u32,
    /// First time photosync saw this photo name.
    pub first_seen: DateTime<Utc>,
    /// Last change of this record.
    pub updated: DateTime<Utc>,
    /// When the profile photo was last set from it.
    pub synced_at: Option<DateTime<Utc>>,
    /// While set and in the future, an invocation is working on these bytes;
    /// others stop. A crashed worker's lease simply runs out.
    pub lease_until: Option<DateTime<Utc>>,
    /// For `retrying`: not before this time (exponential backoff, capped).
    #[serde(default)]
    pub next_attempt: Option<DateTime<Utc>>,
    /// Graph's `@odata.mediaEtag` right after our upload (with `PHOTOSYNC_ENFORCE`):
    /// a different one later means someone else changed the photo.
    #[serde(default)]
    pub graph_etag: Option<String>,
    /// SharePoint's copy of the photo, when that target is on: tracked on its
    /// own, so a SharePoint failure is retried without another Graph upload.
    #[serde(default)]
    pub sharepoint: Option<TargetState>,
    /// For `removal-held`: the status before the hold, which the record
    /// returns to when its blob comes back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_from: Option<Status>,
}

/// The outcome of one additional target (SharePoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    /// `synced`, `retrying` or `failed`.
    pub status: Status,
    /// What went wrong, if anything.
    pub problem: Option<Problem>,
    /// When this target was last written or tried.
    pub updated: DateTime<Utc>,
    /// For `retrying`: not before this time.
    pub next_attempt: Option<DateTime<Utc>>,
}

impl Record {
    /// Where this photo's thumbnails are filed ([`thumbnail_folder`]).
    pub fn thumbnail_folder(&self) -> String {
        thumbnail_folder(self.user.as_ref(), &self.key)
    }

    /// Whether the profile photo is (or, held, still is) set from these
    /// bytes: what removing the photo would take away.
    pub fn profile_photo_set(&self) -> bool {
        self.status.is_current()
            || (self.status == Status::RemovalHeld
                && self.held_from.is_some_and(Status::is_current))
    }

    /// The profile photo is set but SharePoint still needs these bytes.
    pub fn sharepoint_pending(&self) -> bool {
        self.status.is_current()
            && self
                .sharepoint
                .as_ref()
                .is_some_and(|t| t.status == Status::Retrying)
    }

    /// Whether a claim on it is still running at `now`.
    pub fn is_leased(&self, now: DateTime<Utc>) -> bool {
        self.lease_until.is_some_and(|until| until > now)
    }

    /// The person the photo is for, as the report shows them: the matched
    /// UPN, or (before a match, or without credentials) the key.
    pub fn who(&self) -> &str {
        self.user
            .as_ref()
            .map_or(self.key.as_str(), |u| u.upn.as_str())
    }
}

/// Delay before retry number `attempts + 1`: 5 minutes doubling per attempt,
/// capped at 6 hours, so a long outage costs few calls and nothing starves.
pub fn retry_delay(attempts: u32) -> chrono::Duration {
    let minutes = 5i64 << attempts.saturating_sub(1).min(7);
    chrono::Duration::minutes(minutes.min(6 * 60))
}

/// Which photo is a user's current one: the most recently modified wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    /// Blob name of the winning photo.
    pub photo: String,
    /// Its last write time.
    pub last_modified: Option<DateTime<Utc>>,
}

impl UserEntry {
    /// Whether this photo beats `other` (newer; on a tie, the larger name, so
    /// every worker decides alike).
    pub fn beats(&self, other: &UserEntry) -> bool {
        (self.last_modified, &self.photo) > (other.last_modified, &other.photo)
    }
}

/// A plausible record, for tests.
#[cfg(test)]
pub(crate) fn sample(photo: &str, status: Status) -> Record {
    let now = Utc::now();
    Record {
        photo: photo.to_owned(),
        etag: ETag::new("\"0x1\""),
        sha256: "ab".repeat(32),
        size: 10,
        last_modified: Some(now),
        key: "alice@contoso.com".into(),
        focus: None,
        user: None,
        status,
        problem: None,
        detail: None,
        warnings: Vec::new(),
        attempts: 1,
        first_seen: now,
        updated: now,
        synced_at: None,
        lease_until: None,
        next_attempt: None,
        graph_etag: None,
        sharepoint: None,
        held_from: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_written_as_the_documented_words() {
        for status in Status::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), status);
        }
        let words: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            words,
            [
                "failed",
                "retrying",
                "removal-held",
                "syncing",
                "synced",
                "restored",
                "dry-run",
                "superseded",
                "ignored",
                "removed"
            ]
        );
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let minutes: Vec<i64> = (1..=10).map(|a| retry_delay(a).num_minutes()).collect();
        assert_eq!(minutes, [5, 10, 20, 40, 80, 160, 320, 360, 360, 360]);
    }
}
