//! The Reconcile timer against Azurite and the Graph fake: catch-up, no-op
//! second runs, changes, retries when due, the time budget, the concurrency
//! cap, removals and the report.

use futures::{StreamExt, TryStreamExt};
use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Status};
use serde_json::{Value, json};

use crate::fakes::graph::{FakeGraph, FakeUser, Fault, Route};
use crate::helpers::{TestApp, jpeg, spawn_app_with};

pub(crate) fn tick() -> String {
    json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
           "Metadata": {"sys": {"MethodName": "Reconcile"}}})
    .to_string()
}

pub(crate) async fn reconcile(app: &TestApp) -> String {
    let response = app.invoke("Reconcile", "inv-timer", tick()).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{answer}\n{:#?}", problems(app));
    answer["Logs"][0].as_str().unwrap().to_owned()
}

/// What the handler warned about or logged as an error so far: on a failed
/// assertion, what the run said and logged is the diagnosis.
pub(crate) fn problems(app: &TestApp) -> Vec<String> {
    app.logs()
        .into_iter()
        .filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\""))
        .collect()
}

pub(crate) async fn start(users: usize, extra: &[(&str, &str)]) -> (TestApp, FakeGraph) {
    let fake = FakeGraph::start().await;
    for i in 0..users {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    let env = fake.secret_env();
    (spawn_app_with(&env, extra).await, fake)
}

async fn upload(app: &TestApp, name: &str, bytes: Vec<u8>) {
    app.upload(name, &bytes).await;
}

pub(crate) async fn status_of(app: &TestApp, name: &str) -> Status {
    Ledger::new(app.stores.state.clone())
        .get(&PhotoName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no record for {name}"))
        .record
        .status
}

pub(crate) fn puts(fake: &FakeGraph) -> usize {
    fake.requests_to("PUT", "/photo/$value").len()
}

#[tokio::test]
async fn photos_without_a_trigger_are_caught_up_and_a_second_run_calls_nobody() {
    let (app, fake) = start(3, &[]).await;
    for i in 0..3 {
        upload(&app, &format!("user{i}@contoso.com.jpg"), jpeg(300, 300)).await;
    }
    upload(&app, "notes.txt", b"hello".to_vec()).await;
    let line = reconcile(&app).await;
    assert!(
        line.starts_with("reconcile: 4 photos examined, 4 worked on, 0 left"),
        "{line}"
    );
    assert!(
        line.contains("3 synced") && line.contains("1 ignored"),
        "{line}\n{:#?}",
        problems(&app)
    );
    assert_eq!(puts(&fake), 3);

    let calls = fake.requests().len();
    let line = reconcile(&app).await;
    assert!(line.contains("0 worked on"), "{line}");
    assert_eq!(fake.requests().len(), calls, "no Graph call at all");
}

#[tokio::test]
async fn a_changed_photo_is_synced_again() {
    let (app, fake) = start(1, &[]).await;
    upload(&app, "user0@contoso.com.jpg", jpeg(300, 300)).await;
    reconcile(&app).await;
    upload(&app, "user0@contoso.com.jpg", jpeg(400, 300)).await;
    let line = reconcile(&app).await;
    assert!(line.contains("1 worked on"), "{line}");
    assert_eq!(puts(&fake), 2);
}

#[tokio::test]
async fn a_retrying_photo_is_retried_only_when_due() {
    let (app, fake) = start(1, &[("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "1")]).await;
    fake.inject(Route::Photo, Fault::Unavailable, 1);
    upload(&app, "user0@contoso.com.jpg", jpeg(300, 300)).await;
    reconcile(&app).await;
    assert_eq!(
        status_of(&app, "user0@contoso.com.jpg").await,
        Status::Retrying
    );
    // The first photo call (reading the current photo to back it up) failed.
    assert_eq!(puts(&fake), 0);

    // Not due yet: the backoff starts at five minutes.
    let line = reconcile(&app).await;
    assert!(line.contains("0 worked on"), "{line}");
    assert_eq!(puts(&fake), 0);

    // Make it due, as time passing would.
    let ledger = Ledger::new(app.stores.state.clone());
    let name = PhotoName::parse("user0@contoso.com.jpg").unwrap();
    let mut current = ledger.get(&name).await.unwrap().unwrap();
    let due = current
        .record
        .next_attempt
        .expect("a retry time is recorded");
    assert!(due > chrono::Utc::now() + chrono::Duration::minutes(4));
    current.record.next_attempt = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    ledger
        .put(&current.record, Some(&current.etag))
        .await
        .unwrap();

    reconcile(&app).await;
    assert_eq!(puts(&fake), 1);
    assert_eq!(
        status_of(&app, "user0@contoso.com.jpg").await,
        Status::Synced
    );
}

#[tokio::test]
async fn the_time_budget_stops_early_and_the_next_run_completes_the_rest() {
    let (app, fake) = start(
        6,
        &[
            ("PHOTOSYNC_RECONCILE_BUDGET_SECS", "1"),
            ("PHOTOSYNC_RECONCILE_CONCURRENCY", "1"),
        ],
    )
    .await;
    fake.set_photo_delay(std::time::Duration::from_millis(400));
    for i in 0..6 {
        upload(&app, &format!("user{i}@contoso.com.jpg"), jpeg(200, 200)).await;
    }
    let line = reconcile(&app).await;
    assert!(
        !line.contains(" 0 left"),
        "the budget must stop the run: {line}"
    );
    let first = puts(&fake);
    assert!((1..6).contains(&first), "{line}");

    // The next tick (no budget pressure) finishes, each photo uploaded once.
    let mut line = String::new();
    for _ in 0..6 {
        line = reconcile(&app).await;
        if puts(&fake) == 6 {
            break;
        }
    }
    assert_eq!(puts(&fake), 6, "{line}");
    for i in 0..6 {
        assert_eq!(
            status_of(&app, &format!("user{i}@contoso.com.jpg")).await,
            Status::Synced
        );
    }
}

#[tokio::test]
async fn hundreds_of_photos_never_exceed_the_graph_cap() {
    const PHOTOS: usize = 120;
    let (app, fake) = start(
        PHOTOS,
        &[
            ("PHOTOSYNC_SIZES", "96"),
            ("PHOTOSYNC_RECONCILE_CONCURRENCY", "32"),
            ("PHOTOSYNC_GRAPH_MAX_CONCURRENCY", "6"),
        ],
    )
    .await;
    // Slow enough that photo calls overlap and the cap matters, also when
    // storage (shared Azurite) is slow and photos reach Graph further apart.
    fake.set_photo_delay(std::time::Duration::from_millis(100));
    let photo = jpeg(100, 100);
    let uploads = (0..PHOTOS).map(|i| {
        let app = &app;
        let photo = photo.clone();
        async move { upload(app, &format!("user{i}@contoso.com.jpg"), photo).await }
    });
    futures::stream::iter(uploads)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let line = reconcile(&app).await;
    assert!(line.contains(&format!("{PHOTOS} worked on")), "{line}");
    // Every photo reached Graph, or waits for its retry after a storage
    // hiccup (the next tick takes it up when due): none is lost or failed.
    let mut synced = 0;
    for i in 0..PHOTOS {
        match status_of(&app, &format!("user{i}@contoso.com.jpg")).await {
            Status::Synced => synced += 1,
            Status::Retrying => {}
            other => panic!("user{i}: {other:?} after {line}"),
        }
    }
    assert!(synced >= PHOTOS - 3, "{line}");
    assert!(puts(&fake) >= synced, "{line}");
    let cap = fake.max_in_flight();
    assert!(cap <= 6, "{cap} photo requests were in flight at once");
    assert!(cap >= 4, "the window is used: {cap}");
}

#[tokio::test]
async fn a_deleted_photo_is_marked_removed_and_optionally_unset() {
    let (app, fake) = start(2, &[("PHOTOSYNC_DELETE_REMOVED", "true")]).await;
    upload(&app, "user0@contoso.com.jpg", jpeg(300, 300)).await;
    upload(&app, "user1@contoso.com.jpg", jpeg(300, 300)).await;
    reconcile(&app).await;
    assert!(fake.photo("id-0").is_some());
    app.stores
        .photos
        .delete("user0@contoso.com.jpg")
        .await
        .unwrap();
    let line = reconcile(&app).await;
    assert!(line.contains("1 removed"), "{line}");
    assert_eq!(
        status_of(&app, "user0@contoso.com.jpg").await,
        Status::Removed
    );
    assert!(
        fake.photo("id-0").is_none(),
        "the profile photo was removed"
    );
    assert!(fake.photo("id-1").is_some());
}

#[tokio::test]
async fn a_deleted_photo_keeps_the_profile_photo_by_default() {
    let (app, fake) = start(2, &[]).await;
    upload(&app, "user0@contoso.com.jpg", jpeg(300, 300)).await;
    // Another photo stays: a container emptied at once is held (the guard).
    upload(&app, "user1@contoso.com.jpg", jpeg(300, 300)).await;
    reconcile(&app).await;
    app.stores
        .photos
        .delete("user0@contoso.com.jpg")
        .await
        .unwrap();
    reconcile(&app).await;
    assert_eq!(
        status_of(&app, "user0@contoso.com.jpg").await,
        Status::Removed
    );
    assert!(fake.photo("id-0").is_some());
    assert!(fake.requests_to("DELETE", "/photo").is_empty());
}

#[tokio::test]
async fn the_reports_parse_and_agree_with_the_ledger() {
    let (app, _fake) = start(2, &[]).await;
    upload(&app, "user0@contoso.com.jpg", jpeg(300, 300)).await;
    upload(&app, "hr/nobody@contoso.com.jpg", jpeg(300, 300)).await;
    upload(&app, "Thumbs.db", vec![0; 16]).await;
    reconcile(&app).await;

    let state = &app.stores.state;
    let json: Value =
        serde_json::from_slice(&state.get("reports/latest.json").await.unwrap().bytes).unwrap();
    assert_eq!(
        json["summary"],
        json!({"synced": 1, "failed": 1, "ignored": 1})
    );
    // Which build wrote it, from where, whether for real, and what this run did.
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["dry_run"], false);
    let photos_container = &app.env["PHOTOSYNC_PHOTOS_CONTAINER"];
    assert!(
        json["source"]
            .as_str()
            .unwrap()
            .contains(photos_container.as_str()),
        "{}",
        json["source"]
    );
    assert_eq!(json["this_run"]["worked_on"], 3);
    assert_eq!(json["needs_attention"], json!({"user-not-found": 1}));
    let photos = json["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 3);
    let failed = photos
        .iter()
        .find(|p| p["photo"] == "hr/nobody@contoso.com.jpg")
        .unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["code"], "user-not-found");
    let synced = photos
        .iter()
        .find(|p| p["photo"] == "user0@contoso.com.jpg")
        .unwrap();
    assert_eq!(synced["user"], "user0@contoso.com");
    for photo in photos {
        let name = PhotoName::parse(photo["photo"].as_str().unwrap()).unwrap();
        let record = Ledger::new(state.clone())
            .get(&name)
            .await
            .unwrap()
            .unwrap()
            .record;
        assert_eq!(photo["sha256"], record.sha256.as_str());
    }

    let csv = state.get("reports/latest.csv").await.unwrap();
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::Reader::from_reader(&csv.bytes[3..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "photo",
            "user",
            "status",
            "code",
            "detail",
            "sha256",
            "updated_at",
            "sharepoint"
        ]
    );
    assert_eq!(reader.records().count(), 3);

    let html = state.get("reports/latest.html").await.unwrap();
    assert_eq!(
        html.properties.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(html.bytes.to_vec()).unwrap();
    assert!(page.contains("Needs attention (1)"));
    assert!(!page.contains("Dry run"), "credentials were set");
    assert!(
        page.contains("<td><code>user-not-found</code></td><td>1</td>"),
        "failures grouped by cause with their count"
    );
    assert!(
        page.contains("data:image/jpeg;base64,"),
        "the synced photo's thumbnail is embedded"
    );

    let history: Vec<String> = state
        .list_blobs(Some("reports/history"))
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn with_enforce_a_photo_changed_elsewhere_is_restored() {
    let (app, fake) = start(1, &[("PHOTOSYNC_ENFORCE", "true")]).await;
    upload(&app, "user0@contoso.com.jpg", jpeg(300, 300)).await;
    reconcile(&app).await;
    let ours = fake.photo("id-0").unwrap();

    // Nobody changed it: only a metadata read.
    let line = reconcile(&app).await;
    assert!(line.contains("0 worked on"), "{line}");
    assert_eq!(puts(&fake), 1);

    fake.set_photo_elsewhere("id-0", jpeg(64, 64));
    let line = reconcile(&app).await;
    assert!(line.contains("1 worked on"), "{line}");
    assert_eq!(puts(&fake), 2);
    assert_eq!(
        fake.photo("id-0").unwrap(),
        ours,
        "the HR-approved photo is back"
    );
    assert_eq!(
        status_of(&app, "user0@contoso.com.jpg").await,
        Status::Restored
    );
}

#[tokio::test]
async fn retry_all_failed_after_fixing_the_cause() {
    let (app, fake) = start(0, &[]).await;
    upload(&app, "newhire@contoso.com.jpg", jpeg(300, 300)).await;
    reconcile(&app).await;
    assert_eq!(
        status_of(&app, "newhire@contoso.com.jpg").await,
        Status::Failed
    );
    // The account is created later; an unchanged failed photo is left alone…
    fake.add_user(FakeUser::new("id-new", "newhire@contoso.com"));
    reconcile(&app).await;
    assert_eq!(puts(&fake), 0);
    // …until the admin asks for a retry.
    let env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    let (status, stdout, stderr) =
        crate::helpers::run_binary(&["retry", "--all-failed"], &crate::helpers::pairs(&env));
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.contains("will retry: newhire@contoso.com.jpg"),
        "{stdout}"
    );
    reconcile(&app).await;
    assert_eq!(puts(&fake), 1);
    assert_eq!(
        status_of(&app, "newhire@contoso.com.jpg").await,
        Status::Synced
    );
}
