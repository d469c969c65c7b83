//! Drop a photo, get a profile photo: the real binary, real Azurite and the
//! Graph fake, driven with the host's exact blob-trigger bodies.

use futures::TryStreamExt;
use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Record, Status};
use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser, Fault, Route};
use crate::helpers::{TestApp, jpeg, spawn_app_with};
use crate::host::blob_body;

/// A fake directory with Alice, and the binary configured against it.
async fn app_and_graph(extra: &[(&str, &str)]) -> (TestApp, FakeGraph) {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser {
        employee_id: Some("100234".into()),
        ..FakeUser::new("id-alice", "Alice@contoso.com")
    });
    let env = fake.secret_env();
    (spawn_app_with(&env, extra).await, fake)
}

/// Uploads to Azurite, then invokes with the host's real body; returns
/// status and Logs.
async fn drop_photo(app: &TestApp, name: &str, bytes: &[u8]) -> (u16, Vec<String>) {
    app.upload(name, bytes).await;
    deliver(app, blob_body(name, bytes)).await
}

/// Posts a blob-trigger body as the host would.
async fn deliver(app: &TestApp, body: Value) -> (u16, Vec<String>) {
    let response = app
        .invoke("PhotoUploaded", "inv-sync", body.to_string())
        .await;
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    let logs = answer["Logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    (status, logs)
}

/// Uploads the blob, then delivers the real body without `Data.photo`
/// (the handler reads the blob); returns the HTTP status.
async fn deliver_without_bytes(app: &TestApp, name: &str, bytes: Vec<u8>) -> u16 {
    app.upload(name, &bytes).await;
    let mut body = blob_body(name, &bytes);
    body["Data"].as_object_mut().unwrap().remove("photo");
    deliver(app, body).await.0
}

async fn record(app: &TestApp, name: &str) -> Record {
    Ledger::new(app.stores.state.clone())
        .get(&PhotoName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no ledger record for {name}"))
        .record
}

async fn thumbnail_names(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = app
        .stores
        .thumbnails
        .list_blobs(None)
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}

/// A JPEG with an EXIF segment that carries a fake GPS note, to prove stripping.
fn photo_with_exif(width: u32, height: u32) -> Vec<u8> {
    let plain = jpeg(width, height);
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    // One IFD entry: ImageDescription (ASCII) pointing at the text after the IFD.
    let text = b"GPS 51.5007N 0.1246W secret place\0";
    tiff.extend_from_slice(&[0x01, 0x0e, 0x00, 0x02]);
    tiff.extend_from_slice(&(text.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&26u32.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(text);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

#[tokio::test]
async fn a_photo_dropped_by_upn_becomes_the_profile_photo_and_thumbnails() {
    let (app, fake) = app_and_graph(&[]).await;
    let photo = photo_with_exif(1000, 800);
    let (status, logs) = drop_photo(&app, "alice@contoso.com.jpg", &photo).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(
        logs[0].starts_with("alice@contoso.com.jpg → Alice@contoso.com synced in "),
        "{logs:?}"
    );

    // Graph received a 648x648 JPEG without any metadata.
    let uploaded = fake.photo("id-alice").expect("a photo was set");
    let decoded = image::load_from_memory_with_format(&uploaded, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (648, 648));
    assert!(
        !uploaded.windows(4).any(|w| w == b"Exif"),
        "EXIF was stripped"
    );
    assert!(!uploaded.windows(3).any(|w| w == b"GPS"));

    // Every size, under the UPN in lower case, as JPEG with caching headers.
    let mut expected: Vec<String> = [48, 64, 96, 120, 240, 360, 432, 504, 648]
        .iter()
        .map(|n| format!("alice@contoso.com/{n}x{n}.jpg"))
        .collect();
    expected.sort();
    assert_eq!(thumbnail_names(&app).await, expected);
    let thumb = app
        .stores
        .thumbnails
        .get("alice@contoso.com/96x96.jpg")
        .await
        .unwrap();
    assert_eq!(thumb.properties.content_type.as_deref(), Some("image/jpeg"));
    assert!(thumb.properties.cache_control.is_some());
    let small = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((small.width(), small.height()), (96, 96));

    // The ledger says so.
    let record = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record.status, Status::Synced);
    assert_eq!(record.sha256, photosync::sync::sha256_hex(&photo));
    let user = record.user.unwrap();
    assert_eq!(
        (user.id.as_str(), user.upn.as_str()),
        ("id-alice", "Alice@contoso.com")
    );
    assert!(record.synced_at.is_some() && record.problem.is_none());
    assert_eq!(record.attempts, 1);
    // The photo blob itself was never written to.
    let blob = app
        .stores
        .photos
        .get("alice@contoso.com.jpg")
        .await
        .unwrap();
    assert_eq!(blob.bytes, photo);
}

#[tokio::test]
async fn employee_id_in_a_subfolder() {
    let (app, fake) = app_and_graph(&[("PHOTOSYNC_MATCH_BY", "employeeId")]).await;
    let (status, logs) = drop_photo(&app, "hr/2026/100234.png", &jpeg(700, 700)).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(fake.photo("id-alice").is_some(), "{logs:?}");
    assert_eq!(
        record(&app, "hr/2026/100234.png").await.status,
        Status::Synced
    );
}

#[tokio::test]
async fn a_redelivered_unchanged_photo_is_not_uploaded_again() {
    let (app, fake) = app_and_graph(&[]).await;
    let photo = jpeg(800, 800);
    let (status, _) = drop_photo(&app, "alice@contoso.com.jpg", &photo).await;
    assert_eq!(status, 200);
    let thumbs_before = app
        .stores
        .thumbnails
        .head("alice@contoso.com/648x648.jpg")
        .await
        .unwrap();
    // At-least-once: the host delivers the same blob again.
    let (status, logs) = deliver(&app, blob_body("alice@contoso.com.jpg", &photo)).await;
    assert_eq!(status, 200);
    assert_eq!(logs, vec!["alice@contoso.com.jpg: unchanged"]);
    assert_eq!(
        fake.requests_to("PUT", "/photo/$value").len(),
        1,
        "no second upload"
    );
    let thumbs_after = app
        .stores
        .thumbnails
        .head("alice@contoso.com/648x648.jpg")
        .await
        .unwrap();
    assert_eq!(
        thumbs_before.etag, thumbs_after.etag,
        "thumbnails not rewritten"
    );
}

#[tokio::test]
async fn a_changed_photo_is_uploaded_again() {
    let (app, fake) = app_and_graph(&[]).await;
    drop_photo(&app, "alice@contoso.com.jpg", &jpeg(800, 800)).await;
    let newer = jpeg(900, 700);
    let (status, logs) = drop_photo(&app, "alice@contoso.com.jpg", &newer).await;
    assert_eq!(status, 200, "{logs:?}");
    assert_eq!(fake.requests_to("PUT", "/photo/$value").len(), 2);
    let record = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record.sha256, photosync::sync::sha256_hex(&newer));
    assert_eq!(record.status, Status::Synced);
}

#[tokio::test]
async fn two_racing_deliveries_upload_once() {
    let (app, fake) = app_and_graph(&[]).await;
    fake.set_photo_delay(std::time::Duration::from_millis(300));
    let photo = jpeg(800, 800);
    app.upload("alice@contoso.com.jpg", &photo).await;
    let (a, b) = tokio::join!(
        deliver(&app, blob_body("alice@contoso.com.jpg", &photo)),
        deliver(&app, blob_body("alice@contoso.com.jpg", &photo))
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(
        fake.requests_to("PUT", "/photo/$value").len(),
        1,
        "{a:?} {b:?}"
    );
    assert_eq!(
        record(&app, "alice@contoso.com.jpg").await.status,
        Status::Synced
    );
}

#[tokio::test]
async fn permanent_failures_answer_200_and_are_recorded_as_failed() {
    let (app, fake) = app_and_graph(&[]).await;
    let mut truncated = jpeg(800, 800);
    truncated.truncate(truncated.len() / 3);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("nobody@contoso.com.jpg", jpeg(800, 800), "user-not-found"),
        ("alice@contoso.com.jpg", truncated, "corrupt-image"),
        (
            "tiny/alice@contoso.com.jpg",
            jpeg(60, 60),
            "image-too-small",
        ),
        (
            "scan/alice@contoso.com.jpg",
            b"%PDF-1.7 not a photo".to_vec(),
            "unsupported-format",
        ),
    ];
    for (name, bytes, code) in cases {
        let (status, logs) = drop_photo(&app, name, &bytes).await;
        assert_eq!(status, 200, "{name}: {logs:?}");
        assert!(
            logs[0].contains("failed in ") && logs[0].contains(code),
            "{logs:?}"
        );
        let record = record(&app, name).await;
        assert_eq!(record.status, Status::Failed, "{name}");
        let problem = record.problem.unwrap();
        assert_eq!(problem.code.as_str(), code);
        assert!(!problem.message.is_empty() && !problem.message.contains('\n'));
    }
    assert!(fake.requests_to("PUT", "/photo/$value").is_empty());
}

#[tokio::test]
async fn graph_unavailable_answers_500_then_a_later_delivery_succeeds() {
    let (app, fake) = app_and_graph(&[
        ("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "2"),
        ("PHOTOSYNC_GRAPH_MAX_WAIT_SECS", "5"),
    ])
    .await;
    fake.inject(Route::Photo, Fault::Unavailable, 2);
    let photo = jpeg(800, 800);
    let (status, logs) = drop_photo(&app, "alice@contoso.com.jpg", &photo).await;
    assert_eq!(status, 500, "the host must retry: {logs:?}");
    let record_now = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record_now.status, Status::Retrying);
    assert_eq!(
        record_now.problem.unwrap().code.as_str(),
        "graph-unavailable"
    );
    // Thumbnails were kept although Graph failed.
    assert_eq!(thumbnail_names(&app).await.len(), 9);

    let (status, logs) = deliver(&app, blob_body("alice@contoso.com.jpg", &photo)).await;
    assert_eq!(status, 200, "{logs:?}");
    let record_after = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record_after.status, Status::Synced);
    assert_eq!(record_after.attempts, 2);
}

#[tokio::test]
async fn dry_run_writes_thumbnails_but_no_profile_photo() {
    let (app, fake) = app_and_graph(&[("PHOTOSYNC_DRY_RUN", "true")]).await;
    let (status, logs) = drop_photo(&app, "alice@contoso.com.jpg", &jpeg(800, 800)).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(logs[0].contains("dry-run"), "{logs:?}");
    assert!(fake.requests_to("PUT", "/photo").is_empty());
    assert_eq!(thumbnail_names(&app).await.len(), 9);
    assert_eq!(
        record(&app, "alice@contoso.com.jpg").await.status,
        Status::DryRun
    );
}

#[tokio::test]
async fn files_that_are_not_photos_are_ignored() {
    let (app, fake) = app_and_graph(&[]).await;
    for name in ["notes.txt", ".DS_Store", "hr/Thumbs.db"] {
        let (status, logs) = drop_photo(&app, name, b"\x00\x01 not an image at all").await;
        assert_eq!(status, 200, "{logs:?}");
        assert!(logs[0].contains("ignored"), "{logs:?}");
        assert_eq!(record(&app, name).await.status, Status::Ignored);
    }
    assert!(fake.requests().iter().all(|r| !r.path.contains("/photo")));
}

#[tokio::test]
async fn names_with_spaces_unicode_and_quotes_sync() {
    let (app, fake) = app_and_graph(&[]).await;
    for (id, upn) in [
        ("id-ob", "o'brien@contoso.com"),
        ("id-zoe", "zoë.müller@contoso.com"),
    ] {
        fake.add_user(FakeUser::new(id, upn));
    }
    for (name, id) in [
        ("new hires/o'brien@contoso.com.jpg", "id-ob"),
        ("Zoë.Müller@contoso.com .jpeg", "id-zoe"),
    ] {
        let (status, logs) = drop_photo(&app, name, &jpeg(640, 480)).await;
        assert_eq!(status, 200, "{logs:?}");
        assert!(fake.photo(id).is_some(), "{name}: {logs:?}");
        assert_eq!(record(&app, name).await.status, Status::Synced);
    }
}

#[tokio::test]
async fn without_bytes_in_the_body_the_blob_is_read() {
    let (app, fake) = app_and_graph(&[]).await;
    assert_eq!(
        deliver_without_bytes(&app, "alice@contoso.com.jpg", jpeg(800, 800)).await,
        200
    );
    assert!(fake.photo("id-alice").is_some());
}

#[tokio::test]
async fn mapping_csv_assigns_files_to_users_explicitly() {
    let (app, fake) = app_and_graph(&[]).await;
    let mapping = b"file,user\r\nIMG_0042.jpg,alice@contoso.com\r\n";
    let (status, logs) = drop_photo(&app, "hr/mapping.csv", mapping).await;
    assert_eq!(status, 200, "{logs:?}");
    let record_of_mapping = record(&app, "hr/mapping.csv").await;
    assert_eq!(record_of_mapping.status, Status::Ignored);
    assert_eq!(
        record_of_mapping.detail.as_deref(),
        Some("not a photo (a mapping file; 1 rows apply)")
    );

    let (status, logs) = drop_photo(&app, "hr/IMG_0042.jpg", &jpeg(800, 800)).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(
        logs[0].contains("IMG_0042.jpg → Alice@contoso.com synced"),
        "{logs:?}"
    );
    assert!(fake.photo("id-alice").is_some());
    assert_eq!(
        record(&app, "hr/IMG_0042.jpg").await.key,
        "alice@contoso.com"
    );
}

#[tokio::test]
async fn a_broken_mapping_file_is_a_failure_that_names_the_line() {
    let (app, _fake) = app_and_graph(&[]).await;
    let (status, _) = drop_photo(&app, "mapping.csv", b"file,user\nIMG_1.jpg,\n").await;
    assert_eq!(status, 200);
    let problem = record(&app, "mapping.csv").await.problem.unwrap();
    assert_eq!(problem.code.as_str(), "invalid-mapping");
    assert!(problem.message.contains("line 2"), "{problem:?}");
}

#[tokio::test]
async fn of_several_photos_of_one_user_the_newest_wins() {
    let (app, fake) = app_and_graph(&[]).await;
    let older = jpeg(800, 800);
    let (status, _) = drop_photo(&app, "alice@contoso.com.jpg", &older).await;
    assert_eq!(status, 200);
    // Uploaded later, so newer by the blob's Last-Modified (what storage says).
    let (status, _) = drop_photo(&app, "hr/alice@contoso.com.png", &jpeg(900, 900)).await;
    assert_eq!(status, 200);
    assert_eq!(fake.requests_to("PUT", "/photo/$value").len(), 2);
    let first = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(first.status, Status::Superseded);
    assert_eq!(
        first.detail.as_deref(),
        Some("superseded by hr/alice@contoso.com.png, a newer photo of the same user")
    );
    assert!(first.problem.is_none(), "superseded is not a failure");

    // The older photo's trigger arriving late (at least once) never replaces the newer one.
    let (status, logs) = deliver(&app, blob_body("alice@contoso.com.jpg", &older)).await;
    assert_eq!(status, 200, "{logs:?}");
    assert_eq!(
        fake.requests_to("PUT", "/photo/$value").len(),
        2,
        "no upload for the older photo: {logs:?}"
    );
    assert_eq!(
        record(&app, "hr/alice@contoso.com.png").await.status,
        Status::Synced
    );
}

#[tokio::test]
async fn graph_side_permanent_failures_are_recorded_with_their_codes() {
    let (app, fake) = app_and_graph(&[("PHOTOSYNC_MATCH_BY", "employeeId")]).await;
    for (id, upn) in [
        ("id-1", "jsmith@contoso.com"),
        ("id-2", "john.smith@contoso.com"),
    ] {
        fake.add_user(FakeUser {
            employee_id: Some("777".into()),
            ..FakeUser::new(id, upn)
        });
    }
    let (status, _) = drop_photo(&app, "777.jpg", &jpeg(800, 800)).await;
    assert_eq!(status, 200);
    assert_eq!(
        record(&app, "777.jpg").await.problem.unwrap().code.as_str(),
        "ambiguous-user"
    );

    fake.deny_photo_writes();
    let (status, _) = drop_photo(&app, "100234.jpg", &jpeg(800, 800)).await;
    assert_eq!(status, 200);
    let problem = record(&app, "100234.jpg").await.problem.unwrap();
    assert_eq!(problem.code.as_str(), "permission-denied");
    assert!(problem.message.contains("ProfilePhoto.ReadWrite.All"));
}

#[tokio::test]
async fn an_on_premises_photo_policy_fails_photos_with_one_clear_code() {
    let (app, fake) = app_and_graph(&[]).await;
    fake.set_policy("onPremises");
    let (status, _) = drop_photo(&app, "alice@contoso.com.jpg", &jpeg(800, 800)).await;
    assert_eq!(status, 200);
    let record = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record.status, Status::Failed);
    assert_eq!(
        record.problem.unwrap().code.as_str(),
        "photo-updates-disabled"
    );
}

#[tokio::test]
async fn an_oversized_file_is_refused_before_decoding() {
    let (app, fake) = app_and_graph(&[("PHOTOSYNC_MAX_BYTES", "200000")]).await;
    let mut big = jpeg(800, 800);
    big.resize(300_000, 0);
    // A body that size is refused by the transport (413); the flow also refuses
    // from the reported length alone, without reading the blob.
    assert_eq!(
        deliver_without_bytes(&app, "alice@contoso.com.jpg", big).await,
        200
    );
    let record = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record.problem.unwrap().code.as_str(), "image-too-large");
    assert!(
        fake.requests().is_empty(),
        "not even the user was looked up"
    );
}
