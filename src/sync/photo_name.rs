//! Blob names as they arrive from people: validated before they reach any
//! path, URL or ledger key.
//!
//! Azure allows almost anything in a blob name; photosync turns names into
//! ledger keys, local file paths and Graph lookups, so it refuses the names
//! that could escape a folder or confuse a log reader: control characters,
//! and the invisible format characters that make a name look like another
//! (`rlo\u{202e}gpj.exe.jpg` shows as `rloexe.jpg…`; Unicode TR #9 and
//! CVE-2021-42574 "Trojan Source" for the bidi controls).

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::problem::ProblemCode;

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
    #[error(
        "the name contains an invisible formatting character (U+{0:04X}), which can make it look like another name"
    )]
    FormatCharacter(u32),
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
    pub fn code(&self) -> ProblemCode {
        ProblemCode::InvalidName
    }
}

/// Invisible characters that change how text around them is shown: the
/// bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069), the
/// marks (U+200E/200F, U+061C), zero-width characters (U+200B–200D, U+2060,
/// U+FEFF), the line and paragraph separators (U+2028/2029) and the other
/// general-category Cf characters a file name has no use for.
pub fn is_format_character(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// `name` made safe to print in a log line, a terminal or a report:
/// control and format characters become `\u{…}` escapes, everything else
/// stays as it is.
pub fn escaped(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_control() || is_format_character(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
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
        if let Some(c) = raw.chars().find(|&c| is_format_character(c)) {
            return Err(NameError::FormatCharacter(c as u32));
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

    /// The folder part: `hr/new/alice.jpg` → `hr/new`; `""` at the top.
    pub fn folder(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(folder, _)| folder)
    }

    /// The matching key: file name without folders and extension, trimmed,
    /// lower-case. `hr/Alice@Contoso.com.JPG` → `alice@contoso.com`.
    pub fn key(&self) -> String {
        let file = self.file_name();
        let stem = match file.rfind('.') {
            Some(dot) if dot > 0 => &file[..dot],
            _ => file,
        };
        matching_key(stem)
    }
}

/// The one form every matching key takes (from a file name or a
/// `mapping.csv` cell): trimmed, Unicode NFC (so `josé` typed on a Mac,
/// NFD, and on Windows, NFC, is one user), lower-case.
pub fn matching_key(text: &str) -> String {
    text.trim().nfc().collect::<String>().to_lowercase()
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
        assert_eq!(NameError::Traversal.code(), ProblemCode::InvalidName);
    }

    #[test]
    fn names_that_look_like_other_names_are_refused() {
        for (raw, c) in [
            ("rlo\u{202e}gpj.exe.jpg", 0x202e),
            ("a\u{2066}b.jpg", 0x2066),
            ("zero\u{200b}width@contoso.com.jpg", 0x200b),
            ("line\u{2028}sep.jpg", 0x2028),
            ("\u{feff}bom.jpg", 0xfeff),
        ] {
            assert_eq!(
                PhotoName::parse(raw),
                Err(NameError::FormatCharacter(c)),
                "{raw:?}"
            );
        }
        assert_eq!(
            escaped("rlo\u{202e}gpj\n.jpg"),
            "rlo\\u{202e}gpj\\u{000a}.jpg"
        );
        assert_eq!(escaped("josé/ünï.jpg"), "josé/ünï.jpg");
    }

    #[test]
    fn keys_are_one_form_whatever_the_normalisation() {
        let nfc = PhotoName::parse("Jos\u{e9}@contoso.com.jpg").unwrap();
        let nfd = PhotoName::parse("Jose\u{301}@contoso.com.jpg").unwrap();
        assert_ne!(nfc, nfd, "two different blobs");
        assert_eq!(nfc.key(), nfd.key(), "one person");
        assert_eq!(nfc.key(), "jos\u{e9}@contoso.com");
        assert_eq!(PhotoName::parse("hr/new/a.jpg").unwrap().folder(), "hr/new");
        assert_eq!(PhotoName::parse("a.jpg").unwrap().folder(), "");
    }
}
