//! The Functions host's invocation bodies and the answer it expects.
//!
//! Encoding traps (see the host's `HttpScriptInvocationContext`): binary data
//! arrives base64-encoded; plain string metadata is JSON-encoded a second time
//! (`"\"alice.jpg\""`); objects arrive as real JSON; unknown keys appear as the
//! host evolves and must be ignored.

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::sync::{PhotoEvent, TimerTick};

/// `{"Data": {...}, "Metadata": {...}}` as posted by the host.
#[derive(Debug, Deserialize)]
pub struct InvocationRequest {
    /// Trigger and input bindings, keyed by binding name.
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
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
pub fn parse_request(body: &[u8]) -> Result<InvocationRequest, PayloadError> {
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

/// The blob's `Properties` fields photosync uses (others are ignored).
#[derive(Debug, Default, Deserialize)]
struct BlobProperties {
    /// `ContentLength` from storage extension 5.x, `Length` before.
    #[serde(rename = "Length", alias = "ContentLength")]
    length: Option<u64>,
    /// A string before storage extension 5.x; 5.x sends `{}` (the `Azure.ETag`
    /// struct has no Newtonsoft converter), which means "not given".
    #[serde(rename = "ETag")]
    etag: Option<Value>,
    #[serde(rename = "LastModified")]
    last_modified: Option<DateTime<Utc>>,
    #[serde(rename = "ContentType")]
    content_type: Option<String>,
}

/// Reads a blob-trigger invocation whose trigger binding is `binding`.
pub fn photo_event(
    request: &InvocationRequest,
    binding: &str,
    container: &str,
) -> Result<PhotoEvent, PayloadError> {
    let bytes = match request.data.get(binding) {
        None | Some(Value::Null) => None,
        Some(Value::String(encoded)) => Some(Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| bad(format!("Data.{binding} is not base64: {e}")))?,
        )),
        Some(other) => {
            return Err(bad(format!(
                "Data.{binding} must be a base64 string, not {}",
                json_kind(other)
            )));
        }
    };

    let name = match request.metadata.get("name") {
        Some(value) => metadata_string(value).ok_or_else(|| {
            bad(format!(
                "Metadata.name must be a string, not {}",
                json_kind(value)
            ))
        })?,
        None => request
            .metadata
            .get("Uri")
            .and_then(metadata_string)
            .and_then(|uri| name_from_uri(&uri, container))
            .ok_or_else(|| bad("Metadata has neither `name` nor a usable `Uri`"))?,
    };

    let properties: BlobProperties = match request.metadata.get("Properties") {
        None | Some(Value::Null) => BlobProperties::default(),
        Some(value) => {
            let map = metadata_object(value)
                .ok_or_else(|| bad("Metadata.Properties must be an object"))?;
            serde_json::from_value(Value::Object(map))
                .map_err(|e| bad(format!("Metadata.Properties: {e}")))?
        }
    };

    Ok(PhotoEvent {
        name,
        bytes,
        etag: properties.etag.and_then(|e| e.as_str().map(str::to_owned)),
        length: properties.length,
        content_type: properties.content_type,
        last_modified: properties.last_modified,
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

/// The timer binding's payload.
#[derive(Debug, Deserialize)]
struct TimerInfo {
    #[serde(rename = "ScheduleStatus")]
    schedule_status: Option<ScheduleStatus>,
    #[serde(rename = "IsPastDue", default)]
    is_past_due: bool,
}

#[derive(Debug, Deserialize)]
struct ScheduleStatus {
    #[serde(rename = "Last")]
    last: Option<DateTime<Utc>>,
    #[serde(rename = "Next")]
    next: Option<DateTime<Utc>>,
}

/// Reads a timer-trigger invocation whose binding is `binding`.
pub fn timer_tick(request: &InvocationRequest, binding: &str) -> Result<TimerTick, PayloadError> {
    let value = request
        .data
        .get(binding)
        .ok_or_else(|| bad(format!("Data.{binding} is missing")))?;
    let map = metadata_object(value).ok_or_else(|| {
        bad(format!(
            "Data.{binding} must be an object, not {}",
            json_kind(value)
        ))
    })?;
    let info: TimerInfo = serde_json::from_value(Value::Object(map))
        .map_err(|e| bad(format!("Data.{binding}: {e}")))?;
    let (last, next) = info
        .schedule_status
        .map_or((None, None), |s| (s.last, s.next));
    Ok(TimerTick {
        is_past_due: info.is_past_due,
        last,
        next,
    })
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
