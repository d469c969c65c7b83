//! `mapping.csv`: explicit file → user assignments that override matching by
//! file name. Any number of them, in any folder of the photos container.
//!
//! Columns `file,user` (header required, any order, case-insensitive); `file`
//! is a photo's file name (`IMG_0042.jpg`) or its full name with folders
//! (`hr/IMG_0042.jpg`); `user` is looked up like a file-name key, with the
//! configured `PHOTOSYNC_MATCH_BY` attribute.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::PhotoName;
use crate::store::{Store, StoreError};

/// The file name that makes a blob a mapping.
pub const FILE_NAME: &str = "mapping.csv";
/// Mappings are re-read at most this often (and at once when one changes).
const REFRESH: Duration = Duration::from_secs(60);

/// Whether a blob is a mapping file.
pub fn is_mapping(name: &PhotoName) -> bool {
    name.file_name().eq_ignore_ascii_case(FILE_NAME)
}

/// All assignments of the container.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Lower-case full name or file name → user key (lower-case).
    entries: HashMap<String, String>,
}

impl Mapping {
    /// The user key assigned to `photo`, if any: a full-name entry wins over a
    /// file-name entry.
    pub fn user_for(&self, photo: &PhotoName) -> Option<&str> {
        self.entries
            .get(&photo.as_str().to_lowercase())
            .or_else(|| self.entries.get(&photo.file_name().to_lowercase()))
            .map(String::as_str)
    }

    /// Number of assignments.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the rows of one file; returns how many it had.
    pub fn add_csv(&mut self, text: &[u8]) -> Result<usize, String> {
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text);
        let headers = reader
            .headers()
            .map_err(|e| format!("unreadable header: {e}"))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(file), Some(user)) = (column("file"), column("user")) else {
            return Err("the first line must name the columns `file` and `user`".to_owned());
        };
        let mut added = 0;
        for (index, row) in reader.records().enumerate() {
            let line = index + 2;
            let row = row.map_err(|e| format!("line {line}: {e}"))?;
            let (Some(f), Some(u)) = (row.get(file), row.get(user)) else {
                return Err(format!("line {line}: expected both `file` and `user`"));
            };
            if f.is_empty() && u.is_empty() {
                continue;
            }
            if f.is_empty() || u.is_empty() {
                return Err(format!(
                    "line {line}: `file` and `user` must both be filled in"
                ));
            }
            self.entries.insert(f.to_lowercase(), u.to_lowercase());
            added += 1;
        }
        Ok(added)
    }
}

/// Reads the mapping files of the photos container, cached briefly.
#[derive(Debug, Default)]
pub struct MappingCache {
    /// The last load and when it happened.
    loaded: Mutex<Option<(Instant, Arc<Mapping>)>>,
}

impl MappingCache {
    /// The current mapping (re-read when older than a minute).
    pub async fn get(&self, photos: &Store) -> Result<Arc<Mapping>, StoreError> {
        let mut loaded = self.loaded.lock().await;
        if let Some((at, mapping)) = loaded.as_ref()
            && at.elapsed() < REFRESH
        {
            return Ok(Arc::clone(mapping));
        }
        let mapping = Arc::new(load(photos).await?);
        *loaded = Some((Instant::now(), Arc::clone(&mapping)));
        Ok(mapping)
    }

    /// Forgets the cached mapping (a mapping file changed).
    pub async fn invalidate(&self) {
        *self.loaded.lock().await = None;
    }
}

/// Lists the container for mapping files and merges them, oldest first, so a
/// newer file's rows win. Unreadable files are skipped here (they are
/// reported on their own ledger record).
async fn load(photos: &Store) -> Result<Mapping, StoreError> {
    let mut files: Vec<_> = photos
        .list(None)
        .try_filter(|b| {
            let is = PhotoName::parse(&b.name).is_ok_and(|n| is_mapping(&n));
            futures::future::ready(is)
        })
        .try_collect()
        .await?;
    files.sort_by_key(|b| b.last_modified);
    let mut mapping = Mapping::default();
    for file in files {
        let blob = photos.get(&file.name).await?;
        if let Err(problem) = mapping.add_csv(&blob.bytes) {
            tracing::warn!(mapping = %file.name, "skipping an invalid mapping file: {problem}");
        }
    }
    Ok(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PhotoName {
        PhotoName::parse(s).unwrap()
    }

    #[test]
    fn rows_map_file_names_and_full_names() {
        let mut m = Mapping::default();
        let csv = "\u{feff}User,File\nalice@contoso.com, IMG_0042.JPG\n\"o'brien@contoso.com\",hr/scan 7.png\n,\n";
        assert_eq!(m.add_csv(csv.as_bytes()), Ok(2));
        assert_eq!(
            m.user_for(&name("any/folder/img_0042.jpg")),
            Some("alice@contoso.com")
        );
        assert_eq!(
            m.user_for(&name("HR/scan 7.png")),
            Some("o'brien@contoso.com")
        );
        assert_eq!(
            m.user_for(&name("scan 7.png")),
            None,
            "full-name rows need the folder"
        );
        assert!(is_mapping(&name("hr/Mapping.CSV")));
        assert!(!is_mapping(&name("hr/mapping.csv.bak")));
    }

    #[test]
    fn malformed_files_say_where() {
        let mut m = Mapping::default();
        assert!(
            m.add_csv(b"name,upn\na,b\n")
                .unwrap_err()
                .contains("`file` and `user`")
        );
        assert_eq!(
            m.add_csv(b"file,user\na.jpg,\n").unwrap_err(),
            "line 2: `file` and `user` must both be filled in"
        );
        assert!(
            m.add_csv(b"file,user\na.jpg\n")
                .unwrap_err()
                .starts_with("line 2")
        );
    }
}
