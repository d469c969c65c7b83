//! Listing a local folder: every file becomes a blob or one explained
//! problem, never an aborted listing.
//!
//! `object_store`'s `LocalFileSystem` follows symbolic links
//! (object_store 0.14.2 `src/local.rs`, `WalkDir::new(..).follow_links(true)`),
//! so `ln -s /etc DIR/etc` would make a sync read `/etc/shadow`; and a file
//! name that is not UTF-8, a link loop or an unreadable folder fails its
//! whole listing. This walker stays inside the folder, reports each of those
//! as one [`Listed::Unusable`] entry and goes on.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::{BlobInfo, ETag, Listed};

/// What to walk and what to leave out.
pub(super) struct Walk {
    /// The store's root (canonical).
    pub root: PathBuf,
    /// Folders under the root that are not input (photosync's own sidecars,
    /// an output folder placed inside the input folder).
    pub excluded: Vec<PathBuf>,
}

impl Walk {
    /// Every entry under `prefix` (a folder path relative to the root), in
    /// name order. Blocking: run it on the blocking pool.
    pub(super) fn run(&self, prefix: Option<&str>) -> Vec<Listed> {
        let mut found = Vec::new();
        let start = match prefix {
            Some(p) => self.root.join(p),
            None => self.root.clone(),
        };
        if start.is_dir() {
            self.folder(&start, &mut found);
        }
        found
    }

    fn folder(&self, dir: &Path, found: &mut Vec<Listed>) {
        if self.excluded.iter().any(|e| e == dir) {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                found.push(self.unusable(dir, format!("the folder cannot be read: {e}")));
                return;
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                found.push(self.unusable(&path, "its type cannot be read".to_owned()));
                continue;
            };
            if kind.is_dir() {
                self.folder(&path, found);
            } else if kind.is_symlink() {
                found.push(self.link(&path));
            } else if kind.is_file() {
                found.push(match std::fs::metadata(&path) {
                    Ok(meta) => self.blob(&path, &meta),
                    Err(e) => self.unusable(&path, format!("the file cannot be read: {e}")),
                });
            } else {
                found.push(self.unusable(&path, "not a regular file".to_owned()));
            }
        }
    }

    /// A symbolic link is listed only when it resolves to a file inside the folder.
    fn link(&self, path: &Path) -> Listed {
        let target = match path.canonicalize() {
            Ok(target) => target,
            Err(e) => {
                return self.unusable(
                    path,
                    format!("a symbolic link that is broken or loops ({e}); not followed"),
                );
            }
        };
        if !target.starts_with(&self.root) {
            return self.unusable(
                path,
                "a symbolic link to outside the folder; photosync does not follow it".to_owned(),
            );
        }
        match std::fs::metadata(&target) {
            Ok(meta) if meta.is_file() => self.blob(path, &meta),
            Ok(_) => self.unusable(
                path,
                "a symbolic link to a folder; photosync does not follow it".to_owned(),
            ),
            Err(e) => self.unusable(path, format!("the link's file cannot be read: {e}")),
        }
    }

    fn blob(&self, path: &Path, meta: &Metadata) -> Listed {
        match self.relative(path) {
            Ok(name) => Listed::Blob(BlobInfo {
                name,
                size: meta.len(),
                etag: ETag::new(&etag(meta)),
                last_modified: meta
                    .modified()
                    .map_or(DateTime::<Utc>::UNIX_EPOCH, DateTime::<Utc>::from),
            }),
            Err(shown) => Listed::Unusable {
                name: shown,
                reason: "the file name is not valid UTF-8; rename the file".to_owned(),
            },
        }
    }

    fn unusable(&self, path: &Path, reason: String) -> Listed {
        let name = self.relative(path).unwrap_or_else(|shown| shown);
        Listed::Unusable { name, reason }
    }

    /// The `/`-separated name under the root, or (for a name that is not
    /// UTF-8) the best rendering of it as the error.
    fn relative(&self, path: &Path) -> Result<String, String> {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        let parts: Vec<&std::ffi::OsStr> = relative.iter().collect();
        match parts.iter().map(|p| p.to_str()).collect::<Option<Vec<_>>>() {
            Some(parts) => Ok(parts.join("/")),
            None => Err(relative.to_string_lossy().replace('\\', "/")),
        }
    }
}

/// The ETag `object_store`'s `LocalFileSystem` gives the same file
/// (object_store 0.14.2 `src/local.rs`, `get_etag`), so a listed version
/// equals the version a read returns.
fn etag(meta: &Metadata) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{inode:x}-{mtime:x}-{:x}\"", meta.len())
}
