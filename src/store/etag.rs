//! Blob versions in one normal form.
//!
//! The same version is spelled differently by source: HEAD/GET answers carry
//! it quoted (`"0x8DA…"`, an HTTP entity-tag), the List Blobs XML unquoted
//! (`0x8DA…`), and the Functions host may give none at all (storage
//! extension 5.x sends `"ETag": {}`; see ../shared/reference/functions-host.md).
//! Comparing raw strings would call every listed photo "changed"; comparing
//! [`ETag`]s compares the version.

use std::fmt;

/// A blob's version tag. Equality and hashing use the normal form (no
/// quotes, no weak `W/` prefix); the raw form is kept for conditional writes,
/// which must send the value the backend gave.
#[derive(Clone, Eq)]
pub struct ETag {
    /// As the backend returned it (trimmed): what `If-Match` sends back.
    /// One string, not two: a 100,000-photo Reconcile holds two per photo.
    raw: String,
    /// Where the normal form (no quotes, no `W/`) lies within `raw`.
    normal: std::ops::Range<u16>,
}

impl ETag {
    /// Reads a backend's ETag; `None` for an empty one, or one too long to
    /// be a version (Azure's are under 40 characters).
    pub fn new(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        let unweak = trimmed.strip_prefix("W/").unwrap_or(trimmed);
        let normal = unweak.trim_matches('"');
        if normal.is_empty() {
            return None;
        }
        // Everything before `normal` in `trimmed`: the `W/` and the quote.
        let start = trimmed.len() - unweak.trim_start_matches('"').len();
        let range = u16::try_from(start).ok()?..u16::try_from(start + normal.len()).ok()?;
        Some(Self {
            raw: trimmed.to_owned(),
            normal: range,
        })
    }

    /// The normal form.
    pub fn as_str(&self) -> &str {
        &self.raw[usize::from(self.normal.start)..usize::from(self.normal.end)]
    }

    /// The form to send back in a conditional request to the same backend.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

impl PartialEq for ETag {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::hash::Hash for ETag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ETag({})", self.as_str())
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ETag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ETag {
    /// Records written before ETags were normalised hold the quoted form.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(&raw).ok_or_else(|| serde::de::Error::custom("empty ETag"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_unquoted_and_weak_forms_are_one_version() {
        let header = ETag::new("\"0x8DA6E28262505DD\"").unwrap();
        let listing = ETag::new("0x8DA6E28262505DD").unwrap();
        let weak = ETag::new("W/\"0x8DA6E28262505DD\"").unwrap();
        assert_eq!(header, listing);
        assert_eq!(weak, listing);
        assert_eq!(header.as_str(), "0x8DA6E28262505DD");
        assert_eq!(header.raw(), "\"0x8DA6E28262505DD\"");
        assert_eq!(weak.as_str(), "0x8DA6E28262505DD");
        assert_eq!(weak.raw(), "W/\"0x8DA6E28262505DD\"");
        assert_eq!(ETag::new(" \"x\" ").unwrap().raw(), "\"x\"");
        // Not a version any backend writes: refused, not truncated.
        assert_eq!(ETag::new(&"x".repeat(70_000)), None);
        assert_ne!(header, ETag::new("0x8DA6E28262505DE").unwrap());
        assert_eq!(ETag::new("\"\""), None);
        assert_eq!(ETag::new("  "), None);
    }

    #[test]
    fn old_quoted_ledger_values_read_as_the_normal_form() {
        let etag: ETag = serde_json::from_str("\"\\\"0x1\\\"\"").unwrap();
        assert_eq!(etag.as_str(), "0x1");
        assert_eq!(serde_json::to_string(&etag).unwrap(), "\"0x1\"");
    }
}
