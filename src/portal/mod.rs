//! The web page's use cases: upload a photo (for anyone, or for oneself),
//! approve or reject self-service photos, follow their status, read the report.
//!
//! The transport (`handler::web`) turns requests into calls here with an
//! [`Actor`] it built from the platform's sign-in; it never touches storage.
//! Everything a person sends passes the pipeline's own checks
//! ([`crate::pipeline::inspect`]) before it is stored, and every decision is
//! written to the audit trail ([`audit`]).
//!
//! Storage, all in the state container except the photos themselves:
//! - `web/submissions/{key}/{id}.json` — one record per upload ([`Submission`]);
//! - `web/pending/{key}/{id}.photo` — the bytes of a photo awaiting approval
//!   (never in the photos container, so nothing syncs it before approval);
//! - `audit/{date}/…json` — who did what for whom.
//!
//! Approved and direct uploads become `web/{key}.{ext}` in the photos
//! container, which the blob trigger picks up like any other photo.

mod audit;
mod limits;
mod report_view;
mod review;
mod status;
mod submission;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::pipeline::PipelineError;
use crate::store::{StoreError, Stores};
use crate::sync::ledger::{Ledger, LedgerError};

pub use report_view::{ReportPage, ReportQuery, ReportRow};
pub use status::StatusRow;
pub use submission::{Focus, SubmissionState};
pub use upload::{Preview, Upload};

/// The app role (or group, see `PHOTOSYNC_UPLOADER_GROUP`) of people who may
/// upload for anyone and see everything.
pub const UPLOADER_ROLE: &str = "photosync.uploader";
/// The app role of people who approve self-service photos.
pub const APPROVER_ROLE: &str = "photosync.approver";

/// The signed-in person, as the platform vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Entra object id: immutable, names the person in the audit trail.
    pub id: String,
    /// Sign-in name (UPN), shown to people and used as their photo's key.
    pub upn: String,
    /// Display name, for greetings only.
    pub name: String,
    /// What they may do.
    pub roles: Roles,
}

/// The roles that matter here; everyone else is an employee.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    /// May upload for anyone and see all status and the report.
    pub uploader: bool,
    /// May approve and reject pending self-service photos.
    pub approver: bool,
}

/// Why a request was not carried out, with a sentence for the person.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (or is not theirs to see).
    #[error("{0}")]
    NotFound(String),
    /// Something they sent cannot be used; the code is stable.
    #[error("{message}")]
    Invalid {
        /// `unsupported-format`, `invalid-focus`, … (pipeline codes included).
        code: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// They did this too often; try again after this long.
    #[error("too many uploads: at most {limit} per hour; try again in {} minutes", retry_after.as_secs().div_ceil(60))]
    TooMany {
        /// The configured hourly limit.
        limit: u32,
        /// When a slot frees up.
        retry_after: Duration,
    },
    /// Someone else decided first.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed; the request may be repeated.
    #[error("storage is unavailable, try again in a moment ({0})")]
    Unavailable(String),
}

impl PortalError {
    /// Stable code for the page and the log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Invalid { code, .. } => code,
            Self::TooMany { .. } => "too-many-requests",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "storage-unavailable",
        }
    }
}

impl From<StoreError> for PortalError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.code().as_str().to_owned())
    }
}

impl From<LedgerError> for PortalError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(e) => e.into(),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<PipelineError> for PortalError {
    fn from(e: PipelineError) -> Self {
        Self::Invalid {
            code: e.code().as_str(),
            message: e.to_string(),
        }
    }
}

/// What the page needs to know about this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PageOptions {
    /// Employees may upload their own photo.
    pub self_service: bool,
    /// Self-service photos wait for approval.
    pub approval: bool,
    /// Largest file accepted.
    pub max_upload_bytes: u64,
}

/// The use cases; cheap to clone, shared by all requests.
#[derive(Debug, Clone)]
pub struct Portal {
    /// Web and pipeline settings.
    settings: Arc<Settings>,
    /// Photos (written on delivery) and state (records, pending, audit).
    stores: Stores,
    /// Read side of the ledger, for status.
    ledger: Ledger,
    /// Uploads per person per hour.
    uploads: Arc<limits::RateLimiter>,
    /// Previews per person per hour (ten times the uploads: one per file shown).
    previews: Arc<limits::RateLimiter>,
    /// The parsed latest report, reused while its ETag is unchanged.
    report: Arc<report_view::ReportCache>,
    /// The process's render budgets: a preview renders within them like
    /// every other render.
    renderer: crate::renderer::Renderer,
}

impl Portal {
    /// A portal over these containers.
    pub fn new(
        settings: Arc<Settings>,
        stores: Stores,
        renderer: crate::renderer::Renderer,
    ) -> Self {
        let per_hour = settings.web.uploads_per_hour;
        Self {
            ledger: Ledger::new(stores.state.clone()),
            uploads: Arc::new(limits::RateLimiter::new(
                per_hour,
                Duration::from_secs(3600),
            )),
            previews: Arc::new(limits::RateLimiter::new(
                per_hour.saturating_mul(10),
                Duration::from_secs(3600),
            )),
            report: Arc::default(),
            settings,
            stores,
            renderer,
        }
    }

    /// The deployment's choices, for the page.
    pub fn options(&self) -> PageOptions {
        PageOptions {
            self_service: self.settings.web.self_service,
            approval: self.settings.web.approval,
            max_upload_bytes: self.settings.web.max_upload_bytes,
        }
    }

    /// Whether `actor` may use the page at all.
    pub fn admit(&self, actor: &Actor) -> Result<(), PortalError> {
        if actor.roles.uploader || actor.roles.approver || self.settings.web.self_service {
            return Ok(());
        }
        Err(PortalError::Forbidden(format!(
            "{} is signed in but may not use photosync: ask an administrator for the \
             {UPLOADER_ROLE} role (self-service is off)",
            actor.upn
        )))
    }

    /// The key an employee's own photo is filed under: what the flow matches
    /// users by (`PHOTOSYNC_MATCH_BY`), taken from the sign-in, never from the request.
    fn own_key(&self, actor: &Actor) -> String {
        match self.settings.web.match_by {
            crate::graph::MatchBy::Id => actor.id.to_ascii_lowercase(),
            _ => actor.upn.to_lowercase(),
        }
    }
}

#[cfg(test)]
mod tests;
