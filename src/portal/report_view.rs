//! The uploader's view of the latest Reconcile report (`reports/latest.json`):
//! a text search and a status filter over its rows, a page at a time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{Actor, Portal, PortalError, UPLOADER_ROLE};
use crate::store::StoreError;
use crate::sync::reconcile::report::advice;

/// The report's name in the state container.
const LATEST: &str = "reports/latest.json";
/// Rows returned at most per request.
pub const PAGE_ROWS: usize = 200;

/// One row as the report writes it (`reports/latest.json` `photos[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Blob name in the photos container.
    pub photo: String,
    /// Matched UPN, or empty.
    #[serde(default)]
    pub user: String,
    /// Ledger status word.
    pub status: String,
    /// Problem code, or empty.
    #[serde(default)]
    pub code: String,
    /// Problem message or other detail.
    #[serde(default)]
    pub detail: String,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub updated_at: String,
    /// What to do, for rows with a problem (filled in here).
    #[serde(default, skip_deserializing)]
    pub advice: String,
}

#[derive(Debug, Deserialize)]
struct ReportFile {
    generated_at: String,
    photos: Vec<ReportRow>,
}

/// What the uploader asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Text that must appear in the photo, user, code or detail (any case).
    pub search: String,
    /// Only rows with this status; empty for all.
    pub status: String,
}

/// One page of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportPage {
    /// When the report was written; `None` when Reconcile has not run yet.
    pub generated_at: Option<String>,
    /// Rows per status over the whole report (for the filter buttons).
    pub counts: BTreeMap<String, usize>,
    /// Rows that match the query.
    pub matched: usize,
    /// The first [`PAGE_ROWS`] of them, problems first.
    pub rows: Vec<ReportRow>,
}

/// A parsed report: when it was generated, and its rows (problems first).
type Parsed = Arc<(String, Vec<ReportRow>)>;

/// The parsed report and the ETag it was parsed from.
#[derive(Debug, Default)]
pub struct ReportCache(Mutex<Option<(crate::store::ETag, Parsed)>>);

impl Portal {
    /// The latest report, parsed once per version: a conditional read
    /// (`If-None-Match`) costs no transfer while it is unchanged.
    async fn latest_report(&self) -> Result<Option<Parsed>, PortalError> {
        let cached = self
            .report
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let read = match &cached {
            Some((etag, _)) => self.stores.state.get_if_changed(LATEST, etag, None).await,
            None => self.stores.state.get(LATEST).await.map(Some),
        };
        let blob = match read {
            Ok(Some(blob)) => blob,
            Ok(None) => return Ok(cached.map(|(_, parsed)| parsed)),
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bytes = blob.bytes;
        let file: ReportFile = tokio::task::spawn_blocking(move || serde_json::from_slice(&bytes))
            .await
            .map_err(|e| PortalError::Unavailable(format!("report parsing stopped: {e}")))?
            .map_err(|e| PortalError::Unavailable(format!("{LATEST} is unreadable: {e}")))?;
        let mut rows = file.photos;
        for row in &mut rows {
            if !row.code.is_empty() {
                row.advice = advice(&row.code).to_owned();
            }
        }
        // Problems first, then by name: what needs a person comes on top.
        rows.sort_by(|a, b| (a.code.is_empty(), &a.photo).cmp(&(b.code.is_empty(), &b.photo)));
        let parsed = Arc::new((file.generated_at, rows));
        if let Some(etag) = blob.info.etag {
            *self.report.0.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((etag, Arc::clone(&parsed)));
        }
        Ok(Some(parsed))
    }

    /// The latest report, searched and filtered (uploaders only).
    pub async fn report(
        &self,
        actor: &Actor,
        query: &ReportQuery,
    ) -> Result<ReportPage, PortalError> {
        if !actor.roles.uploader {
            return Err(PortalError::Forbidden(format!(
                "the report is for people with the {UPLOADER_ROLE} role"
            )));
        }
        let Some(report) = self.latest_report().await? else {
            return Ok(ReportPage {
                generated_at: None,
                counts: BTreeMap::new(),
                matched: 0,
                rows: Vec::new(),
            });
        };
        let (generated_at, rows) = &*report;
        Ok(filter(generated_at, rows, query))
    }
}

/// The page of `rows` matching `query`.
fn filter(generated_at: &str, rows: &[ReportRow], query: &ReportQuery) -> ReportPage {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.status.clone()).or_insert(0) += 1;
    }
    let needle = query.search.trim().to_lowercase();
    let matching = rows.iter().filter(|row| {
        (query.status.is_empty() || row.status == query.status)
            && (needle.is_empty()
                || [&row.photo, &row.user, &row.code, &row.detail]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&needle)))
    });
    let mut matched = 0;
    let mut page = Vec::new();
    for row in matching {
        matched += 1;
        if page.len() < PAGE_ROWS {
            page.push(row.clone());
        }
    }
    ReportPage {
        generated_at: Some(generated_at.to_owned()),
        counts,
        matched,
        rows: page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(photo: &str, user: &str, status: &str, code: &str) -> ReportRow {
        ReportRow {
            photo: photo.into(),
            user: user.into(),
            status: status.into(),
            code: code.into(),
            detail: String::new(),
            updated_at: String::new(),
            advice: String::new(),
        }
    }

    #[test]
    fn search_and_status_filter_narrow_the_rows_counts_do_not() {
        let rows = vec![
            row(
                "hr/alice@contoso.com.jpg",
                "alice@contoso.com",
                "synced",
                "",
            ),
            row("hr/bob@contoso.com.jpg", "", "failed", "user-not-found"),
            row(
                "web/carol@contoso.com.jpg",
                "carol@contoso.com",
                "synced",
                "",
            ),
        ];
        let all = filter("t", &rows, &ReportQuery::default());
        assert_eq!(all.matched, 3);
        assert_eq!(all.counts["synced"], 2);
        let synced = filter(
            "t",
            &rows,
            &ReportQuery {
                status: "synced".into(),
                search: "CAROL".into(),
            },
        );
        assert_eq!(synced.matched, 1);
        assert_eq!(synced.rows[0].photo, "web/carol@contoso.com.jpg");
        assert_eq!(synced.counts["failed"], 1);
        let by_code = filter(
            "t",
            &rows,
            &ReportQuery {
                search: "not-found".into(),
                ..ReportQuery::default()
            },
        );
        assert_eq!(by_code.matched, 1);
    }
}
