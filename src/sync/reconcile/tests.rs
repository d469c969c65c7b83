//! The report's formats: exact CSV header, neutralised formulas, escaped
//! HTML with a policy that forbids scripts.

use super::*;

fn row(photo: &str, detail: &str) -> report::Row {
    report::Row {
        photo: photo.into(),
        user: "o'brien@contoso.com".into(),
        status: "failed".into(),
        code: "user-not-found".into(),
        detail: detail.into(),
        sha256: "ab".into(),
        updated_at: "2026-11-20T10:00:00Z".into(),
        sharepoint: String::new(),
    }
}

#[test]
fn csv_has_the_exact_header_a_bom_and_quoted_fields() {
    let bytes = report::csv(report::Rows::new(
        &[row(
            "hr/o'brien, pat.jpg",
            "no user has userPrincipalName `o'brien, pat`",
        )],
        &[],
    ));
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
fn no_csv_cell_can_be_a_formula() {
    let hostile = [
        "=cmd|' -C calc'!A0",
        "+SUM(1,2)",
        "-2+3",
        "@SUM(A1)",
        "\tTAB",
        "\rCR",
    ];
    for cell in hostile {
        let bytes = report::csv(report::Rows::new(&[row(cell, cell)], &[]));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        for field in [&record[0], &record[4]] {
            assert_eq!(field, format!("'{cell}"), "{cell:?} is neutralised");
        }
    }
    // Ordinary values stay as they are.
    let bytes = report::csv(report::Rows::new(
        &[row("alice@contoso.com.jpg", "a - b")],
        &[],
    ));
    assert!(String::from_utf8_lossy(&bytes).contains("\"alice@contoso.com.jpg\""));
}

#[test]
fn html_escapes_lists_failures_first_and_forbids_scripts() {
    let rows = vec![report::Row {
        photo: "<script>alert(1)</script>\"onerror=x.jpg".into(),
        user: String::new(),
        status: "failed".into(),
        code: "corrupt-image".into(),
        detail: "<img src=x onerror=alert(1)>".into(),
        sha256: String::new(),
        updated_at: String::new(),
        sharepoint: String::new(),
    }];
    let page = report::html(
        report::Rows::new(&rows, &[]),
        &RunSummary::default(),
        &[],
        &Default::default(),
        chrono::Utc::now(),
    );
    // The page's own script, once, and nothing injected.
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains(&format!("<script>{}</script>", report::SCRIPT)));
    assert!(!page.contains("<img src=x"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onerror=x.jpg"));
    assert!(page.contains(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        *report::HTML_CSP
    )));
    let attention = page.find("Needs attention (1)").unwrap();
    let all = page.find("All photos").unwrap();
    assert!(attention < all);
    assert!(page.contains("Upload the photo again"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );
}

#[test]
fn history_reports_are_dated_by_their_name() {
    let name = "reports/history/20261202T031500.123Z.json";
    let t = report::history_time(name).unwrap();
    assert_eq!(t.to_rfc3339(), "2026-12-02T03:15:00.123+00:00");
    assert_eq!(report::history_time("reports/history/notes.txt"), None);
    assert_eq!(report::history_time("reports/latest.json"), None);
}
