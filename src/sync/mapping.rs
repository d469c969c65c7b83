//! `mapping.csv`: explicit file → user assignments that override matching by
//! file name.
//!
//! Where they live: a `mapping.csv` applies to the photos in its own folder
//! and below. For a photo, the files in its folder and each parent folder are
//! consulted, nearest first, and the nearest with a row for the photo
//! decides. So the blob trigger reads at most a few small files by name
//! (conditionally, by ETag) and never lists the container.
//!
//! Format: a header naming the columns `file` and `user` (any order, any
//! case; optional `focus`), comma- or semicolon-separated (Excel exports `;`
//! in many European locales). `file` is a photo's file name (`IMG_0042.jpg`)
//! or its name from the container root (`hr/IMG_0042.jpg`); `user` is looked
//! up like a file-name key with `PHOTOSYNC_MATCH_BY`; `focus` is `x,y` as
//! fractions of the displayed photo (where the crop should centre).
//! Every bad line is reported; a photo listed twice with two different users
//! is a conflict and neither row applies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::PhotoName;
use super::photo_name::matching_key;
pub use crate::pipeline::Focus;
use crate::problem::{Problem, ProblemCode};
use crate::store::{ETag, Store, StoreError};

/// The file name that makes a blob a mapping.
pub const FILE_NAME: &str = "mapping.csv";
/// Largest mapping file read (about 100,000 rows of typical length).
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Most rows one mapping file may have.
pub const MAX_ROWS: usize = 100_000;
/// A cached mapping file is re-checked (conditionally) at most this often.
const REFRESH: Duration = Duration::from_secs(60);
/// Bad lines quoted in a message; the rest are counted.
const QUOTED_LINES: usize = 20;

/// Whether a blob is a mapping file.
pub fn is_mapping(name: &PhotoName) -> bool {
    name.file_name().eq_ignore_ascii_case(FILE_NAME)
}

/// What a mapping row assigns to a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The user's matching key (NFC, lower-case).
    pub user: String,
    /// A crop focus, when the row gives one.
    pub focus: Option<Focus>,
    /// The mapping file it comes from.
    pub source: String,
}

/// One parsed mapping file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingFile {
    /// The file's blob name.
    pub name: String,
    /// Its folder (`""` at the top); it applies to photos at or under it.
    folder: String,
    /// Lower-case file name or full name → assignment.
    rows: HashMap<String, Assignment>,
    /// Every line that could not be used, with why (`line 7: …`).
    pub bad_lines: Vec<String>,
    /// Photos listed twice with different users (neither row applies).
    pub conflicts: Vec<String>,
}

impl MappingFile {
    /// Parses a mapping file's bytes; only an unusable file as a whole
    /// (too large, no header) is an error. Bad lines are collected.
    pub fn parse(name: &PhotoName, bytes: &[u8]) -> Result<Self, Problem> {
        if bytes.len() as u64 > MAX_BYTES {
            return Err(too_large(name, bytes.len() as u64));
        }
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let header_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
        let delimiter = if header_line.contains(&b';') && !header_line.contains(&b',') {
            b';'
        } else {
            b','
        };
        let invalid = |message: String| Problem::new(ProblemCode::InvalidMapping, message);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text);
        let headers = reader
            .headers()
            .map_err(|e| invalid(format!("{name}: unreadable header: {e}")))?
            .clone();
        let column = |wanted: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(wanted));
        let (Some(file_col), Some(user_col)) = (column("file"), column("user")) else {
            return Err(invalid(format!(
                "{name}: the first line must name the columns `file` and `user` (comma- or semicolon-separated)"
            )));
        };
        let focus_col = column("focus");
        let mut file = MappingFile {
            name: name.as_str().to_owned(),
            folder: name.folder().to_owned(),
            ..Self::default()
        };
        // First line each photo appeared on, to name both lines of a conflict.
        let mut first_line: HashMap<String, usize> = HashMap::new();
        let mut conflicted: Vec<String> = Vec::new();
        for (index, row) in reader.records().enumerate() {
            let line = index + 2;
            if index >= MAX_ROWS {
                return Err(Problem::new(
                    ProblemCode::MappingTooLarge,
                    format!(
                        "{name} has more than {MAX_ROWS} rows; split it into one file per folder"
                    ),
                ));
            }
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    file.bad_lines.push(format!("line {line}: {e}"));
                    continue;
                }
            };
            let cell = |i: usize| row.get(i).unwrap_or_default();
            let (photo, user) = (cell(file_col), cell(user_col));
            if photo.is_empty() && user.is_empty() {
                continue;
            }
            if photo.is_empty() || user.is_empty() {
                file.bad_lines.push(format!(
                    "line {line}: `file` and `user` must both be filled in"
                ));
                continue;
            }
            let focus = match focus_col.map(cell).filter(|f| !f.is_empty()) {
                None => None,
                Some(raw) => match Focus::parse(raw) {
                    Some(focus) => Some(focus),
                    None => {
                        file.bad_lines.push(format!(
                            "line {line}: focus `{raw}` must be `x,y` with both between 0 and 1"
                        ));
                        continue;
                    }
                },
            };
            let key = matching_key(photo);
            let assignment = Assignment {
                user: matching_key(user),
                focus,
                source: file.name.clone(),
            };
            match file.rows.get(&key) {
                Some(existing) if existing.user != assignment.user => {
                    let first = first_line.get(&key).copied().unwrap_or(0);
                    file.conflicts.push(format!(
                        "`{photo}` is mapped to `{}` on line {first} and to `{}` on line {line}",
                        existing.user, assignment.user
                    ));
                    conflicted.push(key);
                }
                Some(_) => {} // The same assignment twice is harmless.
                None => {
                    first_line.insert(key.clone(), line);
                    file.rows.insert(key, assignment);
                }
            }
        }
        for key in conflicted {
            file.rows.remove(&key);
        }
        Ok(file)
    }

    /// Number of usable rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it has no usable rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The problem to record on the mapping file itself, if any: every bad
    /// line and conflict (the first few quoted, the rest counted).
    pub fn problem(&self) -> Option<Problem> {
        if !self.conflicts.is_empty() {
            return Some(Problem::new(
                ProblemCode::MappingConflict,
                format!("{}: {}", self.name, quoted(&self.conflicts)),
            ));
        }
        (!self.bad_lines.is_empty()).then(|| {
            Problem::new(
                ProblemCode::InvalidMapping,
                format!(
                    "{}: {} bad line(s), the other rows apply: {}",
                    self.name,
                    self.bad_lines.len(),
                    quoted(&self.bad_lines)
                ),
            )
        })
    }

    /// The row for `photo`, if this file has one: its full name first, then
    /// its name relative to this file's folder, then its file name.
    fn assignment(&self, photo: &PhotoName) -> Option<&Assignment> {
        let full = matching_key(photo.as_str());
        let relative = photo
            .as_str()
            .strip_prefix(&self.folder)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(matching_key);
        self.rows
            .get(&full)
            .or_else(|| relative.and_then(|r| self.rows.get(&r)))
            .or_else(|| self.rows.get(&matching_key(photo.file_name())))
    }

    /// Rows naming no photo in `names` (for the report): full-name rows
    /// whose photo is missing, file-name rows no photo under the folder has.
    pub fn rows_without_photo<'a>(
        &self,
        names: impl Iterator<Item = &'a PhotoName>,
    ) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        let prefix = if self.folder.is_empty() {
            String::new()
        } else {
            format!("{}/", self.folder)
        };
        for name in names.filter(|n| n.as_str().starts_with(&prefix)) {
            seen.insert(matching_key(name.as_str()));
            seen.insert(matching_key(name.file_name()));
            if let Some(relative) = name.as_str().strip_prefix(&prefix) {
                seen.insert(matching_key(relative));
            }
        }
        let mut missing: Vec<String> = self
            .rows
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        missing.sort();
        missing
    }
}

fn quoted(lines: &[String]) -> String {
    let mut text = lines
        .iter()
        .take(QUOTED_LINES)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if lines.len() > QUOTED_LINES {
        text.push_str(&format!("; and {} more", lines.len() - QUOTED_LINES));
    }
    text
}

fn too_large(name: &PhotoName, size: u64) -> Problem {
    Problem::new(
        ProblemCode::MappingTooLarge,
        format!(
            "{name} is {size} bytes; mapping files may have at most {MAX_BYTES} bytes and {MAX_ROWS} rows: split it into one file per folder"
        ),
    )
}

/// The mapping files that apply to `photo`, nearest first:
/// `hr/new/x.jpg` → `hr/new/mapping.csv`, `hr/mapping.csv`, `mapping.csv`.
pub fn chain(photo: &PhotoName) -> Vec<String> {
    let mut files = Vec::new();
    let mut folder = photo.folder();
    loop {
        files.push(if folder.is_empty() {
            FILE_NAME.to_owned()
        } else {
            format!("{folder}/{FILE_NAME}")
        });
        if folder.is_empty() {
            return files;
        }
        folder = folder.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
}

/// What one cached mapping blob holds.
#[derive(Debug, Clone)]
struct Cached {
    /// When it was last fetched or confirmed unchanged.
    checked: Instant,
    /// The blob's version (for conditional re-reads); `None`: no such file.
    etag: Option<ETag>,
    /// The parsed file; `None` when absent or unusable as a whole.
    file: Option<Arc<MappingFile>>,
}

/// The mapping files, read by name and cached. The lock guards the map
/// only: it is never held across a storage request (two callers refreshing
/// one file at once both read it; the later answer wins).
#[derive(Debug, Default)]
pub struct Mappings {
    /// By blob name of the mapping file.
    cache: Mutex<HashMap<String, Cached>>,
}

impl Mappings {
    /// The assignment for `photo` from the nearest mapping file that has a
    /// row for it; `None` means "match by file name".
    pub async fn assignment(
        &self,
        photos: &Store,
        photo: &PhotoName,
    ) -> Result<Option<Assignment>, StoreError> {
        for name in chain(photo) {
            if let Some(file) = self.file(photos, &name).await?
                && let Some(assignment) = file.assignment(photo)
            {
                return Ok(Some(assignment.clone()));
            }
        }
        Ok(None)
    }

    /// The assignment for `photo` among files already loaded (Reconcile
    /// loads every mapping file of the listing first).
    pub fn assignment_cached(&self, photo: &PhotoName) -> Option<Assignment> {
        let cache = self.cache.lock().expect("never poisoned");
        chain(photo).iter().find_map(|name| {
            cache
                .get(name)
                .and_then(|c| c.file.as_ref())
                .and_then(|f| f.assignment(photo).cloned())
        })
    }

    /// Brings the cache in line with a listing of the photos container:
    /// every mapping blob listed is read unless its cached version matches,
    /// every cached one not listed is forgotten. Returns the files.
    pub async fn load_listed(
        &self,
        photos: &Store,
        listed: &[(PhotoName, Option<ETag>)],
    ) -> Result<Vec<Arc<MappingFile>>, StoreError> {
        let now = Instant::now();
        let mut files = Vec::new();
        let mut fresh: HashMap<String, Cached> = HashMap::new();
        for (name, etag) in listed {
            let cached = self.cached(name.as_str());
            let entry = match cached {
                Some(c) if c.etag.is_some() && c.etag == *etag => Cached { checked: now, ..c },
                _ => self.fetch(photos, name.as_str(), None).await?,
            };
            if let Some(file) = &entry.file {
                files.push(Arc::clone(file));
            }
            fresh.insert(name.as_str().to_owned(), entry);
        }
        // Files not listed do not exist (any more): remember that for the trigger.
        let mut cache = self.cache.lock().expect("never poisoned");
        for (name, entry) in cache.iter_mut() {
            if !fresh.contains_key(name) {
                *entry = Cached {
                    checked: now,
                    etag: None,
                    file: None,
                };
            }
        }
        cache.extend(fresh);
        Ok(files)
    }

    /// Forgets one file (it was just uploaded or changed).
    pub fn invalidate(&self, name: &str) {
        self.cache.lock().expect("never poisoned").remove(name);
    }

    fn cached(&self, name: &str) -> Option<Cached> {
        self.cache
            .lock()
            .expect("never poisoned")
            .get(name)
            .cloned()
    }

    /// The parsed file `name`, re-checked when older than [`REFRESH`].
    async fn file(
        &self,
        photos: &Store,
        name: &str,
    ) -> Result<Option<Arc<MappingFile>>, StoreError> {
        let cached = self.cached(name);
        if let Some(c) = &cached
            && c.checked.elapsed() < REFRESH
        {
            return Ok(c.file.clone());
        }
        let entry = self.fetch(photos, name, cached).await?;
        let file = entry.file.clone();
        self.cache
            .lock()
            .expect("never poisoned")
            .insert(name.to_owned(), entry);
        Ok(file)
    }

    /// Reads `name` (conditionally, when a version is cached).
    async fn fetch(
        &self,
        photos: &Store,
        name: &str,
        cached: Option<Cached>,
    ) -> Result<Cached, StoreError> {
        let now = Instant::now();
        let absent = Cached {
            checked: now,
            etag: None,
            file: None,
        };
        let Ok(photo) = PhotoName::parse(name) else {
            return Ok(absent);
        };
        let read = match cached.as_ref().and_then(|c| c.etag.clone()) {
            Some(etag) => photos.get_if_changed(name, &etag, Some(MAX_BYTES)).await,
            None => photos.get_limited(name, MAX_BYTES).await.map(Some),
        };
        let blob = match read {
            Ok(None) => {
                let cached = cached.expect("a conditional read has a cached version");
                return Ok(Cached {
                    checked: now,
                    ..cached
                });
            }
            Ok(Some(blob)) => blob,
            Err(StoreError::NotFound { .. }) => return Ok(absent),
            Err(StoreError::TooLarge { size, .. }) => {
                tracing::warn!(mapping = name, "{}", too_large(&photo, size));
                return Ok(absent);
            }
            Err(e) => return Err(e),
        };
        let etag = blob.info.etag.clone();
        let parsed = tokio::task::spawn_blocking(move || MappingFile::parse(&photo, &blob.bytes))
            .await
            .map_err(|e| StoreError::Unavailable {
                name: name.to_owned(),
                source: anyhow::Error::new(e).context("reading the mapping file stopped"),
            })?;
        let file = match parsed {
            Ok(file) => Some(Arc::new(file)),
            Err(problem) => {
                tracing::warn!(mapping = name, code = %problem.code, "mapping file not used: {}", problem.message);
                None
            }
        };
        Ok(Cached {
            checked: now,
            etag,
            file,
        })
    }
}

#[cfg(test)]
mod tests;
