//! What can go wrong writing SharePoint's copy, as codes an admin can act on,
//! and how an answer from a SharePoint host is classified.

use reqwest::StatusCode;
use serde_json::Value;

use crate::identity::IdentityError;
use crate::problem::ProblemCode;

/// A SharePoint failure with a stable code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharePointError {
    #[error(
        "SharePoint refuses app-only tokens obtained with a client secret: configure \
         PHOTOSYNC_CLIENT_CERTIFICATE_PATH (or use the managed identity) for the SharePoint target"
    )]
    NeedsCertificate,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// 401/403 from a host: a missing grant or a token for the wrong audience,
    /// the same for every user (the app-only "Access denied" of pnp/powershell#277).
    #[error(
        "SharePoint ({host}) refused the app ({detail}): grant the app registration (or the \
         managed identity) the application permissions Sites.FullControl.All and \
         User.ReadWrite.All of the Office 365 SharePoint Online API with admin consent \
         (Microsoft365DSC lists these for app-only profile updates), then run \
         `photosync retry --all-failed`"
    )]
    AccessDenied { host: String, detail: String },
    /// The pictures folder is not there: the library name is localised.
    #[error(
        "the My Site host has no folder `{path}` (HTTP 404): set \
         PHOTOSYNC_SHAREPOINT_LIBRARY_PATH to its profile pictures folder (localised, e.g. \
         `/User Photos/Profielafbeeldingen` on Dutch hosts), then run `photosync retry --all-failed`"
    )]
    LibraryMissing { path: String },
    /// `UserNotFoundException`: SharePoint has no profile for this user yet.
    #[error(
        "SharePoint has no user profile for {account} yet (UserNotFoundException); it is created \
         when the user first uses SharePoint or by the profile import — run `photosync retry` \
         for this photo later"
    )]
    ProfileMissing { account: String },
    #[error(
        "SharePoint answered with a redirect: {detail}; check PHOTOSYNC_SHAREPOINT_MYSITE_URL and PHOTOSYNC_SHAREPOINT_ADMIN_URL"
    )]
    Redirected { detail: String },
    #[error("SharePoint is throttling the app; gave up after {attempts} attempts")]
    Throttled { attempts: u32 },
    #[error("SharePoint is unavailable: {detail}")]
    Unavailable { detail: String },
    #[error("SharePoint rejected the call: HTTP {status}: {detail}")]
    Rejected { status: u16, detail: String },
}

impl SharePointError {
    /// Stable code for reports and the ledger.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::NeedsCertificate => ProblemCode::SharepointNeedsCertificate,
            Self::Identity(e) => e.code(),
            Self::AccessDenied { .. } => ProblemCode::SharepointAccessDenied,
            Self::LibraryMissing { .. } => ProblemCode::SharepointLibraryMissing,
            Self::ProfileMissing { .. } => ProblemCode::SharepointProfileMissing,
            Self::Redirected { .. } => ProblemCode::RedirectRefused,
            Self::Throttled { .. } => ProblemCode::SharepointThrottled,
            Self::Unavailable { .. } => ProblemCode::SharepointUnavailable,
            Self::Rejected { .. } => ProblemCode::SharepointRejected,
        }
    }

    /// Whether retrying later (without a person changing anything) can succeed.
    pub fn is_transient(&self) -> bool {
        self.code().is_transient()
    }

    /// A problem with the app's configuration rather than with one user:
    /// the same for every user, so reported once, not per user.
    pub fn is_configuration(&self) -> bool {
        self.code().is_configuration()
    }
}

/// `code: message` from any of SharePoint's error bodies — JSON light
/// `{"odata.error":{"code","message":{"value"}}}`, verbose
/// `{"error":{"code","message":{"value"}}}`, or the token check's
/// `{"error_description"}` — else the start of the text.
pub(super) fn describe(text: &str) -> String {
    let short = |s: &str| {
        s.lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>()
    };
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return short(text);
    };
    if let Some(error) = json.get("odata.error").or_else(|| json.get("error")) {
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let message = error
            .get("message")
            .and_then(|m| m.get("value").or(Some(m)))
            .and_then(Value::as_str)
            .unwrap_or_default();
        return short(&format!("{code}: {message}"));
    }
    if let Some(description) = json.get("error_description").and_then(Value::as_str) {
        return short(description);
    }
    short(text)
}

/// A missing profile: SharePoint answers 500 with
/// `Microsoft.Office.Server.UserProfiles.UserNotFoundException` in the error
/// code. Not an outage: retrying cannot create the profile.
pub(super) fn is_missing_profile(status: StatusCode, text: &str) -> bool {
    status == StatusCode::INTERNAL_SERVER_ERROR && text.contains("UserNotFoundException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_body_shape_is_read() {
        assert_eq!(
            describe(
                r#"{"odata.error":{"code":"-2147024891, System.UnauthorizedAccessException","message":{"lang":"en-US","value":"Access denied."}}}"#
            ),
            "-2147024891, System.UnauthorizedAccessException: Access denied."
        );
        assert_eq!(
            describe(
                r#"{"error_description":"Exception of type 'Microsoft.IdentityModel.Tokens.AudienceUriValidationFailedException' was thrown."}"#
            ),
            "Exception of type 'Microsoft.IdentityModel.Tokens.AudienceUriValidationFailedException' was thrown."
        );
        assert_eq!(describe("plain\nsecond line"), "plain");
        assert!(is_missing_profile(
            StatusCode::INTERNAL_SERVER_ERROR,
            "-2146232832, Microsoft.Office.Server.UserProfiles.UserNotFoundException"
        ));
        assert!(!is_missing_profile(
            StatusCode::INTERNAL_SERVER_ERROR,
            "boom"
        ));
    }

    #[test]
    fn configuration_problems_are_neither_transient_nor_per_user() {
        let denied = SharePointError::AccessDenied {
            host: "h".into(),
            detail: "d".into(),
        };
        assert!(denied.is_configuration() && !denied.is_transient());
        assert!(denied.to_string().contains("Sites.FullControl.All"));
        assert!(denied.to_string().contains("User.ReadWrite.All"));
        let missing = SharePointError::ProfileMissing {
            account: "a@b".into(),
        };
        assert!(!missing.is_configuration() && !missing.is_transient());
        let library = SharePointError::LibraryMissing { path: "/x".into() };
        assert!(
            library
                .to_string()
                .contains("PHOTOSYNC_SHAREPOINT_LIBRARY_PATH")
        );
        assert!(SharePointError::Redirected { detail: "x".into() }.is_transient());
    }
}
