//! Nothing deleted that someone would want back (issue 16), end to end: the
//! accidental-deletion guard, leavers' thumbnails, the next newest photo
//! becoming current, a corrupt ledger record, and a Reconcile killed with
//! `kill -9` that the next run completes.

use std::time::Duration;

use futures::TryStreamExt;
use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Record, Status};
use serde_json::Value;

use crate::fakes::graph::FakeGraph;
use crate::helpers::{TestApp, jpeg};
use crate::reconcile::{puts, reconcile, start, status_of};

fn photo(i: usize) -> String {
    format!("user{i}@contoso.com.jpg")
}

fn deletes(fake: &FakeGraph) -> usize {
    fake.requests_to("DELETE", "/photo/$value").len()
}

async fn record(app: &TestApp, name: &str) -> Record {
    Ledger::new(app.stores.state.clone())
        .get(&PhotoName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no record for {name}"))
        .record
}

async fn thumbnail_folders(app: &TestApp) -> Vec<String> {
    let mut folders: Vec<String> = app
        .stores
        .thumbnails
        .list_blobs(None)
        .map_ok(|b| b.name.split('/').next().unwrap().to_owned())
        .try_collect()
        .await
        .unwrap();
    folders.sort();
    folders.dedup();
    folders
}

async fn latest_report(app: &TestApp) -> Value {
    let blob = app.stores.state.get("reports/latest.json").await.unwrap();
    serde_json::from_slice(&blob.bytes).unwrap()
}

/// `n` users with a synced photo each.
async fn synced(n: usize, extra: &[(&str, &str)]) -> (TestApp, FakeGraph) {
    let (app, fake) = start(n, extra).await;
    for i in 0..n {
        app.upload(&photo(i), &jpeg(300, 300)).await;
    }
    reconcile(&app).await;
    assert_eq!(puts(&fake), n);
    (app, fake)
}

#[tokio::test]
async fn twelve_vanished_photos_are_held_until_an_admin_confirms_them() {
    let (app, fake) = synced(14, &[("PHOTOSYNC_DELETE_REMOVED", "true")]).await;
    for i in 0..12 {
        app.stores.photos.delete(&photo(i)).await.unwrap();
    }
    let line = reconcile(&app).await;
    assert_eq!(deletes(&fake), 0, "nothing removed: {line}");
    assert!(line.contains("12 removal(s) held"), "{line}");
    for i in 0..12 {
        let held = record(&app, &photo(i)).await;
        assert_eq!(held.status, Status::RemovalHeld);
        let problem = held.problem.expect("says why");
        assert_eq!(problem.code.as_str(), "removal-held");
        assert!(
            problem
                .message
                .contains("`photosync reconcile --allow-removals 12`"),
            "{}",
            problem.message
        );
        assert!(fake.photo(&format!("id-{i}")).is_some(), "the photo stays");
    }
    assert_eq!(thumbnail_folders(&app).await.len(), 14, "thumbnails stay");
    let report = latest_report(&app).await;
    let held_rows = report["photos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "removal-held" && r["code"] == "removal-held")
        .count();
    assert_eq!(held_rows, 12, "{report}");
    // A second timer run holds them again, still without a call.
    reconcile(&app).await;
    assert_eq!(deletes(&fake), 0);

    let (status, stdout, stderr) = app.cli(&["reconcile", "--allow-removals", "12"]).await;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(deletes(&fake), 12, "exactly the confirmed ones");
    for i in 0..12 {
        let removed = record(&app, &photo(i)).await;
        assert_eq!(removed.status, Status::Removed);
        let detail = removed.detail.unwrap();
        assert!(detail.contains("thumbnail(s) deleted"), "{detail}");
        assert!(detail.contains("profile photo removed"), "{detail}");
        assert!(fake.photo(&format!("id-{i}")).is_none());
    }
    assert_eq!(
        thumbnail_folders(&app).await,
        ["user12@contoso.com", "user13@contoso.com"],
        "leavers leave no thumbnails"
    );

    // The confirmation was for that run only; one leaver is below the limit.
    app.stores.photos.delete(&photo(12)).await.unwrap();
    let line = reconcile(&app).await;
    assert!(line.contains("1 removed"), "{line}");
    assert_eq!(deletes(&fake), 13, "exactly one more");
    assert!(fake.photo("id-13").is_some());
}

#[tokio::test]
async fn a_held_photo_put_back_returns_to_normal_without_an_upload() {
    let (app, fake) = synced(13, &[("PHOTOSYNC_DELETE_REMOVED", "true")]).await;
    let bytes: Vec<Vec<u8>> = {
        let mut all = Vec::new();
        for i in 0..12 {
            all.push(
                app.stores
                    .photos
                    .get(&photo(i))
                    .await
                    .unwrap()
                    .bytes
                    .to_vec(),
            );
        }
        all
    };
    for i in 0..12 {
        app.stores.photos.delete(&photo(i)).await.unwrap();
    }
    reconcile(&app).await;
    assert_eq!(status_of(&app, &photo(0)).await, Status::RemovalHeld);
    // The mistake undone: the same files go back (new blob versions).
    for (i, b) in bytes.iter().enumerate() {
        app.upload(&photo(i), b).await;
    }
    let line = reconcile(&app).await;
    for i in 0..12 {
        assert_eq!(status_of(&app, &photo(i)).await, Status::Synced, "{line}");
    }
    assert_eq!(puts(&fake), 13, "the profile photos never left: no upload");
    assert_eq!(deletes(&fake), 0);
}

#[tokio::test]
async fn a_removal_limit_of_zero_removes_nothing_ever() {
    let (app, fake) = synced(
        3,
        &[
            ("PHOTOSYNC_DELETE_REMOVED", "true"),
            ("PHOTOSYNC_REMOVAL_LIMIT", "0"),
        ],
    )
    .await;
    app.stores.photos.delete(&photo(0)).await.unwrap();
    reconcile(&app).await;
    assert_eq!(status_of(&app, &photo(0)).await, Status::RemovalHeld);
    assert_eq!(deletes(&fake), 0);
    let problem = record(&app, &photo(0)).await.problem.unwrap();
    assert!(
        problem.message.contains("PHOTOSYNC_REMOVAL_LIMIT is 0"),
        "{}",
        problem.message
    );
}

#[tokio::test]
async fn an_out_of_range_removal_limit_is_refused_at_start() {
    let (status, _, stderr) =
        crate::helpers::run_binary(&["reconcile"], &[("PHOTOSYNC_REMOVAL_LIMIT", "-1")]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PHOTOSYNC_REMOVAL_LIMIT"), "{stderr}");
}

/// A JPEG of one colour.
fn solid(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(400, 400, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The colour in the middle of a JPEG.
fn centre(jpeg: &[u8]) -> [u8; 3] {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    img.get_pixel(img.width() / 2, img.height() / 2).0
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 40)
}

#[tokio::test]
async fn three_photos_of_one_user_upload_the_newest_and_deleting_it_brings_back_the_next() {
    let (app, fake) = start(1, &[]).await;
    let (red, green, blue) = ([220, 20, 20], [20, 200, 20], [20, 20, 220]);
    // Uploaded in this order: `c/` is the newest (on a Last-Modified tie, the larger name).
    app.upload("a/user0@contoso.com.jpg", &solid(red)).await;
    app.upload("b/user0@contoso.com.jpg", &solid(green)).await;
    app.upload("c/user0@contoso.com.jpg", &solid(blue)).await;
    let line = reconcile(&app).await;
    assert_eq!(puts(&fake), 1, "one upload: {line}");
    assert!(close(centre(&fake.photo("id-0").unwrap()), blue));
    assert_eq!(
        status_of(&app, "a/user0@contoso.com.jpg").await,
        Status::Superseded
    );

    app.stores
        .photos
        .delete("c/user0@contoso.com.jpg")
        .await
        .unwrap();
    let line = reconcile(&app).await;
    assert_eq!(puts(&fake), 2, "the next newest is uploaded: {line}");
    assert!(close(centre(&fake.photo("id-0").unwrap()), green));
    assert_eq!(
        status_of(&app, "b/user0@contoso.com.jpg").await,
        Status::Synced
    );
    assert_eq!(
        status_of(&app, "c/user0@contoso.com.jpg").await,
        Status::Removed
    );
    assert_eq!(
        status_of(&app, "a/user0@contoso.com.jpg").await,
        Status::Superseded
    );
    assert_eq!(
        thumbnail_folders(&app).await,
        ["user0@contoso.com"],
        "the current photo's thumbnails are back"
    );
}

#[tokio::test]
async fn a_corrupt_ledger_record_costs_one_row_and_the_run_goes_on() {
    let (app, fake) = synced(1, &[]).await;
    app.stores
        .state
        .put(
            "ledger/user0@contoso.com.jpg.json",
            bytes::Bytes::from_static(b"{\"photo\": tru"),
            &photosync::store::BlobProperties::default(),
            photosync::store::WriteMode::Overwrite,
        )
        .await
        .unwrap();
    app.upload("user1@contoso.com.jpg", &jpeg(300, 300)).await;
    fake.add_user(crate::fakes::graph::FakeUser::new(
        "id-1",
        "user1@contoso.com",
    ));
    let line = reconcile(&app).await;
    assert!(line.contains("1 unreadable ledger record(s)"), "{line}");
    assert_eq!(
        status_of(&app, "user1@contoso.com.jpg").await,
        Status::Synced
    );
    let report = latest_report(&app).await;
    let row = report["photos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "ledger-corrupt")
        .cloned()
        .unwrap_or_else(|| panic!("no ledger-corrupt row: {report}"));
    assert_eq!(row["photo"], "user0@contoso.com.jpg");
}

#[tokio::test]
async fn old_report_history_is_pruned() {
    let (app, _fake) = start(1, &[("PHOTOSYNC_REPORT_HISTORY_DAYS", "30")]).await;
    let old = "reports/history/20200101T000000.000Z.json";
    let note = "reports/history/README.txt";
    for name in [old, note] {
        app.stores
            .state
            .put(
                name,
                bytes::Bytes::from_static(b"{}"),
                &photosync::store::BlobProperties::default(),
                photosync::store::WriteMode::Overwrite,
            )
            .await
            .unwrap();
    }
    reconcile(&app).await;
    let names: Vec<String> = app
        .stores
        .state
        .list_blobs(Some("reports/history"))
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap();
    assert!(!names.iter().any(|n| n == old), "{names:?}");
    assert!(names.iter().any(|n| n == note), "only reports are pruned");
    assert_eq!(names.len(), 2, "this run's report and the note: {names:?}");
}

#[tokio::test]
async fn a_reconcile_killed_mid_run_is_completed_by_a_later_one() {
    const PHOTOS: usize = 24;
    const CONCURRENCY: usize = 4;
    let (mut app, fake) = start(
        PHOTOS,
        &[
            ("PHOTOSYNC_LEASE_SECS", "2"),
            ("PHOTOSYNC_RECONCILE_CONCURRENCY", "4"),
        ],
    )
    .await;
    fake.set_photo_delay(Duration::from_millis(250));
    for i in 0..PHOTOS {
        app.upload(&photo(i), &jpeg(300, 300)).await;
    }
    let (client, url) = (app.client.clone(), format!("{}/Reconcile", app.address));
    let run = tokio::spawn(async move {
        let _ = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(crate::reconcile::tick())
            .send()
            .await;
    });
    // Kill it well under way: after 6 uploads the fake has seen.
    assert!(
        fake.wait_until(|f| puts(f) >= 6).await,
        "the run never got going"
    );
    app.kill_hard();
    let _ = run.await;
    let at_kill = puts(&fake);
    assert!(at_kill < PHOTOS, "killed mid-run ({at_kill} uploads)");

    // Later runs: claims of the killed process hold at most one lease (2 s).
    let ledger = Ledger::new(app.stores.state.clone());
    let mut runs = 0;
    loop {
        let (status, stdout, stderr) = app.cli(&["reconcile"]).await;
        assert!(status.success(), "{stdout}\n{stderr}");
        runs += 1;
        let scan = ledger.scan().await.unwrap();
        let synced = scan
            .records
            .iter()
            .filter(|v| v.record.status == Status::Synced)
            .count();
        if synced == PHOTOS || runs == 60 {
            break;
        }
    }
    for i in 0..PHOTOS {
        assert_eq!(status_of(&app, &photo(i)).await, Status::Synced, "{i}");
        assert!(fake.photo(&format!("id-{i}")).is_some());
    }
    let total = puts(&fake);
    assert!(
        total <= PHOTOS + CONCURRENCY,
        "{total} uploads: at most the photos in flight are uploaded twice"
    );
}
