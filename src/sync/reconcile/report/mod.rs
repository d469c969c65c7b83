//! The report an admin reads: `reports/latest.json`, `.csv` and `.html` in the
//! state container, and a timestamped JSON copy under `reports/history/`.
//!
//! Nothing in a report can attack its reader: CSV cells that a spreadsheet
//! would run as a formula are neutralised (OWASP "CSV Injection": a leading
//! `=`, `+`, `-`, `@`, tab or carriage return gets a `'`), and the HTML page
//! escapes every value and forbids scripts and remote content with a
//! Content-Security-Policy.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;

mod page;
mod thumbnails;

pub use page::{HTML_CSP, SCRIPT, html};

pub(crate) use thumbnails::Written;
pub use thumbnails::{THUMBNAILS_KEY, thumbnail_key};

use super::RunSummary;
use super::targets;
use crate::problem::ProblemCode;
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

/// At most this many thumbnails are embedded, so the page stays light in a
/// browser for tenants of any size (about 1.5 KB each).
pub const MAX_EMBEDDED_THUMBNAILS: usize = 2000;

/// One photo's line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    /// Blob name within the photos container, folders included.
    pub photo: String,
    /// The person it is for: the matched UPN, or the key it will be matched by.
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
    /// The photosync version that wrote it.
    version: &'static str,
    /// Nothing was written to Microsoft 365.
    dry_run: bool,
    /// Where the photos were listed from.
    source: &'a str,
    /// What this run did (the ledger's totals are `summary`).
    this_run: BTreeMap<&'static str, usize>,
    /// Records needing a person, by problem code.
    needs_attention: &'a BTreeMap<String, usize>,
    summary: BTreeMap<&'static str, usize>,
    /// Records by status per target.
    targets: BTreeMap<targets::Target, BTreeMap<&'static str, usize>>,
    /// Problems with the app's configuration, once each.
    configuration: Vec<Configuration>,
    photos: Rows<'a>,
}

/// A configuration problem with what to do about it.
#[derive(Debug, Serialize)]
struct Configuration {
    #[serde(flatten)]
    problem: targets::ConfigurationProblem,
    advice: &'static str,
}

/// The report's rows, made one at a time as each file is written: at
/// 100,000 photos a `Vec<Row>` alone is about 45 MB, and the memory target
/// is 200 MB for the whole run.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// Rows for what is not a ledger record (few): made once, borrowed.
    problems: &'a [Row],
    /// The ledger's records, in the report's order.
    records: &'a [&'a Record],
}

impl<'a> Rows<'a> {
    /// `problems` first, then one row per record.
    pub fn new(problems: &'a [Row], records: &'a [&'a Record]) -> Self {
        Self { problems, records }
    }

    /// Every row, in order; each record's row is made as it is reached.
    pub fn iter(self) -> impl Iterator<Item = std::borrow::Cow<'a, Row>> + 'a {
        let made = self.records.iter().map(|r| std::borrow::Cow::Owned(row(r)));
        self.problems
            .iter()
            .map(std::borrow::Cow::Borrowed)
            .chain(made)
    }

    /// How many rows there are.
    pub fn len(self) -> usize {
        self.problems.len() + self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

fn row(record: &Record) -> Row {
    // A SharePoint problem on a synced photo still needs attention.
    let sharepoint = record.sharepoint.as_ref().and_then(|t| t.problem.as_ref());
    let (code, detail) = match (&record.problem, sharepoint) {
        (Some(p), _) => (p.code.as_str(), p.message.clone()),
        (None, Some(p)) => (p.code.as_str(), format!("SharePoint: {}", p.message)),
        (None, None) => ("", record.detail.clone().unwrap_or_default()),
    };
    // Warnings do not make a photo fail; they are said in its detail.
    let detail = record.warnings.iter().fold(detail, |text, w| {
        let sep = if text.is_empty() { "" } else { "; " };
        format!("{text}{sep}warning {w}: {}", w.advice())
    });
    Row {
        photo: record.photo.clone(),
        user: record.who().to_owned(),
        status: record.status.as_str().to_owned(),
        code: code.to_owned(),
        detail,
        sha256: record.sha256.clone(),
        updated_at: record
            .updated
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sharepoint: targets::sharepoint_cell(record),
    }
}

/// Rows for what is not a ledger record: unusable names, unreadable records.
fn problem_rows(summary: &RunSummary) -> Vec<Row> {
    let unusable = summary.unusable.iter().map(|u| Row {
        photo: u.name.clone(),
        user: String::new(),
        status: Status::Failed.as_str().to_owned(),
        code: ProblemCode::InvalidName.as_str().to_owned(),
        detail: u.reason.clone(),
        sha256: String::new(),
        updated_at: String::new(),
        sharepoint: String::new(),
    });
    let corrupt = summary.corrupt.iter().map(|c| Row {
        photo: c.photo.clone().unwrap_or_else(|| c.key.clone()),
        user: String::new(),
        status: Status::Failed.as_str().to_owned(),
        code: ProblemCode::LedgerCorrupt.as_str().to_owned(),
        detail: format!("ledger record {} is unreadable: {}", c.key, c.reason),
        sha256: String::new(),
        updated_at: String::new(),
        sharepoint: String::new(),
    });
    unusable.chain(corrupt).collect()
}

/// A cell a spreadsheet shows as text, never runs (OWASP CSV Injection).
fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// UTF-8 with a byte-order mark and every field quoted, so Excel opens it
/// cleanly; no cell can be a formula.
pub fn csv(rows: Rows<'_>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(CSV_HEADER).expect("in memory");
    for r in rows.iter() {
        writer
            .write_record(
                [
                    &r.photo,
                    &r.user,
                    &r.status,
                    &r.code,
                    &r.detail,
                    &r.sha256,
                    &r.updated_at,
                    &r.sharepoint,
                ]
                .map(|cell| neutralised(cell).into_owned()),
            )
            .expect("in memory");
    }
    writer.into_inner().expect("in memory")
}

/// What an admin should do about a problem code shown in a report.
pub fn advice(code: &str) -> &'static str {
    ProblemCode::parse(code).map_or("", ProblemCode::advice)
}

/// Writes reports; keeps the small thumbnails they embed between runs.
#[derive(Debug, Default)]
pub(crate) struct ReportWriter {
    /// The embedded thumbnails, in memory and in the state container.
    thumbnails: thumbnails::Cache,
}

impl ReportWriter {
    /// Writes the three reports and the history copy.
    pub(crate) async fn write(
        &self,
        flow: &Flow,
        records: &[&Record],
        summary: &RunSummary,
        written: HashMap<String, Bytes>,
    ) -> Result<(), StoreError> {
        let problems = problem_rows(summary);
        let rows = Rows::new(&problems, records);
        let generated_at = Utc::now();
        let configuration =
            targets::configuration_problems(records, summary.grant_missing.as_ref());
        // Compact: at 100,000 photos the indented form is a third larger.
        let json = serde_json::to_vec(&JsonReport {
            generated_at: generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            version: env!("CARGO_PKG_VERSION"),
            dry_run: summary.dry_run,
            source: &summary.source,
            this_run: BTreeMap::from([
                ("examined", summary.examined),
                ("worked_on", summary.worked),
                ("left_for_next_run", summary.left),
                ("removed", summary.removed),
                ("removals_held", summary.held),
            ]),
            needs_attention: &summary.failures,
            summary: summary
                .counts
                .iter()
                .map(|(status, n)| (status.as_str(), *n))
                .collect(),
            targets: targets::counts(records),
            configuration: configuration
                .iter()
                .map(|problem| Configuration {
                    advice: problem.code.advice(),
                    problem: problem.clone(),
                })
                .collect(),
            photos: rows,
        })
        .expect("serialises");
        let history = format!(
            "{HISTORY_PREFIX}{}.json",
            generated_at.format("%Y%m%dT%H%M%S%.3fZ")
        );
        // One file at a time, each dropped once written: at 100,000 photos
        // each is tens of megabytes, and the memory target holds only one.
        let json = Bytes::from(json);
        put_report(
            flow,
            "reports/latest.json",
            json.clone(),
            "application/json",
        )
        .await?;
        put_report(flow, &history, json, "application/json").await?;
        crate::memory::release_free_pages();
        let table = Bytes::from(csv(rows));
        put_report(flow, "reports/latest.csv", table, "text/csv; charset=utf-8").await?;
        crate::memory::release_free_pages();
        let thumbnails = self.thumbnails.for_records(flow, records, written).await;
        let run_started = generated_at - summary.elapsed;
        let page = Bytes::from(html(
            rows,
            summary,
            &configuration,
            &thumbnails,
            run_started,
        ));
        put_report(
            flow,
            "reports/latest.html",
            page,
            "text/html; charset=utf-8",
        )
        .await?;
        let days = flow.settings().reconcile.report_history_days;
        if let Err(e) = prune_history(flow, generated_at, days).await {
            // The next run tries again; a report is never lost over it.
            tracing::warn!("cannot prune the report history: {e}");
        }
        Ok(())
    }
}

/// Writes one report file, for browsers to fetch afresh each time.
async fn put_report(
    flow: &Flow,
    name: &str,
    bytes: Bytes,
    content_type: &str,
) -> Result<(), StoreError> {
    let properties = BlobProperties {
        content_type: Some(content_type.to_owned()),
        cache_control: Some("no-cache".to_owned()),
        ..BlobProperties::default()
    };
    flow.stores()
        .state
        .put(name, bytes, &properties, WriteMode::Overwrite)
        .await
        .map(|_| ())
}

/// Deletes history reports older than `days`, judged by the time in their
/// name (`reports/history/{%Y%m%dT%H%M%S%.3fZ}.json`, as written above);
/// anything else there is left alone.
async fn prune_history(
    flow: &Flow,
    now: chrono::DateTime<Utc>,
    days: u32,
) -> Result<usize, StoreError> {
    use futures::TryStreamExt;
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let state = &flow.stores().state;
    let old: Vec<String> = state
        .list_blobs(Some(HISTORY_PREFIX.trim_end_matches('/')))
        .map_ok(|b| b.name)
        .try_filter(|name| {
            let written = history_time(name);
            futures::future::ready(written.is_some_and(|t| t < cutoff))
        })
        .try_collect()
        .await?;
    for name in &old {
        state.delete(name).await?;
    }
    Ok(old.len())
}

/// Folder of the history reports in the state container.
const HISTORY_PREFIX: &str = "reports/history/";

/// When a history report was written, from its name.
pub(super) fn history_time(name: &str) -> Option<chrono::DateTime<Utc>> {
    let stamp = name.strip_prefix(HISTORY_PREFIX)?.strip_suffix("Z.json")?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3f")
        .ok()
        .map(|t| t.and_utc())
}
