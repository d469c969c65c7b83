//! Everything that can go wrong talking to Microsoft Graph, as codes an admin
//! can act on.

use std::time::Duration;

use crate::identity::IdentityError;
use crate::problem::ProblemCode;

/// Graph's limit for one photo upload.
pub const MAX_PHOTO_BYTES: usize = 4 * 1024 * 1024;

/// A classified Graph failure.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("no user has {attribute} `{key}`")]
    UserNotFound {
        attribute: &'static str,
        key: String,
    },
    #[error(
        "{count} users have {attribute} `{key}` ({candidates}); map the file explicitly in mapping.csv"
    )]
    AmbiguousUser {
        attribute: &'static str,
        key: String,
        count: usize,
        candidates: String,
    },
    #[error(
        "Microsoft Graph refused the call: grant the app the application permission {permission} \
         and give admin consent ({detail})"
    )]
    PermissionDenied {
        permission: &'static str,
        detail: String,
    },
    #[error(
        "the tenant's photo update policy is `onPremises`: profile photos can only be changed \
         on-premises; switch photoUpdateSettings.source to `cloud` to use photosync"
    )]
    PhotoUpdatesDisabled,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(
        "Microsoft Graph is throttling the app; gave up after {attempts} attempts and {waited:?} of waiting"
    )]
    Throttled { attempts: u32, waited: Duration },
    #[error("Microsoft Graph is unavailable: {detail}")]
    Unavailable { detail: String },
    #[error("the photo is {bytes} bytes; Microsoft Graph accepts at most {MAX_PHOTO_BYTES}")]
    PhotoTooLarge { bytes: usize },
    #[error(
        "Microsoft Graph answered with a redirect: {detail}; check that PHOTOSYNC_GRAPH_URL points at Graph itself"
    )]
    Redirected { detail: String },
    #[error("Microsoft Graph rejected the call: HTTP {status} {code}: {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
}

impl GraphError {
    /// Stable machine-readable code, used in reports and the ledger.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::UserNotFound { .. } => ProblemCode::UserNotFound,
            Self::AmbiguousUser { .. } => ProblemCode::AmbiguousUser,
            Self::PermissionDenied { .. } => ProblemCode::PermissionDenied,
            Self::PhotoUpdatesDisabled => ProblemCode::PhotoUpdatesDisabled,
            Self::Identity(e) => e.code(),
            Self::Throttled { .. } => ProblemCode::Throttled,
            Self::Unavailable { .. } => ProblemCode::GraphUnavailable,
            Self::PhotoTooLarge { .. } => ProblemCode::PhotoTooLarge,
            Self::Redirected { .. } => ProblemCode::RedirectRefused,
            Self::Rejected { .. } => ProblemCode::GraphRejected,
        }
    }

    /// Whether retrying later (without a person changing anything) can succeed.
    pub fn is_transient(&self) -> bool {
        self.code().is_transient()
    }

    /// A problem with the app's configuration rather than with one photo:
    /// report it once, not once per user.
    pub fn is_configuration(&self) -> bool {
        self.code().is_configuration()
    }
}
