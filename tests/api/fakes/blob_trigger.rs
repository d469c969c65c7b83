//! The fake host's blob trigger: it scans the photos container (as the
//! polling `LogsAndContainerScan` source does) and POSTs `/PhotoUploaded`
//! with the body storage extension 5.x produces
//! (`tests/fixtures/blob-trigger-storage-v5.json`, copied from the project's
//! shared capture of a live custom handler: PascalCase properties,
//! `"ETag": {}`, double-encoded strings; see shared/reference/functions-host.md).
//! A non-2xx answer is retried, five tries in all (host.json
//! `extensions.blobs.poisonBlobThreshold`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures::TryStreamExt;
use serde_json::Value;

use photosync::store::Store;

use super::functions_host::HOST_VERSION;

/// One blob-trigger invocation as the fake host made it.
#[derive(Debug, Clone)]
pub struct TriggerCall {
    pub blob: String,
    pub status: u16,
}

/// The storage extension 5.x body for one blob.
fn trigger_body(
    container_url: &str,
    name: &str,
    bytes: &[u8],
    content_type: &str,
    metadata: &Value,
) -> String {
    let mut body: Value =
        serde_json::from_str(include_str!("../../fixtures/blob-trigger-storage-v5.json")).unwrap();
    let encoded_name = name
        .split('/')
        .map(|s| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    let now = chrono::Utc::now();
    let uri = format!("{container_url}/{encoded_name}");
    body["Data"]["photo"] = Value::from(base64::engine::general_purpose::STANDARD.encode(bytes));
    let meta = &mut body["Metadata"];
    meta["Uri"] = Value::from(serde_json::to_string(&uri).unwrap());
    meta["name"] = Value::from(serde_json::to_string(name).unwrap());
    meta["Metadata"] = metadata.clone();
    let properties = &mut meta["Properties"];
    properties["ContentLength"] = Value::from(bytes.len());
    properties["ContentType"] = Value::from(content_type);
    properties["LastModified"] = Value::from(now.to_rfc3339());
    properties["CreatedOn"] = Value::from(now.to_rfc3339());
    properties["Metadata"] = metadata.clone();
    meta["sys"]["UtcNow"] = Value::from(now.to_rfc3339());
    meta["sys"]["RandGuid"] = Value::from(uuid::Uuid::new_v4().to_string());
    body.to_string()
}

/// Scans the container and invokes `PhotoUploaded` for each new or changed blob.
pub async fn run(
    client: reqwest::Client,
    handler: String,
    photos: Store,
    calls: Arc<Mutex<Vec<TriggerCall>>>,
) {
    let container = match photos.location() {
        // The trigger's `Uri`: the container's URL (Azurite puts the account in the path).
        photosync::store::Location::Azure {
            endpoint,
            container,
            ..
        } => format!("{}/{container}", endpoint.as_str().trim_end_matches('/')),
        other => panic!("the fake blob trigger needs an Azure container, not {other}"),
    };
    let mut seen: HashMap<String, Option<photosync::store::ETag>> = HashMap::new();
    loop {
        let listed: Vec<_> = photos
            .list_blobs(None)
            .try_collect()
            .await
            .unwrap_or_default();
        for info in listed {
            if seen.get(&info.name) == Some(&info.etag) {
                continue;
            }
            seen.insert(info.name.clone(), info.etag.clone());
            let Ok(blob) = photos.get(&info.name).await else {
                continue;
            };
            let metadata = serde_json::to_value(&blob.properties.metadata).unwrap();
            let content_type = blob
                .properties
                .content_type
                .as_deref()
                .unwrap_or("application/octet-stream");
            let body = trigger_body(&container, &info.name, &blob.bytes, content_type, &metadata);
            for _ in 0..5 {
                let status = client
                    .post(format!("{handler}/PhotoUploaded"))
                    .header(
                        "X-Azure-Functions-InvocationId",
                        uuid::Uuid::new_v4().to_string(),
                    )
                    .header("X-Azure-Functions-HostVersion", HOST_VERSION)
                    .header("User-Agent", format!("Azure-Functions-Host/{HOST_VERSION}"))
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                calls.lock().unwrap().push(TriggerCall {
                    blob: info.name.clone(),
                    status,
                });
                if (200..300).contains(&status) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // The scan interval (the polling trigger's, much shortened).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
