//! The registry of problem codes: every way a photo (or a run) can go wrong,
//! as one typed list with its stable code, whether waiting can fix it, and
//! what an admin should do about it.
//!
//! Codes are part of the product's contract: they appear in the ledger, the
//! reports, the logs and `docs/errors.md`, so a code is never renamed. The
//! [`problem_codes!`] table makes the advice part of each entry, so a code
//! cannot be added without it; a test checks `docs/errors.md` lists every code.
//! The model is pict-rs' `error_code` module.

use std::fmt;

/// Defines [`ProblemCode`] with its string form, transience, advice and the
/// list of all codes, from one table.
macro_rules! problem_codes {
    ($(
        $(#[$meta:meta])*
        $variant:ident = $code:literal, transient: $transient:literal, advice: $advice:literal;
    )*) => {
        /// A stable, machine-readable problem code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ProblemCode {
            $( $(#[$meta])* $variant, )*
        }

        impl ProblemCode {
            /// Every code, in table order.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant),*];

            /// The code as written in the ledger, reports and logs.
            pub fn as_str(self) -> &'static str {
                match self { $(ProblemCode::$variant => $code,)* }
            }

            /// Whether trying again later can succeed without a person acting.
            pub fn is_transient(self) -> bool {
                match self { $(ProblemCode::$variant => $transient,)* }
            }

            /// What an admin should do, in one or two sentences.
            pub fn advice(self) -> &'static str {
                match self { $(ProblemCode::$variant => $advice,)* }
            }

            /// The code written as `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($code => Some(ProblemCode::$variant),)* _ => None }
            }
        }
    };
}

problem_codes! {
    // --- Matching the photo to a person ---
    /// No directory user has the photo's key.
    UserNotFound = "user-not-found", transient: false,
        advice: "Rename the file after the person (e.g. alice@contoso.com.jpg), or map it in mapping.csv; check PHOTOSYNC_MATCH_BY names the attribute the file names use.";
    /// Several users match the key.
    AmbiguousUser = "ambiguous-user", transient: false,
        advice: "Several people match the file name: map the file to one user explicitly in mapping.csv.";
    /// The file name is not usable as a blob or ledger name.
    InvalidName = "invalid-name", transient: false,
        advice: "Rename the file: no control or invisible characters, no empty folders (`//`), no `.` or `..` folders, no backslashes.";
    /// A mapping.csv file cannot be read.
    InvalidMapping = "invalid-mapping", transient: false,
        advice: "Fix the named lines of the mapping file (columns `file` and `user`, comma- or semicolon-separated) and upload it again.";
    /// A mapping.csv file is over the size or row limit.
    MappingTooLarge = "mapping-too-large", transient: false,
        advice: "Split the mapping file into smaller ones (one per folder) under the limit the message names.";
    /// One photo is mapped to two different users.
    MappingConflict = "mapping-conflict", transient: false,
        advice: "The photo is listed twice with different users: keep one row and upload the mapping file again.";

    // --- The image itself ---
    /// Not an image format photosync decodes.
    UnsupportedFormat = "unsupported-format", transient: false,
        advice: "Export the photo as JPEG or PNG and upload it again.";
    /// The bytes claim a supported format but cannot be decoded.
    CorruptImage = "corrupt-image", transient: false,
        advice: "Upload the photo again: the file is damaged or incomplete.";
    /// Over a byte, pixel or decode-memory limit.
    ImageTooLarge = "image-too-large", transient: false,
        advice: "Export a smaller photo (for example a 2000x2000 JPEG), or raise the limit the message names (PHOTOSYNC_MAX_BYTES, PHOTOSYNC_MAX_PIXELS, PHOTOSYNC_MAX_DECODE_MB).";
    /// Rendering ran past PHOTOSYNC_MAX_RENDER_SECS, or a progressive JPEG has over 100 scans.
    ImageTooSlow = "image-too-slow", transient: false,
        advice: "Export the photo again as a baseline (non-progressive) JPEG or a PNG: this file takes unusually long to decode (too many progressive scans, or over the PHOTOSYNC_MAX_RENDER_SECS time budget).";
    /// The square that could be cut from the photo is below the minimum.
    ImageTooSmall = "image-too-small", transient: false,
        advice: "Upload a larger photo (its shorter side at least PHOTOSYNC_MIN_SIZE pixels).";

    // --- Warnings: the photo is synced, but someone should look at it ---
    /// Face crop asked for, no frontal face found: the top-biased square was used.
    NoFaceFound = "no-face-found", transient: false,
        advice: "Check the thumbnail; if the crop is wrong, set a focus point (the `focus` column of mapping.csv, or blob metadata photosync_focus = x,y).";
    /// Several faces of similar size: the square is centred on the largest.
    SeveralFaces = "several-faces", transient: false,
        advice: "Use a photo of the one person, or set a focus point on their face.";
    /// The face is small in the photo: the thumbnail is zoomed in on it.
    FaceTooSmall = "face-too-small", transient: false,
        advice: "Use a photo taken closer up; the thumbnail is sharper when the face fills more of the frame.";
    /// The embedded ICC profile is over 1 MB: ignored, the photo treated as sRGB.
    IccProfileIgnored = "icc-profile-ignored", transient: false,
        advice: "Check the thumbnail's colours; export the photo again with a standard colour profile (sRGB or Display P3).";

    // --- Microsoft Graph and Entra ID ---
    /// The app lacks a Graph permission.
    PermissionDenied = "permission-denied", transient: false,
        advice: "Grant the app the Microsoft Graph application permission the message names and give admin consent; failed photos are retried once the grant is there (`photosync doctor` checks it).";
    /// The tenant manages photos on-premises.
    PhotoUpdatesDisabled = "photo-updates-disabled", transient: false,
        advice: "Set the tenant's photoUpdateSettings source to `cloud` (Microsoft 365 admin center or Graph), then run `photosync retry --all-failed`.";
    /// Entra ID refused the app's credentials, or they are unusable.
    InvalidCredentials = "invalid-credentials", transient: false,
        advice: "Renew or fix the app's secret or certificate (PHOTOSYNC_CLIENT_SECRET / PHOTOSYNC_CLIENT_CERTIFICATE_PATH), or check the managed identity.";
    /// The token endpoint is unreachable or failing.
    IdentityUnavailable = "identity-unavailable", transient: true,
        advice: "Nothing: it is retried automatically. If it persists, check the app can reach the Entra ID token endpoint.";
    /// Graph kept throttling beyond the retry bounds.
    Throttled = "throttled", transient: true,
        advice: "Nothing: it is retried automatically at a slower pace.";
    /// Graph is unreachable or failing.
    GraphUnavailable = "graph-unavailable", transient: true,
        advice: "Nothing: it is retried automatically.";
    /// The rendered photo is over Graph's upload limit.
    PhotoTooLarge = "photo-too-large", transient: false,
        advice: "Lower PHOTOSYNC_SIZES' largest size or PHOTOSYNC_JPEG_QUALITY so the master photo fits Microsoft Graph's 4 MB limit.";
    /// A service answered with a redirect, which photosync never follows.
    RedirectRefused = "redirect-refused", transient: true,
        advice: "Point PHOTOSYNC_AUTHORITY_URL, PHOTOSYNC_GRAPH_URL and the SharePoint URLs at the services themselves; photosync follows no redirects.";
    /// Graph refused the call for a reason photosync does not classify.
    GraphRejected = "graph-rejected", transient: false,
        advice: "Read the message (it quotes Microsoft Graph's error); fix the cause, then `photosync retry PHOTO`.";

    // --- SharePoint Online (optional, legacy target) ---
    /// SharePoint app-only access needs a certificate.
    SharepointNeedsCertificate = "sharepoint-needs-certificate", transient: false,
        advice: "Configure PHOTOSYNC_CLIENT_CERTIFICATE_PATH (or use the managed identity): SharePoint refuses app-only tokens obtained with a client secret.";
    /// A SharePoint host refused the app (missing grant or wrong audience).
    SharepointAccessDenied = "sharepoint-access-denied", transient: false,
        advice: "Grant the app Sites.FullControl.All and User.ReadWrite.All (Office 365 SharePoint Online, application) with admin consent, then run `photosync retry --all-failed`.";
    /// The My Site host has no profile pictures folder at the configured path.
    SharepointLibraryMissing = "sharepoint-library-missing", transient: false,
        advice: "Set PHOTOSYNC_SHAREPOINT_LIBRARY_PATH to the My Site host's (localised) profile pictures folder, then run `photosync retry --all-failed`.";
    /// SharePoint has no user profile for this user yet.
    SharepointProfileMissing = "sharepoint-profile-missing", transient: false,
        advice: "Wait until the user has a SharePoint profile (first sign-in or profile import), then run `photosync retry` for the photo.";
    /// SharePoint kept throttling beyond the retry bounds.
    SharepointThrottled = "sharepoint-throttled", transient: true,
        advice: "Nothing: it is retried automatically; raise PHOTOSYNC_SHAREPOINT_PACING_MS if it keeps happening.";
    /// SharePoint is unreachable or failing.
    SharepointUnavailable = "sharepoint-unavailable", transient: true,
        advice: "Nothing: it is retried automatically.";
    /// SharePoint refused the call for a reason photosync does not classify.
    SharepointRejected = "sharepoint-rejected", transient: false,
        advice: "Read the message (it quotes SharePoint's error); fix the cause, then `photosync retry PHOTO`.";

    // --- Storage ---
    /// A blob is gone (deleted between listing and reading).
    BlobNotFound = "blob-not-found", transient: false,
        advice: "Nothing: the photo was deleted while it was being processed; upload it again if that was a mistake.";
    /// Storage refused the app's identity.
    StorageAccessDenied = "storage-access-denied", transient: false,
        advice: "Give the app's identity the Storage Blob Data Owner (or Contributor) role on the storage account, or fix the connection string's key or SAS.";
    /// The storage settings cannot be used.
    StorageConfiguration = "storage-configuration", transient: false,
        advice: "Fix the storage setting the message names (PHOTOSYNC_STORAGE or AzureWebJobsStorage); `photosync doctor` checks it.";
    /// Storage is unreachable or failing.
    StorageUnavailable = "storage-unavailable", transient: true,
        advice: "Nothing: it is retried automatically. If it persists, check the storage account is reachable.";
    /// A ledger record cannot be read.
    LedgerCorrupt = "ledger-corrupt", transient: false,
        advice: "Delete the named ledger record (or run `photosync retry PHOTO`): the photo is then processed as new.";

    // --- Safety ---
    /// More synced photos vanished in one run than the removal limit allows: none was removed.
    RemovalHeld = "removal-held", transient: false,
        advice: "Nothing was removed. If the photos were deleted on purpose, confirm with `photosync reconcile --allow-removals N` (local mode: `photosync sync DIR --allow-removals N`) or raise PHOTOSYNC_REMOVAL_LIMIT; if not, put the photos back and they return to normal.";

    // --- photosync itself ---
    /// A bug or a crash inside photosync.
    InternalError = "internal-error", transient: true,
        advice: "It is retried automatically; if it repeats, report it with the log line.";
}

impl ProblemCode {
    /// A warning: the photo is synced; the report shows it for a person to check.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::NoFaceFound | Self::SeveralFaces | Self::FaceTooSmall
        )
    }

    /// A problem with the app's configuration, the same for every photo:
    /// reports list it once, with how many photos it holds up.
    pub fn is_configuration(self) -> bool {
        matches!(
            self,
            Self::PermissionDenied
                | Self::PhotoUpdatesDisabled
                | Self::InvalidCredentials
                | Self::SharepointNeedsCertificate
                | Self::SharepointAccessDenied
                | Self::SharepointLibraryMissing
                | Self::StorageAccessDenied
                | Self::StorageConfiguration
        )
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ProblemCode {
    /// A code this version does not know (written by a newer one) reads as
    /// [`ProblemCode::InternalError`] rather than making the record unreadable.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(Self::parse(&text).unwrap_or(Self::InternalError))
    }
}

/// A problem: its code and one line for a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// Stable code.
    pub code: ProblemCode,
    /// What happened, for a person; never a secret.
    pub message: String,
}

impl Problem {
    /// A problem with this code and message.
    pub fn new(code: ProblemCode, message: impl fmt::Display) -> Self {
        Self {
            code,
            message: message.to_string(),
        }
    }

    /// Whether waiting can fix it.
    pub fn is_transient(&self) -> bool {
        self.code.is_transient()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_kebab_case_unique_and_has_advice() {
        let mut seen = std::collections::HashSet::new();
        for code in ProblemCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{s} is not kebab-case"
            );
            assert!(code.advice().len() > 20, "{s} has no real advice");
            assert!(code.advice().ends_with('.'), "{s}: advice is a sentence");
            assert_eq!(ProblemCode::parse(s), Some(*code));
        }
    }

    #[test]
    fn docs_list_every_code() {
        let docs = include_str!("../docs/errors.md");
        let documented: std::collections::BTreeSet<&str> = docs
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let codes: std::collections::BTreeSet<&str> =
            ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            documented, codes,
            "docs/errors.md must list exactly the codes of ProblemCode"
        );
    }

    #[test]
    fn codes_round_trip_through_json_and_unknown_ones_stay_readable() {
        let problem = Problem::new(ProblemCode::UserNotFound, "no user");
        let json = serde_json::to_string(&problem).unwrap();
        assert_eq!(json, r#"{"code":"user-not-found","message":"no user"}"#);
        assert_eq!(serde_json::from_str::<Problem>(&json).unwrap(), problem);
        let future: Problem =
            serde_json::from_str(r#"{"code":"from-a-newer-version","message":"m"}"#).unwrap();
        assert_eq!(future.code, ProblemCode::InternalError);
    }
}
