//! The bodies the Functions host posts to a custom handler.
//!
//! Blob triggers use the real shape by default: the storage extension 5.x
//! body in `tests/fixtures/blob-trigger-storage-v5.json` (its README says
//! where it comes from): `Metadata.Properties` is Newtonsoft's rendering of
//! `BlobProperties`, with `"ETag": {}` and `ContentLength`. Plain strings
//! (`name`, `Uri`) are JSON-encoded twice, binary data is base64
//! (the host's `ScriptInvocationContextExtensions.GetHttpScriptInvocationContextValue`).

use base64::Engine as _;
use serde_json::{Value, json};

/// A blob-trigger body as the host sends it today, for `name` with `bytes`.
pub fn blob_body(name: &str, bytes: &[u8]) -> Value {
    blob_body_at(name, bytes, "2026-11-20T10:26:34+00:00")
}

/// The same, for a blob last modified at `last_modified` (RFC 3339).
pub fn blob_body_at(name: &str, bytes: &[u8], last_modified: &str) -> Value {
    let mut body: Value =
        serde_json::from_str(include_str!("../fixtures/blob-trigger-storage-v5.json"))
            .expect("the fixture is JSON");
    let encoded_name = name
        .replace('%', "%25")
        .replace('@', "%40")
        .replace(' ', "%20");
    body["Data"]["photo"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    let metadata = &mut body["Metadata"];
    metadata["name"] = json!(serde_json::to_string(name).unwrap());
    metadata["Uri"] = json!(
        serde_json::to_string(&format!(
            "http://127.0.0.1:10000/devstoreaccount1/photos/{encoded_name}"
        ))
        .unwrap()
    );
    let properties = &mut metadata["Properties"];
    properties["ContentLength"] = json!(bytes.len());
    properties["LastModified"] = json!(last_modified);
    properties["CreatedOn"] = json!(last_modified);
    body
}

/// The 2020-era shape (storage extension 4.x and before) that older hosts
/// send: `Length`, a quoted string `ETag`, `Created`, `BlobType` as a number.
/// Kept working by one test.
pub fn legacy_blob_body(name: &str, bytes: &[u8], etag: &str, last_modified: &str) -> Value {
    json!({
        "Data": {"photo": base64::engine::general_purpose::STANDARD.encode(bytes)},
        "Metadata": {
            "name": serde_json::to_string(name).unwrap(),
            "Properties": {"Length": bytes.len(), "ContentMD5": "", "ContentType": "image/jpeg",
                           "ETag": etag, "LastModified": last_modified,
                           "Created": last_modified, "BlobType": 2},
            "Metadata": {},
            "sys": {"MethodName": "PhotoUploaded", "UtcNow": "2026-11-20T10:26:43.03Z",
                    "RandGuid": "30d01e72-94e7-4d4f-906a-2ce51939bfcc"}
        }
    })
}

/// A timer-trigger body (binding `timer`); `ScheduleStatus` may be null.
pub fn timer_body(schedule_status: Value) -> Value {
    json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true},
                           "ScheduleStatus": schedule_status, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "Reconcile", "UtcNow": "2026-11-20T10:15:00.01Z",
                             "RandGuid": "6a4f7bd4-7a55-4c6a-9a8b-3f5e5b0e2b10"}}
    })
}
