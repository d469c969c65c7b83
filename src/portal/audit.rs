//! Who did what for whom: one log line and one JSON record in the state
//! container (`audit/{yyyy-mm-dd}/{time}-{action}-{id}.json`, beside the
//! ledger) per upload, refusal and decision. Never blocks the request: a record
//! that cannot be written is logged as a warning with the whole entry.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Actor;
use crate::store::{BlobProperties, Store, WriteMode};

/// Folder of the records in the state container.
pub const PREFIX: &str = "audit/";

/// One audited action.
#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `uploaded`, `submitted`, `approved`, `rejected`, `refused`.
    pub action: &'static str,
    /// Who did it (UPN).
    pub actor: &'a str,
    /// Their object id.
    pub actor_id: &'a str,
    /// Whom the photo is for (its key).
    pub subject: &'a str,
    /// The photo's name in the photos container, once known.
    pub photo: Option<&'a str>,
    /// The submission id, to follow one photo through the trail.
    pub submission: Option<&'a str>,
    /// Anything else: the rejection reason, why a request was refused.
    pub detail: Option<&'a str>,
}

impl<'a> Entry<'a> {
    /// An entry for `actor` doing `action` about `subject`'s photo, now.
    pub fn new(action: &'static str, actor: &'a Actor, subject: &'a str) -> Self {
        Self {
            at: Utc::now(),
            action,
            actor: &actor.upn,
            actor_id: &actor.id,
            subject,
            photo: None,
            submission: None,
            detail: None,
        }
    }

    /// The log line: `audit: alice@contoso.com approved web/bob.jpg for bob (…)`.
    pub fn line(&self) -> String {
        let mut line = format!("audit: {} {} ", self.actor, self.action);
        match self.photo {
            Some(photo) => line.push_str(&format!("{photo} for {}", self.subject)),
            None => line.push_str(&format!("a photo for {}", self.subject)),
        }
        if let Some(id) = self.submission {
            line.push_str(&format!(" (submission {id})"));
        }
        if let Some(detail) = self.detail {
            line.push_str(&format!(": {detail}"));
        }
        line
    }
}

/// Logs the entry and stores it.
pub async fn record(state: &Store, entry: &Entry<'_>) {
    let line = entry.line();
    tracing::info!(
        audit = true,
        action = entry.action,
        actor = entry.actor,
        actor_id = entry.actor_id,
        subject = entry.subject,
        photo = entry.photo,
        submission = entry.submission,
        "{line}"
    );
    let name = format!(
        "{PREFIX}{}/{}-{}-{}.json",
        entry.at.format("%Y-%m-%d"),
        entry.at.format("%H%M%S%.3f"),
        entry.action,
        uuid::Uuid::new_v4()
    );
    let properties = BlobProperties {
        content_type: Some("application/json".to_owned()),
        ..BlobProperties::default()
    };
    let json = serde_json::to_vec_pretty(entry).expect("serialises");
    if let Err(e) = state
        .put(&name, Bytes::from(json), &properties, WriteMode::Create)
        .await
    {
        tracing::warn!(
            code = %e.code(),
            "audit record not stored ({e}); the entry was: {line}"
        );
    }
}
