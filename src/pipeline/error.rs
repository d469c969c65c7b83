//! The one error type of the pipeline, with stable machine-readable codes.
//!
//! Codes are part of the service's contract (logs, blob metadata, API
//! responses), so they never change; messages are for an administrator.

/// Why a photo could not be turned into thumbnails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// Not an image format the pipeline decodes (recognised by its bytes).
    #[error("{0}")]
    UnsupportedFormat(String),
    /// The bytes claim to be a supported image but cannot be decoded.
    #[error("the image is damaged or incomplete: {0}")]
    CorruptImage(String),
    /// Over the byte, dimension or pixel-area limit, or the output cannot be
    /// made small enough for Microsoft Graph.
    #[error("{0}")]
    ImageTooLarge(String),
    /// Would take too long to decode: too many progressive scans, or the
    /// render ran past its time budget.
    #[error("{0}")]
    TooSlow(String),
    /// The square that could be cut from the photo is below the minimum size.
    #[error(
        "the photo is {width}x{height}; its square must be at least {min_size}x{min_size} pixels"
    )]
    ImageTooSmall {
        /// Width of the photo as displayed (after EXIF orientation).
        width: u32,
        /// Height of the photo as displayed.
        height: u32,
        /// The configured minimum square edge.
        min_size: u32,
    },
}

impl PipelineError {
    /// Stable code: `unsupported-format`, `corrupt-image`, `image-too-large`,
    /// `image-too-slow` or `image-too-small`.
    pub fn code(&self) -> crate::problem::ProblemCode {
        use crate::problem::ProblemCode;
        match self {
            Self::UnsupportedFormat(_) => ProblemCode::UnsupportedFormat,
            Self::CorruptImage(_) => ProblemCode::CorruptImage,
            Self::ImageTooLarge(_) => ProblemCode::ImageTooLarge,
            Self::TooSlow(_) => ProblemCode::ImageTooSlow,
            Self::ImageTooSmall { .. } => ProblemCode::ImageTooSmall,
        }
    }

    /// Whether retrying could succeed. Never for the pipeline: the same bytes
    /// always give the same answer. Kept so every error type classifies alike.
    pub fn is_transient(&self) -> bool {
        false
    }

    pub(crate) fn corrupt(detail: impl std::fmt::Display) -> Self {
        Self::CorruptImage(detail.to_string())
    }

    pub(crate) fn unsupported(detail: impl std::fmt::Display) -> Self {
        Self::UnsupportedFormat(detail.to_string())
    }

    pub(crate) fn too_large(detail: impl std::fmt::Display) -> Self {
        Self::ImageTooLarge(detail.to_string())
    }
}
