//! The per-photo decision, from the listing and the ledger alone.

use chrono::{Duration, Utc};

use super::*;
use crate::sync::ledger::{Problem, Record, Status};

fn blob(etag: &str) -> BlobInfo {
    BlobInfo {
        name: "alice@contoso.com.jpg".into(),
        size: 10,
        etag: Some(etag.into()),
        last_modified: Utc::now(),
    }
}

fn record(status: Status, etag: &str) -> Record {
    Record {
        etag: Some(etag.into()),
        problem: (status == Status::Failed).then(|| Problem {
            code: "user-not-found".into(),
            message: "no".into(),
        }),
        ..crate::sync::ledger::sample("alice@contoso.com.jpg", status)
    }
}

#[test]
fn decisions() {
    let now = Utc::now();
    let key = "alice@contoso.com";
    let d = |r: Option<&Record>, etag: &str, live: bool| decide(&blob(etag), r, key, live, now);

    assert_eq!(d(None, "e1", true), Decision::Sync("new"));
    let synced = record(Status::Synced, "e1");
    assert_eq!(d(Some(&synced), "e1", true), Decision::Skip);
    assert_eq!(d(Some(&synced), "e2", true), Decision::Sync("changed"));
    let remapped = Record {
        key: "bob@contoso.com".into(),
        ..synced.clone()
    };
    assert_eq!(
        d(Some(&remapped), "e1", true),
        Decision::Sync("mapping changed")
    );

    let failed = record(Status::Failed, "e1");
    assert_eq!(
        d(Some(&failed), "e1", true),
        Decision::Skip,
        "failed waits for a person"
    );
    assert_eq!(d(Some(&failed), "e9", true), Decision::Sync("changed"));

    let mut retrying = record(Status::Retrying, "e1");
    retrying.next_attempt = Some(now + Duration::minutes(5));
    assert_eq!(
        d(Some(&retrying), "e1", true),
        Decision::Skip,
        "not due yet"
    );
    retrying.next_attempt = Some(now - Duration::seconds(1));
    assert_eq!(d(Some(&retrying), "e1", true), Decision::Sync("retry due"));
    retrying.lease_until = Some(now + Duration::minutes(1));
    assert_eq!(
        d(Some(&retrying), "e1", true),
        Decision::Skip,
        "someone is on it"
    );

    let dry = record(Status::DryRun, "e1");
    assert_eq!(d(Some(&dry), "e1", false), Decision::Skip);
    assert_eq!(
        d(Some(&dry), "e1", true),
        Decision::Sync("credentials configured")
    );
    assert_eq!(
        d(Some(&record(Status::Removed, "e1")), "e1", true),
        Decision::Sync("reappeared")
    );
    assert_eq!(
        d(Some(&record(Status::Ignored, "e1")), "e1", true),
        Decision::Skip
    );
}

#[test]
fn csv_has_the_exact_header_a_bom_and_quoted_fields() {
    let rows = vec![report::Row {
        photo: "hr/o'brien, pat.jpg".into(),
        user: "o'brien@contoso.com".into(),
        status: "failed".into(),
        code: "user-not-found".into(),
        detail: "no user has userPrincipalName `o'brien, pat`".into(),
        sha256: "ab".into(),
        updated_at: "2026-11-20T10:00:00+00:00".into(),
        sharepoint: String::new(),
    }];
    let bytes = report::csv(&rows);
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "\"photo\",\"user\",\"status\",\"code\",\"detail\",\"sha256\",\"updated_at\",\"sharepoint\""
        )
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("\"hr/o'brien, pat.jpg\",\"o'brien@contoso.com\"")
    );
}

#[test]
fn html_escapes_and_lists_failures_first() {
    let rows = vec![report::Row {
        photo: "<script>.jpg".into(),
        user: String::new(),
        status: "failed".into(),
        code: "corrupt-image".into(),
        detail: "damaged".into(),
        sha256: String::new(),
        updated_at: String::new(),
        sharepoint: String::new(),
    }];
    let page = report::html(&rows, &RunSummary::default(), &[], &Default::default());
    assert!(!page.contains("<script>"));
    assert!(page.contains("&lt;script&gt;.jpg"));
    let attention = page.find("Needs attention (1)").unwrap();
    let all = page.find("All photos").unwrap();
    assert!(attention < all);
    assert!(page.contains("Upload the photo again"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );
}
