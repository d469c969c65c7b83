//! The report an admin reads: `reports/latest.json`, `.csv` and `.html` in the
//! state container, and a timestamped JSON copy under `reports/history/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use serde::Serialize;

use super::RunSummary;
use super::targets;
use crate::store::{BlobProperties, StoreError, WriteMode};
use crate::sync::flow::Flow;
use crate::sync::ledger::{Record, Status};

/// The CSV header, exactly.
pub const CSV_HEADER: [&str; 8] = [
    "photo",
    "user",
    "status",
    "code",
    "detail",
    "sha256",
    "updated_at",
    "sharepoint",
];

/// One photo's line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    /// Blob name within the photos container, folders included.
    pub photo: String,
    /// Matched UPN, or empty.
    pub user: String,
    /// Ledger status.
    pub status: String,
    /// Problem code, or empty.
    pub code: String,
    /// Problem message or other detail, or empty.
    pub detail: String,
    /// SHA-256 of the bytes processed.
    pub sha256: String,
    /// Last change of the record (RFC 3339).
    pub updated_at: String,
    /// What happened at SharePoint (`synced`, `failed: code`), empty when the
    /// target is off or was not reached.
    pub sharepoint: String,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    generated_at: String,
    summary: BTreeMap<String, usize>,
    /// Records by status per target.
    targets: BTreeMap<targets::Target, BTreeMap<String, usize>>,
    /// Problems with the app's configuration, once each.
    configuration: Vec<Configuration>,
    photos: &'a [Row],
}

/// A configuration problem with what to do about it.
#[derive(Debug, Serialize)]
struct Configuration {
    #[serde(flatten)]
    problem: targets::ConfigurationProblem,
    advice: &'static str,
}

fn status_word(status: Status) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn row(record: &Record) -> Row {
    // A SharePoint problem on a synced photo still needs attention.
    let sharepoint = record.sharepoint.as_ref().and_then(|t| t.problem.as_ref());
    let (code, detail) = match (&record.problem, sharepoint) {
        (Some(p), _) => (p.code.clone(), p.message.clone()),
        (None, Some(p)) => (p.code.clone(), format!("SharePoint: {}", p.message)),
        (None, None) => (String::new(), record.detail.clone().unwrap_or_default()),
    };
    Row {
        photo: record.photo.clone(),
        user: record
            .user
            .as_ref()
            .map(|u| u.upn.clone())
            .unwrap_or_default(),
        status: status_word(record.status),
        code,
        detail,
        sha256: record.sha256.clone(),
        updated_at: record.updated.to_rfc3339(),
        sharepoint: targets::sharepoint_cell(record),
    }
}

/// Records by status, in a stable order.
pub fn counts(records: &[&Record]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for record in records {
        *counts.entry(status_word(record.status)).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// UTF-8 with a byte-order mark and every field quoted, so Excel opens it cleanly.
pub fn csv(rows: &[Row]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(CSV_HEADER).expect("in memory");
    for r in rows {
        writer
            .write_record([
                &r.photo,
                &r.user,
                &r.status,
                &r.code,
                &r.detail,
                &r.sha256,
                &r.updated_at,
                &r.sharepoint,
            ])
            .expect("in memory");
    }
    writer.into_inner().expect("in memory")
}

/// What an admin should do about a problem code.
pub fn advice(code: &str) -> &'static str {
    match code {
        "user-not-found" => "Rename the file after the person, or map it in mapping.csv.",
        "ambiguous-user" => "Several people match: map the file explicitly in mapping.csv.",
        "permission-denied" => "Grant the named Microsoft Graph permission and give admin consent.",
        "photo-updates-disabled" => "Set the tenant's photoUpdateSettings source to cloud.",
        "invalid-credentials" => "Renew the app's secret or certificate.",
        "unsupported-format" => "Export the photo as JPEG or PNG and upload it again.",
        "corrupt-image" => "Upload the photo again; the file is damaged or incomplete.",
        "image-too-large" => {
            "Upload a smaller photo (or raise PHOTOSYNC_MAX_BYTES / PHOTOSYNC_MAX_PIXELS)."
        }
        "image-too-small" => "Upload a larger photo (at least PHOTOSYNC_MIN_SIZE pixels square).",
        "invalid-mapping" => "Fix the named line of the mapping file.",
        "sharepoint-needs-certificate" => {
            "Configure PHOTOSYNC_CLIENT_CERTIFICATE_PATH (or the managed identity): SharePoint refuses client-secret tokens."
        }
        "sharepoint-access-denied" => {
            "Grant the app Sites.FullControl.All and User.ReadWrite.All (Office 365 SharePoint Online, application) with admin consent, then run `photosync retry --all-failed`."
        }
        "sharepoint-library-missing" => {
            "Set PHOTOSYNC_SHAREPOINT_LIBRARY_PATH to the My Site host's (localised) profile pictures folder, then run `photosync retry --all-failed`."
        }
        "sharepoint-profile-missing" => {
            "Wait until the user has a SharePoint profile (first sign-in or profile import), then run `photosync retry` for the photo."
        }
        "redirect-refused" => {
            "Point PHOTOSYNC_AUTHORITY_URL, PHOTOSYNC_GRAPH_URL and the SharePoint URLs at the services themselves; photosync follows no redirects."
        }
        "sharepoint-throttled" | "sharepoint-unavailable" => {
            "Nothing: SharePoint is retried automatically."
        }
        "throttled" | "graph-unavailable" | "storage-unavailable" | "identity-unavailable" => {
            "Nothing: it is retried automatically."
        }
        _ => "Read the message; retry with `photosync retry` once fixed.",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page: counts, failures first with what to do, then
/// every photo with a small thumbnail where one exists.
pub fn html(
    rows: &[Row],
    summary: &RunSummary,
    configuration: &[targets::ConfigurationProblem],
    thumbnails: &BTreeMap<String, Bytes>,
) -> String {
    let mut page = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>photosync report</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:middle}\
         th{background:#f4f4f4}.failed{color:#a00}.counts td{font-weight:bold}img{width:48px;height:48px;border-radius:50%}\
         </style></head><body><h1>photosync report</h1>",
    );
    let _ = write!(
        page,
        "<p>Generated {} — {}</p><table class=\"counts\"><tr>",
        Utc::now().to_rfc3339(),
        escape(&summary.line())
    );
    for (status, n) in &summary.counts {
        let _ = write!(page, "<th>{}</th>", escape(status));
        let _ = n;
    }
    page.push_str("</tr><tr>");
    for (_, n) in &summary.counts {
        let _ = write!(page, "<td>{n}</td>");
    }
    page.push_str("</tr></table>");

    if !configuration.is_empty() {
        let _ = write!(
            page,
            "<h2>Configuration problems ({})</h2><table><tr><th>target</th><th>problem</th><th>photos held up</th><th>what to do</th></tr>",
            configuration.len()
        );
        for c in configuration {
            let target = serde_json::to_value(c.target).unwrap_or_default();
            let _ = write!(
                page,
                "<tr class=\"failed\"><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>",
                escape(target.as_str().unwrap_or_default()),
                escape(&c.code),
                escape(&c.message),
                c.photos,
                escape(advice(&c.code))
            );
        }
        page.push_str("</table>");
    }
    // Photos held up only by a configuration problem are counted above, not listed.
    let failures: Vec<&Row> = rows
        .iter()
        .filter(|r| !r.code.is_empty())
        .filter(|r| !configuration.iter().any(|c| c.code == r.code))
        .collect();
    let _ = write!(page, "<h2>Needs attention ({})</h2>", failures.len());
    if !failures.is_empty() {
        page.push_str("<table><tr><th>photo</th><th>user</th><th>status</th><th>problem</th><th>what to do</th></tr>");
        for r in failures {
            let _ = write!(
                page,
                "<tr class=\"failed\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code> {}</td><td>{}</td></tr>",
                escape(&r.photo),
                escape(&r.user),
                escape(&r.status),
                escape(&r.code),
                escape(&r.detail),
                escape(advice(&r.code))
            );
        }
        page.push_str("</table>");
    }
    page.push_str("<h2>All photos</h2><table><tr><th></th><th>photo</th><th>user</th><th>status</th><th>detail</th><th>updated</th></tr>");
    for r in rows {
        let image = thumbnails.get(&r.photo).map_or_else(String::new, |jpeg| {
            format!(
                "<img alt=\"\" src=\"data:image/jpeg;base64,{}\">",
                base64::engine::general_purpose::STANDARD.encode(jpeg)
            )
        });
        let _ = write!(
            page,
            "<tr><td>{image}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.photo),
            escape(&r.user),
            escape(&r.status),
            escape(&r.detail),
            escape(&r.updated_at)
        );
    }
    page.push_str("</table></body></html>\n");
    page
}

/// At most this many thumbnails are embedded, so the page stays light in a
/// browser for tenants of any size (about 1.5 KB each).
pub const MAX_EMBEDDED_THUMBNAILS: usize = 2000;

/// The 48x48 thumbnail of synced photos, by photo name (the first
/// [`MAX_EMBEDDED_THUMBNAILS`] by name), cached across runs by content hash.
async fn small_thumbnails(flow: &Flow, records: &[&Record]) -> BTreeMap<String, Bytes> {
    let wanted: Vec<(String, String, String)> = records
        .iter()
        .filter(|r| r.status.is_current() || r.status == Status::DryRun)
        .take(MAX_EMBEDDED_THUMBNAILS)
        .map(|r| {
            let folder = r
                .user
                .as_ref()
                .map_or_else(|| r.key.clone(), |u| u.upn.to_lowercase());
            let cache_key = format!("{}\n{}", r.photo, r.sha256);
            (r.photo.clone(), format!("{folder}/48x48.jpg"), cache_key)
        })
        .collect();
    let cache = &flow.report_thumbnails;
    let fetched: Vec<(String, String, Bytes)> = futures::stream::iter(wanted)
        .map(|(photo, name, cache_key)| async move {
            if let Some(bytes) = cache.lock().await.get(&cache_key) {
                return Some((photo, cache_key, bytes.clone()));
            }
            let blob = flow.stores.thumbnails.get(&name).await.ok()?;
            Some((photo, cache_key, blob.bytes))
        })
        .buffer_unordered(16)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let mut cache = cache.lock().await;
    // Keep exactly this run's thumbnails: bounded, and nothing stale.
    cache.clear();
    let mut found = BTreeMap::new();
    for (photo, cache_key, bytes) in fetched {
        cache.insert(cache_key, bytes.clone());
        found.insert(photo, bytes);
    }
    found
}

/// Writes the three reports and the history copy.
pub async fn write(
    flow: &Flow,
    records: &[&Record],
    summary: &RunSummary,
) -> Result<(), StoreError> {
    let rows: Vec<Row> = records.iter().map(|r| row(r)).collect();
    let generated_at = Utc::now();
    let configuration = targets::configuration_problems(records);
    let json = serde_json::to_vec_pretty(&JsonReport {
        generated_at: generated_at.to_rfc3339(),
        summary: summary.counts.iter().cloned().collect(),
        targets: targets::counts(records),
        configuration: configuration
            .iter()
            .map(|problem| Configuration {
                advice: advice(&problem.code),
                problem: problem.clone(),
            })
            .collect(),
        photos: &rows,
    })
    .expect("serialises");
    let thumbnails = small_thumbnails(flow, records).await;
    let page = html(&rows, summary, &configuration, &thumbnails);
    let history = format!(
        "reports/history/{}.json",
        generated_at.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let files: [(&str, Vec<u8>, &str); 4] = [
        ("reports/latest.json", json.clone(), "application/json"),
        ("reports/latest.csv", csv(&rows), "text/csv; charset=utf-8"),
        (
            "reports/latest.html",
            page.into_bytes(),
            "text/html; charset=utf-8",
        ),
        (&history, json, "application/json"),
    ];
    for (name, bytes, content_type) in files {
        let properties = BlobProperties {
            content_type: Some(content_type.to_owned()),
            cache_control: Some("no-cache".to_owned()),
            ..BlobProperties::default()
        };
        flow.stores
            .state
            .put(name, Bytes::from(bytes), &properties, WriteMode::Overwrite)
            .await?;
    }
    Ok(())
}
