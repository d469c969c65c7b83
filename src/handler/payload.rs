//! The Functions host's invocation bodies and the answer it expects.
//!
//! Encoding traps (the host's `ScriptInvocationContextExtensions`,
//! `GetHttpScriptInvocationContextValue`): binary data arrives
//! base64-encoded; plain string metadata is JSON-encoded a second time
//! (`"\"alice.jpg\""`, `JsonConvert.SerializeObject` of a string); objects
//! arrive as real JSON (`JObject.FromObject`), and which properties they
//! carry depends on the storage extension's version.
//!
//! So the reader is tolerant: it reads only the fields photosync uses,
//! accepts both spellings the extensions have used (`ContentLength` /
//! `Length`; `LastModified`), and an optional property of an unexpected
//! type — storage extension 5.x sends `"ETag": {}` (see
//! `tests/fixtures/blob-trigger-storage-v5.json`) — counts as "not given",
//! never as a malformed body. Only a body with no way to name the blob is
//! refused.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::store::ETag;
use crate::sync::{PhotoEvent, TimerTick};

/// `{"Data": {...}, "Metadata": {...}}` as posted by the host.
#[derive(Debug, Deserialize)]
pub struct InvocationRequest<'a> {
    /// Trigger and input bindings, keyed by binding name, as raw JSON
    /// borrowed from the body: a blob trigger's binding is the whole photo
    /// in base64 (up to ~27 MB), and parsing it into a `Value` would copy it
    /// once more before it is even decoded.
    #[serde(rename = "Data", borrow)]
    pub data: BTreeMap<String, &'a RawValue>,
    /// Trigger metadata (`name`, `Uri`, `Properties`, `sys`, …).
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// `{"Outputs": {}, "Logs": [...], "ReturnValue": null}` as the host expects.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct InvocationResponse {
    /// Output bindings; photosync writes through its own storage client, so none.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host copies into its log / Application Insights.
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// Unused by blob and timer triggers; always null.
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

impl InvocationResponse {
    /// An answer carrying these log lines.
    pub fn with_logs(logs: Vec<String>) -> Self {
        Self {
            outputs: Map::new(),
            logs,
            return_value: Value::Null,
        }
    }
}

/// A body the host would never send: the one-line reason goes back as a 400.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

fn bad(reason: impl Into<String>) -> PayloadError {
    PayloadError(reason.into())
}

/// Parses the body bytes, with a one-line reason on failure.
pub fn parse_request(body: &[u8]) -> Result<InvocationRequest<'_>, PayloadError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid invocation body: {e}")))
}

/// Decodes the host's double-encoded metadata strings: `"\"a.jpg\""` → `a.jpg`.
/// A value that is not double-encoded is taken as it is.
fn metadata_string(value: &Value) -> Option<String> {
    match value {
        Value::String(outer) => {
            Some(serde_json::from_str::<String>(outer).unwrap_or_else(|_| outer.clone()))
        }
        _ => None,
    }
}

/// Objects normally arrive as JSON; tolerate them arriving as a JSON string too.
fn metadata_object(value: &Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map.clone()),
        Value::String(text) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

/// The first of `keys` present in `map` with a usable value.
fn first<T>(
    map: &Map<String, Value>,
    keys: &[&str],
    read: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    keys.iter().find_map(|k| map.get(*k).and_then(&read))
}

/// A size: a JSON number, or a number in a string.
fn as_size(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A point in time in RFC 3339 (how Newtonsoft writes `DateTimeOffset`).
fn as_time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        // `0001-01-01T00:00:00+00:00` is .NET's "unset".
        .filter(|t| t.timestamp() > 0)
}

/// An ETag given as a string; `{}` (extension 5.x) or anything else is "not given".
fn as_etag(value: &Value) -> Option<ETag> {
    value.as_str().and_then(ETag::new)
}

/// A blob's user metadata: an object of strings (other values are skipped).
fn as_metadata(value: &Value) -> Option<BTreeMap<String, String>> {
    let map = metadata_object(value)?;
    Some(
        map.into_iter()
            .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), metadata_string(&v)?)))
            .collect(),
    )
}

/// Reads a blob-trigger invocation whose trigger binding is `binding`.
/// CPU work (JSON already parsed; base64 here): call it off the runtime.
pub fn photo_event(
    request: &InvocationRequest<'_>,
    binding: &str,
    container: &str,
) -> Result<PhotoEvent, PayloadError> {
    let name = match request.metadata.get("name").and_then(metadata_string) {
        Some(name) => name,
        None => request
            .metadata
            .get("Uri")
            .and_then(metadata_string)
            .and_then(|uri| name_from_uri(&uri, container))
            .ok_or_else(|| bad("Metadata has neither `name` nor a usable `Uri`"))?,
    };
    let properties = request
        .metadata
        .get("Properties")
        .and_then(metadata_object)
        .unwrap_or_default();
    let etag = first(&properties, &["ETag", "Etag"], as_etag);
    let length = first(&properties, &["ContentLength", "Length"], as_size);
    let last_modified = first(&properties, &["LastModified"], as_time);
    let metadata = first(&request.metadata, &["Metadata"], as_metadata)
        .or_else(|| first(&properties, &["Metadata"], as_metadata))
        .unwrap_or_default();

    // Without a version, the flow reads bytes and version together from
    // storage (one GET): decoding the host's copy would be wasted work.
    let bytes = match (&etag, request.data.get(binding)) {
        (Some(_), Some(raw)) => match base64_text(raw) {
            Ok(encoded) => match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
                Ok(bytes) => Some(Bytes::from(bytes)),
                Err(e) => {
                    tracing::warn!("Data.{binding} is not base64 ({e}); reading the blob instead");
                    None
                }
            },
            Err(Some(kind)) => {
                tracing::warn!(
                    "Data.{binding} is {kind}, not a base64 string; reading the blob instead"
                );
                None
            }
            Err(None) => None,
        },
        _ => None,
    };
    Ok(PhotoEvent {
        name,
        bytes,
        etag,
        length,
        last_modified,
        metadata,
    })
}

/// `https://acct.blob.core.windows.net/photos/hr/alice%40contoso.com.jpg` → `hr/alice@contoso.com.jpg`.
fn name_from_uri(uri: &str, container: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let mut segments = url.path_segments()?;
    // Azurite puts the account first; skip up to the container.
    segments.by_ref().find(|s| *s == container)?;
    let raw: Vec<String> = segments.map(percent_decode).collect::<Option<_>>()?;
    (!raw.is_empty()).then(|| raw.join("/"))
}

fn percent_decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Reads a timer-trigger invocation whose binding is `binding`; schedule
/// fields of an unexpected shape count as not given.
pub fn timer_tick(
    request: &InvocationRequest<'_>,
    binding: &str,
) -> Result<TimerTick, PayloadError> {
    let raw = request
        .data
        .get(binding)
        .ok_or_else(|| bad(format!("Data.{binding} is missing")))?;
    // A timer binding is a small object: a `Value` costs nothing here.
    let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let value = &value;
    let info = metadata_object(value).ok_or_else(|| {
        bad(format!(
            "Data.{binding} must be an object, not {}",
            json_kind(value)
        ))
    })?;
    let status = info
        .get("ScheduleStatus")
        .and_then(metadata_object)
        .unwrap_or_default();
    Ok(TimerTick {
        is_past_due: info
            .get("IsPastDue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        last: status.get("Last").and_then(as_time),
        next: status.get("Next").and_then(as_time),
    })
}

/// A binding's raw JSON as the string it holds, borrowed when it has no
/// escapes (base64 never needs one). `Err(None)` for `null`, `Err(Some(kind))`
/// for any other non-string.
fn base64_text(raw: &RawValue) -> Result<std::borrow::Cow<'_, str>, Option<&'static str>> {
    if let Ok(text) = serde_json::from_str::<&str>(raw.get()) {
        return Ok(text.into());
    }
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(text)) => Ok(text.into()),
        Ok(Value::Null) | Err(_) => Err(None),
        Ok(other) => Err(Some(json_kind(&other))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
