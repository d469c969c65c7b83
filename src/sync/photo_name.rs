//! Blob names as they arrive from people: validated before they reach any
//! path, URL or ledger key.
//!
//! Azure allows almost anything in a blob name; photosync turns names into
//! ledger keys, local file paths and Graph lookups, so it refuses the names
//! that could escape a folder or confuse a log reader.

use std::fmt;

/// Longest blob name Azure allows (and that we accept).
pub const MAX_NAME_BYTES: usize = 1024;

/// A validated name of a blob in the photos container, e.g. `hr/alice@contoso.com.jpg`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhotoName(String);

/// Why a name was refused (error code `invalid-name`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is {0} bytes long; at most {MAX_NAME_BYTES} are allowed")]
    TooLong(usize),
    #[error("the name contains a control character")]
    ControlCharacter,
    #[error("the name contains a backslash; use `/` for folders")]
    Backslash,
    #[error("the name starts with `/` or a drive letter (an absolute path)")]
    Absolute,
    #[error("the name contains a `.` or `..` folder")]
    Traversal,
    #[error("the name contains an empty folder (`//` or a trailing `/`)")]
    EmptySegment,
}

impl NameError {
    /// Stable code for reports and the ledger.
    pub fn code(&self) -> &'static str {
        "invalid-name"
    }
}

impl PhotoName {
    /// Validates a raw blob name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong(raw.len()));
        }
        if raw.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        if raw.contains('\\') {
            return Err(NameError::Backslash);
        }
        let bytes = raw.as_bytes();
        if raw.starts_with('/')
            || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
        {
            return Err(NameError::Absolute);
        }
        for segment in raw.split('/') {
            match segment {
                "" => return Err(NameError::EmptySegment),
                "." | ".." => return Err(NameError::Traversal),
                _ => {}
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// The full name inside the container.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: `hr/alice@contoso.com.jpg` → `alice@contoso.com.jpg`.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The matching key: file name without folders and extension, trimmed,
    /// lower-case. `hr/Alice@Contoso.com.JPG` → `alice@contoso.com`.
    pub fn key(&self) -> String {
        let file = self.file_name();
        let stem = match file.rfind('.') {
            Some(dot) if dot > 0 => &file[..dot],
            _ => file,
        };
        stem.trim().to_lowercase()
    }
}

impl fmt::Display for PhotoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_accepted_with_their_key() {
        let name = PhotoName::parse("hr/new hires/Alice@Contoso.com.JPG").unwrap();
        assert_eq!(name.file_name(), "Alice@Contoso.com.JPG");
        assert_eq!(name.key(), "alice@contoso.com");
        assert_eq!(PhotoName::parse("12345.png").unwrap().key(), "12345");
        assert_eq!(PhotoName::parse(" o'brien .jpg").unwrap().key(), "o'brien");
        assert_eq!(PhotoName::parse(".hidden").unwrap().key(), ".hidden");
        assert_eq!(PhotoName::parse("noext").unwrap().key(), "noext");
    }

    #[test]
    fn dangerous_names_are_refused_with_a_reason() {
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        let cases = [
            ("", NameError::Empty),
            (long.as_str(), NameError::TooLong(MAX_NAME_BYTES + 1)),
            ("alice\n.jpg", NameError::ControlCharacter),
            ("alice\u{7f}.jpg", NameError::ControlCharacter),
            ("alice\0.jpg", NameError::ControlCharacter),
            ("hr\\alice.jpg", NameError::Backslash),
            ("/etc/passwd", NameError::Absolute),
            ("C:alice.jpg", NameError::Absolute),
            ("../alice.jpg", NameError::Traversal),
            ("hr/../../alice.jpg", NameError::Traversal),
            ("hr/./alice.jpg", NameError::Traversal),
            ("hr//alice.jpg", NameError::EmptySegment),
            ("hr/", NameError::EmptySegment),
        ];
        for (raw, expected) in cases {
            assert_eq!(PhotoName::parse(raw), Err(expected), "{raw:?}");
        }
        assert_eq!(NameError::Traversal.code(), "invalid-name");
    }
}
