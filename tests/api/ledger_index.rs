//! The ledger index (`src/sync/ledger/index.rs`) is only a cache: a
//! Reconcile run that reads the ledger through it decides exactly as one
//! that reads every record, and a run with nothing to do costs the listing,
//! not one request per photo — on a fresh process, report included.

use photosync::store::{BlobProperties, WriteMode};
use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Status};
use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::helpers::{TestApp, jpeg, spawn_app_with};
use crate::reconcile::{puts, reconcile};
use crate::storage_proxy::StorageProxy;

const INDEX: &str = "index/ledger.jsonl.gz";

/// Users 0–7 and 9 exist; user 8 joins later (a photo for them fails first).
async fn world() -> (TestApp, FakeGraph) {
    let fake = FakeGraph::start().await;
    for i in [0, 1, 2, 3, 4, 5, 6, 7, 9] {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    let app = spawn_app_with(&fake.secret_env(), &[]).await;
    (app, fake)
}

async fn put(app: &TestApp, name: &str, bytes: Vec<u8>) {
    app.upload(name, &bytes).await;
}

/// Photo → (status, user, problem code) as the report shows them.
async fn report(app: &TestApp) -> Vec<(String, String, String, String)> {
    let blob = app.stores.state.get("reports/latest.json").await.unwrap();
    let json: Value = serde_json::from_slice(&blob.bytes).unwrap();
    let mut rows: Vec<_> = json["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cell = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            (cell("photo"), cell("status"), cell("user"), cell("code"))
        })
        .collect();
    rows.sort();
    rows
}

/// Uploads per Graph user id, sorted.
fn uploads(fake: &FakeGraph) -> Vec<String> {
    let mut paths: Vec<String> = fake
        .requests_to("PUT", "/photo/$value")
        .into_iter()
        .map(|r| r.path)
        .collect();
    paths.sort();
    paths
}

/// The same history in a world: a first run, then one of each kind of
/// change — changed, added, deleted, retried by an admin, re-mapped, and a
/// record written by another instance (a blob-trigger invocation's write).
async fn history(app: &TestApp, fake: &FakeGraph, without_index: bool) {
    for i in 0..6 {
        put(app, &format!("user{i}@contoso.com.jpg"), jpeg(200 + i, 200)).await;
    }
    put(app, "user8@contoso.com.jpg", jpeg(210, 200)).await; // Not a user yet.
    put(app, "IMG_7.jpg", jpeg(220, 200)).await;
    put(
        app,
        "mapping.csv",
        b"file,user\nIMG_7.jpg,user6@contoso.com\n".to_vec(),
    )
    .await;
    reconcile(app).await;
    assert!(
        app.stores.state.head(INDEX).await.is_ok(),
        "the first run wrote the index"
    );
    assert_eq!(
        crate::reconcile::status_of(app, "user8@contoso.com.jpg").await,
        Status::Failed
    );

    put(app, "user0@contoso.com.jpg", jpeg(300, 300)).await; // changed
    put(app, "user7@contoso.com.jpg", jpeg(230, 200)).await; // added
    app.stores
        .photos
        .delete("user1@contoso.com.jpg")
        .await
        .unwrap(); // deleted
    fake.add_user(FakeUser::new("id-8", "user8@contoso.com"));
    let (status, _, err) = app.cli(&["retry", "user8@contoso.com.jpg"]).await; // retried
    assert!(status.success(), "{err}");
    put(
        app,
        "mapping.csv",
        b"file,user\nIMG_7.jpg,user9@contoso.com\n".to_vec(),
    )
    .await; // re-mapped
    // Another instance asks for user2's photo again (as `retry` on another
    // machine, or a trigger invocation writing its record, would).
    let ledger = Ledger::new(app.stores.state.clone());
    let user2 = PhotoName::parse("user2@contoso.com.jpg").unwrap();
    assert!(ledger.request_retry(&user2).await.unwrap());

    if without_index {
        app.stores.state.delete(INDEX).await.unwrap();
    }
    reconcile(app).await;
}

#[tokio::test]
async fn a_run_through_the_index_decides_exactly_as_one_reading_every_record() {
    let ((indexed, indexed_fake), (plain, plain_fake)) = tokio::join!(world(), world());
    history(&indexed, &indexed_fake, false).await;
    history(&plain, &plain_fake, true).await;

    let seen = report(&indexed).await;
    assert_eq!(
        seen,
        report(&plain).await,
        "same report with and without the index"
    );
    assert_eq!(uploads(&indexed_fake), uploads(&plain_fake));

    // And both did what each change asks for.
    let status = |photo: &str| {
        seen.iter()
            .find(|r| r.0 == photo)
            .map(|r| r.1.clone())
            .unwrap_or_else(|| panic!("{photo} is not in the report: {seen:?}"))
    };
    let up = uploads(&indexed_fake);
    let count = |id: &str| up.iter().filter(|p| p.contains(&format!("/{id}/"))).count();
    assert_eq!(count("id-0"), 2, "the changed photo was uploaded again");
    assert_eq!(status("user7@contoso.com.jpg"), "synced", "the added photo");
    assert_eq!(count("id-7"), 1);
    assert_eq!(
        status("user1@contoso.com.jpg"),
        "removed",
        "the deleted photo"
    );
    assert_eq!(
        status("user8@contoso.com.jpg"),
        "synced",
        "the retried photo"
    );
    assert_eq!(
        count("id-2"),
        2,
        "the photo another instance asked for again"
    );
    assert_eq!(count("id-9"), 1, "the re-mapped photo went to its new user");
    assert_eq!(status("IMG_7.jpg"), "synced");
    assert_eq!(count("id-3"), 1, "an untouched photo was left alone");
}

#[tokio::test]
async fn an_unreadable_index_is_rebuilt_and_costs_nothing_but_reads() {
    let (app, fake) = world().await;
    for i in 0..3 {
        put(
            &app,
            &format!("user{i}@contoso.com.jpg"),
            jpeg(200 + i, 200),
        )
        .await;
    }
    reconcile(&app).await;
    app.stores
        .state
        .put(
            INDEX,
            bytes::Bytes::from_static(b"\x1f\x8bnot really gzip"),
            &BlobProperties::default(),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
    let line = reconcile(&app).await;
    assert!(line.contains("0 worked on"), "{line}");
    assert_eq!(puts(&fake), 3, "nothing uploaded again");
    let rows = report(&app).await;
    assert_eq!(
        rows.iter().filter(|r| r.1 == "synced").count(),
        3,
        "{rows:?}"
    );
    let index = app.stores.state.get(INDEX).await.unwrap();
    assert_eq!(&index.bytes[..2], b"\x1f\x8b");
    assert!(index.bytes.len() > 20, "rewritten with the records");
}

#[tokio::test]
async fn a_no_change_run_in_a_fresh_process_costs_the_listing_not_the_photos() {
    const PHOTOS: usize = 30;
    let fake = FakeGraph::start().await;
    for i in 0..PHOTOS {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    let proxy = StorageProxy::start().await;
    let mut env = fake.secret_env();
    env.push(("PHOTOSYNC_STORAGE".into(), proxy.connection_string.clone()));
    let app = spawn_app_with(&env, &[]).await;
    for i in 0..PHOTOS {
        put(
            &app,
            &format!("user{i}@contoso.com.jpg"),
            jpeg(100 + i as u32, 100),
        )
        .await;
    }
    // Each `photosync reconcile` is a new process: nothing cached in memory.
    proxy.reset();
    let (status, _, err) = app.cli(&["reconcile"]).await;
    assert!(status.success(), "{err}");
    assert_eq!(puts(&fake), PHOTOS);
    // A new photo costs 11 requests: its GET, the backup check (HEAD) and
    // note, the claim and the final record, the user entry, five thumbnails;
    // per run, the listings, index, reports and the grant check's
    // `grant.json` (read, and written when its verdict is new).
    let first = proxy.seen();
    assert!(
        first.len() <= 11 * PHOTOS + 14,
        "{} requests for {PHOTOS} new photos: {first:#?}",
        first.len()
    );

    proxy.reset();
    let (status, out, err) = app.cli(&["reconcile"]).await;
    assert!(status.success(), "{err}");
    assert!(out.contains("0 worked on"), "{out}");
    let seen = proxy.seen();
    // ≤ 2·⌈N/5000⌉ + 10 (issue 20): two listings (photos, ledger), the
    // index, the mapping and report files; nothing per photo.
    assert!(seen.len() <= 12, "{} requests: {seen:#?}", seen.len());
    let per_photo: Vec<_> = seen
        .iter()
        .filter(|s| s.path_and_query.contains("user"))
        .collect();
    assert!(per_photo.is_empty(), "per-photo requests: {per_photo:#?}");
    let html = app.stores.state.get("reports/latest.html").await.unwrap();
    let embedded = String::from_utf8_lossy(&html.bytes)
        .matches("data:image/jpeg;base64,")
        .count();
    assert_eq!(embedded, PHOTOS, "the report still shows every thumbnail");

    // A thumbnail deleted by hand, and the report's thumbnail cache lost:
    // the next run reads the thumbnails once; the one after reads none,
    // the missing one included (it is remembered as missing).
    let thumbnail_reads = |seen: &[crate::storage_proxy::Seen]| {
        seen.iter()
            .filter(|s| s.method == "GET" && s.path_and_query.contains("/48x48.jpg"))
            .count()
    };
    app.stores
        .thumbnails
        .delete("user0@contoso.com/48x48.jpg")
        .await
        .unwrap();
    app.stores
        .state
        .delete(photosync::sync::reconcile::report::THUMBNAILS_KEY)
        .await
        .unwrap();
    proxy.reset();
    let (status, _, err) = app.cli(&["reconcile"]).await;
    assert!(status.success(), "{err}");
    assert_eq!(thumbnail_reads(&proxy.seen()), PHOTOS);
    proxy.reset();
    let (status, _, err) = app.cli(&["reconcile"]).await;
    assert!(status.success(), "{err}");
    assert_eq!(thumbnail_reads(&proxy.seen()), 0, "{:#?}", proxy.seen());
    let html = app.stores.state.get("reports/latest.html").await.unwrap();
    let embedded = String::from_utf8_lossy(&html.bytes)
        .matches("data:image/jpeg;base64,")
        .count();
    assert_eq!(embedded, PHOTOS - 1);
}
