//! The 48x48 thumbnails a report embeds, kept between runs: in memory for
//! a long-lived instance, and in one blob beside the ledger index
//! ([`THUMBNAILS_KEY`]) for a fresh one, so a run reads only the thumbnails
//! of photos that changed, not one per photo.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;

use super::MAX_EMBEDDED_THUMBNAILS;
use crate::store::{BlobProperties, StoreError, WriteMode};
use crate::sync::flow::Flow;
use crate::sync::ledger::{Record, Status};
use crate::sync::plan::REPORT_THUMBNAIL_SIZE;

/// The thumbnails of the last report.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// `photo\nsha256` → 48x48 JPEG, and whether the blob was read yet.
    /// Never held across I/O.
    thumbnails: Mutex<Option<HashMap<String, Bytes>>>,
}

/// The embedded thumbnails of the last report, in the state container:
/// a JSON object of `photo\nsha256` → base64 JPEG, empty for a thumbnail
/// that was not there (at most
/// [`MAX_EMBEDDED_THUMBNAILS`], about 3 MB).
pub const THUMBNAILS_KEY: &str = "index/report-thumbnails.json";

impl Cache {
    /// The cache: in memory, else from its blob (absent or unreadable: empty).
    async fn cached(&self, flow: &Flow) -> HashMap<String, Bytes> {
        if let Some(cache) = self.thumbnails.lock().expect("never poisoned").as_ref() {
            return cache.clone();
        }
        let state = &flow.stores().state;
        let stored: HashMap<String, String> = match state.get(THUMBNAILS_KEY).await {
            Ok(blob) => serde_json::from_slice(&blob.bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring the report's thumbnail cache: {e}");
                HashMap::new()
            }),
            Err(StoreError::NotFound { .. }) => HashMap::new(),
            Err(e) => {
                tracing::warn!("cannot read the report's thumbnail cache: {e}");
                HashMap::new()
            }
        };
        let engine = base64::engine::general_purpose::STANDARD;
        stored
            .into_iter()
            .filter_map(|(k, v)| Some((k, Bytes::from(engine.decode(v).ok()?))))
            .collect()
    }

    /// The 48x48 thumbnail of synced photos, by photo name (the first
    /// [`MAX_EMBEDDED_THUMBNAILS`] by name), cached by content hash.
    /// `written`: thumbnails this run wrote, by [`thumbnail_key`] (not read back).
    pub(super) async fn for_records(
        &self,
        flow: &Flow,
        records: &[&Record],
        written: HashMap<String, Bytes>,
    ) -> BTreeMap<String, Bytes> {
        let wanted: Vec<(String, String, String)> = records
            .iter()
            .filter(|r| r.status.is_current() || r.status == Status::DryRun)
            .take(MAX_EMBEDDED_THUMBNAILS)
            .map(|r| {
                let folder = r.thumbnail_folder();
                let blob = format!("{folder}/{0}x{0}.jpg", REPORT_THUMBNAIL_SIZE);
                (r.photo.clone(), blob, thumbnail_key(r))
            })
            .collect();
        let mut cached = self.cached(flow).await;
        let stored = cached.clone();
        cached.extend(written);
        let fetched: Vec<(String, String, Bytes)> = futures::stream::iter(wanted)
            .map(|(photo, name, cache_key)| {
                let hit = cached.get(&cache_key).cloned();
                async move {
                    if let Some(bytes) = hit {
                        return Some((photo, cache_key, bytes));
                    }
                    match flow.stores().thumbnails.get(&name).await {
                        Ok(blob) => Some((photo, cache_key, blob.bytes)),
                        // Remembered as absent (empty), so a missing thumbnail
                        // costs one read, not one per run: only a sync writes
                        // thumbnails, and it hands them over in `written`.
                        Err(StoreError::NotFound { .. }) => Some((photo, cache_key, Bytes::new())),
                        // Read again next run.
                        Err(_) => None,
                    }
                }
            })
            .buffer_unordered(16)
            .filter_map(|x| async move { x })
            .collect()
            .await;
        let mut found = BTreeMap::new();
        let mut fresh = HashMap::new();
        for (photo, cache_key, bytes) in fetched {
            fresh.insert(cache_key, bytes.clone());
            if !bytes.is_empty() {
                found.insert(photo, bytes);
            }
        }
        let changed = fresh.len() != stored.len() || fresh.keys().any(|k| !stored.contains_key(k));
        if changed {
            let engine = base64::engine::general_purpose::STANDARD;
            let stored: BTreeMap<&String, String> =
                fresh.iter().map(|(k, v)| (k, engine.encode(v))).collect();
            let properties = BlobProperties {
                content_type: Some("application/json".to_owned()),
                ..BlobProperties::default()
            };
            let bytes = Bytes::from(serde_json::to_vec(&stored).expect("serialises"));
            let state = &flow.stores().state;
            if let Err(e) = state
                .put(THUMBNAILS_KEY, bytes, &properties, WriteMode::Overwrite)
                .await
            {
                // The next fresh instance reads the thumbnails one by one.
                tracing::warn!("cannot write the report's thumbnail cache: {e}");
            }
        }
        // Keep exactly this run's thumbnails: bounded, and nothing stale.
        *self.thumbnails.lock().expect("never poisoned") = Some(fresh);
        found
    }
}

/// The report thumbnails this run wrote, as many as a report embeds: the
/// first by cache key (the photo name first, as the report picks them by
/// name). Kept as they come, so a run of 100,000 new photos holds 2,000
/// thumbnails (about 3 MB), not all of them (about 150 MB). A thumbnail
/// trimmed here is read back from storage if the report wants it.
#[derive(Debug, Default)]
pub(crate) struct Written(Mutex<BTreeMap<String, Bytes>>);

impl Written {
    /// Keeps `jpeg` under `key` if it is among the first [`MAX_EMBEDDED_THUMBNAILS`].
    pub(crate) fn keep(&self, key: String, jpeg: Bytes) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.insert(key, jpeg);
        if kept.len() > MAX_EMBEDDED_THUMBNAILS {
            kept.pop_last();
        }
    }

    /// What was kept.
    pub(crate) fn into_map(self) -> HashMap<String, Bytes> {
        self.0
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .collect()
    }
}

/// A thumbnail's key in the cache: the photo and the bytes it was made from.
pub fn thumbnail_key(record: &Record) -> String {
    format!("{}\n{}", record.photo, record.sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_keeps_only_the_thumbnails_a_report_embeds_first_by_name() {
        let written = Written::default();
        // In any order, as the work finishes.
        for i in (0..MAX_EMBEDDED_THUMBNAILS + 50).rev() {
            written.keep(format!("user{i:06}.jpg\nsha"), Bytes::from_static(b"jpeg"));
        }
        let kept = written.into_map();
        assert_eq!(kept.len(), MAX_EMBEDDED_THUMBNAILS);
        assert!(kept.contains_key("user000000.jpg\nsha"));
        let last = format!("user{:06}.jpg\nsha", MAX_EMBEDDED_THUMBNAILS - 1);
        assert!(kept.contains_key(&last));
        assert!(!kept.contains_key(&format!("user{:06}.jpg\nsha", MAX_EMBEDDED_THUMBNAILS)));
    }
}
