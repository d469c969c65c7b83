//! The ledger index: every record with the ETag it was read at, in one
//! gzipped JSON-lines blob (`index/ledger.jsonl.gz` in the state container),
//! so a Reconcile run reads the ledger with one listing and one GET instead
//! of one GET per photo.
//!
//! The ledger stays the source of truth: the index is only a cache, checked
//! entry by entry against the ledger listing's ETags. An entry whose record
//! was written since (by this instance or another), a record the index does
//! not have, and a record the listing no longer shows are read or dropped as
//! without the index; an index that is missing, unreadable or of another
//! version is ignored (every record is read, once). Writers never lock it:
//! whoever writes last wins, and every entry it holds is a true pair of a
//! version and its content, so a stale entry only costs a read.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Ledger, Record, Versioned};
use crate::store::{BlobProperties, ETag, Store, StoreError, WriteMode};
use crate::sync::PhotoName;

/// The index's blob in the state container (outside `ledger/`, so the
/// ledger listing does not show it).
pub const KEY: &str = "index/ledger.jsonl.gz";

/// The first line; another value means another layout: ignored, rebuilt.
const HEADER: &str = r#"{"photosync_ledger_index":1}"#;

/// One line after the header.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    /// The record's ETag as the backend gave it (the raw form: conditional
    /// writes send it back).
    etag: std::borrow::Cow<'a, str>,
    /// The record.
    record: std::borrow::Cow<'a, Record>,
}

/// The records of the last index, by ledger key.
pub(super) type Entries = HashMap<String, Box<Versioned>>;

/// Reads the index; an absent, unreadable or foreign one is empty (the
/// records are then read one by one, as before the index existed). Only a
/// storage failure is an error.
pub(super) async fn load(store: &Store) -> Result<Entries, StoreError> {
    let bytes = match store.get(KEY).await {
        Ok(blob) => blob.bytes,
        Err(StoreError::NotFound { .. }) => return Ok(Entries::new()),
        Err(e) => return Err(e),
    };
    // Decompressing 100,000 records takes a moment: off the runtime.
    let parsed = tokio::task::spawn_blocking(move || parse(&bytes))
        .await
        .unwrap_or_else(|e| Err(format!("the parser stopped: {e}")));
    Ok(parsed.unwrap_or_else(|reason| {
        tracing::warn!("ignoring the ledger index ({reason}); every record is read once");
        Entries::new()
    }))
}

fn parse(gz: &[u8]) -> Result<Entries, String> {
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(gz));
    let mut lines = reader.lines();
    match lines.next() {
        Some(Ok(first)) if first == HEADER => {}
        Some(Ok(_)) => return Err("another index version".to_owned()),
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err("empty".to_owned()),
    }
    let mut entries = Entries::new();
    for line in lines {
        let line = line.map_err(|e| e.to_string())?;
        let parsed: Line<'_> = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let (Some(etag), Ok(name)) = (
            ETag::new(&parsed.etag),
            PhotoName::parse(&parsed.record.photo),
        ) else {
            continue; // Not a usable entry: that record is read instead.
        };
        entries.insert(
            Ledger::key(&name),
            Box::new(Versioned {
                record: parsed.record.into_owned(),
                etag,
            }),
        );
    }
    Ok(entries)
}

/// Writes `records` as the new index (replacing whatever is there).
pub(super) async fn save<'a>(
    store: &Store,
    records: impl Iterator<Item = &'a Versioned> + Send,
) -> Result<(), StoreError> {
    fn write(gz: &mut flate2::write::GzEncoder<Vec<u8>>, line: &[u8]) {
        gz.write_all(line)
            .and_then(|()| gz.write_all(b"\n"))
            .expect("writes to memory");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write(&mut gz, HEADER.as_bytes());
    for (n, v) in records.enumerate() {
        let line = Line {
            etag: v.etag.raw().into(),
            record: std::borrow::Cow::Borrowed(&v.record),
        };
        write(
            &mut gz,
            &serde_json::to_vec(&line).expect("records serialise"),
        );
        if n % 1000 == 999 {
            // 100,000 records take a while to compress: let other tasks run.
            tokio::task::yield_now().await;
        }
    }
    let bytes = gz.finish().expect("writes to memory");
    let properties = BlobProperties {
        content_type: Some("application/gzip".to_owned()),
        ..BlobProperties::default()
    };
    store
        .put(KEY, Bytes::from(bytes), &properties, WriteMode::Overwrite)
        .await
        .map(|_| ())
}
