//! The HTML report: a self-contained page (no remote anything) that reads
//! well at 1280 px and on a phone. Counts first, configuration problems
//! once each, what needs a person grouped by cause, then every photo with
//! the ones this run changed first; a search box and a status filter, and
//! times in the reader's own time zone.
//!
//! Its one script is the [`SCRIPT`] constant below, allowed by its SHA-256
//! in the page's Content-Security-Policy (CSP Level 2 hash sources,
//! w3.org/TR/CSP2/#script-src-hash-usage): nothing injected into a photo
//! name or message can run, because every value is escaped and no other
//! script matches the hash. Without the script the page is still whole:
//! the filters stay hidden and times show in UTC.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::LazyLock;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, SubsecRound as _, Utc};
use sha2::Digest as _;

use super::{Row, Rows, advice};
use crate::html::escape;
use crate::sync::reconcile::{RunSummary, targets};

/// Filters the photo table and shows times in the reader's time zone; it
/// reads the page's own elements and writes only text, never HTML.
pub const SCRIPT: &str = r#"(()=>{const q=document.getElementById('q'),s=document.getElementById('status'),n=document.getElementById('shown'),rows=[...document.querySelectorAll('#photos tbody tr')];document.getElementById('filters').hidden=false;const apply=()=>{const t=q.value.trim().toLowerCase(),st=s.value;let k=0;for(const r of rows){const show=(!st||r.dataset.status===st)&&(!t||r.textContent.toLowerCase().includes(t));r.hidden=!show;if(show)k++;}n.textContent=k+' of '+rows.length+' shown';};q.addEventListener('input',apply);s.addEventListener('change',apply);for(const e of document.querySelectorAll('time[datetime]')){const d=new Date(e.dateTime);if(!isNaN(d))e.textContent=d.toLocaleString(undefined,{dateStyle:'medium',timeStyle:'short'});}apply();})();"#;

/// The page's policy: no remote anything; inline style, `data:`
/// thumbnails and the one script whose hash this is.
pub static HTML_CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{hash}'"
    )
});

/// `<time>` for an RFC 3339 instant: UTC text the script turns local.
fn time(rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => format!(
            "<time datetime=\"{}\">{} UTC</time>",
            escape(rfc3339),
            t.with_timezone(&Utc).format("%Y-%m-%d %H:%M")
        ),
        Err(_) => escape(rfc3339),
    }
}

/// A self-contained page: counts, failures first with what to do, then
/// every photo with a small thumbnail where one exists.
/// `run_started`: rows updated since are "changed in this run" and come first.
pub fn html(
    rows: Rows<'_>,
    summary: &RunSummary,
    configuration: &[targets::ConfigurationProblem],
    thumbnails: &BTreeMap<String, Bytes>,
    run_started: DateTime<Utc>,
) -> String {
    let mut page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>photosync report</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0;display:block;overflow-x:auto;max-width:100%}}td{{overflow-wrap:break-word}}\
         tr.changed td:first-child{{box-shadow:inset 4px 0 #0a6}}.new{{color:#0a6;font-weight:bold}}\
         @media (max-width:600px){{body{{margin:8px}}td,th{{padding:2px 4px}}h1{{font-size:1.5em}}\
         table.rows thead{{display:none}}table.rows tr{{display:block;border:1px solid #ccc;margin:0 0 8px;padding:4px}}\
         table.rows td{{display:block;border:none}}table.rows td:empty{{display:none}}table.rows tr.changed{{border-left:4px solid #0a6}}table.rows tr.changed td:first-child{{box-shadow:none}}}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:middle}}\
         th{{background:#f4f4f4}}.failed{{color:#a00}}.counts td{{font-weight:bold}}.banner{{background:#fff4ce;border:1px solid #d9b300;padding:8px 12px;font-weight:bold}}caption{{text-align:left;font-weight:bold;padding:4px 0;white-space:nowrap}}img{{width:48px;height:48px;border-radius:50%}}\
         #filters{{display:flex;flex-wrap:wrap;gap:8px;align-items:center}}#filters[hidden]{{display:none}}#q{{flex:1 1 16em;padding:6px;font:inherit}}select{{padding:6px;font:inherit}}\
         </style></head><body><h1>photosync report</h1>",
        *HTML_CSP
    );
    if summary.dry_run {
        page.push_str(
            "<p class=\"banner\">Dry run — nothing was changed in Microsoft 365. \
             Thumbnails and this report were written; set the app's credentials \
             (and leave PHOTOSYNC_DRY_RUN unset) to update profile photos.</p>",
        );
    }
    let _ = write!(
        page,
        "<p>Generated {} by photosync {} from {}.</p>\
         <p>This run: {} examined, {} worked on, {} left for the next run, {} removed, {} removal(s) held.</p>\
         <table class=\"counts\"><caption>Photos by status (the whole ledger)</caption><tr>",
        time(&Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        env!("CARGO_PKG_VERSION"),
        escape(&summary.source),
        summary.examined,
        summary.worked,
        summary.left,
        summary.removed,
        summary.held
    );
    for status in summary.counts.keys() {
        let _ = write!(page, "<th>{}</th>", escape(status.as_str()));
    }
    page.push_str("</tr><tr>");
    for n in summary.counts.values() {
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
            let _ = write!(
                page,
                "<tr class=\"failed\"><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>",
                c.target.as_str(),
                c.code,
                escape(&c.message),
                c.photos,
                escape(c.code.advice())
            );
        }
        page.push_str("</table>");
    }
    // Photos held up only by a configuration problem are counted above, not listed.
    let failures: Vec<std::borrow::Cow<'_, Row>> = rows
        .iter()
        .filter(|r| !r.code.is_empty())
        .filter(|r| !configuration.iter().any(|c| c.code.as_str() == r.code))
        .collect();
    let _ = write!(page, "<h2>Needs attention ({})</h2>", failures.len());
    if !summary.failures.is_empty() {
        page.push_str("<table><caption>By cause</caption><tr><th>problem</th><th>photos</th><th>what to do</th></tr>");
        let mut causes: Vec<(&String, &usize)> = summary.failures.iter().collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (code, n) in causes {
            let _ = write!(
                page,
                "<tr class=\"failed\"><td><code>{}</code></td><td>{n}</td><td>{}</td></tr>",
                escape(code),
                escape(advice(code))
            );
        }
        page.push_str("</table>");
    }
    if !failures.is_empty() {
        page.push_str("<table class=\"rows\"><thead><tr><th>photo</th><th>user</th><th>status</th><th>problem</th><th>what to do</th></tr></thead><tbody>");
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
        page.push_str("</tbody></table>");
    }
    if !summary.mapping_notes.is_empty() {
        page.push_str("<h2>Mapping files</h2><table><tr><th>file</th><th>note</th></tr>");
        for (file, note) in &summary.mapping_notes {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(file),
                escape(note)
            );
        }
        page.push_str("</table>");
    }
    all_photos(&mut page, rows, thumbnails, run_started);
    let _ = writeln!(page, "<script>{SCRIPT}</script></body></html>");
    page
}

/// Every photo, those this run changed first, behind the search box and
/// the status filter (hidden until the script shows them).
fn all_photos(
    page: &mut String,
    rows: Rows<'_>,
    thumbnails: &BTreeMap<String, Bytes>,
    run_started: DateTime<Utc>,
) {
    // Rows carry whole seconds: a row written in the run's first second counts.
    let run_started = run_started.trunc_subsecs(0);
    let is_changed =
        |r: &Row| DateTime::parse_from_rfc3339(&r.updated_at).is_ok_and(|t| t >= run_started);
    // One pass for what the heading and the filter need: each row's time
    // is parsed once, and the two passes below reuse the flags.
    let mut flags = Vec::with_capacity(rows.len());
    let mut statuses = BTreeSet::new();
    for r in rows.iter() {
        flags.push(is_changed(&r));
        if !statuses.contains(r.status.as_str()) {
            statuses.insert(r.status.clone());
        }
    }
    let changed = flags.iter().filter(|c| **c).count();
    let _ = write!(
        page,
        "<h2>All photos ({})</h2><p>{changed} changed in this run, listed first.</p>\
         <div id=\"filters\" hidden><input id=\"q\" type=\"search\" \
         placeholder=\"Search photo, user or problem\" aria-label=\"Search photos\">\
         <select id=\"status\" aria-label=\"Status\"><option value=\"\">every status</option>",
        rows.len()
    );
    for status in &statuses {
        let _ = write!(page, "<option>{}</option>", escape(status));
    }
    page.push_str(
        "</select><span id=\"shown\"></span></div><table id=\"photos\" class=\"rows\"><thead><tr><th></th>\
         <th>photo</th><th>user</th><th>status</th><th>detail</th><th>updated</th></tr></thead><tbody>",
    );
    // Changed rows first, then the rest; each group in the ledger's order
    // (by name). Two passes over the rows, so none is held beyond its line.
    let group = |changed: bool| {
        rows.iter()
            .zip(&flags)
            .filter(move |(_, c)| **c == changed)
            .map(move |(r, _)| (changed, r))
    };
    for (changed, r) in group(true).chain(group(false)) {
        let image = thumbnails.get(&r.photo).map_or_else(String::new, |jpeg| {
            format!(
                "<img alt=\"\" src=\"data:image/jpeg;base64,{}\">",
                base64::engine::general_purpose::STANDARD.encode(jpeg)
            )
        });
        let (class, mark) = if changed {
            (" class=\"changed\"", " <span class=\"new\">this run</span>")
        } else {
            ("", "")
        };
        let _ = write!(
            page,
            "<tr{class} data-status=\"{}\"><td>{image}</td><td>{}{mark}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.status),
            escape(&r.photo),
            escape(&r.user),
            escape(&r.status),
            escape(&r.detail),
            time(&r.updated_at)
        );
    }
    page.push_str("</tbody></table>");
}
